package slack_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	mxappservice "maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/appservice"
	"causeway/bridges/bridge"
	"causeway/internal/fakeslack"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/accounts"
	"causeway/homeserver/config"
	"causeway/homeserver/server"
)

// env is the whole stack of an end-to-end test: a fake Slack workspace, the homeserver with
// the bridge wired in process as cmd wires it, and Matrix users over real HTTP.
type env struct {
	slack   *fakeslack.Server
	srv     *server.Server
	hs      *httptest.Server
	hsURL   string
	store   *bridge.Store
	bridge  *slackbridge.Bridge
	alice   fakeslack.User    // a Slack user
	general fakeslack.Channel // a channel the bot is in
	cancel  context.CancelFunc
	done    chan struct{}

	directory bridge.Directory // the admin API's view of the running bridge

	extraWorkspaces []slackbridge.WorkspaceConfig // configured after the fake's, before startServer

	transport *appservice.InProcessTransport // carries the homeserver's requests to the bridge
	hsToken   string                         // what the homeserver presents to the bridge
}

// startEnv starts the stack on a fresh database of driver, with the fake's workspace and any
// extra ones configured.
func startEnv(t *testing.T, driver, dsn string, extra ...slackbridge.WorkspaceConfig) *env {
	t.Helper()
	fake := fakeslack.New(fakeslack.Options{PingInterval: time.Second})
	t.Cleanup(fake.Close)
	e := &env{slack: fake, extraWorkspaces: extra}
	e.alice = fake.AddUser(fakeslack.UserSpec{Name: "alice", RealName: "Alice Liddell"})
	general, err := fake.AddChannel(fakeslack.ChannelSpec{Name: "general", Members: []string{e.alice.ID}, BotMember: true, Topic: "Everything", General: true})
	if err != nil {
		t.Fatal(err)
	}
	e.general = general
	e.startServer(t, dsn)
	return e
}

// startServer boots the homeserver and the bridge on dsn.
func (e *env) startServer(t *testing.T, dsn string) {
	t.Helper()
	cfg := config.Default()
	cfg.ServerName = "localhost"
	cfg.DataDir = t.TempDir()
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.ClientAPI.RateLimit.Enabled = false
	cfg.Database.URL = dsn
	var bridgeCfg slackbridge.Config
	bridgeCfg.Defaults()
	bridgeCfg.Workspaces = append([]slackbridge.WorkspaceConfig{{
		Name: "test", AppToken: slackbridge.Secret(e.slack.AppToken()), BotToken: slackbridge.Secret(e.slack.BotToken()),
		APIURL: e.slack.APIURL(), Channels: slackbridge.ChannelList{"all"}, Relay: true,
	}}, e.extraWorkspaces...)

	log := slog.New(slog.DiscardHandler)
	if os.Getenv("CAUSEWAY_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	registry := appservice.NewRegistry(cfg.ServerName)
	mxreg := slackbridge.NewRegistration(bridgeCfg, cfg.ServerName)
	mxreg.URL = "http://slack.appservice.internal"
	if err := registry.RegisterMautrix("slack", mxreg); err != nil {
		t.Fatal(err)
	}
	as, err := mxappservice.CreateFull(mxappservice.CreateOpts{Registration: mxreg, HomeserverDomain: cfg.ServerName, HomeserverURL: "http://causeway.internal"})
	if err != nil {
		t.Fatal(err)
	}
	transport := appservice.NewInProcessTransport(nil, log)
	transport.Handle("slack.appservice.internal", http.NotFoundHandler()) // the bridge's Router, below

	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, log, appservice.Layer(registry, transport.Client(),
		appservice.SenderOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}),
		server.WithBridges(&e.directory))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	transport.Handle("causeway.internal", srv.Handler())
	as.HTTPClient = transport.Client()
	// Served as cmd serves them: the bridge's public avatars next to the server's endpoints.
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	hs := httptest.NewServer(mux)

	e.srv, e.hs, e.hsURL, e.store, e.cancel, e.done = srv, hs, hs.URL, bridge.NewStore(srv.DB.SQL()), cancel, make(chan struct{})
	e.bridge, err = slackbridge.New(slackbridge.Options{
		Config: bridgeCfg, ServerName: cfg.ServerName, AppService: as, Store: e.store, PublicURL: hs.URL,
		Puppets:    appservice.NewService(registry, srv.DB, srv.Accounts, nil, log).PuppetsOf("slack"),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	transport.Handle("slack.appservice.internal", e.bridge.Router(as.Router))
	e.transport, e.hsToken = transport, mxreg.ServerToken
	e.directory.Add("slack", e.bridge)
	mux.Handle(slackbridge.AvatarPath, e.bridge.AvatarHandler())
	bg := make(chan struct{})
	go func() { srv.RunBackground(ctx); close(bg) }()
	go func() { e.bridge.Run(ctx); <-bg; close(e.done) }()
	t.Cleanup(e.stop)
}

// stop shuts the bridge and the homeserver down; startServer starts them again.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	e.cancel()
	<-e.done
	e.hs.Close()
	e.srv.Close()
	e.srv = nil
}

