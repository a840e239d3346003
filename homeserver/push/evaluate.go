package push

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/pushrules"

	"causeway/homeserver/storage"
)

// historyAge is how old an event's timestamp may be when it is stored and still notify: older
// ones are history an appservice imports (a Slack export's years of messages), which must not
// light up every member's unread counts or phones.
const historyAge = 24 * time.Hour

// threadHops is how many relations are followed from an event to find its thread (push.md,
// "Marking notifications as read", recommends at most 3).
const threadHops = 3

// rulesetCacheSize bounds the parsed rulesets kept between events.
const rulesetCacheSize = 4096

// Evaluator decides, for each new event, which local members it notifies under their push
// rules and how (push.md, "Server behaviour"). rooms calls it inside the transaction that
// stores the event, before the event changes the room's state, so that the counts and the
// pushers' queue commit with the event.
type Evaluator struct {
	serverName string
	now        func() time.Time

	mu          sync.Mutex
	skip        func(id.UserID) bool
	rulesetByID map[string]Ruleset // by user ID and stored content
}

// NewEvaluator returns an Evaluator for a server's local users.
func NewEvaluator(serverName string, now func() time.Time) *Evaluator {
	if now == nil {
		now = time.Now
	}
	return &Evaluator{serverName: serverName, now: now, rulesetByID: map[string]Ruleset{}}
}

// SkipUsers makes the evaluator leave out the users for whom skip is true: the users an
// application service holds exclusively (bridged ghosts), whose notifications nobody reads.
func (e *Evaluator) SkipUsers(skip func(id.UserID) bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.skip = skip
}

// Evaluate returns what ev's push rules decide for each local member it notifies, with the
// stream position left for the caller to fill in once the event has one. powerLevels reads the
// room's power levels, for @room mentions.
func (e *Evaluator) Evaluate(ctx context.Context, tx *storage.Tx, ev *storage.Event, powerLevels func() (*event.PowerLevelsEventContent, error)) ([]storage.PushAction, error) {
	if e.isHistory(ev) {
		return nil, nil
	}
	joined, err := tx.RoomMembers(ctx, ev.RoomID, string(event.MembershipJoin))
	if err != nil {
		return nil, err
	}
	recipients := e.recipients(ev, joined)
	if len(recipients) == 0 {
		return nil, nil
	}
	rulesets, err := e.rulesets(ctx, tx, recipients)
	if err != nil {
		return nil, err
	}
	evt, err := mautrixEvent(ev)
	if err != nil {
		return nil, nil // content that is not an object matches no rule
	}
	room := &roomFacts{ctx: ctx, tx: tx, roomID: ev.RoomID, members: len(joined), readPowerLevels: powerLevels}
	var thread string
	var out []storage.PushAction
	for _, user := range recipients {
		actions := matchingActions(rulesets[user], room.forUser(user), evt)
		if !notifies(actions) {
			continue
		}
		if thread == "" {
			if thread, err = threadOf(ctx, tx, ev); err != nil {
				return nil, err
			}
		}
		raw, _ := json.Marshal(wireActions(actions))
		out = append(out, storage.PushAction{UserID: user, RoomID: ev.RoomID, EventID: ev.ID, ThreadID: thread,
			Highlight: highlights(actions), Actions: raw, TS: e.now().UnixMilli()})
	}
	return out, room.err
}

// Record stores, once ev has its stream position and in the transaction that stored it, the
// actions Evaluate returned for it, and marks what came before ev in its thread as read for its
// sender (push.md, "Marking notifications as read": sending an event does).
func (e *Evaluator) Record(ctx context.Context, tx *storage.Tx, ev *storage.Event, actions []storage.PushAction) error {
	for i := range actions {
		actions[i].StreamPos = ev.StreamPos
	}
	if err := tx.InsertPushActions(ctx, actions); err != nil {
		return err
	}
	if !e.counts(ev.Sender) || e.isHistory(ev) {
		return nil
	}
	thread, err := threadOf(ctx, tx, ev)
	if err != nil {
		return err
	}
	return tx.MarkReadBySending(ctx, ev.Sender, ev.RoomID, thread, ev.StreamPos)
}

// isHistory reports whether ev is older than historyAge when it is stored.
func (e *Evaluator) isHistory(ev *storage.Event) bool {
	return e.now().Sub(time.UnixMilli(ev.OriginServerTS)) > historyAge
}

// counts reports whether user is one whose notifications are counted: a local user who is not
// bridged.
func (e *Evaluator) counts(user id.UserID) bool {
	e.mu.Lock()
	skip := e.skip
	e.mu.Unlock()
	return user.Homeserver() == e.serverName && (skip == nil || !skip(user))
}

// recipients are the local users whose rules see ev: the room's joined members, and the
// invitee of an invite, but not the sender nor bridged users.
func (e *Evaluator) recipients(ev *storage.Event, joined []id.UserID) []id.UserID {
	candidates := joined
	if ev.Membership == string(event.MembershipInvite) && ev.StateKey != nil {
		candidates = append(candidates[:len(candidates):len(candidates)], id.UserID(*ev.StateKey))
	}
	var out []id.UserID
	for _, u := range candidates {
		if u == ev.Sender || !e.counts(u) {
			continue
		}
		out = append(out, u)
	}
	return out
}

