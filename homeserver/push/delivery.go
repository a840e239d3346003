package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/pushrules"

	"causeway/homeserver/storage"
)

// GatewayTimeout bounds one request to a push gateway.
const GatewayTimeout = 15 * time.Second

// deliveryBatch is how many notifications a pusher reads from its queue at a time.
const deliveryBatch = 50

// DeliveryPolicy is how delivery to a failing gateway is retried.
type DeliveryPolicy struct {
	FirstRetry time.Duration // the wait after the first failure, doubled after each next one
	MaxRetry   time.Duration // the longest wait
	GiveUp     time.Duration // after failing this long, a notification is dropped and the next tried
	Poll       time.Duration // how often pushers are reread and queues checked without a wake-up
}

// DefaultDeliveryPolicy retries from a second up to every ten minutes, for a day per
// notification, as Synapse does.
var DefaultDeliveryPolicy = DeliveryPolicy{FirstRetry: time.Second, MaxRetry: 10 * time.Minute, GiveUp: 24 * time.Hour, Poll: time.Minute}

// errPusherGone says a pusher was deleted, or its gateway rejected its pushkey.
var errPusherGone = errors.New("pusher is gone")

// pusherKey identifies a pusher.
type pusherKey struct {
	user    id.UserID
	appID   string
	pushKey string
}

func keyOf(p storage.Pusher) pusherKey { return pusherKey{p.UserID, p.AppID, p.PushKey} }

// Run delivers notifications to push gateways until ctx ends: one worker per pusher reads the
// pusher's queue (the user's push_actions after its delivered position) and sends each
// notification in order, retrying a failing gateway with backoff and never skipping one it has
// not given up on. The position is stored after each delivery, so a restart resends at most
// the notification in flight (gateways deduplicate by event_id).
func (p *Pushers) Run(ctx context.Context) error {
	workers := map[pusherKey]chan struct{}{}
	var wg sync.WaitGroup
	defer wg.Wait()
	poll := time.NewTicker(p.policy.Poll)
	defer poll.Stop()
	reconcile := true
	for {
		if reconcile {
			if err := p.reconcile(ctx, workers, &wg); err != nil && ctx.Err() == nil {
				p.log.ErrorContext(ctx, "read pushers", "err", err)
			}
		}
		for _, wake := range workers {
			p.poke(wake)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
			reconcile = false
		case <-p.changed:
			reconcile = true
		case <-poll.C:
			reconcile = true
		}
	}
}

// reconcile starts a worker for each pusher without one and forgets the workers whose pushers
// are gone (they stop by themselves).
func (p *Pushers) reconcile(ctx context.Context, workers map[pusherKey]chan struct{}, wg *sync.WaitGroup) error {
	pushers, err := p.db.PushersOf(ctx, "")
	if err != nil {
		return err
	}
	current := map[pusherKey]bool{}
	for _, ps := range pushers {
		key := keyOf(ps)
		current[key] = true
		if _, ok := workers[key]; ok {
			continue
		}
		wake := make(chan struct{}, 1)
		workers[key] = wake
		wg.Go(func() { p.work(ctx, key, wake) })
	}
	for key, wake := range workers {
		if !current[key] {
			close(wake)
			delete(workers, key)
		}
	}
	return nil
}

// work delivers one pusher's notifications whenever woken, until Run closes wake (the pusher
// is gone) or ctx ends.
func (p *Pushers) work(ctx context.Context, key pusherKey, wake <-chan struct{}) {
	var backoff time.Duration
	for {
		err := p.deliverPending(ctx, key)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errPusherGone):
			p.poke(p.changed) // Run closes wake
		case err != nil:
			backoff = min(max(2*backoff, p.policy.FirstRetry), p.policy.MaxRetry)
			p.log.WarnContext(ctx, "push gateway delivery failed", "user", key.user, "app_id", key.appID, "retry_in", backoff, "err", err)
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		select {
		case <-ctx.Done():
			return
		case _, open := <-wake:
			if !open {
				return
			}
		}
	}
}

