package appservice

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/config"
	"causeway/homeserver/rooms"
	"causeway/homeserver/server"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

// hsName is the test server's name, which user namespaces must match.
const hsName = "localhost"

// Users of the tests. ghost is in the "bridge" registration's user namespace.
const (
	alice id.UserID = "@alice:localhost"
	bob   id.UserID = "@bob:localhost"
	ghost id.UserID = "@_bridge_ghost:localhost"
)

// testRegistration builds a valid registration with non-exclusive namespaces (exclusivity
// does not matter to delivery).
func testRegistration(t testing.TB, regID, url string, users, aliases []string) *Registration {
	t.Helper()
	reg := &Registration{ID: regID, URL: url, ASToken: "as-token-" + regID, HSToken: "hs-token-" + regID, SenderLocalpart: regID + "bot"}
	for _, src := range users {
		ns, err := NewNamespace(src, false)
		if err != nil {
			t.Fatal(err)
		}
		reg.Namespaces.Users = append(reg.Namespaces.Users, ns)
	}
	for _, src := range aliases {
		ns, err := NewNamespace(src, false)
		if err != nil {
			t.Fatal(err)
		}
		reg.Namespaces.Aliases = append(reg.Namespaces.Aliases, ns)
	}
	return reg
}

// bridgeRegistration is interested in @_bridge_* users and #bridged_* aliases.
func bridgeRegistration(t testing.TB, url string) *Registration {
	return testRegistration(t, "bridge", url, []string{`@_bridge_.*:localhost`}, []string{`#bridged_.*:localhost`})
}

// senderEnv is a real homeserver (server.New) whose committed events reach whichever Sender
// the test runs at the moment.
type senderEnv struct {
	srv      *server.Server
	db       *storage.DB
	rooms    *rooms.Service
	registry *Registry
	current  atomic.Pointer[Sender]
}

// OnEvent passes committed events on to the current sender.
func (e *senderEnv) OnEvent(ev *storage.Event) {
	if s := e.current.Load(); s != nil {
		s.OnEvent(ev)
	}
}

func newSenderEnv(t testing.TB, driver, dsn string, regs ...*Registration) *senderEnv {
	t.Helper()
	env := &senderEnv{registry: NewRegistry(hsName)}
	for _, reg := range regs {
		if err := env.registry.Register(reg); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.ServerName = hsName
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = dsn
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler),
		server.WithAppservices(func(context.Context, server.Core) (server.AppserviceLayer, error) {
			return server.AppserviceLayer{Notifier: env}, nil
		}))
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(srv.Close)
	env.srv, env.db, env.rooms = srv, srv.DB, srv.Rooms
	return env
}

