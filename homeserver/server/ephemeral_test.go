package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
	"causeway/homeserver/syncapi"
)

// typingIn returns the users of the m.typing event in a joined room's ephemeral section, and
// whether there is one.
func typingIn(t *testing.T, resp *mautrix.RespSync, roomID id.RoomID) ([]id.UserID, bool) {
	t.Helper()
	jr := resp.Rooms.Join[roomID]
	if jr == nil {
		return nil, false
	}
	for _, ev := range jr.Ephemeral.Events {
		if ev.Type.Type != event.EphemeralEventTyping.Type {
			continue
		}
		var c struct {
			UserIDs []id.UserID `json:"user_ids"`
		}
		if err := json.Unmarshal(ev.Content.VeryRaw, &c); err != nil || c.UserIDs == nil {
			t.Fatalf("m.typing content %s: %v", ev.Content.VeryRaw, err)
		}
		return c.UserIDs, true
	}
	return nil, false
}

// receipt is one user's receipt, flattened out of m.receipt content.
type receipt struct {
	EventID  id.EventID
	Type     event.ReceiptType
	UserID   id.UserID
	ThreadID string
}

// receiptsIn flattens the m.receipt events of a joined room's ephemeral section, sorted.
func receiptsIn(t *testing.T, resp *mautrix.RespSync, roomID id.RoomID) []receipt {
	t.Helper()
	jr := resp.Rooms.Join[roomID]
	if jr == nil {
		return nil
	}
	var out []receipt
	for _, ev := range jr.Ephemeral.Events {
		if ev.Type.Type != event.EphemeralEventReceipt.Type {
			continue
		}
		var c map[id.EventID]map[event.ReceiptType]map[id.UserID]struct {
			TS       int64  `json:"ts"`
			ThreadID string `json:"thread_id"`
		}
		if err := json.Unmarshal(ev.Content.VeryRaw, &c); err != nil {
			t.Fatalf("m.receipt content %s: %v", ev.Content.VeryRaw, err)
		}
		for evID, types := range c {
			for typ, users := range types {
				for user, info := range users {
					if info.TS <= 0 {
						t.Errorf("receipt of %s on %s has ts %d", user, evID, info.TS)
					}
					out = append(out, receipt{evID, typ, user, info.ThreadID})
				}
			}
		}
	}
	return sortedReceipts(out...)
}

func sortedReceipts(rs ...receipt) []receipt {
	slices.SortFunc(rs, func(a, b receipt) int {
		return strings.Compare(string(a.EventID)+string(a.Type)+string(a.UserID)+a.ThreadID, string(b.EventID)+string(b.Type)+string(b.UserID)+b.ThreadID)
	})
	return rs
}

// longPollAsync starts a 30-second long poll and returns a function that waits for its answer.
func longPollAsync(t *testing.T, ts *testServer, cli *mautrix.Client, since string) func() (*mautrix.RespSync, time.Duration) {
	t.Helper()
	type result struct {
		resp    *mautrix.RespSync
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		resp, err := longPoll(ts, cli, since)
		done <- result{resp, err, time.Since(start)}
	}()
	time.Sleep(200 * time.Millisecond) // let it start waiting
	return func() (*mautrix.RespSync, time.Duration) {
		t.Helper()
		select {
		case res := <-done:
			if res.err != nil {
				t.Fatalf("long poll: %v", res.err)
			}
			return res.resp, res.elapsed
		case <-time.After(40 * time.Second):
			t.Fatal("the long poll never returned")
			return nil, 0
		}
	}
}

func typingPath(roomID id.RoomID, userID id.UserID) string {
	return roomPath(roomID, "/typing/"+url.PathEscape(string(userID)))
}

