package web

import (
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"causeway/homeserver/mxerr"
)

// defaultMaxKeys bounds a RateLimiter's memory when WithMaxKeys is not given.
const defaultMaxKeys = 100_000

// RateLimiter is a token bucket per key (a user ID, an IP address, a server name). Each bucket
// holds up to burst tokens and refills at perSecond tokens a second; a request takes one token.
// It is safe for concurrent use.
//
// Memory is bounded: a bucket that has been idle long enough to refill completely is the same
// as no bucket and is dropped by a periodic sweep, and when more than the key limit are busy
// at once, arbitrary buckets are dropped, handing those keys a fresh burst. That is the price of
// a bound an attacker with many addresses cannot push past.
type RateLimiter struct {
	rate     float64 // tokens per second
	burst    float64
	fillTime time.Duration // how long an empty bucket takes to fill up
	now      func() time.Time
	maxKeys  int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// RateLimiterOption configures a RateLimiter.
type RateLimiterOption func(*RateLimiter)

// WithClock makes the limiter read the time from now instead of time.Now, for tests.
func WithClock(now func() time.Time) RateLimiterOption {
	return func(l *RateLimiter) { l.now = now }
}

// WithMaxKeys bounds the number of buckets the limiter keeps (100,000 by default).
func WithMaxKeys(n int) RateLimiterOption {
	return func(l *RateLimiter) { l.maxKeys = max(n, 1) }
}

// NewRateLimiter returns a limiter that allows burst requests at once per key and refills at
// perSecond requests a second. perSecond <= 0 disables limiting (every request is allowed), so
// that a zero in the configuration turns a limit off; burst is at least 1.
func NewRateLimiter(perSecond float64, burst int, opts ...RateLimiterOption) *RateLimiter {
	l := &RateLimiter{
		rate:    perSecond,
		burst:   float64(max(burst, 1)),
		now:     time.Now,
		maxKeys: defaultMaxKeys,
		buckets: make(map[string]*bucket),
	}
	for _, opt := range opts {
		opt(l)
	}
	if l.rate > 0 {
		l.fillTime = time.Duration(min(l.burst/l.rate*float64(time.Second), math.MaxInt64/2))
	}
	l.lastSweep = l.now()
	return l
}

// Allow takes a token from key's bucket. When the bucket is empty it reports false and how long
// until the next token. A nil or disabled limiter allows everything.
func (l *RateLimiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()

	if now.Sub(l.lastSweep) >= l.fillTime {
		l.sweep(now)
	}
	b, found := l.buckets[key]
	if !found {
		if len(l.buckets) >= l.maxKeys {
			l.makeRoom(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	} else if elapsed := now.Sub(b.last); elapsed > 0 { // ignore a clock that went back
		b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := math.Ceil((1 - b.tokens) / l.rate * float64(time.Second))
	return false, time.Duration(min(max(wait, 1), math.MaxInt64/2))
}

// Check is Allow as an error: nil, or M_LIMIT_EXCEEDED saying when to retry.
func (l *RateLimiter) Check(key string) error {
	if ok, retry := l.Allow(key); !ok {
		return mxerr.LimitExceededAfter(retry)
	}
	return nil
}

// Len returns how many buckets the limiter holds.
func (l *RateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sweep drops the buckets that would be full by now. It runs under l.mu.
func (l *RateLimiter) sweep(now time.Time) {
	for key, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, key)
		}
	}
	l.lastSweep = now
}

// makeRoom frees space for a new bucket: first the full ones, then, if all are busy, an
// arbitrary sixteenth of them, so that the next inserts need no sweep. It runs under l.mu.
func (l *RateLimiter) makeRoom(now time.Time) {
	l.sweep(now)
	if len(l.buckets) < l.maxKeys {
		return
	}
	drop := max(l.maxKeys/16, len(l.buckets)-l.maxKeys+1)
	for key := range l.buckets {
		if drop == 0 {
			break
		}
		delete(l.buckets, key)
		drop--
	}
}

// RateLimit returns middleware that refuses a request with M_LIMIT_EXCEEDED (429, with
// Retry-After) when the bucket of key(r) is empty. key returns "" for requests that are exempt,
// such as those of application services with rate_limited: false.
func RateLimit(l *RateLimiter, log *slog.Logger, key func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if k := key(r); k != "" {
				if err := l.Check(k); err != nil {
					WriteError(w, r, log, err)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RemoteIP returns the IP address of r's peer, without the port: a rate-limit key for
// unauthenticated endpoints. Behind a reverse proxy, cmd must first rewrite r.RemoteAddr from
// the trusted proxy's forwarding header.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
