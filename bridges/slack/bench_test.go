package slack_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	mxappservice "maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/appservice"
	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/config"
	"causeway/homeserver/server"
	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
)

// benchEnv is the stack of startEnv for benchmarks: the fake workspace, the homeserver with the
// bridge wired in process, and bob, a Matrix user in the portal of #general.
type benchEnv struct {
	slack   *fakeslack.Server
	alice   fakeslack.User
	general fakeslack.Channel
	roomID  id.RoomID
	bob     *mautrix.Client
	ghost   id.UserID // alice's
}

// startBenchEnv starts the stack on dsn as startEnv does, with only what the benchmarks need
// (no admin API wiring), and waits until bob is in the portal of #general.
func startBenchEnv(tb testing.TB, dsn string) *benchEnv {
	tb.Helper()
	ctx := context.Background()
	fake := fakeslack.New(fakeslack.Options{PingInterval: time.Second})
	tb.Cleanup(fake.Close)
	e := &benchEnv{slack: fake}
	e.alice = fake.AddUser(fakeslack.UserSpec{Name: "alice", RealName: "Alice Liddell"})
	general, err := fake.AddChannel(fakeslack.ChannelSpec{Name: "general", Members: []string{e.alice.ID}, BotMember: true, General: true})
	if err != nil {
		tb.Fatal(err)
	}
	e.general = general
	e.ghost = id.UserID("@slack_" + strings.ToLower(fake.TeamID()) + "_" + strings.ToLower(e.alice.ID) + ":localhost")

	cfg := config.Default()
	cfg.ServerName = "localhost"
	cfg.DataDir = tb.TempDir()
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.ClientAPI.RateLimit.Enabled = false
	cfg.Database.URL = dsn
	var bridgeCfg slackbridge.Config
	bridgeCfg.Defaults()
	bridgeCfg.Workspaces = []slackbridge.WorkspaceConfig{{
		Name: "test", AppToken: slackbridge.Secret(fake.AppToken()), BotToken: slackbridge.Secret(fake.BotToken()),
		APIURL: fake.APIURL(), Channels: slackbridge.ChannelList{"all"}, Relay: true,
	}}
	log := slog.New(slog.DiscardHandler)
	registry := appservice.NewRegistry(cfg.ServerName)
	mxreg := slackbridge.NewRegistration(bridgeCfg, cfg.ServerName)
	mxreg.URL = "http://slack.appservice.internal"
	yaml, err := mxreg.YAML()
	if err != nil {
		tb.Fatal(err)
	}
	reg, err := appservice.ParseRegistration("slack", []byte(yaml))
	if err != nil {
		tb.Fatal(err)
	}
	if err := registry.Register(reg); err != nil {
		tb.Fatal(err)
	}
	as, err := mxappservice.CreateFull(mxappservice.CreateOpts{Registration: mxreg, HomeserverDomain: cfg.ServerName, HomeserverURL: "http://causeway.internal"})
	if err != nil {
		tb.Fatal(err)
	}
	transport := appservice.NewInProcessTransport(nil, log)
	transport.Handle("slack.appservice.internal", as.Router)

	runCtx, cancel := context.WithCancel(ctx)
	srv, err := server.New(runCtx, cfg, log, appservice.Layer(registry, transport.Client(),
		appservice.SenderOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}))
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	transport.Handle("causeway.internal", srv.Handler())
	as.HTTPClient = transport.Client()
	hs := httptest.NewServer(srv.Handler())
	store := bridge.NewStore(srv.DB.SQL())
	b, err := slackbridge.New(slackbridge.Options{
		Config: bridgeCfg, ServerName: cfg.ServerName, AppService: as, Store: store,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Log: log,
	})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	done, bg := make(chan struct{}), make(chan struct{})
	go func() { srv.RunBackground(runCtx); close(bg) }()
	go func() { b.Run(runCtx); <-bg; close(done) }()
	tb.Cleanup(func() {
		cancel()
		<-done
		hs.Close()
		srv.Close()
	})

	benchWaitFor(tb, "the portal of #general", time.Millisecond*20, func() bool {
		p, err := store.Portal(ctx, bridge.Key{Network: "slack", Workspace: fake.TeamID()}, general.ID)
		e.roomID = p.RoomID
		return err == nil
	})
	cli, err := mautrix.NewClient(hs.URL, "", "")
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := cli.RegisterDummy(ctx, &mautrix.ReqRegister[any]{Username: "bob", Password: "a long password"})
	if err != nil {
		tb.Fatal(err)
	}
	cli.SetCredentials(resp.UserID, resp.AccessToken)
	if _, err := cli.JoinRoomByID(ctx, e.roomID); err != nil {
		tb.Fatal(err)
	}
	e.bob = cli
	return e
}

// benchWaitFor polls cond every interval until it holds, failing after a minute.
func benchWaitFor(tb testing.TB, what string, interval time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(interval)
	}
}

// reader follows the portal as a Matrix client does, with /sync long polls.
type reader struct {
	e     *benchEnv
	since string
}