// sleep waits d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// deliverPending sends the pusher's queued notifications in order, storing its position after
// each; it stops at the first that fails and has not been failing for GiveUp yet.
func (p *Pushers) deliverPending(ctx context.Context, key pusherKey) error {
	for {
		pusher, err := p.pusher(ctx, key)
		if err != nil {
			return err
		}
		queue, err := p.db.PushActionsOf(ctx, key.user, pusher.DeliveredPos, false, false, deliveryBatch)
		if err != nil || len(queue) == 0 {
			return err
		}
		for _, n := range queue {
			if err := p.deliverOne(ctx, &pusher, n); err != nil {
				return err
			}
		}
	}
}

// pusher rereads a pusher, so that a change made through /pushers/set applies to the next
// notification; errPusherGone once it is deleted.
func (p *Pushers) pusher(ctx context.Context, key pusherKey) (storage.Pusher, error) {
	pushers, err := p.db.PushersOf(ctx, key.user)
	if err != nil {
		return storage.Pusher{}, err
	}
	i := slices.IndexFunc(pushers, func(ps storage.Pusher) bool { return keyOf(ps) == key })
	if i < 0 {
		return storage.Pusher{}, errPusherGone
	}
	return pushers[i], nil
}

// deliverOne sends one notification unless the user has read it already, and moves the
// pusher past it once sent, or once it has failed for GiveUp.
func (p *Pushers) deliverOne(ctx context.Context, pusher *storage.Pusher, n storage.PushAction) error {
	read, err := p.isRead(ctx, n)
	if err != nil {
		return err
	}
	if !read {
		err = p.send(ctx, *pusher, n)
	}
	if errors.Is(err, errPusherGone) {
		p.log.InfoContext(ctx, "push gateway rejected the pushkey; pusher removed", "user", pusher.UserID, "app_id", pusher.AppID)
		return errors.Join(err, p.db.DeletePusher(ctx, pusher.UserID, pusher.AppID, pusher.PushKey))
	}
	if err != nil {
		if pusher.FailingSince == 0 {
			pusher.FailingSince = p.now().UnixMilli()
		}
		if p.now().Sub(time.UnixMilli(pusher.FailingSince)) < p.policy.GiveUp {
			_, uerr := p.db.UpdatePusherDelivery(ctx, *pusher)
			return errors.Join(err, uerr)
		}
		p.log.WarnContext(ctx, "push gateway failing too long; notification dropped", "user", pusher.UserID, "event_id", n.EventID, "err", err)
	}
	pusher.DeliveredPos, pusher.FailingSince = n.StreamPos, 0
	ok, err := p.db.UpdatePusherDelivery(ctx, *pusher)
	if err == nil && !ok {
		err = errPusherGone
	}
	return err
}

// isRead reports whether the user has read past the notification since it was queued.
func (p *Pushers) isRead(ctx context.Context, n storage.PushAction) (bool, error) {
	read, err := p.db.ReadPositions(ctx, n.UserID, n.RoomID)
	if err != nil {
		return false, err
	}
	return IsRead(read, n), nil
}

// send posts one notification to the pusher's gateway. errPusherGone when the gateway
// rejects the pushkey.
func (p *Pushers) send(ctx context.Context, pusher storage.Pusher, n storage.PushAction) error {
	body, gateway, err := p.notification(ctx, pusher, n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gateway, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("push gateway answered %s", resp.Status)
	}
	var result struct {
		Rejected []string `json:"rejected"`
	}
	if json.Unmarshal(answer, &result) == nil && slices.Contains(result.Rejected, pusher.PushKey) {
		return errPusherGone
	}
	return nil
}

// gatewayNotification is the body of POST /_matrix/push/v1/notify (push_notifier.yaml).
type gatewayNotification struct {
	Notification notificationBody `json:"notification"`
}

type notificationBody struct {
	EventID           id.EventID       `json:"event_id"`
	RoomID            id.RoomID        `json:"room_id"`
	Type              string           `json:"type,omitempty"`
	Sender            id.UserID        `json:"sender,omitempty"`
	SenderDisplayName string           `json:"sender_display_name,omitempty"`
	RoomName          string           `json:"room_name,omitempty"`
	RoomAlias         string           `json:"room_alias,omitempty"`
	UserIsTarget      bool             `json:"user_is_target,omitzero"`
	Prio              string           `json:"prio"`
	Content           json.RawMessage  `json:"content,omitempty"`
	Counts            map[string]int64 `json:"counts"`
	Devices           []gatewayDevice  `json:"devices"`
}

