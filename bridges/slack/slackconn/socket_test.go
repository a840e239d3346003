package slackconn_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"causeway/bridges/slack/slackconn"
)

// post posts text as userID in channelID and returns its ts.
func (f *fixture) post(t *testing.T, userID, channelID, text string) string {
	t.Helper()
	ts, err := f.srv.Post(userID, channelID, text)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// checkExactlyOnce checks that the handler saw each of want once, as messages, in the
// order of their ts within each channel.
func checkExactlyOnce(t *testing.T, got []seen, want map[string]string) {
	t.Helper()
	count := map[string]int{}
	lastTS := map[string]string{}
	for _, s := range got {
		if s.kind != "message" {
			t.Errorf("unexpected %s event", s.kind)
			continue
		}
		count[s.text]++
		if prev := lastTS[s.channel]; prev != "" && !tsBefore(prev, s.ts) {
			t.Errorf("in %s, %s (%q, retry %d) came after %s", s.channel, s.ts, s.text, s.meta.RetryAttempt, prev)
		}
		lastTS[s.channel] = s.ts
		if want[s.text] != s.ts {
			t.Errorf("message %q has ts %s, want %s", s.text, s.ts, want[s.text])
		}
	}
	for text := range want {
		if count[text] != 1 {
			t.Errorf("%q seen %d times, want once", text, count[text])
		}
	}
}

// tsBefore compares two Slack timestamps ("1700000000.000100").
func tsBefore(a, b string) bool {
	fa, _ := strconv.ParseFloat(a, 64)
	fb, _ := strconv.ParseFloat(b, 64)
	if fa != fb {
		return fa < fb
	}
	return a < b
}

func TestRunDeliversInOrderOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	var rec recorder
	start(t, conn, &rec)
	waitConnected(t, conn)

	want := map[string]string{}
	var order []string
	for i := range 20 {
		text := fmt.Sprintf("message %d", i)
		want[text] = f.post(t, f.alice.ID, f.general.ID, text)
		order = append(order, text)
	}
	got := rec.waitFor(t, 20)
	waitAcked(t, f.srv)
	checkExactlyOnce(t, got, want)
	ids := map[string]bool{}
	for i, s := range got {
		if s.text != order[i] {
			t.Errorf("event %d is %q, want %q", i, s.text, order[i])
		}
		if s.meta.EventID == "" || ids[s.meta.EventID] || s.meta.EnvelopeID == "" || s.meta.EventTime.IsZero() || s.meta.RetryAttempt != 0 {
			t.Errorf("event %d meta = %+v", i, s.meta)
		}
		ids[s.meta.EventID] = true
	}
	if s := conn.Status(); s.Events != 20 || s.LastEventAt.IsZero() || s.Duplicates != 0 || s.Reconnects != 0 {
		t.Errorf("Status() = %+v", s)
	}
}

// TestRunSurvivesDroppedSockets drops the connection 100 times while people post 300
// messages: each reaches the handler once, in order in its channel.
func TestRunSurvivesDroppedSockets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.config()
	// The fake unregisters a dropped connection when its reader notices, a moment after
	// DropSockets; an envelope it hands to the dead connection in between comes back only
	// after newer ones. Reconnecting no sooner than 5 ms keeps Run out of that window
	// even on a loaded machine.
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 40*time.Millisecond
	conn := slackconn.New(cfg)
	var rec recorder
	start(t, conn, &rec)
	waitConnected(t, conn)

	const posts, drops = 300, 100
	want := map[string]string{}
	for i := range posts {
		author, channel := f.alice.ID, f.general.ID
		if i%2 == 1 {
			author, channel = f.bob.ID, f.random.ID
		}
		text := fmt.Sprintf("post %d", i)
		want[text] = f.post(t, author, channel, text)
		if i%(posts/drops) == posts/drops-1 {
			// Drop a connection that is up, and wait for Run to notice, so that every
			// drop closes a connection of its own.
			waitConnected(t, conn)
			reconnects := conn.Status().Reconnects
			f.srv.DropSockets()
			waitUntil(t, "reconnecting", func() bool { return conn.Status().Reconnects > reconnects })
		}
	}
	got := rec.waitFor(t, posts)
	waitAcked(t, f.srv)
	time.Sleep(20 * time.Millisecond) // a late duplicate would show up here
	got = rec.seen()
	if len(got) != posts {
		t.Errorf("handler saw %d events, want %d", len(got), posts)
	}
	checkExactlyOnce(t, got, want)
	s := conn.Status()
	if s.Reconnects < drops || s.Events != posts {
		t.Errorf("Status() = %+v, want ≥ %d reconnects and %d events", s, drops, posts)
	}
	t.Logf("%d reconnects, %d duplicates dropped, %d apps.connections.open calls",
		s.Reconnects, s.Duplicates, f.srv.CallCount("apps.connections.open"))
}

