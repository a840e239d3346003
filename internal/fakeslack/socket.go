package fakeslack

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Socket Mode (https://docs.slack.dev/apis/events-api/using-socket-mode) as the fake
// speaks it:
//
//   - apps.connections.open, called with the app-level token, answers a one-time ws:// URL.
//   - On connect the server sends {"type":"hello",…}; then events_api envelopes.
//   - The client acknowledges an envelope by sending {"envelope_id":"…"}.
//   - The server pings every PingInterval. slack-go's socketmode client treats a missing
//     ping as a dead connection and reconnects.
//   - {"type":"disconnect","reason":…} asks the client to reconnect; it closes the socket.
//
// Each envelope goes to one open connection, taken in turn. An envelope not acknowledged
// when its connection closes is sent again on another connection, or on the next one to
// open, with retry_attempt incremented, as Slack retries unacknowledged events.
//
// When the server closes a connection (DropSockets, a failed write, Uninstall), it first
// forgets the connection and takes its unacknowledged envelopes back, all under the hub's
// lock, and only then closes the socket. A client that reconnects at once therefore never
// gets a new envelope on the dead connection, and gets the taken-back envelopes before any
// newer one: envelopes wait in the order they were first sent.

// socketWriteTimeout bounds each write to a Socket Mode connection.
const socketWriteTimeout = 5 * time.Second

// socketHub holds the open Socket Mode connections and the envelopes not yet acknowledged.
// It has its own lock: the workspace sends events while holding Server.mu, and the hub
// never calls back into the workspace.
type socketHub struct {
	pingInterval time.Duration

	mu      sync.Mutex
	closed  bool
	tickets map[string]string // unused connection tickets, to the app ID they were issued for
	conns   []*socketConn     // open connections, in the order they opened
	turn    int               // picks the connection for the next envelope
	unacked []*envelope       // in the order they were first sent
	changed chan struct{}     // closed and replaced whenever conns or unacked change
}

// socketConn is one open Socket Mode connection. Only its writer goroutine writes to ws.
type socketConn struct {
	ws       *websocket.Conn
	outbox   [][]byte      // messages waiting for the writer; guarded by socketHub.mu
	draining bool          // a disconnect was sent: no new envelopes; guarded by socketHub.mu
	closing  bool          // to be closed once its envelopes are acknowledged; guarded by socketHub.mu
	gone     bool          // unregistered, and done closed; guarded by socketHub.mu
	wake     chan struct{} // tells the writer the outbox has messages
	done     chan struct{} // closed when the connection is gone
}

// envelope is an events_api message and its delivery state.
type envelope struct {
	id      string
	payload json.RawMessage // the event_callback
	attempt int             // retry_attempt: how many times it was sent before
	conn    *socketConn     // the connection it was last sent on; nil while none is open
}

func newSocketHub(pingInterval time.Duration) *socketHub {
	return &socketHub{
		pingInterval: pingInterval,
		tickets:      map[string]string{},
		changed:      make(chan struct{}),
	}
}

// handleOpenConnection serves apps.connections.open: a one-time WebSocket URL on the fake.
func (w *workspace) handleOpenConnection(*call) (obj, error) {
	ticket := w.hub.newTicket(w.app.appID)
	wsURL := "ws" + strings.TrimPrefix(w.baseURL, "http") + "/link/?ticket=" + ticket + "&app_id=" + w.app.appID
	return obj{"url": wsURL}, nil
}

var upgrader = websocket.Upgrader{
	// slack-go sends "Origin: https://api.slack.com", which the default check refuses.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveSocket serves GET /link/?ticket=…: the Socket Mode WebSocket. It returns when the
// connection closes.
func (s *Server) serveSocket(rw http.ResponseWriter, r *http.Request) {
	appID, ok := s.hub.useTicket(r.URL.Query().Get("ticket"))
	if !ok {
		http.Error(rw, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(rw, r, nil)
	if err != nil {
		return // the upgrader has answered already
	}
	s.hub.serve(ws, appID)
}

func (h *socketHub) newTicket(appID string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ticket := randomHex(16)
	h.tickets[ticket] = appID
	return ticket
}

func (h *socketHub) useTicket(ticket string) (appID string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	appID, ok = h.tickets[ticket]
	delete(h.tickets, ticket)
	return appID, ok
}

// serve greets a new connection, runs its writer and reads acknowledgements until the
// connection fails or is closed.
func (h *socketHub) serve(ws *websocket.Conn, appID string) {
	c := &socketConn{ws: ws, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if !h.add(c, appID) {
		_ = ws.Close()
		return
	}
	go h.write(c)
	h.read(c)
	h.remove(c)
	_ = ws.Close()
}

// add registers c, queues its hello and hands it the envelopes that wait for a connection.
func (h *socketHub) add(c *socketConn, appID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns = append(h.conns, c)
	h.queue(c, obj{
		"type":            "hello",
		"num_connections": len(h.conns),
		"debug_info":      obj{"host": "applink-fake-1", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": obj{"app_id": appID},
	})
	h.deliverWaiting()
	h.signal()
	return true
}

// remove forgets c, once its reader has stopped, and sends its unacknowledged envelopes
// again elsewhere. It does nothing when the server closed c and so forgot it already.
func (h *socketHub) remove(c *socketConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unregister(c)
	h.deliverWaiting()
	h.signal()
}

// unregister forgets c and takes back the envelopes sent on it and not acknowledged: they
// wait, with retry_attempt incremented, for deliverWaiting. It closes c.done, once; the
// socket itself is the caller's to close. h.mu must be held.
func (h *socketHub) unregister(c *socketConn) {
	if c.gone {
		return
	}
	c.gone = true
	h.conns = slices.DeleteFunc(h.conns, func(open *socketConn) bool { return open == c })
	close(c.done)
	for _, env := range h.unacked {
		if env.conn == c {
			env.attempt++
			env.conn = nil
		}
	}
}

// deliverWaiting sends the envelopes that wait for a connection, oldest first, if one is
// open. h.mu must be held.
func (h *socketHub) deliverWaiting() {
	for _, env := range h.unacked {
		if env.conn == nil {
			h.deliver(env)
		}
	}
}

// drop forgets c as unregister does, sends its envelopes again elsewhere, and closes its
// socket: the server ends a connection.
func (h *socketHub) drop(c *socketConn) {
	h.mu.Lock()
	h.unregister(c)
	h.deliverWaiting()
	h.signal()
	h.mu.Unlock()
	_ = c.ws.Close()
}

// read handles what the client sends: acknowledgements. Pongs are handled by the
// websocket package while reading.
func (h *socketHub) read(c *socketConn) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(data, &ack) == nil && ack.EnvelopeID != "" {
			h.ack(ack.EnvelopeID)
		}
	}
}

// write sends c's outbox and the periodic pings until c is gone.
func (h *socketHub) write(c *socketConn) {
	ticker := time.NewTicker(h.pingInterval)
	defer ticker.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-ticker.C:
			if c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(socketWriteTimeout)) != nil {
				h.drop(c)
				return
			}
		case <-c.wake:
			for _, msg := range h.takeOutbox(c) {
				_ = c.ws.SetWriteDeadline(time.Now().Add(socketWriteTimeout))
				if c.ws.WriteMessage(websocket.TextMessage, msg) != nil {
					h.drop(c)
					return
				}
			}
			if h.finished(c) {
				h.drop(c)
				return
			}
		}
	}
}

func (h *socketHub) takeOutbox(c *socketConn) [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	msgs := c.outbox
	c.outbox = nil
	return msgs
}

// send queues an events_api envelope carrying payload, an event_callback.
func (h *socketHub) send(payload json.RawMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	env := &envelope{id: newUUID(), payload: payload}
	h.unacked = append(h.unacked, env)
	h.deliver(env)
	h.signal()
}

// discardWaiting drops the envelopes that wait for a connection and returns how many.
func (h *socketHub) discardWaiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	kept := h.unacked[:0]
	for _, env := range h.unacked {
		if env.conn != nil {
			kept = append(kept, env)
		}
	}
	n := len(h.unacked) - len(kept)
	h.unacked = kept
	h.signal()
	return n
}

