package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type allowResult struct {
	ok    bool
	retry time.Duration
}

func TestRateLimiterRefill(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := NewRateLimiter(2, 3, WithClock(clock.Now)) // 3 at once, then one every 500ms

	steps := []struct {
		advance time.Duration
		key     string
		want    allowResult
	}{
		{0, "@a:hs", allowResult{true, 0}},
		{0, "@a:hs", allowResult{true, 0}},
		{0, "@a:hs", allowResult{true, 0}},
		{0, "@a:hs", allowResult{false, 500 * time.Millisecond}},
		{0, "@b:hs", allowResult{true, 0}}, // keys are independent
		{200 * time.Millisecond, "@a:hs", allowResult{false, 300 * time.Millisecond}},
		{300 * time.Millisecond, "@a:hs", allowResult{true, 0}},
		{0, "@a:hs", allowResult{false, 500 * time.Millisecond}},
		// A long idle period refills to burst, not beyond.
		{time.Hour, "@a:hs", allowResult{true, 0}},
		{0, "@a:hs", allowResult{true, 0}},
		{0, "@a:hs", allowResult{true, 0}},
		{0, "@a:hs", allowResult{false, 500 * time.Millisecond}},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		ok, retry := l.Allow(s.key)
		if got := (allowResult{ok, retry}); got != s.want {
			t.Errorf("step %d: Allow(%s) = %+v, want %+v", i, s.key, got, s.want)
		}
	}
}

func TestRateLimiterClockGoesBack(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := NewRateLimiter(1, 1, WithClock(clock.Now))
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("first request refused")
	}
	clock.Advance(-time.Hour)
	if ok, retry := l.Allow("k"); ok || retry <= 0 {
		t.Errorf("Allow after the clock went back = %v, %v; want refused with a positive wait", ok, retry)
	}
}

func TestRateLimiterDisabled(t *testing.T) {
	t.Parallel()
	for name, l := range map[string]*RateLimiter{
		"nil":       nil,
		"zero rate": NewRateLimiter(0, 1),
		"negative":  NewRateLimiter(-1, 10),
	} {
		for range 100 {
			if ok, retry := l.Allow("k"); !ok || retry != 0 {
				t.Fatalf("%s: Allow = %v, %v; want always allowed", name, ok, retry)
			}
		}
		if err := l.Check("k"); err != nil {
			t.Errorf("%s: Check = %v", name, err)
		}
	}
}

func TestRateLimiterZeroBurstAllowsOne(t *testing.T) {
	t.Parallel()
	l := NewRateLimiter(1, 0, WithClock(newFakeClock().Now))
	if ok, _ := l.Allow("k"); !ok {
		t.Error("burst 0 refused the first request")
	}
	if ok, _ := l.Allow("k"); ok {
		t.Error("burst 0 allowed a second request at once")
	}
}

func TestRateLimiterEvictsIdleBuckets(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := NewRateLimiter(1, 2, WithClock(clock.Now)) // fills in 2s
	for i := range 50 {
		l.Allow(fmt.Sprintf("idle%d", i))
	}
	l.Allow("busy")
	l.Allow("busy")
	if got := l.Len(); got != 51 {
		t.Fatalf("Len = %d, want 51", got)
	}
	clock.Advance(1 * time.Second) // not yet full: nothing may go
	l.Allow("busy")
	if got := l.Len(); got != 51 {
		t.Fatalf("Len after 1s = %d, want 51", got)
	}
	clock.Advance(1 * time.Second) // the idle buckets (one token used) are full again
	l.Allow("new")
	if got := l.Len(); got != 2 {
		t.Errorf("Len after sweep = %d, want 2 (busy, new)", got)
	}
	// busy kept its state: it spent a token 1s ago and refilled one since.
	if ok, _ := l.Allow("busy"); !ok {
		t.Error("busy refused")
	}
	if ok, _ := l.Allow("busy"); ok {
		t.Error("busy was reset by the sweep")
	}
}