func TestRunReconnectsOnDisconnect(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	var rec recorder
	start(t, conn, &rec)
	waitConnected(t, conn)

	want := map[string]string{"before": f.post(t, f.alice.ID, f.general.ID, "before")}
	rec.waitFor(t, 1)
	f.srv.SendDisconnect("refresh_requested")
	want["during"] = f.post(t, f.alice.ID, f.general.ID, "during")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	waitUntil(t, "reconnected", func() bool { return f.srv.CallCount("apps.connections.open") >= 2 })
	if err := f.srv.WaitSockets(ctx, 1); err != nil {
		t.Fatal(err)
	}
	want["after"] = f.post(t, f.bob.ID, f.general.ID, "after")
	got := rec.waitFor(t, 3)
	waitAcked(t, f.srv)
	checkExactlyOnce(t, got, want)
	if s := conn.Status(); s.Reconnects < 1 || !s.Connected {
		t.Errorf("Status() = %+v", s)
	}
}

// TestRunDropsRedelivered has the connection drop while the handler works on an event, so
// that its acknowledgement is lost and Slack sends it again: the handler sees it once.
func TestRunDropsRedelivered(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	handling := make(chan struct{})
	release := make(chan struct{})
	rec := recorder{block: func(ctx context.Context, s seen) error {
		if s.text == "slow" {
			close(handling)
			<-release
		}
		return nil
	}}
	start(t, conn, &rec)
	waitConnected(t, conn)

	want := map[string]string{"slow": f.post(t, f.alice.ID, f.general.ID, "slow")}
	<-handling
	f.srv.DropSockets()
	waitUntil(t, "disconnected", func() bool { return f.srv.SocketCount() == 0 })
	close(release)
	want["next"] = f.post(t, f.alice.ID, f.general.ID, "next")
	got := rec.waitFor(t, 2)
	waitAcked(t, f.srv)
	checkExactlyOnce(t, got, want)
	if s := conn.Status(); s.Duplicates != 1 || s.Events != 2 {
		t.Errorf("Status() = %+v, want 1 duplicate and 2 events", s)
	}
}

// TestRunAcksFailedEvents checks that an event whose handler fails is acknowledged, counted,
// and not delivered again.
func TestRunAcksFailedEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	rec := recorder{block: func(ctx context.Context, s seen) error {
		if s.text == "bad" {
			return errors.New("portal on fire")
		}
		return nil
	}}
	start(t, conn, &rec)
	waitConnected(t, conn)
	want := map[string]string{
		"bad":  f.post(t, f.alice.ID, f.general.ID, "bad"),
		"good": f.post(t, f.alice.ID, f.general.ID, "good"),
	}
	got := rec.waitFor(t, 2)
	waitAcked(t, f.srv)
	checkExactlyOnce(t, got, want)
	if s := conn.Status(); s.HandlerErrors != 1 || s.Events != 2 || !strings.Contains(s.LastError, "portal on fire") {
		t.Errorf("Status() = %+v", s)
	}
	if !strings.Contains(f.logs.String(), "portal on fire") {
		t.Error("the handler's error was not logged")
	}
}

// TestRunStops checks that Run returns nil soon after its context ends, leaving no
// goroutine behind. It does not run in parallel, so that it can count goroutines.
func TestRunStops(t *testing.T) {
	f := newFixture(t)
	before := runtime.NumGoroutine()
	conn := slackconn.New(f.config())
	var rec recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- conn.Run(ctx, &rec) }()
	waitConnected(t, conn)
	f.post(t, f.alice.ID, f.general.ID, "hello")
	rec.waitFor(t, 1)
	f.srv.DropSockets() // and stop in the middle of reconnecting
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run did not return within 1 s of its context ending")
	}
	if s := conn.Status(); s.Connected || s.State != slackconn.StateStopped {
		t.Errorf("Status() after Run = %+v", s)
	}

	f.http.CloseIdleConnections()
	deadline := time.Now().Add(3 * time.Second)
	for {
		stacks := goroutineStacks()
		leaked := strings.Contains(stacks, "slack-go/slack/socketmode") || strings.Contains(stacks, "slackconn.(*Conn)")
		// The fake's own goroutines for a closed socket end when it notices; allow a little slack.
		if !leaked && runtime.NumGoroutine() <= before+2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before Run, %d after; leaked=%v\n%s", before, runtime.NumGoroutine(), leaked, stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func goroutineStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	start(t, conn, &recorder{})
	waitConnected(t, conn)
	if err := conn.Run(context.Background(), &recorder{}); err == nil || errors.As(err, new(*slackconn.AuthError)) {
		t.Errorf("second Run = %v, want an error", err)
	}
}