// deliver sends env on the next connection in turn that is not draining, or leaves it
// waiting when there is none. h.mu must be held.
func (h *socketHub) deliver(env *envelope) {
	env.conn = nil
	var open []*socketConn
	for _, c := range h.conns {
		if !c.draining {
			open = append(open, c)
		}
	}
	if len(open) == 0 {
		return
	}
	h.turn++
	env.conn = open[h.turn%len(open)]
	retryReason := ""
	if env.attempt > 0 {
		retryReason = "timeout"
	}
	h.queue(env.conn, obj{
		"envelope_id":              env.id,
		"type":                     "events_api",
		"accepts_response_payload": false,
		"retry_attempt":            env.attempt,
		"retry_reason":             retryReason,
		"payload":                  env.payload,
	})
}

// queue adds a message to c's outbox and wakes its writer. h.mu must be held.
func (h *socketHub) queue(c *socketConn, msg obj) {
	data, _ := json.Marshal(msg)
	c.outbox = append(c.outbox, data)
	wake(c)
}

// wake tells c's writer to look at c again, without waiting.
func wake(c *socketConn) {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (h *socketHub) ack(envelopeID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, env := range h.unacked {
		if env.id == envelopeID {
			h.unacked = append(h.unacked[:i], h.unacked[i+1:]...)
			if env.conn != nil && env.conn.closing {
				wake(env.conn) // it may be done now
			}
			h.signal()
			return
		}
	}
}

// finished reports whether c is to be closed now: it is closing, everything queued for it
// is written and every envelope sent on it is acknowledged.
func (h *socketHub) finished(c *socketConn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !c.closing || len(c.outbox) > 0 {
		return false
	}
	for _, env := range h.unacked {
		if env.conn == c {
			return false
		}
	}
	return true
}

// signal wakes everyone waiting for a change. h.mu must be held.
func (h *socketHub) signal() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// sendDisconnect asks every connection's client to reconnect and stops giving them new
// envelopes.
func (h *socketHub) sendDisconnect(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.draining = true
		h.queue(c, obj{"type": "disconnect", "reason": reason, "debug_info": obj{"host": "applink-fake-1"}})
	}
	h.signal()
}