type gatewayDevice struct {
	AppID     string         `json:"app_id"`
	PushKey   string         `json:"pushkey"`
	PushKeyTS int64          `json:"pushkey_ts"`
	Data      map[string]any `json:"data"`
	Tweaks    map[string]any `json:"tweaks"`
}

// notification builds the gateway request for n and returns it with the gateway's URL. The
// event_id_only format carries only the IDs, the counts and the device (push_notifier.yaml).
func (p *Pushers) notification(ctx context.Context, pusher storage.Pusher, n storage.PushAction) ([]byte, string, error) {
	var data map[string]any
	if err := json.Unmarshal(pusher.Data, &data); err != nil {
		return nil, "", err
	}
	gateway, _ := data["url"].(string)
	delete(data, "url")
	var actions pushrules.PushActionArray
	if err := json.Unmarshal(n.Actions, &actions); err != nil {
		return nil, "", err
	}
	unread, err := TotalUnread(ctx, p.db, n.UserID)
	if err != nil {
		return nil, "", err
	}
	tweaks := tweaksOf(actions)
	body := notificationBody{EventID: n.EventID, RoomID: n.RoomID, Prio: "low", Counts: map[string]int64{},
		Devices: []gatewayDevice{{AppID: pusher.AppID, PushKey: pusher.PushKey, PushKeyTS: pusher.CreatedTS / 1000, Data: data, Tweaks: tweaks}}}
	if unread > 0 {
		body.Counts["unread"] = unread
	}
	ev, err := p.db.EventByID(ctx, n.EventID)
	if err != nil {
		return nil, "", err
	}
	if tweaks["sound"] != nil || tweaks["highlight"] == true || ev.Type == event.EventEncrypted.Type {
		body.Prio = "high"
	}
	if data["format"] != "event_id_only" {
		if err := p.describe(ctx, &body, ev, pusher.UserID); err != nil {
			return nil, "", err
		}
	}
	raw, err := json.Marshal(gatewayNotification{Notification: body})
	return raw, gateway, err
}

// tweaksOf collects the set_tweak actions; a highlight without a value is true.
func tweaksOf(actions pushrules.PushActionArray) map[string]any {
	tweaks := map[string]any{}
	for _, a := range actions {
		if a.Action != pushrules.ActionSetTweak {
			continue
		}
		v := a.Value
		if v == nil && a.Tweak == pushrules.TweakHighlight {
			v = true
		}
		tweaks[string(a.Tweak)] = v
	}
	return tweaks
}

// describe adds what the full format says of the event: type, sender and their name, content,
// the room's name and alias, and whether the user is the target of a member event.
func (p *Pushers) describe(ctx context.Context, body *notificationBody, ev *storage.Event, userID id.UserID) error {
	body.Type, body.Sender = ev.Type, ev.Sender
	if content := gjson.GetBytes(ev.PDU, "content"); content.IsObject() {
		body.Content = json.RawMessage(content.Raw)
	}
	body.UserIsTarget = ev.Type == event.StateMember.Type && ev.StateKey != nil && *ev.StateKey == string(userID)
	var err error
	if body.SenderDisplayName, err = p.stateField(ctx, ev.RoomID, event.StateMember.Type, string(ev.Sender), "displayname"); err != nil {
		return err
	}
	if body.RoomName, err = p.stateField(ctx, ev.RoomID, event.StateRoomName.Type, "", "name"); err != nil {
		return err
	}
	body.RoomAlias, err = p.stateField(ctx, ev.RoomID, event.StateCanonicalAlias.Type, "", "alias")
	return err
}

// stateField reads one string field of a current state event's content; "" when unset.
func (p *Pushers) stateField(ctx context.Context, roomID id.RoomID, typ, stateKey, field string) (string, error) {
	evID, err := p.db.CurrentStateEvent(ctx, roomID, storage.StateKey{Type: typ, StateKey: stateKey})
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	ev, err := p.db.EventByID(ctx, evID)
	if err != nil {
		return "", err
	}
	return gjson.GetBytes(ev.PDU, "content."+field).Str, nil
}