// rulesets reads the users' push rules in one query; parsed rulesets are reused while what is
// stored stays the same.
func (e *Evaluator) rulesets(ctx context.Context, tx *storage.Tx, users []id.UserID) (map[id.UserID]Ruleset, error) {
	stored, err := tx.GlobalAccountDataOfUsers(ctx, users, event.AccountDataPushRules.Type)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[id.UserID]Ruleset, len(users))
	for _, u := range users {
		key := string(u) + "\x00" + string(stored[u])
		rs, ok := e.rulesetByID[key]
		if !ok {
			if len(e.rulesetByID) >= rulesetCacheSize {
				clear(e.rulesetByID)
			}
			rs = Effective(u, stored[u])
			for _, kind := range Kinds {
				pushrules.PushRuleArray(rs[kind]).SetType(pushrules.PushRuleType(kind))
			}
			e.rulesetByID[key] = rs
		}
		out[u] = rs
	}
	return out, nil
}

// matchingActions returns the actions of the first enabled rule that matches, in the order of
// the kinds; none when no rule matches.
func matchingActions(rs Ruleset, room pushrules.Room, evt *event.Event) pushrules.PushActionArray {
	for _, kind := range Kinds {
		for _, r := range rs[kind] {
			if r.Match(room, evt) {
				return r.Actions
			}
		}
	}
	return nil
}

// notifies reports whether actions say notify; the historical dont_notify and coalesce are
// ignored (push.md, "Historical Actions").
func notifies(actions pushrules.PushActionArray) bool {
	for _, a := range actions {
		if a.Action == pushrules.ActionNotify {
			return true
		}
	}
	return false
}

// highlights reports whether actions set the highlight tweak to true or to no value.
func highlights(actions pushrules.PushActionArray) bool {
	for _, a := range actions {
		if a.Action == pushrules.ActionSetTweak && a.Tweak == pushrules.TweakHighlight {
			v, isBool := a.Value.(bool)
			return a.Value == nil || (isBool && v)
		}
	}
	return false
}

// mautrixEvent is ev as the push rule conditions read it.
func mautrixEvent(ev *storage.Event) (*event.Event, error) {
	content := gjson.GetBytes(ev.PDU, "content")
	evt := &event.Event{Type: event.Type{Type: ev.Type}, StateKey: ev.StateKey, Sender: ev.Sender, RoomID: ev.RoomID, ID: ev.ID}
	if err := evt.Content.UnmarshalJSON([]byte(content.Raw)); err != nil {
		return nil, err
	}
	if evt.Content.Raw == nil {
		return nil, errors.New("content is not an object")
	}
	return evt, nil
}

// threadOf returns the thread ev is in: the root it names with m.thread, or the thread of
// the event it relates to, up to threadHops relations away; otherwise the main timeline.
func threadOf(ctx context.Context, tx *storage.Tx, ev *storage.Event) (string, error) {
	rel, ok := storage.RelationOf(ev.PDU)
	for hop := 1; ok; hop++ {
		if rel.RelType == string(event.RelThread) {
			return string(rel.RelatesTo), nil
		}
		if hop == threadHops {
			break
		}
		var err error
		if rel, ok, err = tx.RelationOfEvent(ctx, rel.RelatesTo); err != nil {
			return "", err
		}
	}
	return storage.MainThread, nil
}

// roomFacts is what the push rule conditions ask of the room, read when first asked.
type roomFacts struct {
	ctx             context.Context
	tx              *storage.Tx
	roomID          id.RoomID
	members         int
	readPowerLevels func() (*event.PowerLevelsEventContent, error)
	powerLevels     *event.PowerLevelsEventContent
	err             error // the first read that failed; the evaluation fails with it
}

func (r *roomFacts) forUser(user id.UserID) *userRoom { return &userRoom{roomFacts: r, user: user} }

// GetPowerLevels serves sender_notification_permission.
func (r *roomFacts) GetPowerLevels() *event.PowerLevelsEventContent {
	if r.powerLevels == nil && r.err == nil {
		r.powerLevels, r.err = r.readPowerLevels()
	}
	return r.powerLevels
}

// userRoom is the room as one member's rules see it.
type userRoom struct {
	*roomFacts
	user id.UserID
}

// GetMemberCount serves room_member_count: the joined members before the event.
func (r *userRoom) GetMemberCount() int { return r.members }

// GetOwnDisplayname serves contains_display_name: the user's name in the room.
func (r *userRoom) GetOwnDisplayname() string {
	evID, err := r.tx.CurrentStateEvent(r.ctx, r.roomID, storage.StateKey{Type: event.StateMember.Type, StateKey: string(r.user)})
	if errors.Is(err, storage.ErrNotFound) {
		return ""
	} else if err != nil {
		r.err = err
		return ""
	}
	ev, err := r.tx.EventByID(r.ctx, evID)
	if err != nil {
		r.err = err
		return ""
	}
	return gjson.GetBytes(ev.PDU, "content.displayname").Str
}