// start runs a new Sender until stop is called or the test ends.
func (e *senderEnv) start(t testing.TB, opts SenderOptions) (s *Sender, stop func()) {
	t.Helper()
	s = NewSender(e.db, e.rooms, e.registry, opts)
	s.rescan = 20 * time.Millisecond
	e.current.Store(s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(stop)
	return s, stop
}

func (e *senderEnv) createRoom(t testing.TB, creator id.UserID, aliasLocalpart string) id.RoomID {
	t.Helper()
	roomID, err := e.rooms.CreateRoom(context.Background(), rooms.CreateRequest{Creator: creator, Preset: rooms.PresetPublicChat, AliasLocalpart: aliasLocalpart})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	return roomID
}

func (e *senderEnv) send(t testing.TB, roomID id.RoomID, sender id.UserID, body string) id.EventID {
	t.Helper()
	content, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": body})
	ev, err := e.rooms.Send(context.Background(), roomID, rooms.ProtoEvent{Type: "m.room.message", Sender: sender, Content: content})
	if err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	return ev.ID
}

func (e *senderEnv) invite(t testing.TB, roomID id.RoomID, sender, target id.UserID) {
	t.Helper()
	if _, err := e.rooms.Invite(context.Background(), roomID, rooms.MembershipRequest{Sender: sender, Target: target}); err != nil {
		t.Fatalf("invite: %v", err)
	}
}

func (e *senderEnv) join(t testing.TB, roomID id.RoomID, user id.UserID) {
	t.Helper()
	if _, err := e.rooms.Join(context.Background(), roomID, rooms.MembershipRequest{Sender: user}); err != nil {
		t.Fatalf("join: %v", err)
	}
}

func (e *senderEnv) head(t testing.TB) int64 {
	t.Helper()
	head, err := e.db.Counter(context.Background(), "events")
	if err != nil {
		t.Fatal(err)
	}
	return head
}

// eventIDs lists the IDs of the events after pos that keep accepts, in stream order.
func (e *senderEnv) eventIDs(t testing.TB, after int64, keep func(*storage.Event) bool) []id.EventID {
	t.Helper()
	evs, err := e.db.EventsInRange(context.Background(), after, e.head(t), 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []id.EventID
	for _, ev := range evs {
		if keep(ev) {
			out = append(out, ev.ID)
		}
	}
	return out
}

func inRooms(roomIDs ...id.RoomID) func(*storage.Event) bool {
	return func(ev *storage.Event) bool { return slices.Contains(roomIDs, ev.RoomID) }
}

// status returns the sender's report on one appservice, and whether it has one.
func status(t testing.TB, s *Sender, appserviceID string) (AppserviceStatus, bool) {
	t.Helper()
	all, err := s.Status(context.Background())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	for _, st := range all {
		if st.ID == appserviceID {
			return st, true
		}
	}
	return AppserviceStatus{}, false
}

// waitFor polls cond until it holds, failing the test after a generous timeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitStarted waits until the sender has loaded the appservice's state, and so fixed where a
// new appservice's cursor starts.
func waitStarted(t testing.TB, s *Sender, appserviceID string) {
	t.Helper()
	waitFor(t, appserviceID+" has started", func() bool {
		_, ok := status(t, s, appserviceID)
		return ok
	})
}

// waitCaughtUp waits until the appservice's cursor is at the head of the stream.
func waitCaughtUp(t testing.TB, s *Sender, appserviceID string) {
	t.Helper()
	waitFor(t, appserviceID+" has caught up", func() bool {
		st, ok := status(t, s, appserviceID)
		return ok && st.QueueDepth == 0 && st.InFlightTxnID == ""
	})
}

// fakeAS plays an application service: it checks each transaction's authorization, records
// every (transaction ID, body) it is sent, and takes in each accepted transaction's events
// once, as a real appservice deduplicating by transaction ID does.
type fakeAS struct {
	t       testing.TB
	hsToken string
	addr    string

	mu       sync.Mutex
	srv      *httptest.Server
	fail     bool          // answer 500
	hold     chan struct{} // when set, requests wait until it is closed or they are cancelled
	bodies   map[string][]byte
	attempts []string     // transaction IDs in order of arrival
	events   []id.EventID // events of accepted transactions, in order
	byTxn    map[string]bool
}

func newFakeAS(t testing.TB, hsToken string) *fakeAS {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAS{t: t, hsToken: hsToken, addr: l.Addr().String(), bodies: map[string][]byte{}, byTxn: map[string]bool{}}
	f.serve(l)
	t.Cleanup(func() {
		f.mu.Lock()
		srv := f.srv
		f.mu.Unlock()
		srv.Close()
	})
	return f
}

func (f *fakeAS) URL() string { return "http://" + f.addr }

func (f *fakeAS) serve(l net.Listener) {
	srv := httptest.NewUnstartedServer(f)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
}

// down stops listening, so that connections are refused; up listens again on the same address.
func (f *fakeAS) down() {
	f.mu.Lock()
	srv := f.srv
	f.mu.Unlock()
	srv.Close()
}

func (f *fakeAS) up(t testing.TB) {
	t.Helper()
	var l net.Listener
	waitFor(t, "the appservice's port is free again", func() bool {
		var err error
		l, err = net.Listen("tcp", f.addr)
		return err == nil
	})
	f.serve(l)
}

func (f *fakeAS) set(fn func(f *fakeAS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeAS) snapshot() (attempts []string, events []id.EventID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.attempts), slices.Clone(f.events)
}

func (f *fakeAS) received() []id.EventID {
	_, evs := f.snapshot()
	return evs
}

func (f *fakeAS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	txnID, ok := strings.CutPrefix(r.URL.Path, "/_matrix/app/v1/transactions/")
	if r.Method != http.MethodPut || !ok || txnID == "" {
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+f.hsToken {
		f.t.Errorf("transaction %s: Authorization %q, want the hs_token", txnID, got)
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"errcode":"M_FORBIDDEN"}`)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	if prev, ok := f.bodies[txnID]; ok && !bytes.Equal(prev, body) {
		f.t.Errorf("transaction %s sent again with a different body:\n%s\nthen:\n%s", txnID, prev, body)
	}
	f.bodies[txnID] = body
	f.attempts = append(f.attempts, txnID)
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"errcode":"M_UNKNOWN"}`)
		return
	}
	if !f.byTxn[txnID] {
		f.byTxn[txnID] = true
		var txn struct {
			Events []struct {
				EventID id.EventID `json:"event_id"`
				RoomID  id.RoomID  `json:"room_id"`
			} `json:"events"`
		}
		if err := json.Unmarshal(body, &txn); err != nil || len(txn.Events) == 0 {
			f.t.Errorf("transaction %s: want a non-empty events list, got %s (%v)", txnID, body, err)
		}
		for _, ev := range txn.Events {
			if ev.RoomID == "" {
				f.t.Errorf("transaction %s: event %s has no room_id", txnID, ev.EventID)
			}
			if slices.Contains(f.events, ev.EventID) {
				f.t.Errorf("event %s delivered again in transaction %s", ev.EventID, txnID)
			}
			f.events = append(f.events, ev.EventID)
		}
	}
	io.WriteString(w, "{}")
}

// checkTxnIDsIncrease fails unless each new transaction ID is larger than the ones before.
func checkTxnIDsIncrease(t testing.TB, attempts []string) {
	t.Helper()
	var last int64
	for _, a := range attempts {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			t.Fatalf("transaction ID %q: %v", a, err)
		}
		if n < last {
			t.Errorf("transaction %d sent after %d: %v", n, last, attempts)
		}
		last = n
	}
}

