package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/config"
	"causeway/homeserver/storage/storagetest"
)

// toDeviceMsg is a to-device event as a test compares it: content as compact JSON.
type toDeviceMsg struct {
	Sender  id.UserID
	Type    string
	Content string
}

// toDeviceIn returns the to-device events of a sync response.
func toDeviceIn(resp *mautrix.RespSync) []toDeviceMsg {
	var out []toDeviceMsg
	for _, ev := range resp.ToDevice.Events {
		out = append(out, toDeviceMsg{Sender: ev.Sender, Type: ev.Type.Type, Content: string(ev.Content.VeryRaw)})
	}
	return out
}

// toDeviceContent is the content of a test message.
func toDeviceContent(n string) *event.Content {
	return &event.Content{Raw: map[string]any{"n": n}}
}

// sendToDevice sends one request through mautrix's client, with a new transaction ID.
func sendToDevice(t *testing.T, cli *mautrix.Client, typ string, messages map[id.UserID]map[id.DeviceID]*event.Content) {
	t.Helper()
	_, err := cli.SendToDevice(context.Background(), event.Type{Type: typ, Class: event.ToDeviceEventType}, &mautrix.ReqSendToDevice{Messages: messages})
	if err != nil {
		t.Fatalf("%s sends %s to devices: %v", cli.UserID, typ, err)
	}
}

// sendToDeviceTxn sends one request through mautrix's client with the given transaction ID.
func sendToDeviceTxn(cli *mautrix.Client, typ, txnID string, messages map[id.UserID]map[id.DeviceID]*event.Content) error {
	u := cli.BuildClientURL("v3", "sendToDevice", typ, txnID)
	_, err := cli.MakeRequest(context.Background(), http.MethodPut, u, &mautrix.ReqSendToDevice{Messages: messages}, nil)
	return err
}

// wantToDevice fails the test unless the response carries exactly want.
func wantToDevice(t *testing.T, what string, resp *mautrix.RespSync, want ...toDeviceMsg) {
	t.Helper()
	if diff := cmp.Diff(want, toDeviceIn(resp)); diff != "" {
		t.Errorf("%s: to-device events (-want +got):\n%s", what, diff)
	}
}