// newReader starts following after everything bob has seen so far.
func (e *benchEnv) newReader(tb testing.TB) *reader {
	tb.Helper()
	resp, err := e.bob.FullSyncRequest(context.Background(), mautrix.ReqSync{})
	if err != nil {
		tb.Fatal(err)
	}
	return &reader{e: e, since: resp.NextBatch}
}

// waitBody waits until a message with body from alice's ghost reaches bob.
func (r *reader) waitBody(tb testing.TB, body string) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := r.e.bob.FullSyncRequest(context.Background(), mautrix.ReqSync{Since: r.since, Timeout: 30_000})
		if err != nil {
			tb.Fatal(err)
		}
		r.since = resp.NextBatch
		if room := resp.Rooms.Join[r.e.roomID]; room != nil {
			for _, ev := range room.Timeline.Events {
				if ev.Type == event.EventMessage && ev.Sender == r.e.ghost && ev.Content.Raw["body"] == body {
					return
				}
			}
		}
	}
	tb.Fatalf("timed out waiting for %q in Matrix", body)
}

// waitSlackText waits until the channel's latest message is text.
func (e *benchEnv) waitSlackText(tb testing.TB, text string) {
	tb.Helper()
	benchWaitFor(tb, fmt.Sprintf("%q in Slack", text), 500*time.Microsecond, func() bool {
		msgs, err := e.slack.Messages(e.general.ID)
		if err != nil {
			tb.Fatal(err)
		}
		return len(msgs) > 0 && msgs[len(msgs)-1].Text == text
	})
}

// warmUp sends a message each way, so that the ghost, the relay and every cache exist.
func (e *benchEnv) warmUp(tb testing.TB) {
	tb.Helper()
	r := e.newReader(tb)
	if _, err := e.slack.Post(e.alice.ID, e.general.ID, "warm-up"); err != nil {
		tb.Fatal(err)
	}
	r.waitBody(tb, "warm-up")
	if _, err := e.bob.SendText(context.Background(), e.roomID, "warm-up from matrix"); err != nil {
		tb.Fatal(err)
	}
	e.waitSlackText(tb, "warm-up from matrix")
}

// BenchmarkSlackToMatrix measures throughput Slack -> Matrix: b.N messages posted in Slack
// at once, until the last is visible to a Matrix client (order per channel is kept, so the last
// arriving means all did).
func BenchmarkSlackToMatrix(b *testing.B) {
	storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
		e := startBenchEnv(b, dsn)
		e.warmUp(b)
		r := e.newReader(b)
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, fmt.Sprintf("slack %d", i)); err != nil {
				b.Fatal(err)
			}
		}
		r.waitBody(b, fmt.Sprintf("slack %d", b.N-1))
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
	})
}

// BenchmarkMatrixToSlack measures throughput Matrix -> Slack: b.N messages sent by a Matrix
// user, until the last is in the Slack channel.
func BenchmarkMatrixToSlack(b *testing.B) {
	storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
		ctx := context.Background()
		e := startBenchEnv(b, dsn)
		e.warmUp(b)
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			if _, err := e.bob.SendText(ctx, e.roomID, fmt.Sprintf("matrix %d", i)); err != nil {
				b.Fatal(err)
			}
		}
		e.waitSlackText(b, fmt.Sprintf("matrix %d", b.N-1))
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
	})
}

// BenchmarkLatency measures the latency the bridge adds to one message at a time, each way:
// from the post to its arrival on the other side, reported as the median in ms/msg.
func BenchmarkLatency(b *testing.B) {
	b.Run("slack_to_matrix", func(b *testing.B) {
		storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
			e := startBenchEnv(b, dsn)
			e.warmUp(b)
			r := e.newReader(b)
			durations := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				text := fmt.Sprintf("latency %d", i)
				start := time.Now()
				if _, err := e.slack.Post(e.alice.ID, e.general.ID, text); err != nil {
					b.Fatal(err)
				}
				r.waitBody(b, text)
				durations = append(durations, time.Since(start))
			}
			b.StopTimer()
			reportMedian(b, durations)
		})
	})
	b.Run("matrix_to_slack", func(b *testing.B) {
		storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
			ctx := context.Background()
			e := startBenchEnv(b, dsn)
			e.warmUp(b)
			durations := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				text := fmt.Sprintf("latency %d", i)
				start := time.Now()
				if _, err := e.bob.SendText(ctx, e.roomID, text); err != nil {
					b.Fatal(err)
				}
				e.waitSlackText(b, text)
				durations = append(durations, time.Since(start))
			}
			b.StopTimer()
			reportMedian(b, durations)
		})
	})
}

// reportMedian reports the median of durations in ms/msg.
func reportMedian(b *testing.B, durations []time.Duration) {
	slices.Sort(durations)
	median := durations[len(durations)/2]
	if len(durations)%2 == 0 {
		median = (durations[len(durations)/2-1] + median) / 2
	}
	b.ReportMetric(float64(median)/float64(time.Millisecond), "ms/msg")
}