// down stops the stack as stop does and waits until Slack has noticed the app is gone, so
// that what Slack users post from now on waits for a new connection.
func (e *env) down(t *testing.T) {
	t.Helper()
	e.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.slack.WaitDisconnected(ctx); err != nil {
		t.Fatalf("the bridge's Socket Mode connection is still open after stopping: %v", err)
	}
}

// portal waits for the portal of a Slack channel and returns its room.
func (e *env) portal(t *testing.T, channelID string) id.RoomID {
	t.Helper()
	var roomID id.RoomID
	waitFor(t, "the portal of "+channelID, func() bool {
		p, err := e.store.Portal(context.Background(), bridge.Key{Network: "slack", Workspace: e.slack.TeamID()}, channelID)
		roomID = p.RoomID
		return err == nil
	})
	return roomID
}

// user registers a Matrix user.
func (e *env) user(t *testing.T, localpart string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(e.hsURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.RegisterDummy(context.Background(), &mautrix.ReqRegister[any]{Username: localpart, Password: "a long password"})
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	cli.SetCredentials(resp.UserID, resp.AccessToken)
	return cli
}

// joinGeneral registers a Matrix user who joins the portal of #general, and returns them with
// the portal's room.
func (e *env) joinGeneral(t *testing.T, localpart string) (*mautrix.Client, id.RoomID) {
	t.Helper()
	roomID := e.portal(t, e.general.ID)
	cli := e.user(t, localpart)
	if _, err := cli.JoinRoomByID(context.Background(), roomID); err != nil {
		t.Fatalf("%s joins the portal of #general: %v", localpart, err)
	}
	return cli, roomID
}

// ghost is the Matrix user of a Slack user.
func (e *env) ghost(slackUserID string) id.UserID {
	return id.UserID("@slack_" + strings.ToLower(e.slack.TeamID()) + "_" + strings.ToLower(slackUserID) + ":localhost")
}

// waitFor polls cond until it holds, failing the test after 15 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// roomEvents returns a room's timeline as cli sees it, oldest first.
func roomEvents(t *testing.T, cli *mautrix.Client, roomID id.RoomID) []*event.Event {
	t.Helper()
	resp, err := cli.Messages(context.Background(), roomID, "", "", mautrix.DirectionBackward, nil, 1000)
	if err != nil {
		t.Fatalf("messages of %s: %v", roomID, err)
	}
	out := make([]*event.Event, 0, len(resp.Chunk))
	for i := len(resp.Chunk) - 1; i >= 0; i-- {
		ev := resp.Chunk[i]
		_ = ev.Content.ParseRaw(ev.Type)
		out = append(out, ev)
	}
	return out
}

// waitEvent waits until cli sees an event in the room that match accepts, and returns it.
func waitEvent(t *testing.T, cli *mautrix.Client, roomID id.RoomID, what string, match func(*event.Event) bool) *event.Event {
	t.Helper()
	var found *event.Event
	waitFor(t, what, func() bool {
		for _, ev := range roomEvents(t, cli, roomID) {
			if match(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// waitSlack waits until a channel holds a message that match accepts, and returns it.
func waitSlack(t *testing.T, fake *fakeslack.Server, channelID, what string, match func(fakeslack.Message) bool) fakeslack.Message {
	t.Helper()
	var found fakeslack.Message
	waitFor(t, what, func() bool {
		msgs, err := fake.Messages(channelID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// admin registers a server admin.
func (e *env) admin(t *testing.T) *mautrix.Client {
	t.Helper()
	ctx := context.Background()
	_, err := e.srv.Accounts.Register(ctx, accounts.RegisterParams{Localpart: "root", Password: "a long password", Admin: true, InhibitLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := mautrix.NewClient(e.hsURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "root"}, Password: "a long password", StoreCredentials: true})
	if err != nil || resp.AccessToken == "" {
		t.Fatalf("admin login: %v", err)
	}
	return cli
}