func TestSenderDeliversEventsOfInterestInOrder(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		as := newFakeAS(t, "hs-token-bridge")
		env := newSenderEnv(t, driver, dsn, bridgeRegistration(t, as.URL()))
		s, _ := env.start(t, SenderOptions{BatchSize: 7})
		waitStarted(t, s, "bridge")
		start := env.head(t)

		ghostRoom := env.createRoom(t, ghost, "")              // a namespace user created it
		aliasRoom := env.createRoom(t, alice, "bridged_lobby") // its canonical alias is in the namespace
		plainRoom := env.createRoom(t, alice, "")              // nothing to do with the bridge
		laterRoom := env.createRoom(t, alice, "")              // the bridge is invited later
		env.join(t, plainRoom, bob)
		for i := range 4 {
			env.send(t, ghostRoom, ghost, "ghost "+strconv.Itoa(i))
			env.send(t, plainRoom, bob, "plain "+strconv.Itoa(i))
			env.send(t, aliasRoom, alice, "alias "+strconv.Itoa(i))
			env.send(t, laterRoom, alice, "later, before the invite "+strconv.Itoa(i))
		}
		waitCaughtUp(t, s, "bridge")
		beforeInvite := env.head(t)
		env.invite(t, laterRoom, alice, ghost)
		for i := range 3 {
			env.send(t, laterRoom, alice, "later, after the invite "+strconv.Itoa(i))
			env.send(t, plainRoom, alice, "plain, at the end "+strconv.Itoa(i))
		}
		waitCaughtUp(t, s, "bridge")

		want := env.eventIDs(t, start, func(ev *storage.Event) bool {
			return ev.RoomID == ghostRoom || ev.RoomID == aliasRoom || ev.RoomID == laterRoom && ev.StreamPos > beforeInvite
		})
		if diff := cmp.Diff(want, as.received()); diff != "" {
			t.Errorf("events delivered (-want +got):\n%s", diff)
		}
		attempts, _ := as.snapshot()
		checkTxnIDsIncrease(t, attempts)

		// The cursor passed the trailing events of no interest; a restart would not rescan them.
		stream, err := env.db.EnsureAppserviceStream(context.Background(), "bridge", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if head := env.head(t); stream.DeliveredPos != head {
			t.Errorf("cursor at %d, want the head %d", stream.DeliveredPos, head)
		}
		st, _ := status(t, s, "bridge")
		if st.LastSuccess.IsZero() || st.LastError != "" || st.OldestQueuedAge != 0 {
			t.Errorf("status after delivery = %+v", st)
		}
	})
}

