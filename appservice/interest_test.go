package appservice

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"regexp"
	"testing"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/rooms"
	"causeway/homeserver/serverkey"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func TestInterest(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		key, err := serverkey.LoadOrGenerate(filepath.Join(t.TempDir(), "signing.key"))
		if err != nil {
			t.Fatal(err)
		}
		svc := rooms.New(db, rooms.Options{ServerName: hsName, Key: key, DefaultVersion: id.RoomV11, Log: slog.New(slog.DiscardHandler)})
		in := newInterest(db, hsName)
		reg := bridgeRegistration(t, "http://bridge.invalid")
		const bot id.UserID = "@bridgebot:localhost"

		create := func(creator id.UserID) id.RoomID {
			t.Helper()
			roomID, err := svc.CreateRoom(ctx, rooms.CreateRequest{Creator: creator, Preset: rooms.PresetPublicChat})
			if err != nil {
				t.Fatal(err)
			}
			return roomID
		}
		send := func(roomID id.RoomID, sender id.UserID, evType string, stateKey *string, content any) *storage.Event {
			t.Helper()
			raw, _ := json.Marshal(content)
			ev, err := svc.Send(ctx, roomID, rooms.ProtoEvent{Type: evType, StateKey: stateKey, Sender: sender, Content: raw})
			if err != nil {
				t.Fatalf("send %s: %v", evType, err)
			}
			return ev
		}
		message := func(roomID id.RoomID, sender id.UserID) *storage.Event {
			t.Helper()
			return send(roomID, sender, "m.room.message", nil, map[string]string{"msgtype": "m.text", "body": "hi"})
		}
		check := func(what string, r *Registration, ev *storage.Event, want bool) {
			t.Helper()
			got, err := in.interested(ctx, r, ev)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if got != want {
				t.Errorf("%s: interested = %v, want %v", what, got, want)
			}
		}

		plain := create(alice)
		check("a message of a user outside the namespaces", reg, message(plain, alice), false)
		check("a message of a namespace user", reg, message(create(ghost), ghost), true)
		check("a message of the sender_localpart user", reg, message(create(bot), bot), true)

		// Room namespace: a registration naming the room's ID.
		byRoom := testRegistration(t, "byroom", "", nil, nil)
		roomNS, err := NewNamespace(regexp.QuoteMeta(string(plain)), false)
		if err != nil {
			t.Fatal(err)
		}
		byRoom.Namespaces.Rooms = []Namespace{roomNS}
		check("a message in a room of the room namespace", byRoom, message(plain, alice), true)

		// Members: an invited namespace user makes the room interesting until it leaves.
		invited := create(alice)
		check("a message before the invite", reg, message(invited, alice), false)
		invite, err := svc.Invite(ctx, invited, rooms.MembershipRequest{Sender: alice, Target: ghost})
		if err != nil {
			t.Fatal(err)
		}
		check("the invite of a namespace user", reg, invite, true)
		in.invalidate(invite)
		check("a message after the invite", reg, message(invited, alice), true)
		leave, err := svc.Leave(ctx, invited, rooms.MembershipRequest{Sender: ghost})
		if err != nil {
			t.Fatal(err)
		}
		check("a message after the leave, before the cache hears of it", reg, message(invited, alice), true)
		in.invalidate(leave)
		check("a message after the leave", reg, message(invited, alice), false)

		// Canonical alias: alt_aliases count as well as alias.
		aliased := create(alice)
		check("a message before the alias", reg, message(aliased, alice), false)
		alt := id.RoomAlias("#bridged_alt:localhost")
		if err := svc.CreateAlias(ctx, alt, aliased, alice); err != nil {
			t.Fatal(err)
		}
		empty := ""
		aliasEv := send(aliased, alice, "m.room.canonical_alias", &empty, map[string]any{"alt_aliases": []id.RoomAlias{alt}})
		in.invalidate(aliasEv)
		check("a message in a room whose alt alias is in the namespace", reg, message(aliased, alice), true)
		aliasEv = send(aliased, alice, "m.room.canonical_alias", &empty, map[string]any{})
		in.invalidate(aliasEv)
		check("a message after the alias was removed", reg, message(aliased, alice), false)
	})
}