func TestSendToDevice(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		bob2 := ts.login(t, bob.UserID, password)
		carol := ts.register(t, "carol")
		since := map[*mautrix.Client]string{}
		for _, cli := range []*mautrix.Client{bob, bob2, carol} {
			since[cli] = ts.sync(t, cli, url.Values{}).NextBatch
		}
		// next syncs cli from its last token, acknowledging what that token covers.
		next := func(cli *mautrix.Client) *mautrix.RespSync {
			resp := ts.sync(t, cli, url.Values{"since": {since[cli]}})
			since[cli] = resp.NextBatch
			return resp
		}
		msg := func(typ, n string) toDeviceMsg {
			return toDeviceMsg{Sender: alice.UserID, Type: typ, Content: `{"n":"` + n + `"}`}
		}

		t.Run("one device", func(t *testing.T) {
			sendToDevice(t, alice, "org.example.one", map[id.UserID]map[id.DeviceID]*event.Content{
				bob.UserID: {bob.DeviceID: toDeviceContent("1")},
			})
			wantToDevice(t, "bob's first device", next(bob), msg("org.example.one", "1"))
			wantToDevice(t, "bob's other device", next(bob2))
			wantToDevice(t, "carol", next(carol))
		})

		t.Run("every device", func(t *testing.T) {
			sendToDevice(t, alice, "org.example.all", map[id.UserID]map[id.DeviceID]*event.Content{
				bob.UserID: {"*": toDeviceContent("all")},
			})
			wantToDevice(t, "bob's first device", next(bob), msg("org.example.all", "all"))
			wantToDevice(t, "bob's other device", next(bob2), msg("org.example.all", "all"))
			wantToDevice(t, "carol", next(carol))
		})

		t.Run("a device named beside * gets its own message only", func(t *testing.T) {
			sendToDevice(t, alice, "org.example.mixed", map[id.UserID]map[id.DeviceID]*event.Content{
				bob.UserID: {"*": toDeviceContent("all"), bob2.DeviceID: toDeviceContent("own")},
			})
			wantToDevice(t, "bob's first device", next(bob), msg("org.example.mixed", "all"))
			wantToDevice(t, "bob's other device", next(bob2), msg("org.example.mixed", "own"))
		})

		t.Run("many users at once", func(t *testing.T) {
			sendToDevice(t, alice, "org.example.many", map[id.UserID]map[id.DeviceID]*event.Content{
				bob.UserID:   {"*": toDeviceContent("b")},
				carol.UserID: {carol.DeviceID: toDeviceContent("c")},
				// Unknown users and devices are skipped; the others still get theirs.
				"@nobody:localhost": {"*": toDeviceContent("x")},
			})
			sendToDevice(t, alice, "org.example.many", map[id.UserID]map[id.DeviceID]*event.Content{
				carol.UserID: {"NOSUCHDEVICE": toDeviceContent("x")},
			})
			wantToDevice(t, "bob's first device", next(bob), msg("org.example.many", "b"))
			wantToDevice(t, "bob's other device", next(bob2), msg("org.example.many", "b"))
			wantToDevice(t, "carol", next(carol), msg("org.example.many", "c"))
		})

		t.Run("users of other servers wait in the outbox for federation", func(t *testing.T) {
			sendToDevice(t, alice, "org.example.remote", map[id.UserID]map[id.DeviceID]*event.Content{
				"@dan:remote.example": {"*": toDeviceContent("d")},
				bob.UserID:            {bob.DeviceID: toDeviceContent("b")},
			})
			wantToDevice(t, "bob", next(bob), msg("org.example.remote", "b"))
			edus, err := ts.srv.DB.ToDeviceOutbox(context.Background(), "remote.example", 0, 10)
			if err != nil || len(edus) != 1 {
				t.Fatalf("outbox of remote.example = %v, %v; want one EDU", edus, err)
			}
			c := string(edus[0].Content)
			for _, want := range []string{`"sender":"@alice:localhost"`, `"type":"org.example.remote"`, `"messages":{"@dan:remote.example":{"*":{"n":"d"}}}`, `"message_id":"`} {
				if !strings.Contains(c, want) {
					t.Errorf("EDU content %s lacks %s", c, want)
				}
			}
		})

		t.Run("logging out deletes the device's queue", func(t *testing.T) {
			sendToDevice(t, alice, "org.example.gone", map[id.UserID]map[id.DeviceID]*event.Content{
				bob.UserID: {bob2.DeviceID: toDeviceContent("gone")},
			})
			ctx := context.Background()
			if oldest, err := ts.srv.DB.OldestToDevicePos(ctx, bob.UserID, bob2.DeviceID); err != nil || oldest == 0 {
				t.Fatalf("bob's second device has no queued message (%d, %v)", oldest, err)
			}
			if _, err := bob2.Logout(ctx); err != nil {
				t.Fatal(err)
			}
			if oldest, err := ts.srv.DB.OldestToDevicePos(ctx, bob.UserID, bob2.DeviceID); err != nil || oldest != 0 {
				t.Errorf("the logged-out device's queue still holds position %d (%v)", oldest, err)
			}
		})
	})
}

func TestToDeviceTxnRetry(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		alice2 := ts.login(t, alice.UserID, password)
		bob := ts.register(t, "bob")
		since := ts.sync(t, bob, url.Values{}).NextBatch
		to := func(n string) map[id.UserID]map[id.DeviceID]*event.Content {
			return map[id.UserID]map[id.DeviceID]*event.Content{bob.UserID: {"*": toDeviceContent(n)}}
		}
		sends := []struct {
			cli     *mautrix.Client
			typ     string
			txn     string
			n       string
			counted bool
		}{
			{alice, "org.example.a", "txn1", "first", true},
			{alice, "org.example.a", "txn1", "retry", false}, // a retry stores nothing new
			{alice, "org.example.a", "txn1", "retry", false},
			{alice, "org.example.b", "txn1", "other type", true}, // another path
			{alice2, "org.example.a", "txn1", "other device", true},
		}
		var want []toDeviceMsg
		for _, s := range sends {
			if err := sendToDeviceTxn(s.cli, s.typ, s.txn, to(s.n)); err != nil {
				t.Fatalf("send %s: %v", s.n, err)
			}
			if s.counted {
				want = append(want, toDeviceMsg{Sender: alice.UserID, Type: s.typ, Content: `{"n":"` + s.n + `"}`})
			}
		}
		wantToDevice(t, "bob", ts.sync(t, bob, url.Values{"since": {since}}), want...)
	})
}