// TestTyping covers typing notifications: a long poll wakes when a member starts typing,
// stops or times out, initial syncs show who is typing, and only members type as themselves.
func TestTyping(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		since := ts.sync(t, bob, url.Values{}).NextBatch

		wait := longPollAsync(t, ts, bob, since)
		if _, err := alice.UserTyping(ctx, roomID, true, 30*time.Second); err != nil {
			t.Fatalf("alice types: %v", err)
		}
		resp, elapsed := wait()
		if elapsed > 20*time.Second {
			t.Errorf("the long poll returned after %v, not when alice started typing", elapsed)
		}
		if users, ok := typingIn(t, resp, roomID); !ok || !slices.Equal(users, []id.UserID{alice.UserID}) {
			t.Fatalf("bob's long poll: typing %v (present %v), want alice", users, ok)
		}
		since = resp.NextBatch

		initial := ts.sync(t, bob, url.Values{})
		if users, _ := typingIn(t, initial, roomID); !slices.Equal(users, []id.UserID{alice.UserID}) {
			t.Errorf("initial sync: typing %v, want alice", users)
		}
		filtered := ts.sync(t, bob, url.Values{"filter": {`{"room":{"ephemeral":{"not_types":["m.typing"]}}}`}})
		if users, ok := typingIn(t, filtered, roomID); ok {
			t.Errorf("the ephemeral filter excludes m.typing, yet: %v", users)
		}
		// Renewing is no change: nothing new for bob.
		if _, err := alice.UserTyping(ctx, roomID, true, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if users, ok := typingIn(t, ts.sync(t, bob, url.Values{"since": {since}}), roomID); ok {
			t.Errorf("a renewal was sent as a change: %v", users)
		}

		wait = longPollAsync(t, ts, bob, since)
		if _, err := alice.UserTyping(ctx, roomID, false, 0); err != nil {
			t.Fatalf("alice stops: %v", err)
		}
		resp, _ = wait()
		if users, ok := typingIn(t, resp, roomID); !ok || len(users) != 0 {
			t.Fatalf("after alice stopped: typing %v (present %v), want an empty list", users, ok)
		}
		if _, ok := typingIn(t, ts.sync(t, bob, url.Values{}), roomID); ok {
			t.Error("an initial sync with nobody typing has m.typing")
		}

		t.Run("expiry", func(t *testing.T) {
			if _, err := alice.UserTyping(ctx, roomID, true, 300*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			started := ts.sync(t, bob, url.Values{"since": {resp.NextBatch}})
			if users, _ := typingIn(t, started, roomID); !slices.Equal(users, []id.UserID{alice.UserID}) {
				// The timeout may already have passed on a slow machine; then the stop shows.
				if len(users) != 0 {
					t.Fatalf("typing %v, want alice", users)
				}
				return
			}
			wait := longPollAsync(t, ts, bob, started.NextBatch)
			expired, elapsed := wait()
			if users, ok := typingIn(t, expired, roomID); !ok || len(users) != 0 {
				t.Errorf("after the timeout: typing %v (present %v), want an empty list", users, ok)
			}
			if elapsed > 20*time.Second {
				t.Errorf("the expiry woke the long poll after %v", elapsed)
			}
		})

		t.Run("leaving stops typing", func(t *testing.T) {
			if _, err := bob.UserTyping(ctx, roomID, true, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.LeaveRoom(ctx, roomID); err != nil {
				t.Fatal(err)
			}
			if users, _ := typingIn(t, ts.sync(t, alice, url.Values{}), roomID); len(users) != 0 {
				t.Errorf("bob left but still types: %v", users)
			}
		})

		t.Run("refusals", func(t *testing.T) {
			tests := []struct {
				name    string
				cli     *mautrix.Client
				path    string
				body    any
				status  int
				errcode string
			}{
				{"for someone else", alice, typingPath(roomID, carol.UserID), map[string]any{"typing": true}, http.StatusForbidden, "M_FORBIDDEN"},
				{"not a member", carol, typingPath(roomID, carol.UserID), map[string]any{"typing": true}, http.StatusForbidden, "M_FORBIDDEN"},
				{"after leaving", bob, typingPath(roomID, bob.UserID), map[string]any{"typing": true}, http.StatusForbidden, "M_FORBIDDEN"},
				{"unknown room", alice, typingPath("!nowhere:localhost", alice.UserID), map[string]any{"typing": true}, http.StatusForbidden, "M_FORBIDDEN"},
				{"typing missing", alice, typingPath(roomID, alice.UserID), map[string]any{"timeout": 1000}, http.StatusBadRequest, "M_MISSING_PARAM"},
				{"typing not a boolean", alice, typingPath(roomID, alice.UserID), map[string]any{"typing": "yes"}, http.StatusBadRequest, "M_BAD_JSON"},
				{"negative timeout", alice, typingPath(roomID, alice.UserID), map[string]any{"typing": true, "timeout": -1}, http.StatusBadRequest, "M_INVALID_PARAM"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					wantError(t, ts.do(t, http.MethodPut, tc.path, tc.cli.AccessToken, tc.body), tc.status, tc.errcode)
				})
			}
		})
	})
}

