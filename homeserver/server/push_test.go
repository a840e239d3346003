package server_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/pushrules/pushgateway"

	"causeway/homeserver/config"
	"causeway/homeserver/push"
	"causeway/homeserver/server"
	"causeway/homeserver/storage/storagetest"
)

// testGateway is a push gateway on loopback (push_notifier.yaml) that records what it is sent,
// decoded with mautrix's push gateway types. It can be told to fail or to reject pushkeys.
type testGateway struct {
	*httptest.Server
	mu       sync.Mutex
	got      []*pushgateway.PushNotification // accepted
	attempts int                             // every request, refused ones too
	status   int                             // answer with this status; 0: 200
	rejected []string                        // pushkeys to reject
	arrived  chan struct{}
}

func startGateway(t *testing.T) *testGateway {
	g := &testGateway{arrived: make(chan struct{}, 100)}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_matrix/push/v1/notify" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var req pushgateway.ReqPush
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("gateway: undecodable request: %v", err)
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		g.attempts++
		if g.status != 0 {
			w.WriteHeader(g.status)
			return
		}
		g.got = append(g.got, req.Notification)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"rejected": g.rejected})
		g.arrived <- struct{}{}
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *testGateway) url() string { return g.URL + "/_matrix/push/v1/notify" }

func (g *testGateway) set(status int, rejected ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status, g.rejected = status, rejected
}

// next waits for the next accepted notification.
func (g *testGateway) next(t *testing.T) *pushgateway.PushNotification {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification reached the gateway")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.got[len(g.got)-1]
}

// quiet fails the test if a notification arrives within d.
func (g *testGateway) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-g.arrived:
		g.mu.Lock()
		defer g.mu.Unlock()
		t.Fatalf("unexpected notification: %+v", g.got[len(g.got)-1])
	case <-time.After(d):
	}
}

// loopbackGateways lets pushers post to the tests' gateways on loopback, which the default
// policy refuses.
func loopbackGateways(c *config.Config) {
	c.Push.GatewayAllowedCIDRs = []string{"127.0.0.0/8", "::1/128"}
}

// fastRetries makes a failing gateway retried within milliseconds.
var fastRetries = server.WithPushPolicy(push.DeliveryPolicy{FirstRetry: 10 * time.Millisecond, MaxRetry: 50 * time.Millisecond, GiveUp: time.Hour, Poll: 100 * time.Millisecond})

// runBackground runs the server's background work (push delivery among it) until the test ends
// or stop is called.
func (ts *testServer) runBackground(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.srv.RunBackground(ctx)
	}()
	stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return stop
}

func setPusher(t *testing.T, cli *mautrix.Client, gatewayURL, pushKey string, format mautrix.PushFormat) {
	t.Helper()
	kind := mautrix.PusherKindHTTP
	err := cli.SetPusher(context.Background(), &mautrix.Pusher{AppID: "org.example.app", PushKey: pushKey, Kind: &kind,
		AppDisplayName: "Example", DeviceDisplayName: "Phone", Language: "en",
		Data: mautrix.PusherData{"url": gatewayURL, "format": format, "custom": "kept"}})
	if err != nil {
		t.Fatalf("set pusher: %v", err)
	}
}

// unread runs /sync for cli and returns a joined room's counts, and its threads' when the
// query's filter asks for them. mautrix's sync response has no thread counts, hence the raw call.
func (ts *testServer) unread(t *testing.T, cli *mautrix.Client, roomID id.RoomID, query url.Values) (count, highlights int, threads map[id.EventID]int) {
	t.Helper()
	type counts struct {
		Notifications int `json:"notification_count"`
		Highlights    int `json:"highlight_count"`
	}
	var resp struct {
		Rooms struct {
			Join map[id.RoomID]struct {
				UnreadNotifications       *counts               `json:"unread_notifications"`
				UnreadThreadNotifications map[id.EventID]counts `json:"unread_thread_notifications"`
			} `json:"join"`
		} `json:"rooms"`
	}
	query = maps.Clone(query)
	query.Set("set_presence", "offline")
	r := ts.do(t, http.MethodGet, "/_matrix/client/v3/sync?"+query.Encode(), cli.AccessToken, nil)
	wantOK(t, r)
	r.decode(t, &resp)
	room, ok := resp.Rooms.Join[roomID]
	if !ok || room.UnreadNotifications == nil {
		t.Fatalf("room %s is not in the sync with unread_notifications: %s", roomID, r.Body)
	}
	threads = map[id.EventID]int{}
	for root, c := range room.UnreadThreadNotifications {
		threads[root] = c.Notifications
	}
	return room.UnreadNotifications.Notifications, room.UnreadNotifications.Highlights, threads
}

