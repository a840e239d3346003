package slackconn_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"

	"causeway/bridges/slack/slackconn"
	"causeway/internal/fakeslack"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

// fixture is a fake workspace with two people and two channels the bot is in.
type fixture struct {
	srv     *fakeslack.Server
	alice   fakeslack.User
	bob     fakeslack.User
	general fakeslack.Channel
	random  fakeslack.Channel
	logs    *lockedBuffer
	http    *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	// Pinged often, so that a short PingInterval on our side never trips.
	srv := fakeslack.New(fakeslack.Options{PingInterval: 100 * time.Millisecond})
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, logs: &lockedBuffer{}, http: &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}}
	t.Cleanup(f.http.CloseIdleConnections)
	f.alice = srv.AddUser(fakeslack.UserSpec{Name: "alice"})
	f.bob = srv.AddUser(fakeslack.UserSpec{Name: "bob"})
	var err error
	if f.general, err = srv.AddChannel(fakeslack.ChannelSpec{Name: "general", General: true, Members: []string{f.alice.ID, f.bob.ID}, BotMember: true}); err != nil {
		t.Fatal(err)
	}
	if f.random, err = srv.AddChannel(fakeslack.ChannelSpec{Name: "random", Members: []string{f.alice.ID, f.bob.ID}, BotMember: true}); err != nil {
		t.Fatal(err)
	}
	return f
}

// config is a Conn's configuration for the fake, with backoffs and checks made short.
func (f *fixture) config() slackconn.Config {
	return slackconn.Config{
		Name:              "acme",
		AppToken:          f.srv.AppToken(),
		BotToken:          f.srv.BotToken(),
		APIURL:            f.srv.APIURL(),
		HTTPClient:        f.http,
		Log:               slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MinBackoff:        2 * time.Millisecond,
		MaxBackoff:        20 * time.Millisecond,
		PingInterval:      2 * time.Second,
		AuthCheckInterval: 100 * time.Millisecond,
	}
}

// running is a Conn whose Run runs until the test ends or stop is called.
type running struct {
	conn   *slackconn.Conn
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, conn *slackconn.Conn, h slackconn.Handler) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{conn: conn, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- conn.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitTimeout):
			t.Error("Run did not return after its context ended")
		}
	})
	return r
}

// result waits for Run to return, and puts its error back for the cleanup.
func (r *running) result(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(within):
		t.Fatalf("Run still running after %s (status %+v)", within, r.conn.Status())
		return nil
	}
}

// waitConnected waits until the Conn says it is connected.
func waitConnected(t *testing.T, conn *slackconn.Conn) {
	t.Helper()
	waitUntil(t, "connected", func() bool { return conn.Status().Connected })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %s", what, waitTimeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitAcked(t *testing.T, srv *fakeslack.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := srv.WaitAcked(ctx); err != nil {
		t.Fatalf("envelopes not acknowledged: %v (%d left)", err, srv.Unacked())
	}
}

// seen is one event as the handler saw it.
type seen struct {
	meta    slackconn.EventMeta
	kind    string // the inner event's type
	channel string
	ts      string
	text    string
}

// recorder is a Handler that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []seen
	// block, when set, is called before an event is recorded.
	block func(ctx context.Context, s seen) error
}

func (r *recorder) HandleEvent(ctx context.Context, ev slackevents.EventsAPIEvent, meta slackconn.EventMeta) error {
	s := seen{meta: meta, kind: ev.InnerEvent.Type}
	if m, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent); ok {
		s.channel, s.ts, s.text = m.Channel, m.TimeStamp, m.Text
	}
	var err error
	if r.block != nil {
		err = r.block(ctx, s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
	return err
}

func (r *recorder) seen() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.events...)
}

