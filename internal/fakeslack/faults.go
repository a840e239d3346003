package fakeslack

import (
	"context"
	"time"
)

// faults holds the injected failures and the call counters. It is guarded by Server.mu.
type faults struct {
	calls  map[string]int        // Web API calls by method, rate-limited ones included
	limits map[string]*rateLimit // pending 429 answers by method
}

// rateLimit is a run of 429 answers still to give for one method.
type rateLimit struct {
	remaining  int
	retryAfter time.Duration
}

func newFaults() faults {
	return faults{calls: map[string]int{}, limits: map[string]*rateLimit{}}
}

// takeRateLimit uses up one injected 429 for method, if any is left.
func (f *faults) takeRateLimit(method string) (time.Duration, bool) {
	limit, ok := f.limits[method]
	if !ok {
		return 0, false
	}
	limit.remaining--
	if limit.remaining <= 0 {
		delete(f.limits, method)
	}
	return limit.retryAfter, true
}

// RateLimit makes the next times calls to method ("chat.postMessage") fail with HTTP 429
// and a Retry-After header of retryAfter, rounded up to whole seconds as Slack sends it.
// slack-go reports such an answer as *slack.RateLimitedError.
func (s *Server) RateLimit(method string, times int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times <= 0 {
		delete(s.faults.limits, method)
		return
	}
	s.faults.limits[method] = &rateLimit{remaining: times, retryAfter: retryAfter}
}

// CallCount reports how many times method was called, whatever the answer was.
func (s *Server) CallCount(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.calls[method]
}

// DropSockets closes every Socket Mode connection without a close frame, as a network
// failure would. Envelopes sent on them and not acknowledged are delivered again, with
// retry_attempt incremented, once a connection is open.
func (s *Server) DropSockets() { s.hub.dropAll() }

// SendDisconnect sends {"type":"disconnect","reason":reason} on every Socket Mode
// connection, as Slack does before it refreshes a connection ("refresh_requested",
// "warning", "link_disabled"). The connections stay open until the client closes them.
func (s *Server) SendDisconnect(reason string) { s.hub.sendDisconnect(reason) }

// DiscardUndelivered drops the events that wait for a Socket Mode connection, as Slack gives
// up on events it could not deliver while the app was away, and returns how many it dropped.
// An app then finds what it missed only in the history.
func (s *Server) DiscardUndelivered() int { return s.hub.discardWaiting() }

// SocketCount reports how many Socket Mode connections are open.
func (s *Server) SocketCount() int { return s.hub.connCount() }

// Unacked reports how many events_api envelopes are not acknowledged yet.
func (s *Server) Unacked() int { return s.hub.unackedCount() }

// WaitAcked blocks until every envelope sent so far is acknowledged, or ctx is done.
func (s *Server) WaitAcked(ctx context.Context) error { return s.hub.waitAcked(ctx) }

// WaitSockets blocks until n Socket Mode connections are open and greeted, or ctx is done.
func (s *Server) WaitSockets(ctx context.Context, n int) error { return s.hub.waitConns(ctx, n) }

// WaitDisconnected blocks until no Socket Mode connection is open, or ctx is done: Slack has
// noticed that the app went away, so what it sends from now on waits for a new connection.
func (s *Server) WaitDisconnected(ctx context.Context) error {
	return s.hub.waitUntil(ctx, func() bool { return len(s.hub.conns) == 0 })
}
