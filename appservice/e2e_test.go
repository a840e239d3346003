package appservice_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	mxappservice "maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/appservice"
	"causeway/homeserver/config"
	"causeway/homeserver/server"
	"causeway/homeserver/storage/storagetest"
)

const bridgeRegistration = `id: testbridge
url: %s
as_token: as-token-testbridge-0123456789
hs_token: hs-token-testbridge-0123456789
sender_localpart: bridgebot
rate_limited: false
protocols: [slack]
de.sorunome.msc2409.push_ephemeral: true
io.element.msc4190: true
org.matrix.msc3202: true
namespaces:
  users:
  - regex: '@_bridge_.*:localhost'
    exclusive: true
  aliases:
  - regex: '#_bridge_.*:localhost'
    exclusive: true
`

// bridgeEnv is a Causeway server with the appservice layer and a mautrix-go appservice
// (the external bridge) registered with it, both over real HTTP.
type bridgeEnv struct {
	hsURL  string
	srv    *server.Server
	as     *mxappservice.AppService
	events chan *event.Event

	cfg      config.Config
	registry *appservice.Registry
	stop     func() // stops the running server
	asFront  *appserviceFront
}

// appserviceFront stands in front of the mautrix appservice: it can play dead, and it checks
// that no transaction ID ever comes with two different bodies.
type appserviceFront struct {
	mu      sync.Mutex
	down    bool
	handler http.Handler
	bodies  map[string]string // txn ID -> body
	reused  []string
}

func (f *appserviceFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down, h := f.down, f.handler
	f.mu.Unlock()
	if down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	if txnID, ok := strings.CutPrefix(r.URL.Path, "/_matrix/app/v1/transactions/"); ok {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		if prev, seen := f.bodies[txnID]; seen && prev != string(body) {
			f.reused = append(f.reused, txnID)
		}
		f.bodies[txnID] = string(body)
		f.mu.Unlock()
	}
	h.ServeHTTP(w, r)
}

