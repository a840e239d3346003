package rooms

import (
	"context"
	"encoding/json/v2"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"maunium.net/go/mautrix/federation/pdu"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/serverkey"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func newTestService(t *testing.T, db *storage.DB) *Service {
	t.Helper()
	key, err := serverkey.LoadOrGenerate(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, u := range []id.UserID{"@alice:hs", "@bob:hs", "@carol:hs"} {
		if err := db.InsertUser(ctx, storage.User{ID: u, DisplayName: u.Localpart(), CreatedTS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return New(db, Options{ServerName: "hs", Key: key, DefaultVersion: id.RoomV11, Log: testLogger()})
}

func TestCreateRoomEveryVersion(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newTestService(t, db)
		ctx := context.Background()
		for _, v := range CreatableVersions {
			t.Run("v"+string(v), func(t *testing.T) {
				name := "Room " + string(v)
				roomID, err := s.CreateRoom(ctx, CreateRequest{Creator: "@alice:hs", Version: v, Name: &name, Invite: []id.UserID{"@bob:hs"}, AliasLocalpart: "room" + string(v)})
				if err != nil {
					t.Fatalf("CreateRoom: %v", err)
				}
				state, err := db.CurrentState(ctx, roomID)
				if err != nil {
					t.Fatal(err)
				}
				byKey := map[storage.StateKey]storage.CurrentStateEntry{}
				for _, e := range state {
					byKey[e.StateKey] = e
				}
				if got := byKey[storage.StateKey{Type: "m.room.member", StateKey: "@bob:hs"}].Membership; got != "invite" {
					t.Errorf("bob's membership = %q, want invite", got)
				}
				for _, ev := range state {
					stored, err := db.EventByID(ctx, ev.EventID)
					if err != nil {
						t.Fatal(err)
					}
					if err := verifyStored(stored, v, s.key.Public()); err != nil {
						t.Errorf("%s: %v", ev.EventID, err)
					}
				}
				room, err := db.RoomByID(ctx, roomID)
				if err != nil {
					t.Fatal(err)
				}
				full, err := s.states.StateAt(ctx, db, room.StateSnapshot)
				if err != nil {
					t.Fatal(err)
				}
				if len(full) != len(state) {
					t.Errorf("snapshot has %d entries, current state %d", len(full), len(state))
				}
				for _, e := range state {
					if full[e.StateKey] != e.EventID {
						t.Errorf("snapshot %v = %s, current state %s", e.StateKey, full[e.StateKey], e.EventID)
					}
				}
			})
		}
	})
}

func TestSendAuthAndIdempotency(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newTestService(t, db)
		ctx := context.Background()
		roomID, err := s.CreateRoom(ctx, CreateRequest{Creator: "@alice:hs"})
		if err != nil {
			t.Fatal(err)
		}
		msg := ProtoEvent{Type: "m.room.message", Sender: "@alice:hs", Content: []byte(`{"msgtype":"m.text","body":"hi"}`), TxnDevice: "DEV", TxnID: "t1"}
		first, err := s.Send(ctx, roomID, msg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Send(ctx, roomID, msg)
		if err != nil || again.ID != first.ID {
			t.Fatalf("retry gave %v, %v; want the same event %s", again, err, first.ID)
		}
		_, err = s.Send(ctx, roomID, ProtoEvent{Type: "m.room.message", Sender: "@bob:hs", Content: []byte(`{}`)})
		if !errors.Is(err, mxerr.Forbidden) {
			t.Errorf("non-member send: err = %v, want M_FORBIDDEN", err)
		}
		if _, err := s.Send(ctx, "!nope:hs", msg); !errors.Is(err, mxerr.Forbidden) {
			t.Errorf("unknown room: err = %v, want M_FORBIDDEN", err)
		}
	})
}

// verifyStored checks a stored event as a remote server would: its content hash, its signature
// and (from room v3 on) that its ID is its reference hash.
func verifyStored(ev *storage.Event, v id.RoomVersion, key id.SigningKey) error {
	getKey := func(string, id.KeyID, time.Time) (id.SigningKey, time.Time, error) {
		return key, time.Now().Add(time.Hour), nil
	}
	var signed interface {
		VerifyContentHash() bool
		VerifySignature(id.RoomVersion, string, pdu.GetKeyFunc) error
		GetEventID(id.RoomVersion) (id.EventID, error)
	}
	if usesV1Format(v) {
		var v1 pdu.RoomV1PDU
		if err := json.Unmarshal(ev.PDU, &v1); err != nil {
			return err
		}
		signed = &v1
	} else {
		var p pdu.PDU
		if err := json.Unmarshal(ev.PDU, &p); err != nil {
			return err
		}
		signed = &p
	}
	if gotID, err := signed.GetEventID(v); err != nil || gotID != ev.ID {
		return fmt.Errorf("event ID from the PDU is %s, %v", gotID, err)
	}
	if !signed.VerifyContentHash() {
		return errors.New("content hash does not verify")
	}
	return signed.VerifySignature(v, "hs", getKey)
}