// TestToDeviceConcurrentRetries sends one transaction ID many times at once: one message.
func TestToDeviceConcurrentRetries(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		since := ts.sync(t, bob, url.Values{}).NextBatch
		to := map[id.UserID]map[id.DeviceID]*event.Content{bob.UserID: {"*": toDeviceContent("once")}}
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for range 10 {
			wg.Go(func() { errs <- sendToDeviceTxn(alice, "org.example.c", "same", to) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("a concurrent retry failed: %v", err)
			}
		}
		wantToDevice(t, "bob", ts.sync(t, bob, url.Values{"since": {since}}),
			toDeviceMsg{alice.UserID, "org.example.c", `{"n":"once"}`})
	})
}

func TestToDeviceAcknowledgement(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		to := map[id.UserID]map[id.DeviceID]*event.Content{bob.UserID: {bob.DeviceID: toDeviceContent("1")}}
		t0 := ts.sync(t, bob, url.Values{}).NextBatch
		sendToDevice(t, alice, "org.example.one", to)
		sendToDevice(t, alice, "org.example.two", to)
		want := []toDeviceMsg{
			{alice.UserID, "org.example.one", `{"n":"1"}`},
			{alice.UserID, "org.example.two", `{"n":"1"}`},
		}

		first := ts.sync(t, bob, url.Values{"since": {t0}})
		wantToDevice(t, "first sync", first, want...)
		// The response may never have reached the client: the same token gets the same.
		wantToDevice(t, "the same token again", ts.sync(t, bob, url.Values{"since": {t0}}), want...)
		wantToDevice(t, "an initial sync", ts.sync(t, bob, url.Values{}), want...)

		// The next token acknowledges them: they are deleted.
		wantToDevice(t, "the next token", ts.sync(t, bob, url.Values{"since": {first.NextBatch}}))
		wantToDevice(t, "the old token after the acknowledgement", ts.sync(t, bob, url.Values{"since": {t0}}))
		if oldest, err := ts.srv.DB.OldestToDevicePos(context.Background(), bob.UserID, bob.DeviceID); err != nil || oldest != 0 {
			t.Errorf("acknowledged messages are still stored from position %d (%v)", oldest, err)
		}
	})
}

func TestToDeviceBoundedPerSync(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		since := ts.sync(t, bob, url.Values{}).NextBatch
		const total = 130
		for i := range total {
			sendToDevice(t, alice, "org.example.n", map[id.UserID]map[id.DeviceID]*event.Content{
				bob.UserID: {bob.DeviceID: {Raw: map[string]any{"i": i}}},
			})
		}
		var got []int
		var sizes []int
		for range 4 {
			resp := ts.sync(t, bob, url.Values{"since": {since}})
			since = resp.NextBatch
			sizes = append(sizes, len(resp.ToDevice.Events))
			for _, ev := range resp.ToDevice.Events {
				got = append(got, int(ev.Content.Raw["i"].(float64)))
			}
		}
		if diff := cmp.Diff([]int{100, 30, 0, 0}, sizes); diff != "" {
			t.Errorf("messages per sync (-want +got):\n%s", diff)
		}
		for i, n := range got {
			if i != n {
				t.Fatalf("message %d is %d: out of order or repeated (%v)", i, n, got)
			}
		}
	})
}

func TestToDeviceWakesLongPoll(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		since := ts.sync(t, bob, url.Values{}).NextBatch
		wait := longPollAsync(t, ts, bob, since)
		sendToDevice(t, alice, "org.example.wake", map[id.UserID]map[id.DeviceID]*event.Content{
			bob.UserID: {bob.DeviceID: toDeviceContent("w")},
		})
		resp, elapsed := wait()
		wantToDevice(t, "the long poll", resp, toDeviceMsg{alice.UserID, "org.example.wake", `{"n":"w"}`})
		if elapsed > 10*time.Second {
			t.Errorf("the long poll took %s: the message did not wake it", elapsed)
		}
	})
}