// TestReceipts covers read receipts: others see a member's m.read (waking their long polls),
// only the owner sees m.read.private, threaded receipts keep their thread, receipts never move
// back, read markers set receipts, and receipts need a member and a visible event of the room.
func TestReceipts(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		first := mustSend(t, alice, roomID, "first")
		second := mustSend(t, alice, roomID, "second")
		aliceSince := ts.sync(t, alice, url.Values{}).NextBatch
		bobSince := ts.sync(t, bob, url.Values{}).NextBatch

		wait := longPollAsync(t, ts, alice, aliceSince)
		if err := bob.MarkRead(ctx, roomID, first); err != nil {
			t.Fatalf("bob reads: %v", err)
		}
		resp, elapsed := wait()
		if elapsed > 20*time.Second {
			t.Errorf("the long poll returned after %v, not on bob's receipt", elapsed)
		}
		want := []receipt{{first, event.ReceiptTypeRead, bob.UserID, ""}}
		if diff := cmp.Diff(want, receiptsIn(t, resp, roomID)); diff != "" {
			t.Fatalf("alice's long poll (-want +got):\n%s", diff)
		}
		aliceSince = resp.NextBatch

		if err := bob.SendReceipt(ctx, roomID, second, event.ReceiptTypeReadPrivate, nil); err != nil {
			t.Fatalf("bob's private receipt: %v", err)
		}
		if got := receiptsIn(t, ts.sync(t, alice, url.Values{"since": {aliceSince}}), roomID); len(got) != 0 {
			t.Errorf("alice sees bob's private receipt: %v", got)
		}
		resp = ts.sync(t, bob, url.Values{"since": {bobSince}})
		want = sortedReceipts(receipt{first, event.ReceiptTypeRead, bob.UserID, ""}, receipt{second, event.ReceiptTypeReadPrivate, bob.UserID, ""})
		if diff := cmp.Diff(want, receiptsIn(t, resp, roomID)); diff != "" {
			t.Errorf("bob's own sync (-want +got):\n%s", diff)
		}

		t.Run("threads", func(t *testing.T) {
			since := ts.sync(t, alice, url.Values{}).NextBatch
			if err := bob.SendReceipt(ctx, roomID, second, event.ReceiptTypeRead, &mautrix.ReqSendReceipt{ThreadID: "main"}); err != nil {
				t.Fatal(err)
			}
			if err := bob.SendReceipt(ctx, roomID, second, event.ReceiptTypeRead, &mautrix.ReqSendReceipt{ThreadID: string(first)}); err != nil {
				t.Fatal(err)
			}
			want := sortedReceipts(receipt{second, event.ReceiptTypeRead, bob.UserID, string(first)}, receipt{second, event.ReceiptTypeRead, bob.UserID, "main"})
			if diff := cmp.Diff(want, receiptsIn(t, ts.sync(t, alice, url.Values{"since": {since}}), roomID)); diff != "" {
				t.Errorf("threaded receipts (-want +got):\n%s", diff)
			}
		})

		t.Run("never backwards", func(t *testing.T) {
			since := ts.sync(t, alice, url.Values{}).NextBatch
			if err := bob.MarkRead(ctx, roomID, second); err != nil {
				t.Fatal(err)
			}
			if err := bob.MarkRead(ctx, roomID, first); err != nil {
				t.Fatalf("an older receipt is accepted (and ignored): %v", err)
			}
			want := []receipt{{second, event.ReceiptTypeRead, bob.UserID, ""}}
			if diff := cmp.Diff(want, receiptsIn(t, ts.sync(t, alice, url.Values{"since": {since}}), roomID)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})

		t.Run("read markers", func(t *testing.T) {
			third := mustSend(t, alice, roomID, "third")
			since := ts.sync(t, alice, url.Values{}).NextBatch
			err := bob.SetReadMarkers(ctx, roomID, map[string]id.EventID{"m.fully_read": third, "m.read": third, "m.read.private": third})
			if err != nil {
				t.Fatal(err)
			}
			want := []receipt{{third, event.ReceiptTypeRead, bob.UserID, ""}}
			if diff := cmp.Diff(want, receiptsIn(t, ts.sync(t, alice, url.Values{"since": {since}}), roomID)); diff != "" {
				t.Errorf("alice after bob's read markers (-want +got):\n%s", diff)
			}
			// m.fully_read belongs in room account data; it is never an m.receipt.
			for _, r := range receiptsIn(t, ts.sync(t, bob, url.Values{}), roomID) {
				if r.Type == syncapi.ReceiptTypeFullyRead {
					t.Errorf("m.fully_read sent as a receipt: %v", r)
				}
			}
			if err := bob.SendReceipt(ctx, roomID, third, syncapi.ReceiptTypeFullyRead, nil); err != nil {
				t.Errorf("m.fully_read through /receipt: %v", err)
			}
		})

		t.Run("initial sync", func(t *testing.T) {
			mustJoin(t, carol, string(roomID))
			got := receiptsIn(t, ts.sync(t, carol, url.Values{}), roomID)
			for _, r := range got {
				if r.Type == event.ReceiptTypeReadPrivate {
					t.Errorf("carol's initial sync has bob's private receipt: %v", r)
				}
			}
			if !slices.ContainsFunc(got, func(r receipt) bool {
				return r.UserID == bob.UserID && r.Type == event.ReceiptTypeRead && r.ThreadID == ""
			}) {
				t.Errorf("carol's initial sync lacks bob's read receipt: %v", got)
			}
			own := receiptsIn(t, ts.sync(t, bob, url.Values{}), roomID)
			if !slices.ContainsFunc(own, func(r receipt) bool { return r.UserID == bob.UserID && r.Type == event.ReceiptTypeReadPrivate }) {
				t.Errorf("bob's initial sync lacks his private receipt: %v", own)
			}
		})

		t.Run("refusals", func(t *testing.T) {
			other := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
			elsewhere := mustSend(t, alice, other, "elsewhere")
			dave := ts.register(t, "dave")
			receiptPath := func(typ string, evID id.EventID) string {
				return roomPath(roomID, "/receipt/"+typ+"/"+url.PathEscape(string(evID)))
			}
			tests := []struct {
				name    string
				cli     *mautrix.Client
				path    string
				body    any
				status  int
				errcode string
			}{
				{"unknown event", bob, receiptPath("m.read", "$nothing"), map[string]any{}, http.StatusNotFound, "M_NOT_FOUND"},
				{"event of another room", bob, receiptPath("m.read", elsewhere), map[string]any{}, http.StatusNotFound, "M_NOT_FOUND"},
				{"not a member", dave, receiptPath("m.read", first), map[string]any{}, http.StatusForbidden, "M_FORBIDDEN"},
				{"unknown receipt type", bob, receiptPath("m.seen", first), map[string]any{}, http.StatusBadRequest, "M_INVALID_PARAM"},
				{"empty thread_id", bob, receiptPath("m.read", first), map[string]any{"thread_id": ""}, http.StatusBadRequest, "M_INVALID_PARAM"},
				{"thread_id not a string", bob, receiptPath("m.read", first), map[string]any{"thread_id": 1}, http.StatusBadRequest, "M_INVALID_PARAM"},
				{"thread_id on m.fully_read", bob, receiptPath("m.fully_read", first), map[string]any{"thread_id": "main"}, http.StatusBadRequest, "M_INVALID_PARAM"},
				{"read marker on an unknown event", bob, roomPath(roomID, "/read_markers"), map[string]any{"m.fully_read": "$nothing"}, http.StatusNotFound, "M_NOT_FOUND"},
				{"read marker not an event ID", bob, roomPath(roomID, "/read_markers"), map[string]any{"m.read": "nothing"}, http.StatusBadRequest, "M_INVALID_PARAM"},
				{"read markers of a non-member", dave, roomPath(roomID, "/read_markers"), map[string]any{"m.read": first}, http.StatusForbidden, "M_FORBIDDEN"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					wantError(t, ts.do(t, http.MethodPost, tc.path, tc.cli.AccessToken, tc.body), tc.status, tc.errcode)
				})
			}
			// No body at all is an unthreaded receipt.
			wantOK(t, ts.do(t, http.MethodPost, receiptPath("m.read", second), bob.AccessToken, nil))
		})
	})
}