// dropAll closes every connection abruptly. The connections are forgotten and their
// envelopes taken back before any socket closes, so that nothing new is sent on them.
func (h *socketHub) dropAll() {
	h.mu.Lock()
	conns := slices.Clone(h.conns)
	for _, c := range conns {
		h.unregister(c)
	}
	h.signal()
	h.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close()
	}
}

// closeWhenAcked stops giving the open connections envelopes and closes each once what
// was sent on it is written and acknowledged, or after grace at the latest.
func (h *socketHub) closeWhenAcked(grace time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.draining = true
		c.closing = true
		wake(c)
		time.AfterFunc(grace, func() { h.drop(c) })
	}
	h.signal()
}

// close refuses new connections and drops the open ones.
func (h *socketHub) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.dropAll()
}

func (h *socketHub) connCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

func (h *socketHub) unackedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.unacked)
}

func (h *socketHub) waitAcked(ctx context.Context) error {
	return h.waitUntil(ctx, func() bool { return len(h.unacked) == 0 })
}

func (h *socketHub) waitConns(ctx context.Context, n int) error {
	return h.waitUntil(ctx, func() bool {
		open := 0
		for _, c := range h.conns {
			if !c.draining {
				open++
			}
		}
		return open >= n
	})
}

// waitUntil blocks until done, evaluated with h.mu held, reports true, or ctx ends.
func (h *socketHub) waitUntil(ctx context.Context, done func() bool) error {
	for {
		h.mu.Lock()
		ok, changed := done(), h.changed
		h.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
