package fakeslack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Events API over HTTP (https://docs.slack.dev/apis/events-api/) as the fake speaks it:
//
//   - UseEventsAPI sets the app's Request URL, as an admin does in the app's settings. The
//     fake first POSTs a url_verification challenge there and keeps the old setting unless
//     the answer is 200 with the challenge echoed, as JSON {"challenge":…} or as bare text.
//   - From then on each event_callback is POSTed there instead of going over Socket Mode,
//     signed with the signing secret
//     (https://docs.slack.dev/authentication/verifying-requests-from-slack/).
//   - A 2xx answer within EventTimeout delivers the event. Otherwise the event is sent again
//     after each of EventRetryDelays, with X-Slack-Retry-Num and X-Slack-Retry-Reason
//     (http_error, http_timeout or connection_failed), and dropped when the last retry fails.
//     Later events do not wait for a retry.
//
// One sender goroutine posts first attempts in the order the events happened; each retry
// runs in a goroutine of its own. Deliberate differences from Slack: redirects are not
// followed (a 3xx answer is an http_error), and the fake never turns an app's events off
// after too many failures, so that a test of retries cannot switch delivery off by accident.

// Slack's defaults for Options.EventRetryDelays and Options.EventTimeout: it retries "up to
// 3 times: nearly immediately, after one minute, after five minutes", and waits 3 seconds
// for an answer.
var defaultEventRetryDelays = []time.Duration{0, time.Minute, 5 * time.Minute}

const defaultEventTimeout = 3 * time.Second

// maxAnswer bounds how much of an answer's body the fake reads.
const maxAnswer = 64 << 10

// slackUserAgent is the User-Agent of Slack's requests to apps.
const slackUserAgent = "Slackbot 1.0 (+https://api.slack.com/robots)"

// The reasons a delivery fails, as X-Slack-Retry-Reason names them on the retry.
const (
	reasonHTTPError        = "http_error"
	reasonHTTPTimeout      = "http_timeout"
	reasonConnectionFailed = "connection_failed"
)

// eventPoster delivers events to the app's Request URL once UseEventsAPI has set one. It has
// its own lock: the workspace queues events while holding Server.mu, and the poster never
// calls back into the workspace.
type eventPoster struct {
	client      *http.Client
	secret      string
	retryDelays []time.Duration
	timeout     time.Duration
	wake        chan struct{}  // tells the sender the queue has events
	wg          sync.WaitGroup // the sender and the retries

	// stop is the poster's lifetime, not a request's: close cancels it to end the POSTs under
	// way and the waits for retries.
	stop   context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	requestURL string        // "" while events go over Socket Mode
	queue      []*delivery   // first attempts waiting for the sender, in the order emitted
	pending    int           // events queued, being posted or waiting for a retry
	dropped    int           // events given up after the last retry
	closed     bool          // close was called: nothing is queued any more
	changed    chan struct{} // closed and replaced whenever pending or closed changes
}

// delivery is one event_callback on its way to the Request URL.
type delivery struct {
	url     string // the Request URL when the event happened
	payload []byte
	retries int    // 0 for the first attempt, then the retry's X-Slack-Retry-Num
	reason  string // why the attempt before this retry failed: its X-Slack-Retry-Reason
}

func newEventPoster(secret string, retryDelays []time.Duration, timeout time.Duration) *eventPoster {
	stop, cancel := context.WithCancel(context.Background())
	p := &eventPoster{
		client: &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		secret:      secret,
		retryDelays: retryDelays,
		timeout:     timeout,
		wake:        make(chan struct{}, 1),
		stop:        stop,
		cancel:      cancel,
		changed:     make(chan struct{}),
	}
	p.wg.Go(p.run)
	return p
}

// SigningSecret is the app's signing secret, which signs every request the fake sends to
// the Request URL.
func (s *Server) SigningSecret() string { return s.poster.secret }

// UseEventsAPI sets the app's Request URL to requestURL, as a Slack admin does in the app's
// settings: it POSTs a signed url_verification challenge there and requires a 200 answer
// that echoes it. When the answer is anything else it returns an error and changes nothing.
// Once it succeeds, every later event is POSTed to requestURL instead of going over Socket
// Mode; envelopes already sent on sockets stay there.
func (s *Server) UseEventsAPI(ctx context.Context, requestURL string) error {
	if err := s.poster.verify(ctx, requestURL); err != nil {
		return fmt.Errorf("fakeslack: Request URL %s: %w", requestURL, err)
	}
	s.poster.setRequestURL(requestURL)
	return nil
}

// DroppedEvents reports how many events the fake gave up on after their last HTTP retry
// failed.
func (s *Server) DroppedEvents() int {
	s.poster.mu.Lock()
	defer s.poster.mu.Unlock()
	return s.poster.dropped
}

// WaitEventsDelivered blocks until no HTTP delivery or retry is pending, or ctx is done: each
// event sent to the Request URL so far was either answered with 2xx or dropped. It returns
// at once after Close.
func (s *Server) WaitEventsDelivered(ctx context.Context) error {
	p := s.poster
	for {
		p.mu.Lock()
		done, changed := p.pending == 0 || p.closed, p.changed
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// verify sends requestURL the url_verification challenge and checks the answer.
func (p *eventPoster) verify(ctx context.Context, requestURL string) error {
	challenge := randomHex(24)
	body, _ := json.Marshal(obj{"token": verificationToken, "challenge": challenge, "type": "url_verification"})
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := p.newRequest(ctx, requestURL, body)
	if err != nil {
		return err
	}
	status, answer, err := p.roundTrip(req)
	switch {
	case err != nil:
		return err
	case status != http.StatusOK:
		return fmt.Errorf("answered the url_verification with HTTP %d, want 200", status)
	case !echoes(answer, challenge):
		return fmt.Errorf("answered the url_verification with %q, which does not echo the challenge %q", answer, challenge)
	}
	return nil
}

// echoes reports whether answer, the body of a url_verification answer, gives challenge
// back in one of the forms Slack documents: JSON {"challenge":…} or the bare text. The JSON
// key must be spelled exactly so, although encoding/json would match "Challenge" too.
func echoes(answer []byte, challenge string) bool {
	var echo map[string]any
	if json.Unmarshal(answer, &echo) == nil {
		return echo["challenge"] == challenge
	}
	return strings.TrimSpace(string(answer)) == challenge
}

func (p *eventPoster) setRequestURL(requestURL string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requestURL = requestURL
}

// enqueue queues payload, an event_callback, for the Request URL and reports whether one is
// set; when none is, the caller sends the event over Socket Mode. It never blocks.
func (p *eventPoster) enqueue(payload []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.requestURL == "" {
		return false
	}
	if p.closed {
		return true // the server is closed: nothing is delivered any more
	}
	p.queue = append(p.queue, &delivery{url: p.requestURL, payload: payload})
	p.pending++
	p.signal()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return true
}

// run is the sender: it posts the queued events one at a time, in order, until close.
func (p *eventPoster) run() {
	for {
		select {
		case <-p.stop.Done():
			return
		case <-p.wake:
		}
		for d := p.next(); d != nil; d = p.next() {
			p.attempt(d)
		}
	}
}

// next takes the oldest queued event, or returns nil when the queue is empty.
func (p *eventPoster) next() *delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return nil
	}
	d := p.queue[0]
	p.queue = p.queue[1:]
	return d
}

// attempt posts d once and settles it: delivered, retried later or dropped. It does nothing
// once the poster is closed.
func (p *eventPoster) attempt(d *delivery) {
	if p.stop.Err() != nil {
		return
	}
	reason := p.post(d)
	switch {
	case p.stop.Err() != nil:
		// Closed while posting: the failure, if any, is the fake's own.
	case reason == "":
		p.settle(false)
	case d.retries == len(p.retryDelays):
		p.settle(true)
	default:
		p.retryLater(d, reason)
	}
}

// post sends d to its Request URL and returns why it failed, or "" when the app answered
// 2xx in time.
func (p *eventPoster) post(d *delivery) (reason string) {
	ctx, cancel := context.WithTimeout(p.stop, p.timeout)
	defer cancel()
	req, err := p.newRequest(ctx, d.url, d.payload)
	if err != nil {
		return reasonConnectionFailed // not seen: UseEventsAPI posted to the URL already
	}
	if d.retries > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(d.retries))
		req.Header.Set("X-Slack-Retry-Reason", d.reason)
	}
	status, _, err := p.roundTrip(req)
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return reasonHTTPTimeout
	case err != nil:
		return reasonConnectionFailed
	case status < 200 || status > 299:
		return reasonHTTPError
	}
	return ""
}

