package rooms

import (
	"context"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"errors"
	"fmt"
	"time"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix/crypto/canonicaljson"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/federation/eventauth"
	"maunium.net/go/mautrix/federation/pdu"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// ProtoEvent is an event a local user asks to send, before the server fills in the PDU fields.
type ProtoEvent struct {
	Type      string
	StateKey  *string
	Sender    id.UserID
	Content   jsontext.Value
	Redacts   id.EventID // for m.room.redaction
	Timestamp int64      // origin_server_ts in ms; 0 means now
	TxnDevice id.DeviceID
	TxnID     string // the client's transaction ID, for idempotent retries
	// TxnScope names the endpoint TxnID was sent to, such as the send path's room and event
	// type: a transaction ID is scoped to one device and one endpoint path, so the same ID sent
	// elsewhere is a new request ("Transaction identifiers" in content/client-server-api/_index.md).
	TxnScope string
}

// txnKey is what the transaction ID is stored under: the ID within its scope.
func (p ProtoEvent) txnKey() string {
	if p.TxnScope == "" {
		return p.TxnID
	}
	return p.TxnScope + " " + p.TxnID
}

// maxPDUSize is the largest event the spec allows, in canonical JSON bytes
// (content/client-server-api/_index.md, "Size limits").
const maxPDUSize = 65536

// maxPrevEvents bounds prev_events when a room has many forward extremities.
const maxPrevEvents = 10

// Send builds, signs, authorizes and persists one event, and returns it. A retried
// (TxnDevice, TxnID) returns the event the first attempt created without sending again.
func (s *Service) Send(ctx context.Context, roomID id.RoomID, proto ProtoEvent) (*storage.Event, error) {
	return s.inRoom(ctx, roomID, func(rt *roomTx) (*storage.Event, error) {
		if proto.TxnID != "" {
			prev, err := rt.tx.EventIDForTxn(ctx, proto.Sender, proto.TxnDevice, proto.txnKey())
			if err == nil {
				return rt.tx.EventByID(ctx, prev)
			} else if !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
		}
		if proto.Type == event.StateCanonicalAlias.Type && proto.StateKey != nil && *proto.StateKey == "" {
			if err := rt.checkCanonicalAlias(ctx, proto.Content); err != nil {
				return nil, err
			}
		}
		return rt.append(ctx, proto)
	})
}

// inRoom runs fn on the room in one write transaction and, once it has committed, announces
// the events fn appended. fn may run more than once (a retried transaction).
func (s *Service) inRoom(ctx context.Context, roomID id.RoomID, fn func(rt *roomTx) (*storage.Event, error)) (*storage.Event, error) {
	var rt *roomTx
	var result *storage.Event
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		if rt, err = s.openRoom(ctx, tx, roomID); err != nil {
			return err
		}
		result, err = fn(rt)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notify(rt.written)
	return result, nil
}

// roomTx appends events to one room inside one database transaction, tracking the room's
// extremities and state as it goes so that several events (room creation) chain correctly.
type roomTx struct {
	s           *Service
	tx          *storage.Tx
	room        storage.Room
	extremities []id.EventID
	depth       int64
	pdus        map[id.EventID]*pdu.PDU         // events read or written in this transaction
	state       map[storage.StateKey]id.EventID // current-state lookups and writes
	written     []*storage.Event
	now         time.Time
}

func (s *Service) newRoomTx(tx *storage.Tx, room storage.Room) *roomTx {
	return &roomTx{s: s, tx: tx, room: room, pdus: map[id.EventID]*pdu.PDU{}, state: map[storage.StateKey]id.EventID{}, now: s.now()}
}

// openRoom locks an existing room for appending. An unknown room is M_FORBIDDEN, the answer a
// non-member of an existing room gets, so that nobody can probe which room IDs exist (Synapse
// answers "Unknown room" 403 too).
func (s *Service) openRoom(ctx context.Context, tx *storage.Tx, roomID id.RoomID) (*roomTx, error) {
	room, err := tx.LockRoom(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, mxerr.Forbidden.WithMessage("unknown room %s", roomID)
	} else if err != nil {
		return nil, err
	}
	rt := s.newRoomTx(tx, room)
	if rt.extremities, err = tx.ForwardExtremities(ctx, roomID); err != nil {
		return nil, err
	}
	if len(rt.extremities) > maxPrevEvents {
		rt.extremities = rt.extremities[len(rt.extremities)-maxPrevEvents:]
	}
	prev, err := tx.EventsByIDs(ctx, rt.extremities)
	if err != nil {
		return nil, err
	}
	for _, ev := range prev {
		rt.depth = max(rt.depth, ev.Depth)
	}
	return rt, nil
}

// stateEvent returns the event ID of the room's current state for key, or "" when unset.
func (rt *roomTx) stateEvent(ctx context.Context, key storage.StateKey) (id.EventID, error) {
	if evID, ok := rt.state[key]; ok {
		return evID, nil
	}
	evID, err := rt.tx.CurrentStateEvent(ctx, rt.room.ID, key)
	if errors.Is(err, storage.ErrNotFound) {
		evID, err = "", nil
	}
	if err != nil {
		return "", err
	}
	rt.state[key] = evID
	return evID, nil
}

// stateContent returns the content of the current state event for key, or nil when unset.
func (rt *roomTx) stateContent(ctx context.Context, key storage.StateKey) (jsontext.Value, error) {
	evID, err := rt.stateEvent(ctx, key)
	if err != nil || evID == "" {
		return nil, err
	}
	pdus, err := rt.getEvents([]id.EventID{evID})
	if err != nil {
		return nil, err
	}
	if pdus[0] == nil {
		return nil, fmt.Errorf("state event %s is missing", evID)
	}
	return pdus[0].Content, nil
}

// getEvents serves eventauth: the PDUs for ids, nil where unknown.
func (rt *roomTx) getEvents(ids []id.EventID) ([]*pdu.PDU, error) {
	var missing []id.EventID
	for _, evID := range ids {
		if _, ok := rt.pdus[evID]; !ok {
			missing = append(missing, evID)
		}
	}
	if len(missing) > 0 {
		// eventauth's callback has no context; these reads belong to the transaction anyway.
		evs, err := rt.tx.EventsByIDs(context.WithoutCancel(context.Background()), missing)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			p, err := ParsePDU(ev)
			if err != nil {
				return nil, err
			}
			rt.pdus[ev.ID] = p
		}
	}
	out := make([]*pdu.PDU, len(ids))
	for i, evID := range ids {
		out[i] = rt.pdus[evID]
	}
	return out, nil
}

