package appservice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	mxappservice "maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/appservice"
	"causeway/homeserver/server"
	"causeway/homeserver/storage/storagetest"
)

// ephemeralRegistration is a bridge registration; %s are its ID, URL, extra keys and the
// prefix of its user namespace.
const ephemeralRegistration = `id: %[1]s
url: %[2]s
as_token: as-token-%[1]s-0123456789
hs_token: hs-token-%[1]s-0123456789
sender_localpart: %[1]sbot
rate_limited: false
%[3]s
namespaces:
  users:
  - regex: '@_%[4]s_.*:localhost'
    exclusive: true
`

// ephemeralBridge is one mautrix-go appservice registered with the test server.
type ephemeralBridge struct {
	as    *mxappservice.AppService
	front *appserviceFront
}

// startEphemeralEnv boots a server with two appservices: "portal", registered with MSC2409's
// de.sorunome.msc2409.push_ephemeral as mautrix-go's bridges write it, and "quiet", which did
// not ask for ephemeral data. It returns the server's URL and the two.
func startEphemeralEnv(t *testing.T, driver, dsn string) (string, *ephemeralBridge, *ephemeralBridge) {
	t.Helper()
	dir := t.TempDir()
	registry := appservice.NewRegistry("localhost")
	var paths []string
	var bridges []*ephemeralBridge
	for _, b := range []struct{ id, extra, prefix string }{
		{"portal", "de.sorunome.msc2409.push_ephemeral: true", "portal"},
		{"quiet", "", "quiet"},
	} {
		front := &appserviceFront{handler: http.NotFoundHandler(), bodies: map[string]string{}}
		srv := httptest.NewServer(front)
		t.Cleanup(srv.Close)
		path := filepath.Join(dir, b.id+".yaml")
		if err := os.WriteFile(path, fmt.Appendf(nil, ephemeralRegistration, b.id, srv.URL, b.extra, b.prefix), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		bridges = append(bridges, &ephemeralBridge{front: front})
	}
	if err := registry.Load(paths); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler),
		appservice.Layer(registry, &http.Client{}, appservice.SenderOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	bgDone := make(chan struct{})
	go func() { srv.RunBackground(ctx); close(bgDone) }()
	t.Cleanup(func() {
		cancel()
		<-bgDone
		hs.Close()
		srv.Close()
	})
	for i, b := range bridges {
		mxreg, err := mxappservice.LoadRegistration(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		// mautrix-go dispatches ephemeral events only with the stable receive_ephemeral, which
		// its bridges write next to the unstable key (bridgev2/bridgeconfig/appservice.go).
		// Set on both, so that the quiet one would show anything it were sent.
		mxreg.EphemeralEvents = true
		as, err := mxappservice.CreateFull(mxappservice.CreateOpts{Registration: mxreg, HomeserverDomain: "localhost", HomeserverURL: hs.URL})
		if err != nil {
			t.Fatal(err)
		}
		b.front.mu.Lock()
		b.front.handler = as.Router
		b.front.mu.Unlock()
		b.as = as
	}
	return hs.URL, bridges[0], bridges[1]
}

// waitPresence reads the bridge's events until an m.presence of user that done accepts.
func (b *ephemeralBridge) waitPresence(t *testing.T, user id.UserID, done func(*event.PresenceEventContent) bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-b.as.Events:
			if ev.Type == event.EphemeralEventPresence && ev.Sender == user && done(ev.Content.AsPresence()) {
				return
			}
		case <-timeout:
			t.Fatalf("%s: no presence of %s", b.as.Registration.ID, user)
		}
	}
}

// collect reads the bridge's events of roomID until done says it has what it waits for.
func (b *ephemeralBridge) collect(t *testing.T, roomID id.RoomID, done func(*event.Event) bool) []*event.Event {
	t.Helper()
	var got []*event.Event
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-b.as.Events:
			if ev.RoomID != roomID {
				continue
			}
			got = append(got, ev)
			if done(ev) {
				return got
			}
		case <-timeout:
			t.Fatalf("%s: gave up after %d events of %s", b.as.Registration.ID, len(got), roomID)
			return nil
		}
	}
}