func TestSenderRetriesUntilAppserviceIsBack(t *testing.T) {
	for _, tc := range []struct {
		name     string
		down, up func(t testing.TB, as *fakeAS)
	}{
		{
			name: "500",
			down: func(_ testing.TB, as *fakeAS) { as.set(func(f *fakeAS) { f.fail = true }) },
			up:   func(_ testing.TB, as *fakeAS) { as.set(func(f *fakeAS) { f.fail = false }) },
		},
		{
			name: "connection refused",
			down: func(_ testing.TB, as *fakeAS) { as.down() },
			up:   func(t testing.TB, as *fakeAS) { as.up(t) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
				as := newFakeAS(t, "hs-token-bridge")
				env := newSenderEnv(t, driver, dsn, bridgeRegistration(t, as.URL()))
				s, _ := env.start(t, SenderOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, BatchSize: 4})
				waitStarted(t, s, "bridge")
				start := env.head(t)
				room := env.createRoom(t, ghost, "")
				env.send(t, room, ghost, "while up")
				waitCaughtUp(t, s, "bridge")

				tc.down(t, as)
				for i := range 5 {
					env.send(t, room, ghost, "while down "+strconv.Itoa(i))
				}
				waitFor(t, "a failed attempt is reported", func() bool {
					st, _ := status(t, s, "bridge")
					return st.LastError != "" && st.InFlightTxnID != "" && !st.RetryAt.IsZero()
				})
				for i := range 5 {
					env.send(t, room, ghost, "still down "+strconv.Itoa(i))
				}
				tc.up(t, as)
				waitCaughtUp(t, s, "bridge")

				if diff := cmp.Diff(env.eventIDs(t, start, inRooms(room)), as.received()); diff != "" {
					t.Errorf("events delivered (-want +got):\n%s", diff)
				}
				attempts, _ := as.snapshot()
				checkTxnIDsIncrease(t, attempts)
				if st, _ := status(t, s, "bridge"); !st.RetryAt.IsZero() || st.LastErrorAt.After(st.LastSuccess) {
					t.Errorf("status after recovery = %+v", st)
				}
			})
		})
	}
}

func TestSenderResendsSameTransactionAfterRestart(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		as := newFakeAS(t, "hs-token-bridge")
		env := newSenderEnv(t, driver, dsn, bridgeRegistration(t, as.URL()))
		hold := make(chan struct{})
		as.set(func(f *fakeAS) { f.hold = hold })
		first, stopFirst := env.start(t, SenderOptions{})
		waitStarted(t, first, "bridge")
		start := env.head(t)

		room := env.createRoom(t, ghost, "")
		waitFor(t, "the first transaction is in flight", func() bool {
			attempts, _ := as.snapshot()
			return len(attempts) > 0
		})
		stopFirst() // cancels the request the appservice is holding
		env.send(t, room, ghost, "sent while no sender runs")
		attempts, _ := as.snapshot()
		inFlight := attempts[0]

		as.set(func(f *fakeAS) { f.hold = nil })
		second, _ := env.start(t, SenderOptions{})
		waitCaughtUp(t, second, "bridge")
		env.send(t, room, ghost, "sent after the restart")
		waitCaughtUp(t, second, "bridge")

		attempts, _ = as.snapshot()
		if len(attempts) < 2 || attempts[1] != inFlight {
			t.Errorf("transactions after the restart: %v, want %s (the one in flight) first", attempts[1:], inFlight)
		}
		// fakeAS has checked that every resent transaction ID carried the same bytes.
		checkTxnIDsIncrease(t, attempts)
		if diff := cmp.Diff(env.eventIDs(t, start, inRooms(room)), as.received()); diff != "" {
			t.Errorf("events delivered (-want +got):\n%s", diff)
		}
	})
}