// getKey serves eventauth's signature checks; only this server's key is known so far.
func (rt *roomTx) getKey(serverName string, keyID id.KeyID, _ time.Time) (id.SigningKey, time.Time, error) {
	if serverName == rt.s.serverName && keyID == rt.s.key.ID {
		return rt.s.key.Public(), rt.now.Add(24 * time.Hour), nil
	}
	return "", time.Time{}, nil
}

// append builds the PDU for proto on top of the room's current extremities, authorizes it
// against the current state, and writes it with its state changes.
func (rt *roomTx) append(ctx context.Context, proto ProtoEvent) (*storage.Event, error) {
	version := rt.room.Version
	p, wire, err := rt.build(ctx, proto)
	if err != nil {
		return nil, err
	}
	eventID := p.InternalMeta.EventID
	isCreate := isCreateEvent(p)
	if isCreate && version.RoomIDIsCreateEventID() {
		rt.room.ID = id.RoomID("!" + string(eventID)[1:])
	}
	if err := eventauth.Authorize(version, p, nil, rt.getEvents, rt.getKey); err != nil {
		return nil, mxerr.Forbidden.WithMessage("%s", err.Error())
	}
	if proto.Redacts != "" {
		if err := rt.checkRedaction(ctx, proto); err != nil {
			return nil, err
		}
	}
	if isCreate {
		rt.room.Creator, rt.room.CreatedTS = p.Sender, rt.now.UnixMilli()
		if err := rt.tx.InsertRoom(ctx, rt.room); err != nil {
			return nil, err
		}
	}
	return rt.persist(ctx, p, wire, proto)
}