var threadFilter = url.Values{"filter": {`{"room": {"timeline": {"unread_thread_notifications": true}}}`}}

func TestPushNotifications(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		gw := startGateway(t)
		ts := startServerWith(t, driver, dsn, []server.Option{fastRetries}, loopbackGateways)
		ts.runBackground(t)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		setPusher(t, bob, gw.url(), "bob-phone", mautrix.PushFormatDefault)

		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: "Tea", Invite: []id.UserID{bob.UserID}})
		invite := gw.next(t)
		if invite.Type != "m.room.member" || !invite.UserIsTarget || invite.RoomName != "Tea" || invite.Priority != "high" {
			t.Errorf("invite notification = %+v, want a high-priority m.room.member for bob in Tea", invite)
		}
		dev := invite.Devices[0]
		if dev.PushKey != "bob-phone" || dev.AppID != "org.example.app" || dev.Data["custom"] != "kept" || dev.Data["url"] != nil || dev.Tweaks["sound"] != "default" {
			t.Errorf("device = %+v, want the pusher's data without url and the rule's sound tweak", dev)
		}
		mustJoin(t, bob, string(roomID))

		hello := mustSend(t, alice, roomID, "hello")
		if n := gw.next(t); n.EventID != hello || n.Counts == nil || n.Counts.Unread != 1 || n.SenderDisplayName != "alice" || n.Type != "m.room.message" {
			t.Errorf("hello notification = %+v, want it with unread 1 from alice", n)
		}
		mention, err := alice.SendMessageEvent(ctx, roomID, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "bob: tea?",
			"m.mentions": map[string]any{"user_ids": []id.UserID{bob.UserID}}})
		if err != nil {
			t.Fatal(err)
		}
		if n := gw.next(t); n.EventID != mention.EventID || n.Counts.Unread != 2 || n.Devices[0].Tweaks["highlight"] != true {
			t.Errorf("mention notification = %+v, want unread 2 and a highlight", n)
		}
		reply, err := alice.SendMessageEvent(ctx, roomID, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "in a thread",
			"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": hello}})
		if err != nil {
			t.Fatal(err)
		}
		gw.next(t)

		// /sync: everything together, or the main timeline and each thread apart.
		if count, hl, _ := ts.unread(t, bob, roomID, url.Values{}); count != 3 || hl != 1 {
			t.Errorf("unread = %d (%d highlights), want 3 (1)", count, hl)
		}
		count, hl, threads := ts.unread(t, bob, roomID, threadFilter)
		if count != 2 || hl != 1 || threads[hello] != 1 || len(threads) != 1 {
			t.Errorf("unread = main %d (%d highlights), threads %v; want main 2 (1), thread %s 1", count, hl, threads, hello)
		}

		// Receipts clear counts: an unthreaded one up to the mention leaves the later thread
		// reply unread; a threaded one clears the thread.
		if err := bob.SendReceipt(ctx, roomID, mention.EventID, event.ReceiptTypeRead, nil); err != nil {
			t.Fatal(err)
		}
		count, _, threads = ts.unread(t, bob, roomID, threadFilter)
		if count != 0 || threads[hello] != 1 {
			t.Errorf("after reading to the mention: main %d, thread %d; want 0 and 1", count, threads[hello])
		}
		if err := bob.SendReceipt(ctx, roomID, reply.EventID, event.ReceiptTypeReadPrivate, map[string]any{"thread_id": hello}); err != nil {
			t.Fatal(err)
		}
		if count, _, threads = ts.unread(t, bob, roomID, threadFilter); count != 0 || len(threads) != 0 {
			t.Errorf("after reading the thread: main %d, threads %v; want nothing", count, threads)
		}

		// Incremental sync carries a new count with the event; sending reads what came before.
		since := ts.sync(t, bob, url.Values{}).NextBatch
		later := mustSend(t, alice, roomID, "later")
		gw.next(t)
		resp := ts.sync(t, bob, url.Values{"since": {since}})
		if room := resp.Rooms.Join[roomID]; room == nil || room.UnreadNotifications == nil || room.UnreadNotifications.NotificationCount != 1 ||
			!slices.Contains(eventIDs(room.Timeline.Events), later) {
			t.Errorf("incremental sync = %+v, want the event in the timeline with unread 1", room)
		}
		mustSend(t, bob, roomID, "on my way")
		if count, _, _ := ts.unread(t, bob, roomID, url.Values{}); count != 0 {
			t.Errorf("after bob sent: unread %d, want 0", count)
		}
		gw.quiet(t, 200*time.Millisecond) // bob's own message notifies nobody with a pusher

		// /notifications: newest first, read flags, only=highlight, paging.
		var page struct {
			NextToken     string `json:"next_token"`
			Notifications []struct {
				Event   event.Event `json:"event"`
				Read    bool        `json:"read"`
				RoomID  id.RoomID   `json:"room_id"`
				Actions []any       `json:"actions"`
				TS      int64       `json:"ts"`
			} `json:"notifications"`
		}
		r := ts.do(t, http.MethodGet, "/_matrix/client/v3/notifications?limit=3", bob.AccessToken, nil)
		wantOK(t, r)
		r.decode(t, &page)
		var got []id.EventID
		for _, n := range page.Notifications {
			got = append(got, n.Event.ID)
			if !n.Read || n.RoomID != roomID || len(n.Actions) == 0 || n.TS == 0 {
				t.Errorf("notification %s = read %v, room %s, actions %v, ts %d", n.Event.ID, n.Read, n.RoomID, n.Actions, n.TS)
			}
		}
		if !slices.Equal(got, []id.EventID{later, reply.EventID, mention.EventID}) || page.NextToken == "" {
			t.Errorf("first page = %v (next %q), want later, reply, mention", got, page.NextToken)
		}
		r = ts.do(t, http.MethodGet, "/_matrix/client/v3/notifications?from="+page.NextToken, bob.AccessToken, nil)
		wantOK(t, r)
		page.NextToken = ""
		r.decode(t, &page)
		if len(page.Notifications) != 2 || page.Notifications[0].Event.ID != hello || page.Notifications[1].Event.Type != event.StateMember || page.NextToken != "" {
			t.Errorf("second page = %+v, want hello and the invite, and no next token", page)
		}
		r = ts.do(t, http.MethodGet, "/_matrix/client/v3/notifications?only=highlight", bob.AccessToken, nil)
		wantOK(t, r)
		r.decode(t, &page)
		if len(page.Notifications) != 1 || page.Notifications[0].Event.ID != mention.EventID {
			t.Errorf("only=highlight = %+v, want the mention alone", page.Notifications)
		}
		wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/notifications?from=nonsense", bob.AccessToken, nil), 400, "M_INVALID_PARAM")
		wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/notifications?only=everything", bob.AccessToken, nil), 400, "M_INVALID_PARAM")

		// A redacted event no longer counts.
		unread := mustSend(t, alice, roomID, "oops")
		gw.next(t)
		if _, err := alice.RedactEvent(ctx, roomID, unread); err != nil {
			t.Fatal(err)
		}
		if count, _, _ := ts.unread(t, bob, roomID, url.Values{}); count != 0 {
			t.Errorf("after the redaction: unread %d, want 0", count)
		}
	})
}