// logRecorder keeps the records logged through it.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// find returns the attrs of the records with the given message.
func (h *logRecorder) find(msg string) []map[string]slog.Value {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]slog.Value
	for _, r := range h.records {
		if r.Message != msg {
			continue
		}
		attrs := map[string]slog.Value{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value
			return true
		})
		out = append(out, attrs)
	}
	return out
}

func TestSenderBackoffGrowsAndIsCapped(t *testing.T) {
	const minBackoff, maxBackoff = 4 * time.Millisecond, 32 * time.Millisecond
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		as := newFakeAS(t, "hs-token-bridge")
		as.set(func(f *fakeAS) { f.fail = true })
		env := newSenderEnv(t, driver, dsn, bridgeRegistration(t, as.URL()))
		logs := &logRecorder{}
		s, _ := env.start(t, SenderOptions{MinBackoff: minBackoff, MaxBackoff: maxBackoff, Log: slog.New(logs)})
		waitStarted(t, s, "bridge")
		env.createRoom(t, ghost, "")

		const failures = 8
		waitFor(t, "enough failed attempts", func() bool { return len(logs.find("appservice transaction failed")) >= failures })
		as.set(func(f *fakeAS) { f.fail = false })
		waitCaughtUp(t, s, "bridge")

		var delays []time.Duration
		txnIDs := map[string]bool{}
		for _, attrs := range logs.find("appservice transaction failed")[:failures] {
			delays = append(delays, attrs["retry_in"].Duration())
			txnIDs[attrs["txn_id"].String()] = true
		}
		if len(txnIDs) != 1 {
			t.Errorf("failed attempts were of transactions %v, want one transaction retried", txnIDs)
		}
		// MinBackoff doubles to the cap at the 4th failure (4, 8, 16, 32ms). Each wait is the
		// doubled value less up to a quarter, so the waits never shrink before the cap and
		// stay within [¾·MaxBackoff, MaxBackoff] after it.
		for i, d := range delays {
			if d < minBackoff || d > maxBackoff {
				t.Errorf("wait %d = %v, outside [%v, %v]", i+1, d, minBackoff, maxBackoff)
			}
			if i > 0 && i < 4 && d < delays[i-1] {
				t.Errorf("wait %d = %v shorter than wait %d = %v", i+1, d, i, delays[i-1])
			}
			if i >= 3 && d < maxBackoff*3/4 {
				t.Errorf("wait %d = %v, want near the cap %v", i+1, d, maxBackoff)
			}
		}
		if len(logs.find("appservice delivery recovered")) != 1 {
			t.Errorf("recovery was not logged once")
		}
		attempts, _ := as.snapshot()
		if len(attempts) < failures+1 {
			t.Errorf("appservice saw %d attempts, want at least %d", len(attempts), failures+1)
		}
	})
}

func TestBackoffBounds(t *testing.T) {
	s := NewSender(nil, nil, NewRegistry(hsName), SenderOptions{MinBackoff: time.Second, MaxBackoff: time.Minute})
	base := time.Second
	for failures := 1; failures <= 12; failures++ {
		for range 200 {
			d := s.backoff(failures)
			if d > base || d < base*3/4 || d < time.Second {
				t.Fatalf("backoff(%d) = %v, want within [¾·%v, %v] and at least 1s", failures, d, base, base)
			}
		}
		base = min(2*base, time.Minute)
	}
}