// TestSyncTokenStreams checks next_batch carries every stream's position and that tokens of
// the older one-stream format still work: they read with typing and receipts at zero, so the
// next answer brings the room's receipts, and positions never go backwards.
func TestSyncTokenStreams(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		msg := mustSend(t, alice, roomID, "read me")
		if err := bob.MarkRead(ctx, roomID, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.UserTyping(ctx, roomID, true, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		first := ts.sync(t, alice, url.Values{})
		tok, err := syncapi.ParseStreamToken(first.NextBatch)
		if err != nil {
			t.Fatalf("next_batch %q: %v", first.NextBatch, err)
		}
		if strings.Count(first.NextBatch, "_") != 6 || tok.Events == 0 || tok.Typing == 0 || tok.Receipts == 0 || tok.AccountData == 0 {
			t.Errorf("next_batch %q lacks a stream position", first.NextBatch)
		}

		oldFormat := fmt.Sprintf("s%d", tok.Events)
		resp := ts.sync(t, alice, url.Values{"since": {oldFormat}})
		want := []receipt{{msg, event.ReceiptTypeRead, bob.UserID, ""}}
		if diff := cmp.Diff(want, receiptsIn(t, resp, roomID)); diff != "" {
			t.Errorf("sync since the old-format token %q (-want +got):\n%s", oldFormat, diff)
		}
		if users, _ := typingIn(t, resp, roomID); !slices.Equal(users, []id.UserID{bob.UserID}) {
			t.Errorf("sync since the old-format token: typing %v, want bob", users)
		}
		next, err := syncapi.ParseStreamToken(resp.NextBatch)
		if err != nil {
			t.Fatal(err)
		}
		if next.Events < tok.Events || next.Typing < tok.Typing || next.Receipts < tok.Receipts || next.AccountData < tok.AccountData || next.Presence < tok.Presence {
			t.Errorf("next_batch went backwards: %+v after %+v", next, tok)
		}
		// Nothing changed since next: an incremental sync brings nothing.
		again := ts.sync(t, alice, url.Values{"since": {resp.NextBatch}})
		if len(again.Rooms.Join) != 0 {
			t.Errorf("a sync with nothing new has rooms: %v", again.Rooms.Join)
		}
		// A newer server's token with a sixth stream is read without it.
		wantOK(t, ts.do(t, http.MethodGet, "/_matrix/client/v3/sync?since="+url.QueryEscape(resp.NextBatch+"_5"), alice.AccessToken, nil))
	})
}
