package fakeslack

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

// testConn is the server side of a real WebSocket connection, registered with no reader or
// writer, so that the test decides when the hub notices what.
func testConn(t *testing.T) *socketConn {
	t.Helper()
	accepted := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(rw, r, nil)
		if err != nil {
			return
		}
		accepted <- ws
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	ws := <-accepted
	t.Cleanup(func() { _ = ws.Close() })
	return &socketConn{ws: ws, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// outboxSummary lists c's queued messages: "hello", or an envelope's text and retry_attempt.
func outboxSummary(t *testing.T, c *socketConn) []string {
	t.Helper()
	var out []string
	for _, data := range c.outbox {
		var msg struct {
			Type         string `json:"type"`
			RetryAttempt int    `json:"retry_attempt"`
			Payload      struct {
				Text string `json:"text"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(data, &msg); err != nil {
			t.Fatal(err)
		}
		if msg.Type == "hello" {
			out = append(out, "hello")
		} else {
			out = append(out, msg.Payload.Text+"/"+string(rune('0'+msg.RetryAttempt)))
		}
	}
	return out
}

// TestDropAllBeforeReaderNotices replays the race of a dropped connection whose reader
// has not noticed yet while the client has reconnected: nothing new goes to the dead
// connection, and its unacknowledged envelope reaches the new one before newer ones.
func TestDropAllBeforeReaderNotices(t *testing.T) {
	t.Parallel()
	h := newSocketHub(time.Hour)
	payload := func(text string) json.RawMessage { return json.RawMessage(`{"text":"` + text + `"}`) }

	dead := testConn(t)
	h.add(dead, "A1")
	h.send(payload("one")) // sent, never acknowledged
	h.dropAll()            // the server drops the connection; its reader has not noticed
	h.send(payload("two")) // posted in the gap
	fresh := testConn(t)
	h.add(fresh, "A1") // the client reconnected at once
	h.send(payload("three"))
	h.remove(dead) // the dead connection's reader notices at last: nothing more to do

	h.mu.Lock()
	defer h.mu.Unlock()
	if diff := cmp.Diff([]string{"hello", "one/0"}, outboxSummary(t, dead)); diff != "" {
		t.Errorf("dead connection's messages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"hello", "one/1", "two/0", "three/0"}, outboxSummary(t, fresh)); diff != "" {
		t.Errorf("new connection's messages (-want +got):\n%s", diff)
	}
	if len(h.conns) != 1 || h.conns[0] != fresh {
		t.Errorf("%d connections registered, want only the new one", len(h.conns))
	}
	select {
	case <-dead.done:
	default:
		t.Error("the dead connection's done is not closed")
	}
}