func TestToDeviceAcrossRestart(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		dataDir := t.TempDir()
		sameData := func(c *config.Config) { c.DataDir = dataDir }
		ts := startServer(t, driver, dsn, sameData)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		since := ts.sync(t, bob, url.Values{}).NextBatch
		// Bob is offline while alice sends.
		var want []toDeviceMsg
		for _, n := range []string{"one", "two", "three"} {
			sendToDevice(t, alice, "org.example.offline", map[id.UserID]map[id.DeviceID]*event.Content{
				bob.UserID: {"*": toDeviceContent(n)},
			})
			want = append(want, toDeviceMsg{alice.UserID, "org.example.offline", `{"n":"` + n + `"}`})
		}
		ts.srv.Close()

		ts = startServer(t, driver, dsn, sameData)
		bob.HomeserverURL, _ = url.Parse(ts.URL)
		first := ts.sync(t, bob, url.Values{"since": {since}})
		wantToDevice(t, "after the restart", first, want...)
		second := ts.sync(t, bob, url.Values{"since": {first.NextBatch}})
		wantToDevice(t, "the next sync", second)
		wantToDevice(t, "the one after", ts.sync(t, bob, url.Values{"since": {second.NextBatch}}))
	})
}

func TestSendToDeviceErrors(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		since := ts.sync(t, bob, url.Values{}).NextBatch
		bobDevice := string(bob.DeviceID)
		big := strings.Repeat("x", 70000)
		huge := strings.Repeat("y", 2<<20)
		tests := []struct {
			name    string
			token   string
			body    any
			status  int
			errcode string
		}{
			{"no access token", "", map[string]any{"messages": map[string]any{}}, 401, "M_MISSING_TOKEN"},
			{"not JSON", alice.AccessToken, rawBody(`{"messages":`), 400, "M_NOT_JSON"},
			{"not an object", alice.AccessToken, rawBody(`[1]`), 400, "M_BAD_JSON"},
			{"no messages", alice.AccessToken, map[string]any{}, 400, "M_MISSING_PARAM"},
			{"messages not an object", alice.AccessToken, map[string]any{"messages": []any{}}, 400, "M_BAD_JSON"},
			{"a user's messages not an object", alice.AccessToken, map[string]any{"messages": map[string]any{string(bob.UserID): "hi"}}, 400, "M_BAD_JSON"},
			{"content not an object, beside a good one", alice.AccessToken, map[string]any{"messages": map[string]any{
				string(bob.UserID): map[string]any{bobDevice: map[string]any{"n": "ok"}}, "@carol:localhost": map[string]any{"D": "hi"},
			}}, 400, "M_BAD_JSON"},
			{"not a user ID, beside a good one", alice.AccessToken, map[string]any{"messages": map[string]any{
				string(bob.UserID): map[string]any{bobDevice: map[string]any{"n": "ok"}}, "bob": map[string]any{"*": map[string]any{}},
			}}, 400, "M_INVALID_PARAM"},
			{"a message over 64 KiB", alice.AccessToken, map[string]any{"messages": map[string]any{
				string(bob.UserID): map[string]any{bobDevice: map[string]any{"n": big}},
			}}, 413, "M_TOO_LARGE"},
			{"a body over the limit", alice.AccessToken, map[string]any{"messages": map[string]any{
				string(bob.UserID): map[string]any{bobDevice: map[string]any{"n": huge}},
			}}, 413, "M_TOO_LARGE"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := ts.do(t, http.MethodPut, "/_matrix/client/v3/sendToDevice/org.example.bad/bad"+strconv.Itoa(i), tt.token, tt.body)
				wantError(t, r, tt.status, tt.errcode)
			})
		}
		// None of them stored anything, not even the good messages beside a bad one.
		wantToDevice(t, "bob after the refused requests", ts.sync(t, bob, url.Values{"since": {since}}))

		// A refused request does not use up its transaction ID.
		ok := map[string]any{"messages": map[string]any{string(bob.UserID): map[string]any{bobDevice: map[string]any{"n": "ok"}}}}
		wantOK(t, ts.do(t, http.MethodPut, "/_matrix/client/v3/sendToDevice/org.example.bad/bad1", alice.AccessToken, ok))
		wantToDevice(t, "bob after a good retry", ts.sync(t, bob, url.Values{"since": {since}}),
			toDeviceMsg{alice.UserID, "org.example.bad", `{"n":"ok"}`})
	})
}