// retryLater posts d again after the next of the retry delays, in a goroutine of its own,
// so that later events do not wait for it. failed is why the latest attempt failed.
func (p *eventPoster) retryLater(d *delivery, failed string) {
	delay := p.retryDelays[d.retries]
	d.retries++
	d.reason = failed
	// The caller is the sender or a retry, both counted in wg, so this Add cannot race
	// with close's Wait.
	p.wg.Go(func() {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
			p.attempt(d)
		case <-p.stop.Done():
		}
	})
}

// settle marks one event as no longer pending: delivered, or dropped after its last retry.
func (p *eventPoster) settle(dropped bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending--
	if dropped {
		p.dropped++
	}
	p.signal()
}

// newRequest builds a POST of body to url with the headers Slack sends, signed with a fresh
// timestamp. The timestamp is the real time, not the fake clock's: apps refuse a signature
// more than five minutes from their own clock.
func (p *eventPoster) newRequest(ctx context.Context, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	timestamp := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", slackUserAgent)
	req.Header.Set("X-Slack-Request-Timestamp", timestamp)
	req.Header.Set("X-Slack-Signature", sign(p.secret, timestamp, body))
	return req, nil
}

// sign returns the X-Slack-Signature of body sent at timestamp: "v0=" and the hex
// HMAC-SHA256 of "v0:<timestamp>:<body>" keyed with the signing secret.
func sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// roundTrip sends req and returns the answer's status and up to maxAnswer bytes of its body.
// Reading the body counts towards the request's deadline, as Slack waits for the whole answer.
func (p *eventPoster) roundTrip(req *http.Request) (status int, body []byte, err error) {
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, body, err
}

// signal wakes everyone waiting for a change. p.mu must be held.
func (p *eventPoster) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// close stops the sender and the pending retries, ends the POSTs under way and waits for
// their goroutines to return.
func (p *eventPoster) close() {
	p.mu.Lock()
	p.closed = true
	p.queue = nil
	p.signal()
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	p.client.CloseIdleConnections()
}