func (r *recorder) waitFor(t *testing.T, n int) []seen {
	t.Helper()
	waitUntil(t, "delivered", func() bool { return len(r.seen()) >= n })
	return r.seen()
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkNoTokens fails if a token shows up in the logs.
func (f *fixture) checkNoTokens(t *testing.T, extra ...string) {
	t.Helper()
	logs := f.logs.String()
	for _, token := range append([]string{f.srv.AppToken(), f.srv.BotToken()}, extra...) {
		if strings.Contains(logs, token) {
			t.Errorf("a token was logged:\n%s", logs)
		}
	}
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	if _, ok := conn.Identity(); ok {
		t.Error("Identity known before Run")
	}
	start(t, conn, &recorder{})
	waitConnected(t, conn)
	id, ok := conn.Identity()
	want := slackconn.Identity{TeamID: f.srv.TeamID(), BotUserID: f.srv.BotUserID(), BotID: f.srv.BotID()}
	got := slackconn.Identity{TeamID: id.TeamID, BotUserID: id.BotUserID, BotID: id.BotID}
	if !ok || got != want || id.TeamName == "" || id.URL == "" {
		t.Errorf("Identity() = %+v, %v; want %+v", id, ok, want)
	}
	if s := conn.Status(); s.TeamID != f.srv.TeamID() || s.State != slackconn.StateConnected || s.ConnectedSince.IsZero() || s.AuthFailed {
		t.Errorf("Status() = %+v", s)
	}
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		change    func(f *fixture, cfg *slackconn.Config)
		whileUp   func(f *fixture) // after the connection is up; nil to fail from the start
		token     string
		slackCode string
	}{{
		name:      "bot token revoked before Run",
		change:    func(f *fixture, cfg *slackconn.Config) { f.srv.RevokeToken(f.srv.BotToken()) },
		token:     slackconn.TokenBot,
		slackCode: "token_revoked",
	}, {
		name:      "bot token unknown",
		change:    func(f *fixture, cfg *slackconn.Config) { cfg.BotToken = "xoxb-1-not-a-token" },
		token:     slackconn.TokenBot,
		slackCode: "invalid_auth",
	}, {
		// Slack announces it with a tokens_revoked event, which the Conn acts on at once.
		name:      "bot token revoked while connected",
		whileUp:   func(f *fixture) { f.srv.RevokeToken(f.srv.BotToken()) },
		token:     slackconn.TokenBot,
		slackCode: "tokens_revoked",
	}, {
		name:      "app token revoked while connected",
		whileUp:   func(f *fixture) { f.srv.RevokeToken(f.srv.AppToken()) },
		token:     slackconn.TokenApp,
		slackCode: "token_revoked",
	}, {
		name:      "bot token given as the app token",
		change:    func(f *fixture, cfg *slackconn.Config) { cfg.AppToken = f.srv.BotToken() },
		token:     slackconn.TokenApp,
		slackCode: "not_allowed_token_type",
	}, {
		name:      "no app token",
		change:    func(f *fixture, cfg *slackconn.Config) { cfg.AppToken = "" },
		token:     slackconn.TokenApp,
		slackCode: "not_authed",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			cfg := f.config()
			if tc.change != nil {
				tc.change(f, &cfg)
			}
			conn := slackconn.New(cfg)
			r := start(t, conn, &recorder{})
			if tc.whileUp != nil {
				waitConnected(t, conn)
				tc.whileUp(f)
			}
			began := time.Now()
			err := r.result(t, 3*time.Second)
			ae, ok := errors.AsType[*slackconn.AuthError](err)
			want := slackconn.AuthError{Workspace: "acme", Token: tc.token, SlackError: tc.slackCode}
			if !ok || *ae != want {
				t.Fatalf("Run = %v; want %+v", err, want)
			}
			t.Logf("Run returned %v after %s", err, time.Since(began).Round(time.Millisecond))

			s := conn.Status()
			if !s.AuthFailed || s.Connected || s.State != slackconn.StateAuthFailed || !strings.Contains(s.LastError, tc.slackCode) {
				t.Errorf("Status() = %+v", s)
			}
			// The log names the workspace and Slack's error, once, at Error.
			var errorLines []string
			for line := range strings.Lines(f.logs.String()) {
				if strings.Contains(line, `"level":"ERROR"`) {
					errorLines = append(errorLines, line)
				}
			}
			if len(errorLines) != 1 || !strings.Contains(errorLines[0], `"workspace":"acme"`) ||
				!strings.Contains(errorLines[0], `"slack_error":"`+tc.slackCode+`"`) {
				t.Errorf("Error records:\n%s", strings.Join(errorLines, ""))
			}
			f.checkNoTokens(t)

			// A failed Conn stays failed.
			if err := conn.Run(context.Background(), &recorder{}); !errors.As(err, &ae) {
				t.Errorf("Run again = %v, want the AuthError", err)
			}
			if tc.token == slackconn.TokenBot {
				calls := f.srv.CallCount("chat.postMessage")
				err := conn.API().Do(context.Background(), "chat.postMessage", func(ctx context.Context) error {
					_, _, err := conn.API().Client().PostMessageContext(ctx, f.general.ID)
					return err
				})
				if !errors.As(err, &ae) || f.srv.CallCount("chat.postMessage") != calls {
					t.Errorf("Do after the bot token failed = %v, %d calls", err, f.srv.CallCount("chat.postMessage")-calls)
				}
			}
		})
	}
}