func TestPushDeliveryRetriesAcrossRestarts(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		gw := startGateway(t)
		dataDir := t.TempDir()
		sameData := func(c *config.Config) { c.DataDir = dataDir }
		ts := startServerWith(t, driver, dsn, []server.Option{fastRetries}, sameData, loopbackGateways)
		stop := ts.runBackground(t)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		setPusher(t, bob, gw.url(), "bob-phone", mautrix.PushFormatEventIDOnly)

		gw.set(http.StatusServiceUnavailable)
		var sent []id.EventID
		for _, body := range []string{"one", "two", "three"} {
			sent = append(sent, mustSend(t, alice, roomID, body))
		}
		waitFor(t, "the gateway to be retried", func() bool {
			gw.mu.Lock()
			defer gw.mu.Unlock()
			return gw.attempts >= 3
		})
		stop()
		ts.srv.Close()

		ts = startServerWith(t, driver, dsn, []server.Option{fastRetries}, sameData, loopbackGateways)
		ts.runBackground(t)
		for _, cli := range []*mautrix.Client{alice, bob} {
			cli.HomeserverURL, _ = url.Parse(ts.URL)
		}
		gw.set(0)
		var got []id.EventID
		for range sent {
			n := gw.next(t)
			got = append(got, n.EventID)
			if n.Type != "" || n.Content != nil || n.Sender != "" || n.RoomID != roomID {
				t.Errorf("event_id_only notification carries %+v", n)
			}
		}
		if !slices.Equal(got, sent) {
			t.Errorf("delivered %v, want %v once each in order", got, sent)
		}
		gw.quiet(t, 300*time.Millisecond)

		// A gateway that rejects the pushkey removes the pusher.
		gw.set(0, "bob-phone")
		mustSend(t, alice, roomID, "four")
		gw.next(t)
		waitFor(t, "the rejected pusher to go", func() bool {
			resp, err := bob.GetPushers(context.Background())
			return err == nil && len(resp.Pushers) == 0
		})
	})
}