// TestEphemeralToAppservices checks MSC2409 delivery: the appservice that asked receives the
// typing and receipts of its portal rooms through mautrix-go's appservice, as ephemeral
// events carrying their room ID, including private receipts of its own users but not of
// others; the one that did not ask receives the rooms' events and nothing ephemeral.
func TestEphemeralToAppservices(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		hsURL, portal, quiet := startEphemeralEnv(t, driver, dsn)
		bot := portal.as.BotIntent()
		if err := bot.EnsureRegistered(ctx); err != nil {
			t.Fatal(err)
		}
		created, err := bot.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat", Name: "portal"})
		if err != nil {
			t.Fatal(err)
		}
		roomID := created.RoomID
		ghost := portal.as.Intent("@_portal_slackbob:localhost")
		if err := ghost.EnsureJoined(ctx, roomID); err != nil {
			t.Fatal(err)
		}
		// The quiet appservice is interested in the room through a member of its own.
		if err := quiet.as.Intent("@_quiet_watcher:localhost").EnsureJoined(ctx, roomID); err != nil {
			t.Fatal(err)
		}
		alice, err := mautrix.NewClient(hsURL, "", "")
		if err != nil {
			t.Fatal(err)
		}
		reg, err := alice.RegisterDummy(ctx, &mautrix.ReqRegister[any]{Username: "alice", Password: "ordinary user password"})
		if err != nil {
			t.Fatal(err)
		}
		alice.SetCredentials(reg.UserID, reg.AccessToken)
		if _, err := alice.JoinRoom(ctx, string(roomID), nil); err != nil {
			t.Fatal(err)
		}
		msg, err := alice.SendText(ctx, roomID, "hello portal")
		if err != nil {
			t.Fatal(err)
		}

		if _, err := alice.UserTyping(ctx, roomID, true, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		isTyping := func(users ...id.UserID) func(*event.Event) bool {
			return func(ev *event.Event) bool {
				return ev.Type == event.EphemeralEventTyping && slices.Equal(ev.Content.AsTyping().UserIDs, users)
			}
		}
		got := portal.collect(t, roomID, isTyping(alice.UserID))
		typing := got[len(got)-1]
		if typing.Type.Class != event.EphemeralEventType || typing.Mautrix.EventSource&event.SourceEphemeral == 0 {
			t.Errorf("m.typing arrived as class %v, source %v", typing.Type.Class, typing.Mautrix.EventSource)
		}
		if _, err := alice.UserTyping(ctx, roomID, false, 0); err != nil {
			t.Fatal(err)
		}
		portal.collect(t, roomID, isTyping())

		if err := alice.MarkRead(ctx, roomID, msg.EventID); err != nil {
			t.Fatal(err)
		}
		hasReceipt := func(evID id.EventID, typ event.ReceiptType, user id.UserID) func(*event.Event) bool {
			return func(ev *event.Event) bool {
				if ev.Type != event.EphemeralEventReceipt {
					return false
				}
				_, ok := (*ev.Content.AsReceipt())[evID][typ][user]
				return ok
			}
		}
		portal.collect(t, roomID, hasReceipt(msg.EventID, event.ReceiptTypeRead, alice.UserID))

		// A private receipt goes to the appservice only for a user in its namespace: the
		// ghost's arrives, alice's (sent first, so it would come no later) does not.
		if err := alice.SendReceipt(ctx, roomID, msg.EventID, event.ReceiptTypeReadPrivate, nil); err != nil {
			t.Fatal(err)
		}
		if err := ghost.SendReceipt(ctx, roomID, msg.EventID, event.ReceiptTypeReadPrivate, nil); err != nil {
			t.Fatal(err)
		}
		got = portal.collect(t, roomID, hasReceipt(msg.EventID, event.ReceiptTypeReadPrivate, ghost.UserID))
		if slices.ContainsFunc(got, hasReceipt(msg.EventID, event.ReceiptTypeReadPrivate, alice.UserID)) {
			t.Error("the appservice received alice's private receipt")
		}

		// Presence of a user sharing a portal room (MSC2409 pushes m.presence too).
		if err := alice.SetPresence(ctx, mautrix.ReqPresence{Presence: event.PresenceUnavailable, StatusMsg: "at lunch"}); err != nil {
			t.Fatal(err)
		}
		portal.waitPresence(t, alice.UserID, func(p *event.PresenceEventContent) bool {
			return p.Presence == event.PresenceUnavailable && p.StatusMessage == "at lunch"
		})

		// While the appservice is down, its stored transaction keeps what it had; later
		// updates wait for the next one.
		portal.front.setDown(true)
		if _, err := alice.UserTyping(ctx, roomID, true, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // a few failed attempts
		if _, err := alice.UserTyping(ctx, roomID, false, 0); err != nil {
			t.Fatal(err)
		}
		portal.front.setDown(false)
		got = portal.collect(t, roomID, isTyping())
		if !slices.ContainsFunc(got, isTyping(alice.UserID)) {
			t.Error("the typing stored while the appservice was down was not delivered")
		}
		portal.front.mu.Lock()
		if len(portal.front.reused) > 0 {
			t.Errorf("transaction IDs reused for different contents: %v", portal.front.reused)
		}
		portal.front.mu.Unlock()

		// Both field names carry the ephemeral events, for old and new bridges alike.
		portal.front.mu.Lock()
		withEphemeral := 0
		for txnID, body := range portal.front.bodies {
			var txn map[string]json.RawMessage
			if err := json.Unmarshal([]byte(body), &txn); err != nil {
				t.Fatalf("transaction %s: %v", txnID, err)
			}
			if txn["ephemeral"] == nil {
				continue
			}
			withEphemeral++
			if string(txn["ephemeral"]) != string(txn["de.sorunome.msc2409.ephemeral"]) {
				t.Errorf("transaction %s has different ephemeral and de.sorunome.msc2409.ephemeral lists: %s", txnID, body)
			}
		}
		portal.front.mu.Unlock()
		if withEphemeral == 0 {
			t.Error("no transaction carried an ephemeral list")
		}

		// The quiet appservice gets the room's events up to a last one, and nothing ephemeral.
		last, err := alice.SendText(ctx, roomID, "last")
		if err != nil {
			t.Fatal(err)
		}
		got = quiet.collect(t, roomID, func(ev *event.Event) bool { return ev.ID == last.EventID })
		for _, ev := range got {
			if ev.Type.Class == event.EphemeralEventType {
				t.Errorf("the appservice without push_ephemeral received %s", ev.Type.Type)
			}
		}
		if !slices.ContainsFunc(got, func(ev *event.Event) bool { return ev.ID == msg.EventID }) {
			t.Error("the quiet appservice did not receive the room's message")
		}
		quiet.front.mu.Lock()
		defer quiet.front.mu.Unlock()
		for txnID, body := range quiet.front.bodies {
			var txn map[string]json.RawMessage
			if json.Unmarshal([]byte(body), &txn) == nil && (txn["ephemeral"] != nil || txn["de.sorunome.msc2409.ephemeral"] != nil) {
				t.Errorf("transaction %s to the quiet appservice has ephemeral data: %s", txnID, body)
			}
		}
	})
}