func TestRateLimiterMaxKeys(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := NewRateLimiter(0.001, 1, WithClock(clock.Now), WithMaxKeys(32)) // nothing refills
	for i := range 1000 {
		l.Allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		if got := l.Len(); got > 32 {
			t.Fatalf("after %d keys Len = %d, want at most 32", i+1, got)
		}
	}
	// Eviction happens only when a key is added, so a key's own bucket survives its insertion.
	if ok, _ := l.Allow("last"); !ok {
		t.Error("new key refused")
	}
	if ok, _ := l.Allow("last"); ok {
		t.Error("new key's bucket was dropped right after insertion")
	}
}

func TestRateLimiterConcurrent(t *testing.T) {
	t.Parallel()
	l := NewRateLimiter(1e-9, 100) // no refill within the test
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if ok, _ := l.Allow("shared"); ok {
					allowed.Add(1)
				}
				l.Allow(fmt.Sprint("own", allowed.Load()%7))
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 100 {
		t.Errorf("allowed %d requests, want exactly the burst of 100", got)
	}
}

func TestRateLimiterCheck(t *testing.T) {
	t.Parallel()
	l := NewRateLimiter(0.5, 1, WithClock(newFakeClock().Now))
	if err := l.Check("k"); err != nil {
		t.Fatal(err)
	}
	err := l.Check("k")
	var resp mautrix.RespError
	if !errors.As(err, &resp) {
		t.Fatalf("Check = %v, want a RespError", err)
	}
	if resp.ErrCode != "M_LIMIT_EXCEEDED" || resp.StatusCode != 429 || resp.ExtraHeader["Retry-After"] != "2" || resp.ExtraData["retry_after_ms"] != int64(2000) {
		t.Errorf("Check = %+v, want M_LIMIT_EXCEEDED 429 retrying in 2s", resp)
	}
}

func TestRateLimitMiddleware(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := NewRateLimiter(1, 1, WithClock(clock.Now))
	key := func(r *http.Request) string {
		if r.Header.Get("X-Exempt") != "" {
			return ""
		}
		return RemoteIP(r)
	}
	var served int
	h := RateLimit(l, nil, key)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
	}))
	do := func(remote string, exempt bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/login", nil)
		req.RemoteAddr = remote
		if exempt {
			req.Header.Set("X-Exempt", "1")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	if rec := do("192.0.2.1:1000", false); rec.Code != http.StatusOK {
		t.Fatalf("first request: %d", rec.Code)
	}
	rec := do("192.0.2.1:2000", false) // same IP, other port
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("second request: %d, want 429", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	body := decodeBody(t, rec)
	if body["errcode"] != "M_LIMIT_EXCEEDED" || body["retry_after_ms"] != 1000.0 {
		t.Errorf("body = %v", body)
	}
	if rec := do("192.0.2.2:1000", false); rec.Code != http.StatusOK {
		t.Errorf("other IP: %d", rec.Code)
	}
	for range 5 {
		if rec := do("192.0.2.1:1000", true); rec.Code != http.StatusOK {
			t.Errorf("exempt request: %d", rec.Code)
		}
	}
	clock.Advance(time.Second)
	if rec := do("192.0.2.1:1000", false); rec.Code != http.StatusOK {
		t.Errorf("after refill: %d", rec.Code)
	}
	if served != 8 {
		t.Errorf("served %d requests, want 8", served)
	}
}

func TestRemoteIP(t *testing.T) {
	t.Parallel()
	for remote, want := range map[string]string{
		"192.0.2.1:1234":    "192.0.2.1",
		"[2001:db8::1]:443": "2001:db8::1",
		"not-an-address":    "not-an-address",
		"":                  "",
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = remote
		if got := RemoteIP(req); got != want {
			t.Errorf("RemoteIP(%q) = %q, want %q", remote, got, want)
		}
	}
}