// waitFor polls cond until it holds, failing the test after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestPushersAPI(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		const gatewayURL = "https://push.example.org/_matrix/push/v1/notify"
		setPusher(t, alice, gatewayURL, "key-1", mautrix.PushFormatEventIDOnly)
		resp, err := alice.GetPushers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Pushers) != 1 || resp.Pushers[0].PushKey != "key-1" || resp.Pushers[0].Data.URL() != gatewayURL ||
			resp.Pushers[0].Data.Format() != mautrix.PushFormatEventIDOnly || resp.Pushers[0].Language != "en" || resp.Pushers[0].Kind == nil {
			t.Fatalf("pushers = %+v", resp.Pushers)
		}
		// The same app ID and pushkey set by another user takes it over unless appended.
		setPusher(t, bob, gatewayURL, "key-1", mautrix.PushFormatDefault)
		if resp, _ := alice.GetPushers(ctx); len(resp.Pushers) != 0 {
			t.Errorf("alice's pusher survived bob's without append: %+v", resp.Pushers)
		}

		set := func(body map[string]any) apiResponse {
			return ts.do(t, http.MethodPost, "/_matrix/client/v3/pushers/set", alice.AccessToken, body)
		}
		valid := func() map[string]any {
			return map[string]any{"kind": "http", "app_id": "org.example.app", "pushkey": "key-2", "app_display_name": "Example",
				"device_display_name": "Phone", "lang": "en", "data": map[string]any{"url": gatewayURL}}
		}
		for name, change := range map[string]func(map[string]any){
			"no lang":    func(b map[string]any) { delete(b, "lang") },
			"no data":    func(b map[string]any) { delete(b, "data") },
			"no url":     func(b map[string]any) { b["data"] = map[string]any{} },
			"no pushkey": func(b map[string]any) { delete(b, "pushkey") },
			"wrong path": func(b map[string]any) { b["data"] = map[string]any{"url": "https://push.example.org/notify"} },
			"not http": func(b map[string]any) {
				b["data"] = map[string]any{"url": "ftp://push.example.org/_matrix/push/v1/notify"}
			},
			"email":          func(b map[string]any) { b["kind"] = "email" },
			"unknown format": func(b map[string]any) { b["data"] = map[string]any{"url": gatewayURL, "format": "full"} },
			"long app_id":    func(b map[string]any) { b["app_id"] = string(make([]byte, 65)) },
		} {
			b := valid()
			change(b)
			r := set(b)
			if r.Status != http.StatusBadRequest || (r.errcode() != "M_MISSING_PARAM" && r.errcode() != "M_INVALID_PARAM") {
				t.Errorf("%s: got %d %s, want 400 M_MISSING_PARAM or M_INVALID_PARAM", name, r.Status, r.Body)
			}
		}
		wantError(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/pushers/set", alice.AccessToken, rawBody(`{"kind":`)), 400, "M_NOT_JSON")
		if resp, _ := alice.GetPushers(ctx); len(resp.Pushers) != 0 {
			t.Errorf("a refused request stored a pusher: %+v", resp.Pushers)
		}
		wantOK(t, set(valid()))
		b := valid()
		b["kind"] = nil
		wantOK(t, set(b))
		if resp, _ := alice.GetPushers(ctx); len(resp.Pushers) != 0 {
			t.Errorf("kind null did not delete: %+v", resp.Pushers)
		}

		// A pusher goes with the device that set it.
		wantOK(t, set(valid()))
		if _, err := alice.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		again := ts.login(t, alice.UserID, password)
		if resp, _ := again.GetPushers(ctx); len(resp.Pushers) != 0 {
			t.Errorf("pusher survived its device: %+v", resp.Pushers)
		}
	})
}

// TestPushGatewaysOnPrivateAddressesRefused: a user cannot make the server post to its own
// network by naming a gateway there; the configured ranges are the way to allow one.
func TestPushGatewaysOnPrivateAddressesRefused(t *testing.T) {
	gw := startGateway(t)
	ts := startServerWith(t, "sqlite", storagetest.DatabaseURL(t, "sqlite"), []server.Option{fastRetries})
	ts.runBackground(t)
	alice := ts.register(t, "alice")
	bob := ts.register(t, "bob")
	roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	mustJoin(t, bob, string(roomID))
	setPusher(t, bob, gw.url(), "bob-phone", mautrix.PushFormatEventIDOnly)
	mustSend(t, alice, roomID, "to a gateway on loopback")
	time.Sleep(300 * time.Millisecond) // several delivery attempts
	gw.mu.Lock()
	defer gw.mu.Unlock()
	if gw.attempts != 0 {
		t.Errorf("the server posted %d times to a gateway on loopback", gw.attempts)
	}
}