func (f *appserviceFront) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func startBridgeEnv(t *testing.T, driver, dsn string) *bridgeEnv {
	t.Helper()
	front := &appserviceFront{handler: http.NotFoundHandler(), bodies: map[string]string{}}
	asServer := httptest.NewServer(front)
	t.Cleanup(asServer.Close)

	dir := t.TempDir()
	regPath := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(regPath, []byte(fmt.Sprintf(bridgeRegistration, asServer.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	registry := appservice.NewRegistry("localhost")
	if err := registry.Load([]string{regPath}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir, dsn)
	env := &bridgeEnv{cfg: cfg, registry: registry, asFront: front}
	env.startServer(t)

	mxreg, err := mxappservice.LoadRegistration(regPath)
	if err != nil {
		t.Fatal(err)
	}
	as, err := mxappservice.CreateFull(mxappservice.CreateOpts{Registration: mxreg, HomeserverDomain: "localhost", HomeserverURL: env.hsURL})
	if err != nil {
		t.Fatal(err)
	}
	front.mu.Lock()
	front.handler = as.Router
	front.mu.Unlock()
	env.as, env.events = as, as.Events
	return env
}

// startServer boots the homeserver with the appservice layer on env's database.
func (env *bridgeEnv) startServer(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, env.cfg, slog.New(slog.DiscardHandler),
		appservice.Layer(env.registry, &http.Client{}, appservice.SenderOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	bgDone := make(chan struct{})
	go func() { srv.RunBackground(ctx); close(bgDone) }()
	var once sync.Once
	env.stop = func() {
		once.Do(func() {
			cancel()
			<-bgDone
			hs.Close()
			srv.Close()
		})
	}
	t.Cleanup(env.stop)
	env.srv = srv
	env.hsURL = hs.URL
}

// restart stops the homeserver and boots it again on the same data, at a new URL.
func (env *bridgeEnv) restart(t *testing.T) {
	t.Helper()
	env.stop()
	env.startServer(t)
	if err := env.as.SetHomeserverURL(env.hsURL); err != nil {
		t.Fatal(err)
	}
}

// testConfig is the homeserver configuration of these tests: open registration, no rate
// limits, the given data dir and database.
func testConfig(dataDir, dsn string) config.Config {
	cfg := config.Default()
	cfg.ServerName = "localhost"
	cfg.DataDir = dataDir
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.ClientAPI.RateLimit.Enabled = false
	cfg.Database.URL = dsn
	return cfg
}

// user registers an ordinary account.
func (env *bridgeEnv) user(t *testing.T, localpart string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(env.hsURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.RegisterDummy(context.Background(), &mautrix.ReqRegister[any]{Username: localpart, Password: "ordinary user password"})
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	cli.SetCredentials(resp.UserID, resp.AccessToken)
	return cli
}

// waitEvents collects the room's events from the appservice until have says it has all.
func (env *bridgeEnv) waitEvents(t *testing.T, roomID id.RoomID, have func([]*event.Event) bool) []*event.Event {
	t.Helper()
	var got []*event.Event
	timeout := time.After(30 * time.Second)
	for !have(got) {
		select {
		case ev := <-env.events:
			if ev.RoomID == roomID {
				got = append(got, ev)
			}
		case <-timeout:
			t.Fatalf("appservice received %d events of %s before the timeout", len(got), roomID)
		}
	}
	return got
}

func errCode(err error) string {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.RespError != nil {
		return httpErr.RespError.ErrCode
	}
	return ""
}

// TestBridgeFlow runs what a bridge does: ghosts, a portal created on an alias query,
// masquerading with massaged timestamps, receiving its rooms' events in order, and pinging.
func TestBridgeFlow(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		env := startBridgeEnv(t, driver, dsn)
		runBridgeFlow(t, env.as, env.user, env.waitEvents)
	})
}

// runBridgeFlow is the bridge's day, over whatever transport as and newUser use. receive
// collects the room's events as the appservice gets them until have says it has them all.
func runBridgeFlow(t *testing.T, as *mxappservice.AppService, newUser func(*testing.T, string) *mautrix.Client,
	receive func(t *testing.T, roomID id.RoomID, have func([]*event.Event) bool) []*event.Event) {
	t.Helper()
	ctx := context.Background()
	bot := as.BotIntent()
	if err := bot.EnsureRegistered(ctx); err != nil {
		t.Fatalf("bot: %v", err)
	}
	portalAlias := id.RoomAlias("#_bridge_general:localhost")
	queried := make(chan id.RoomAlias, 1)
	as.QueryHandler = queryHandler{alias: func(alias id.RoomAlias) bool {
		_, err := bot.CreateRoom(ctx, &mautrix.ReqCreateRoom{RoomAliasName: "_bridge_general", Preset: "public_chat", Name: "general"})
		if err != nil {
			t.Errorf("create portal: %v", err)
			return false
		}
		queried <- alias
		return true
	}}

	alice := newUser(t, "alice")
	joined, err := alice.JoinRoom(ctx, string(portalAlias), nil)
	if err != nil {
		t.Fatalf("joining the portal alias: %v", err)
	}
	if got := <-queried; got != portalAlias {
		t.Errorf("alias query for %s, want %s", got, portalAlias)
	}
	roomID := joined.RoomID

	ghost := as.Intent("@_bridge_slackbob:localhost")
	if err := ghost.EnsureRegistered(ctx); err != nil {
		t.Fatalf("ghost: %v", err)
	}
	if err := ghost.EnsureJoined(ctx, roomID); err != nil {
		t.Fatalf("ghost join: %v", err)
	}
	const oldTS = int64(1_600_000_000_000)
	massaged, err := ghost.SendMassagedMessageEvent(ctx, roomID, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: "from slack, long ago"}, oldTS)
	if err != nil {
		t.Fatalf("massaged send: %v", err)
	}
	ev, err := alice.GetEvent(ctx, roomID, massaged.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Timestamp != oldTS || ev.Sender != ghost.UserID {
		t.Errorf("massaged event has ts %d and sender %s, want %d and %s", ev.Timestamp, ev.Sender, oldTS, ghost.UserID)
	}

	var sent []id.EventID
	for i := range 20 {
		resp, err := alice.SendText(ctx, roomID, fmt.Sprintf("to the bridge %d", i))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, resp.EventID)
	}
	got := receive(t, roomID, func(evs []*event.Event) bool {
		return slices.ContainsFunc(evs, func(e *event.Event) bool { return e.ID == sent[len(sent)-1] })
	})
	var order []id.EventID
	for _, e := range got {
		if slices.Contains(sent, e.ID) {
			order = append(order, e.ID)
		}
	}
	if !slices.Equal(order, sent) {
		t.Errorf("the appservice got alice's messages as %v, want %v in order", order, sent)
	}
	if !slices.ContainsFunc(got, func(e *event.Event) bool { return e.ID == massaged.EventID }) {
		t.Errorf("the appservice did not get its ghost's massaged event %s", massaged.EventID)
	}

	ping, err := bot.AppservicePing(ctx, "testbridge", "ping-1")
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	if ping.DurationMS < 0 {
		t.Errorf("ping duration %d", ping.DurationMS)
	}
}

// TestNamespaces checks exclusivity against ordinary users and masquerading limits.
func TestNamespaces(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		cli, _ := mautrix.NewClient(env.hsURL, "", "")
		_, err := cli.RegisterDummy(ctx, &mautrix.ReqRegister[any]{Username: "_bridge_impostor", Password: "impostor password"})
		if errCode(err) != "M_EXCLUSIVE" {
			t.Errorf("ordinary registration inside the namespace: %v, want M_EXCLUSIVE", err)
		}
		alice := env.user(t, "alice")
		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{RoomAliasName: "_bridge_mine"})
		if errCode(err) != "M_EXCLUSIVE" {
			t.Errorf("createRoom with an alias in the namespace: %v, want M_EXCLUSIVE", err)
		}
		_, err = alice.CreateAlias(ctx, "#_bridge_taken:localhost", room.RoomID)
		if errCode(err) != "M_EXCLUSIVE" {
			t.Errorf("alias in the namespace: %v, want M_EXCLUSIVE", err)
		}
		// Plain clients with the appservice's token and ?user_id= (intents would try to register).
		if _, err := env.as.Client("@alice:localhost").Whoami(ctx); errCode(err) != "M_FORBIDDEN" {
			t.Errorf("masquerading outside the namespace: %v, want M_FORBIDDEN", err)
		}
		if _, err := env.as.Client("@_bridge_nobody:localhost").Whoami(ctx); errCode(err) != "M_FORBIDDEN" {
			t.Errorf("masquerading as an unregistered ghost: %v, want M_FORBIDDEN", err)
		}
		if err := env.as.Intent("@alice:localhost").EnsureRegistered(ctx); errCode(err) != "M_EXCLUSIVE" {
			t.Errorf("the appservice registering outside its namespace: %v, want M_EXCLUSIVE", err)
		}
	})
}

