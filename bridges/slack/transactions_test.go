package slack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"causeway/homeserver/storage/storagetest"
)

// TestTransactionAnsweredOnceBridged sends the bridge a transaction as the homeserver does:
// the answer comes only after its message is in Slack (even when Slack makes the bridge wait),
// so that a crash before then makes the homeserver send it again; a redelivery posts nothing
// twice; a wrong token or a body that is not JSON is refused.
func TestTransactionAnsweredOnceBridged(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		bob, roomID := e.joinGeneral(t, "bob")
		put := func(txnID, token, body string) int {
			t.Helper()
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://slack.appservice.internal/_matrix/app/v1/transactions/"+txnID, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := e.transport.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		txn := `{"events":[{"type":"m.room.message","room_id":"` + roomID.String() + `","sender":"` + bob.UserID.String() +
			`","event_id":"$synchronous1","origin_server_ts":1,"content":{"msgtype":"m.text","body":"answered after"}}]}`
		e.slack.RateLimit("chat.postMessage", 1, time.Second)
		start := time.Now()
		if status := put("t1", e.hsToken, txn); status != http.StatusOK {
			t.Fatalf("transaction answered %d", status)
		}
		if time.Since(start) < 900*time.Millisecond {
			t.Errorf("answered after %v, before Slack's rate limit let the message through", time.Since(start))
		}
		count := func() int {
			msgs, _ := e.slack.Messages(e.general.ID)
			n := 0
			for _, m := range msgs {
				if m.Text == "answered after" {
					n++
				}
			}
			return n
		}
		if n := count(); n != 1 {
			t.Fatalf("when the transaction was answered, Slack had %d copies, want 1", n)
		}
		if status := put("t1", e.hsToken, txn); status != http.StatusOK || count() != 1 {
			t.Errorf("a redelivered transaction: %d, %d copies in Slack", status, count())
		}
		if status := put("t2", "not-the-token", txn); status != http.StatusForbidden && status != http.StatusUnauthorized {
			t.Errorf("a wrong token: %d", status)
		}
		if status := put("t3", e.hsToken, "{not json"); status != http.StatusBadRequest {
			t.Errorf("a body that is not JSON: %d", status)
		}
	})
}
