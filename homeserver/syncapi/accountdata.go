package syncapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Account data (content/client-server-api/modules/account_data.md): a user's JSON objects by
// type, global or for one room, which only that user sees. Each change takes a position in the
// "account_data" stream, and /sync sends what changed since a token: the global objects in the
// top-level account_data, a room's in that room's. Room tags (m.tag) and the fully-read marker
// (m.fully_read) are room account data too.

// serverManaged are the account data types only the server writes (account_data.md, "Server
// Behaviour"); clients may read them.
var serverManaged = map[string]bool{
	event.AccountDataFullyRead.Type: true,
	event.AccountDataPushRules.Type: true,
}

// AccountDataEvent is an account data object as /sync sends it.
type AccountDataEvent struct {
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// SetAccountData stores a user's object of a type, global (roomID "") or for a room
// (data/api/client-server/account-data.yaml), replacing what was there. content must be a
// JSON object. The types the server manages are refused with 405 M_BAD_JSON.
func (s *Service) SetAccountData(ctx context.Context, userID id.UserID, roomID id.RoomID, typ string, content json.RawMessage) error {
	if serverManaged[typ] {
		return mxerr.BadJSON.WithStatus(http.StatusMethodNotAllowed).WithMessage("%s account data is managed by the server", typ)
	}
	return s.putAccountData(ctx, storage.AccountData{UserID: userID, RoomID: roomID, Type: typ, Content: content})
}

// AccountData returns the content of a user's object of a type, global (roomID "") or for a
// room, or M_NOT_FOUND.
func (s *Service) AccountData(ctx context.Context, userID id.UserID, roomID id.RoomID, typ string) (json.RawMessage, error) {
	if roomID == "" && typ == pushRulesType {
		rs, err := s.PushRules(ctx, userID)
		if err != nil {
			return nil, err
		}
		return rs.Content(), nil
	}
	d, err := s.db.AccountDataOf(ctx, userID, roomID, typ)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, mxerr.NotFound.WithMessage("no %s account data", typ)
	}
	return d.Content, err
}

// putAccountData stores d at the next position of the stream and wakes the user's long polls.
func (s *Service) putAccountData(ctx context.Context, d storage.AccountData) error {
	return s.updateAccountData(ctx, d.UserID, d.RoomID, d.Type, func(json.RawMessage) (json.RawMessage, error) {
		return d.Content, nil
	})
}

// updateAccountData replaces a user's object of a type with what change makes of its current
// content (nil when there is none), in one transaction; change returns nil to leave it as it
// is. It wakes the user's long polls when the object changed.
func (s *Service) updateAccountData(ctx context.Context, userID id.UserID, roomID id.RoomID, typ string, change func(json.RawMessage) (json.RawMessage, error)) error {
	now := s.now().UnixMilli()
	var changed bool
	err := s.db.InTx(ctx, func(tx *storage.Tx) (err error) {
		changed, err = changeAccountData(ctx, tx, now, storage.AccountData{UserID: userID, RoomID: roomID, Type: typ}, change)
		return err
	})
	if err == nil && changed {
		s.notifier.WakeUser(userID)
	}
	return err
}

// changeAccountData is updateAccountData inside tx, for the object key names (its content
// and position are ignored), and reports whether it wrote. The stream position is taken
// first, which locks the stream's counter until commit, so that concurrent changes of one
// object apply one after the other and none is lost.
func changeAccountData(ctx context.Context, tx *storage.Tx, now int64, key storage.AccountData, change func(json.RawMessage) (json.RawMessage, error)) (bool, error) {
	pos, err := tx.NextCounter(ctx, "account_data")
	if err != nil {
		return false, err
	}
	var current json.RawMessage
	switch d, err := tx.AccountDataOf(ctx, key.UserID, key.RoomID, key.Type); {
	case err == nil:
		current = d.Content
	case !errors.Is(err, storage.ErrNotFound):
		return false, err
	}
	content, err := change(current)
	if err != nil || content == nil {
		return false, err
	}
	key.Content, key.StreamPos = content, pos
	return true, tx.PutAccountData(ctx, key, now)
}

// accountDataWindow is what one /sync response sends of the account data stream.
type accountDataWindow struct {
	upto   int64
	all    bool // rooms holds every room's objects (an initial or full_state sync)
	global []storage.AccountData
	rooms  map[id.RoomID][]storage.AccountData
}

// accountDataSince reads the user's objects that changed in (since, upto], or all of them as
// of upto on an initial or full_state sync.
func (s *Service) accountDataSince(ctx context.Context, req Request, since, upto int64) (*accountDataWindow, error) {
	w := &accountDataWindow{upto: upto, all: req.Since == nil || req.FullState, rooms: map[id.RoomID][]storage.AccountData{}}
	var ds []storage.AccountData
	var err error
	switch {
	case w.all:
		ds, err = s.db.UserAccountData(ctx, req.UserID, upto)
	case since < upto:
		ds, err = s.db.AccountDataInRange(ctx, req.UserID, since, upto)
	}
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.RoomID == "" {
			w.global = append(w.global, d)
		} else {
			w.rooms[d.RoomID] = append(w.rooms[d.RoomID], d)
		}
	}
	withPushRules(req.UserID, w)
	return w, nil
}

// globalAccountData renders the top-level account_data section, filtered by the
// account_data filter.
func globalAccountData(req Request, w *accountDataWindow) []any {
	return accountDataEvents(req.Filter.AccountData, "", w.global)
}

// roomAccountData returns a room's account_data section: all of its objects when full (a
// newly joined room), otherwise what changed in the window; filtered by the
// room.account_data filter.
func (s *Service) roomAccountData(ctx context.Context, req Request, roomID id.RoomID, w *accountDataWindow, full bool) ([]any, error) {
	ds := w.rooms[roomID]
	if full && !w.all {
		var err error
		if ds, err = s.db.RoomAccountData(ctx, req.UserID, roomID, w.upto); err != nil {
			return nil, err
		}
	}
	var part *mautrix.FilterPart
	if req.Filter.Room != nil {
		part = req.Filter.Room.AccountData
	}
	return accountDataEvents(part, roomID, ds), nil
}

// accountDataEvents renders the objects part lets through.
func accountDataEvents(part *mautrix.FilterPart, roomID id.RoomID, ds []storage.AccountData) []any {
	out := make([]any, 0, len(ds))
	for _, d := range ds {
		if MatchEvent(part, FilterEvent{RoomID: roomID, Type: d.Type}) {
			out = append(out, AccountDataEvent{Type: d.Type, Content: d.Content})
		}
	}
	return out
}