type queryHandler struct {
	alias func(id.RoomAlias) bool
}

func (q queryHandler) QueryAlias(alias id.RoomAlias) bool { return q.alias(alias) }
func (q queryHandler) QueryUser(id.UserID) bool           { return false }

// TestDurability has the appservice down while 1,000 events are sent, restarts the server,
// then brings the appservice back: it receives all 1,000 in order, and no transaction ID is
// ever reused for different contents.
func TestDurability(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		alice := env.user(t, "alice")
		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		ghost := env.as.Intent("@_bridge_watcher:localhost")
		if err := ghost.EnsureJoined(ctx, room.RoomID); err != nil {
			t.Fatal(err)
		}

		env.asFront.setDown(true)
		const total = 1000
		var sent []id.EventID
		for i := range total {
			resp, err := alice.SendText(ctx, room.RoomID, fmt.Sprintf("while the bridge is down %d", i))
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, resp.EventID)
		}
		env.restart(t)
		env.asFront.setDown(false)

		got := env.waitEvents(t, room.RoomID, func(evs []*event.Event) bool {
			return len(evs) > 0 && evs[len(evs)-1].ID == sent[len(sent)-1]
		})
		var order []id.EventID
		for _, e := range got {
			if e.Type == event.EventMessage {
				order = append(order, e.ID)
			}
		}
		if !slices.Equal(order, sent) {
			t.Fatalf("the appservice received %d messages (first mismatch at %d), want all %d in order",
				len(order), firstMismatch(order, sent), total)
		}
		env.asFront.mu.Lock()
		defer env.asFront.mu.Unlock()
		if len(env.asFront.reused) > 0 {
			t.Errorf("transaction IDs reused for different contents: %v", env.asFront.reused)
		}
	})
}

func firstMismatch(a, b []id.EventID) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// waitABit lets background delivery make progress between polls.
func (env *bridgeEnv) waitABit() { time.Sleep(20 * time.Millisecond) }