// build fills in the PDU (prev_events, auth_events, depth, hashes, signature) and its event ID.
// It also returns the event in its room version's wire format, which is what gets stored.
func (rt *roomTx) build(ctx context.Context, proto ProtoEvent) (*pdu.PDU, any, error) {
	version := rt.room.Version
	ts := proto.Timestamp
	if ts == 0 {
		ts = rt.now.UnixMilli()
	}
	content := proto.Content
	if len(content) == 0 {
		content = jsontext.Value("{}")
	}
	p := &pdu.PDU{
		Type:           proto.Type,
		StateKey:       proto.StateKey,
		Sender:         proto.Sender,
		Content:        content,
		OriginServerTS: ts,
		Depth:          rt.depth + 1,
		PrevEvents:     append([]id.EventID{}, rt.extremities...),
		AuthEvents:     []id.EventID{},
	}
	if !isCreateEvent(p) || !version.RoomIDIsCreateEventID() {
		p.RoomID = rt.room.ID
	}
	if proto.Redacts != "" {
		if version.RedactsInContent() {
			var err error
			if p.Content, err = setJSONField(p.Content, "redacts", proto.Redacts); err != nil {
				return nil, nil, err
			}
		} else {
			p.Redacts = &proto.Redacts
		}
	}
	for _, key := range p.AuthEventSelection(version) {
		evID, err := rt.stateEvent(ctx, storage.StateKey{Type: key.Type, StateKey: key.StateKey})
		if err != nil {
			return nil, nil, err
		}
		if evID != "" {
			p.AuthEvents = append(p.AuthEvents, evID)
		}
	}
	if usesV1Format(version) {
		return rt.signV1(p)
	}
	if err := p.Sign(version, rt.s.serverName, rt.s.key.ID, rt.s.key.Private); err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	eventID, err := p.GetEventID(version)
	if err != nil {
		return nil, nil, fmt.Errorf("event ID: %w", err)
	}
	p.InternalMeta.EventID = eventID
	return p, p, nil
}

// signV1 gives a built PDU a server-chosen event ID and signs it in the v1 format.
func (rt *roomTx) signV1(p *pdu.PDU) (*pdu.PDU, any, error) {
	refs := append(append([]id.EventID{}, p.PrevEvents...), p.AuthEvents...)
	if _, err := rt.getEvents(refs); err != nil {
		return nil, nil, err
	}
	v1, err := toV1(p, id.EventID("$"+randomString(18)+":"+rt.s.serverName), rt.pdus)
	if err != nil {
		return nil, nil, err
	}
	if err := v1.Sign(rt.room.Version, rt.s.serverName, rt.s.key.ID, rt.s.key.Private); err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	return fromV1(v1), v1, nil
}

// checkRedaction applies the rule the auth rules leave to the server: a user may redact their
// own events, and others' only with the room's redact power level (content/rooms/v11.md,
// "Authorization rules" and client-server "Redactions").
func (rt *roomTx) checkRedaction(ctx context.Context, proto ProtoEvent) error {
	targets, err := rt.getEvents([]id.EventID{proto.Redacts})
	if err != nil {
		return err
	}
	target := targets[0]
	if target == nil || target.RoomID != rt.room.ID {
		return mxerr.NotFound.WithMessage("event %s not found in %s", proto.Redacts, rt.room.ID)
	}
	if target.Sender == proto.Sender {
		return nil
	}
	pl, err := rt.powerLevels(ctx)
	if err != nil {
		return err
	}
	if pl.GetUserLevel(proto.Sender) < pl.Redact() {
		return mxerr.Forbidden.WithMessage("%s may not redact events of other users in %s", proto.Sender, rt.room.ID)
	}
	return nil
}

// powerLevels returns the room's current power levels as the auth rules interpret them.
func (rt *roomTx) powerLevels(ctx context.Context) (*event.PowerLevelsEventContent, error) {
	createContent, err := rt.stateContent(ctx, storage.StateKey{Type: event.StateCreate.Type})
	if err != nil {
		return nil, err
	}
	createID, _ := rt.stateEvent(ctx, storage.StateKey{Type: event.StateCreate.Type})
	content, err := rt.stateContent(ctx, storage.StateKey{Type: event.StatePowerLevels.Type})
	if err != nil {
		return nil, err
	}
	createPDU := rt.pdus[createID]
	return PowerLevels(rt.room.Version, content, createPDU, createContent)
}