func TestSenderStartsNewRegistrationAtHead(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		bridgeAS := newFakeAS(t, "hs-token-bridge")
		lateAS := newFakeAS(t, "hs-token-late")
		env := newSenderEnv(t, driver, dsn, bridgeRegistration(t, bridgeAS.URL()))
		s, _ := env.start(t, SenderOptions{})
		waitStarted(t, s, "bridge")

		const lateGhost id.UserID = "@_late_ghost:localhost"
		room := env.createRoom(t, lateGhost, "")
		env.send(t, room, lateGhost, "before the registration")
		env.join(t, room, alice)
		if err := env.registry.Register(testRegistration(t, "late", lateAS.URL(), []string{`@_late_.*:localhost`}, nil)); err != nil {
			t.Fatal(err)
		}
		waitStarted(t, s, "late") // noticed without any event to wake the sender
		registered := env.head(t)
		env.send(t, room, lateGhost, "after the registration")
		env.send(t, room, alice, "from alice, in a room of interest")
		waitCaughtUp(t, s, "late")

		want := env.eventIDs(t, registered, inRooms(room))
		if len(want) != 2 {
			t.Fatalf("want 2 events after the registration, have %d", len(want))
		}
		if diff := cmp.Diff(want, lateAS.received()); diff != "" {
			t.Errorf("events delivered to the new appservice (-want +got):\n%s", diff)
		}
	})
}

// recordingTransport notes the host of every request before passing it on.
type recordingTransport struct {
	mu    sync.Mutex
	hosts []string
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.hosts = append(rt.hosts, r.URL.Host)
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func TestSenderIgnoresRegistrationsWithoutURL(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		as := newFakeAS(t, "hs-token-bridge")
		// "everything" would be interested in every event of this server, had it a URL.
		everything := testRegistration(t, "everything", "", []string{`@.*:localhost`}, []string{`#.*:localhost`})
		env := newSenderEnv(t, driver, dsn, bridgeRegistration(t, as.URL()), everything)
		transport := &recordingTransport{}
		s, _ := env.start(t, SenderOptions{HTTPClient: &http.Client{Transport: transport}})
		waitStarted(t, s, "bridge")

		room := env.createRoom(t, alice, "lobby")
		env.send(t, room, alice, "hello")
		env.send(t, env.createRoom(t, ghost, ""), ghost, "to the bridge")
		waitCaughtUp(t, s, "bridge")

		all, err := s.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, st := range all {
			ids = append(ids, st.ID)
		}
		if diff := cmp.Diff([]string{"bridge"}, ids); diff != "" {
			t.Errorf("appservices delivered to (-want +got):\n%s", diff)
		}
		transport.mu.Lock()
		defer transport.mu.Unlock()
		if len(transport.hosts) == 0 {
			t.Error("the bridge got nothing")
		}
		for _, host := range transport.hosts {
			if host != as.addr {
				t.Errorf("request to %s", host)
			}
		}
	})
}

// BenchmarkSenderThroughput measures events per second from the start of sending until the
// fake appservice has them all. Each parallel sender has its own room, so that the appservice
// sender, not one room's send rate, sets the pace.
func BenchmarkSenderThroughput(b *testing.B) {
	storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
		as := newFakeAS(b, "hs-token-bridge")
		env := newSenderEnv(b, driver, dsn, bridgeRegistration(b, as.URL()))
		s, _ := env.start(b, SenderOptions{})
		waitStarted(b, s, "bridge")

		var sent atomic.Int64
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			room := env.createRoom(b, ghost, "")
			for pb.Next() {
				env.send(b, room, ghost, "benchmark")
				sent.Add(1)
			}
		})
		waitCaughtUp(b, s, "bridge")
		b.ReportMetric(float64(sent.Load())/time.Since(start).Seconds(), "events/s")
		if _, evs := as.snapshot(); int64(len(evs)) < sent.Load() {
			b.Errorf("appservice received %d events, want at least %d", len(evs), sent.Load())
		}
	})
}
