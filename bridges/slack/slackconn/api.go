package slackconn

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"
)

// API makes Web API calls with one of a workspace's tokens, within Slack's rate limits.
// Its methods are safe for concurrent use.
type API struct {
	conn   *Conn
	kind   string // TokenBot or TokenUser
	client *slackgo.Client
}

// API returns the Web API of the workspace's bot token.
func (c *Conn) API() *API { return c.api }

// UserAPI returns a Web API for a user's token (xoxp-…), for double puppeting. It shares
// the workspace's per-method rate limits with the bot, as Slack counts them per app,
// workspace and method. A refused user token comes back from Do as *AuthError with Token
// TokenUser and concerns that user only: the workspace stays up.
func (c *Conn) UserAPI(token string) *API {
	return &API{conn: c, kind: TokenUser, client: c.newClient(token)}
}

// Client is the slack-go client for the API's token. Call its methods inside Do, so that
// rate limits and refused tokens are handled.
func (a *API) Client() *slackgo.Client { return a.client }

// Do runs call, which makes one call of the Web API method named method (like
// "chat.postMessage") with a's Client, and returns its error.
//
// When Slack answers 429, Do waits for the Retry-After and calls again, as often as it
// takes, until ctx ends. The wait is kept per method for the whole workspace: other
// callers of the same method wait too instead of being refused in turn, and once the wait
// is over one call goes first, the others following when it succeeds. Status counts the
// calls, the 429s and the callers waiting on each method (its queue depth).
//
// Do returns only when the call has succeeded or failed for good, so calls made one after
// the other by one goroutine reach Slack in that order: a rate-limited chat.postMessage is
// delivered later, but before the next one. Keeping each channel's messages in order is the
// caller's part: one goroutine per channel.
//
// A refused token (invalid_auth, token_revoked, …) comes back as *AuthError. For the bot
// token it also fails the Conn: Status shows AuthFailed, Run stops, and later calls return
// the same *AuthError without reaching Slack.
func (a *API) Do(ctx context.Context, method string, call func(ctx context.Context) error) error {
	return a.do(ctx, method, false, call)
}

// do is Do; essential says whether the workspace cannot work without the method, which
// makes missing_scope a refused token rather than a missing feature.
func (a *API) do(ctx context.Context, method string, essential bool, call func(ctx context.Context) error) error {
	c := a.conn
	if a.kind == TokenBot {
		if ae := c.authError(); ae != nil && ae.Token == TokenBot {
			return ae
		}
	}
	m := c.limits.method(method)
	for {
		probe, err := m.acquire(ctx)
		if err != nil {
			return err
		}
		err = call(ctx)
		if retryAfter, limited := rateLimited(err); limited {
			m.limited(retryAfter, probe)
			c.log.WarnContext(ctx, "Slack rate limit: waiting",
				slog.String("method", method), slog.Duration("retry_after", retryAfter))
			continue
		}
		m.release(probe)
		if err == nil {
			return nil
		}
		if ae := c.authFailure(err, a.kind, essential); ae != nil {
			if a.kind == TokenUser {
				c.log.WarnContext(ctx, "Slack refused a user's token",
					slog.String("method", method), slog.String("slack_error", ae.SlackError))
			} else {
				c.fail(ctx, ae)
			}
			return ae
		}
		return err
	}
}

// defaultRetryAfter is the wait after a 429 that came without a usable Retry-After.
const defaultRetryAfter = time.Second

// rateLimited reports whether err is Slack's 429, and how long to wait.
func rateLimited(err error) (time.Duration, bool) {
	if err == nil {
		return 0, false
	}
	if rl, ok := errors.AsType[*slackgo.RateLimitedError](err); ok {
		if rl.RetryAfter <= 0 {
			return defaultRetryAfter, true
		}
		return rl.RetryAfter, true
	}
	if sc, ok := errors.AsType[slackgo.StatusCodeError](err); ok && sc.Code == http.StatusTooManyRequests {
		return defaultRetryAfter, true
	}
	return 0, false
}

// limits is a workspace's rate-limit state, by method.
type limits struct {
	mu      sync.Mutex
	methods map[string]*methodState
}

func (l *limits) method(name string) *methodState {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.methods[name]
	if !ok {
		m = &methodState{changed: make(chan struct{})}
		l.methods[name] = m
	}
	return m
}

func (l *limits) snapshot() map[string]MethodStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]MethodStatus, len(l.methods))
	for name, m := range l.methods {
		out[name] = m.status()
	}
	return out
}

// methodState is one method's rate limit: until when Slack asked to wait, and who waits.
type methodState struct {
	mu           sync.Mutex
	blockedUntil time.Time
	// recovering is set by a 429 and cleared by the first call that succeeds after it: while
	// it is set, one call at a time probes whether the limit is over.
	recovering bool
	probing    bool          // the probing call is in flight
	changed    chan struct{} // closed and replaced when blockedUntil or probing change
	waiting    int
	calls      int64
	limited429 int64
}

// acquire waits until a call of the method may go, and counts it. probe says that the call
// is the first after a 429; the caller must then report its outcome with limited or release.
func (m *methodState) acquire(ctx context.Context) (probe bool, err error) {
	queued := false
	m.mu.Lock()
	for {
		wait := time.Until(m.blockedUntil)
		if wait <= 0 && !m.probing {
			if m.recovering {
				m.probing, probe = true, true
			}
			if queued {
				m.waiting--
			}
			m.calls++
			m.mu.Unlock()
			return probe, nil
		}
		if !queued {
			queued = true
			m.waiting++
		}
		changed := m.changed
		m.mu.Unlock()

		var timer *time.Timer
		var expired <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-expired:
		}
		if timer != nil {
			timer.Stop()
		}
		m.mu.Lock()
		if ctx.Err() != nil {
			m.waiting--
			m.mu.Unlock()
			return false, ctx.Err()
		}
	}
}

// limited records a 429 answered to a call: the method waits retryAfter from now.
func (m *methodState) limited(retryAfter time.Duration, probe bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.limited429++
	if until := time.Now().Add(retryAfter); until.After(m.blockedUntil) {
		m.blockedUntil = until
	}
	m.recovering = true
	if probe {
		m.probing = false
	}
	m.signal()
}

// release records that a call got an answer other than 429. After a probe, everyone waiting
// may go.
func (m *methodState) release(probe bool) {
	if !probe {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.probing, m.recovering = false, false
	m.signal()
}

// signal wakes the waiting callers. m.mu must be held.
func (m *methodState) signal() {
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *methodState) status() MethodStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return MethodStatus{Calls: m.calls, RateLimited: m.limited429, Waiting: m.waiting, BlockedUntil: m.blockedUntil}
}