// persist writes a built, authorized event: stream position, state snapshot, current state,
// extremities and redaction marks, all in the caller's transaction.
func (rt *roomTx) persist(ctx context.Context, p *pdu.PDU, wire any, proto ProtoEvent) (*storage.Event, error) {
	raw, err := canonicaljson.Marshal(wire)
	if err != nil {
		return nil, fmt.Errorf("encode PDU: %w", err)
	}
	if len(raw) > maxPDUSize {
		return nil, mxerr.TooLarge.WithMessage("event is %d bytes, more than the %d a PDU may have", len(raw), maxPDUSize)
	}
	ev := &storage.Event{
		ID:             p.InternalMeta.EventID,
		RoomID:         rt.room.ID,
		Depth:          p.Depth,
		Type:           p.Type,
		StateKey:       p.StateKey,
		Sender:         p.Sender,
		OriginServerTS: p.OriginServerTS,
		StateBefore:    rt.room.StateSnapshot,
		TxnDevice:      proto.TxnDevice,
		TxnID:          proto.TxnID,
		PDU:            raw,
	}
	if p.Type == event.StateMember.Type {
		ev.Membership = gjson.GetBytes(p.Content, "membership").Str
	}
	notifications, err := rt.evaluatePush(ctx, ev)
	if err != nil {
		return nil, err
	}
	if ev.IsState() {
		key := storage.StateKey{Type: p.Type, StateKey: *p.StateKey}
		if ev.ReplacesState, err = rt.stateEvent(ctx, key); err != nil {
			return nil, err
		}
		snap, err := rt.s.states.Derive(ctx, rt.tx, rt.room.ID, rt.room.StateSnapshot, []storage.StateEntry{{StateKey: key, EventID: ev.ID}}, rt.now.UnixMilli())
		if err != nil {
			return nil, err
		}
		if err := rt.tx.UpdateRoomSnapshot(ctx, rt.room.ID, snap); err != nil {
			return nil, err
		}
		rt.room.StateSnapshot = snap
		rt.state[key] = ev.ID
	}
	// Taken last: the counter row stays locked until commit, and the shorter the better.
	if ev.StreamPos, err = rt.tx.NextCounter(ctx, "events"); err != nil {
		return nil, err
	}
	if err := rt.tx.InsertEvent(ctx, ev); err != nil {
		return nil, err
	}
	if err := rt.recordMediaReferences(ctx, ev, p.Content); err != nil {
		return nil, err
	}
	if rt.s.push != nil {
		if err := rt.s.push.Record(ctx, rt.tx, ev, notifications); err != nil {
			return nil, err
		}
	}
	if ev.IsState() {
		key := storage.StateKey{Type: p.Type, StateKey: *p.StateKey}
		if err := rt.tx.SetCurrentState(ctx, rt.room.ID, key, ev.ID, ev.Membership, ev.StreamPos); err != nil {
			return nil, err
		}
	}
	if err := rt.tx.AdvanceExtremities(ctx, rt.room.ID, p.PrevEvents, ev.ID); err != nil {
		return nil, err
	}
	if proto.Redacts != "" {
		if err := rt.tx.MarkRedacted(ctx, proto.Redacts, ev.ID); err != nil {
			return nil, err
		}
		if err := rt.tx.DeletePushActionsOf(ctx, proto.Redacts); err != nil { // a redacted event notifies nobody
			return nil, err
		}
	}
	if proto.TxnID != "" {
		if err := rt.tx.InsertTxnID(ctx, proto.Sender, proto.TxnDevice, proto.txnKey(), ev.ID, rt.now.UnixMilli()); err != nil {
			return nil, err
		}
	}
	rt.pdus[ev.ID] = p
	rt.extremities = []id.EventID{ev.ID}
	rt.depth = p.Depth
	rt.written = append(rt.written, ev)
	return ev, nil
}

// evaluatePush asks the push evaluator whom ev notifies, against the room's state before ev.
func (rt *roomTx) evaluatePush(ctx context.Context, ev *storage.Event) ([]storage.PushAction, error) {
	if rt.s.push == nil {
		return nil, nil
	}
	return rt.s.push.Evaluate(ctx, rt.tx, ev, func() (*event.PowerLevelsEventContent, error) { return rt.powerLevels(ctx) })
}

func isCreateEvent(p *pdu.PDU) bool {
	return p.Type == event.StateCreate.Type && p.StateKey != nil && *p.StateKey == ""
}

// setJSONField returns obj with key set to value.
func setJSONField(obj jsontext.Value, key string, value any) (jsontext.Value, error) {
	var m map[string]jsontext.Value
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, mxerr.BadJSON.WithMessage("content must be a JSON object")
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	m[key] = raw
	return json.Marshal(m, json.Deterministic(true))
}
