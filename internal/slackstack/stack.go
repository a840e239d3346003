// Package slackstack runs, for tests, the homeserver with the Slack bridge wired in as cmd
// wires it: the bridge's appservice registered with the homeserver, both HTTP hops on the
// in-process transport, and the homeserver (with the bridge's public avatars and its Events
// API endpoint) served over loopback HTTP. The bridge's, the importer's and cmd's tests
// share it.
package slackstack

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	mxappservice "maunium.net/go/mautrix/appservice"

	"causeway/appservice"
	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/config"
	"causeway/homeserver/server"
)

// Options say what to run.
type Options struct {
	DSN        string // the database; a fresh one per test (storagetest)
	Workspaces []slackbridge.WorkspaceConfig
	Cutover    *slackbridge.CutoverConfig // nil: the defaults
}

// Stack is the running homeserver and bridge.
type Stack struct {
	Server    *server.Server
	URL       string // the homeserver's base URL over loopback
	Store     *bridge.Store
	Bridge    *slackbridge.Bridge
	Directory *bridge.Directory              // the admin API's view of the running bridge
	Transport *appservice.InProcessTransport // carries the homeserver's requests to the bridge
	HSToken   string                         // what the homeserver presents to the bridge
	ASToken   string                         // what the bridge presents to the homeserver
	Log       *slog.Logger

	hs     *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
}

// Start boots the stack on opts.DSN; tb's cleanup stops it.
func Start(tb testing.TB, opts Options) *Stack {
	tb.Helper()
	cfg := config.Default()
	cfg.ServerName = "localhost"
	cfg.DataDir = tb.TempDir()
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.ClientAPI.RateLimit.Enabled = false
	cfg.Database.URL = opts.DSN
	var bridgeCfg slackbridge.Config
	bridgeCfg.Defaults()
	bridgeCfg.Workspaces = append(bridgeCfg.Workspaces, opts.Workspaces...)
	if opts.Cutover != nil {
		bridgeCfg.Cutover = *opts.Cutover
	}

	log := slog.New(slog.DiscardHandler)
	if os.Getenv("CAUSEWAY_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	registry := appservice.NewRegistry(cfg.ServerName)
	mxreg := slackbridge.NewRegistration(bridgeCfg, cfg.ServerName)
	mxreg.URL = "http://slack.appservice.internal"
	if err := registry.RegisterMautrix("slack", mxreg); err != nil {
		tb.Fatal(err)
	}
	as, err := mxappservice.CreateFull(mxappservice.CreateOpts{Registration: mxreg, HomeserverDomain: cfg.ServerName, HomeserverURL: "http://causeway.internal"})
	if err != nil {
		tb.Fatal(err)
	}
	transport := appservice.NewInProcessTransport(nil, log)
	transport.Handle("slack.appservice.internal", http.NotFoundHandler()) // the bridge's Router, below

	s := &Stack{Transport: transport, HSToken: mxreg.ServerToken, ASToken: mxreg.AppToken, Log: log, Directory: &bridge.Directory{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, log, appservice.Layer(registry, transport.Client(),
		appservice.SenderOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}),
		server.WithBridges(s.Directory))
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	transport.Handle("causeway.internal", srv.Handler())
	as.HTTPClient = transport.Client()
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	hs := httptest.NewServer(mux)

	s.Server, s.hs, s.URL, s.Store, s.cancel = srv, hs, hs.URL, bridge.NewStore(srv.DB.SQL()), cancel
	s.Bridge, err = slackbridge.New(slackbridge.Options{
		Config: bridgeCfg, ServerName: cfg.ServerName, AppService: as, Store: s.Store, PublicURL: hs.URL,
		Puppets:    appservice.NewService(registry, srv.DB, srv.Accounts, nil, log).PuppetsOf("slack"),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Log: log,
	})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	transport.Handle("slack.appservice.internal", s.Bridge.Router(as.Router))
	s.Directory.Add("slack", s.Bridge)
	mux.Handle(slackbridge.AvatarPath, s.Bridge.AvatarHandler())
	mux.Handle(slackbridge.EventsPath, s.Bridge.EventsHandler())
	bg := make(chan struct{})
	go func() { srv.RunBackground(ctx); close(bg) }()
	go func() { s.Bridge.Run(ctx); <-bg; close(s.done) }()
	tb.Cleanup(s.Stop)
	return s
}

// WaitFor polls cond until it holds, failing the test after 15 seconds.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitConnected waits until the configured workspace name has connected to Slack.
func (s *Stack) WaitConnected(tb testing.TB, name string) {
	tb.Helper()
	WaitFor(tb, "the workspace "+name+" to connect", func() bool {
		_, _, err := s.Bridge.WorkspaceTeam(name)
		return err == nil
	})
}

// Stop shuts the bridge and the homeserver down. It may be called more than once.
func (s *Stack) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.hs.Close()
	s.Server.Close()
	s.cancel = nil
}
