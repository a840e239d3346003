package fakeslack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"causeway/internal/fakeslack"
)

// appRequest is one request the fake sent to the app's Request URL.
type appRequest struct {
	method string
	header http.Header
	body   []byte
}

// retry returns the request's X-Slack-Retry-Num and X-Slack-Retry-Reason, "" and "" on a
// first attempt.
func (r appRequest) retry() [2]string {
	return [2]string{r.header.Get("X-Slack-Retry-Num"), r.header.Get("X-Slack-Retry-Reason")}
}

// serveRequestURL serves the app's Request URL until the test ends: it passes each request
// to the test on the returned channel, then answers it with answer, which can read the body
// again.
func serveRequestURL(t *testing.T, answer http.HandlerFunc) (string, <-chan appRequest) {
	t.Helper()
	got := make(chan appRequest, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case got <- appRequest{method: r.Method, header: r.Header.Clone(), body: body}:
		case <-r.Context().Done():
			return
		}
		answer(rw, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

// challengeOf returns the challenge of a url_verification request, or "" for anything else.
func challengeOf(r *http.Request) string {
	var v slackevents.EventsAPIURLVerificationEvent
	if json.NewDecoder(r.Body).Decode(&v) != nil || v.Type != slackevents.URLVerification {
		return ""
	}
	return v.Challenge
}

// answerChallenge answers a url_verification with {"challenge":…} and reports whether r
// was one.
func answerChallenge(rw http.ResponseWriter, r *http.Request) bool {
	challenge := challengeOf(r)
	if challenge == "" {
		return false
	}
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(map[string]string{"challenge": challenge})
	return true
}

// acceptAll is a Request URL that passes the url_verification and takes every event.
func acceptAll(rw http.ResponseWriter, r *http.Request) { answerChallenge(rw, r) }

// failFirstAttempts is a Request URL that passes the url_verification and fails the first
// attempt at each event with fail, taking its retries.
func failFirstAttempts(fail http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if !answerChallenge(rw, r) && r.Header.Get("X-Slack-Retry-Num") == "" {
			fail(rw, r)
		}
	}
}

// useEventsAPI sets the Request URL and takes its url_verification request off got.
func (f *fixture) useEventsAPI(t *testing.T, requestURL string, got <-chan appRequest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := f.srv.UseEventsAPI(ctx, requestURL); err != nil {
		t.Fatal(err)
	}
	if ev := parseOuter(t, nextRequest(t, got)); ev.Type != slackevents.URLVerification {
		t.Fatalf("first request is a %s, want the url_verification", ev.Type)
	}
}

func nextRequest(t *testing.T, got <-chan appRequest) appRequest {
	t.Helper()
	select {
	case req := <-got:
		return req
	case <-time.After(eventTimeout):
		t.Fatalf("no request to the Request URL within %s", eventTimeout)
		return appRequest{}
	}
}

// checkNoRequest fails the test if the Request URL got a request it has not taken.
func checkNoRequest(t *testing.T, got <-chan appRequest) {
	t.Helper()
	select {
	case req := <-got:
		t.Errorf("unexpected request to the Request URL: %s", req.body)
	default:
	}
}

func waitDelivered(t *testing.T, srv *fakeslack.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := srv.WaitEventsDelivered(ctx); err != nil {
		t.Fatalf("events still pending: %v", err)
	}
}

// checkSigned fails the test unless slack-go's SecretsVerifier accepts req with secret.
func checkSigned(t *testing.T, req appRequest, secret string) {
	t.Helper()
	if err := verifySignature(req, secret); err != nil {
		t.Errorf("signature of %s: %v", req.body, err)
	}
}

func verifySignature(req appRequest, secret string) error {
	sv, err := slackgo.NewSecretsVerifier(req.header, secret)
	if err != nil {
		return err
	}
	if _, err := sv.Write(req.body); err != nil {
		return err
	}
	return sv.Ensure()
}

// parseOuter parses req's body as slack-go's Events API handler does, without the
// deprecated verification token.
func parseOuter(t *testing.T, req appRequest) slackevents.EventsAPIEvent {
	t.Helper()
	ev, err := slackevents.ParseEvent(req.body, slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatalf("slackevents.ParseEvent(%s): %v", req.body, err)
	}
	return ev
}

// parseCallback parses req as an event_callback and returns it and its inner event.
func parseCallback(t *testing.T, req appRequest) (*slackevents.EventsAPICallbackEvent, any) {
	t.Helper()
	ev := parseOuter(t, req)
	cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok {
		t.Fatalf("request is a %s, want an event_callback: %s", ev.Type, req.body)
	}
	return cb, ev.InnerEvent.Data
}

// messageText returns the text of req's message event.
func messageText(t *testing.T, req appRequest) string {
	t.Helper()
	_, inner := parseCallback(t, req)
	msg, ok := inner.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("inner event is %T, want a message", inner)
	}
	return msg.Text
}

func TestEventsAPIURLVerification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer http.HandlerFunc
		ok     bool
	}{
		{"JSON echo", acceptAll, true},
		{"plain echo", func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(rw, challengeOf(r))
		}, true},
		{"wrong echo", func(rw http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(rw).Encode(map[string]string{"challenge": challengeOf(r) + "x"})
		}, false},
		{"JSON key not as Slack spells it", func(rw http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(rw).Encode(slackevents.ChallengeResponse{Challenge: challengeOf(r)}) // {"Challenge":…}
		}, false},
		{"no echo", func(http.ResponseWriter, *http.Request) {}, false},
		{"error", func(rw http.ResponseWriter, r *http.Request) {
			rw.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(rw).Encode(map[string]string{"challenge": challengeOf(r)})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fakeslack.Options{})
			requestURL, got := serveRequestURL(t, tt.answer)

			err := f.srv.UseEventsAPI(context.Background(), requestURL)
			if (err == nil) != tt.ok {
				t.Fatalf("UseEventsAPI = %v, want success %v", err, tt.ok)
			}
			verification := nextRequest(t, got)
			checkSigned(t, verification, f.srv.SigningSecret())
			v, ok := parseOuter(t, verification).Data.(*slackevents.EventsAPIURLVerificationEvent)
			if !ok || v.Type != "url_verification" || v.Token == "" || len(v.Challenge) < 16 || verification.method != http.MethodPost {
				t.Errorf("verification request %s %s, want a POSTed url_verification with a token and a challenge", verification.method, verification.body)
			}

			f.post(t, f.alice.ID, "after the verification")
			waitDelivered(t, f.srv)
			if tt.ok {
				if text := messageText(t, nextRequest(t, got)); text != "after the verification" {
					t.Errorf("event posted with text %q", text)
				}
				if n := f.srv.Unacked(); n != 0 {
					t.Errorf("%d Socket Mode envelopes, want none once the Request URL is set", n)
				}
			} else if n := f.srv.Unacked(); n != 1 {
				t.Errorf("%d Socket Mode envelopes after a refused Request URL, want the event there", n)
			}
			checkNoRequest(t, got)
		})
	}
}

func TestEventsAPIURLVerificationUnreachable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	if err := f.srv.UseEventsAPI(context.Background(), gone.URL); err == nil {
		t.Fatal("UseEventsAPI succeeded with a Request URL nothing listens on")
	}
	f.post(t, f.alice.ID, "still over Socket Mode")
	if n := f.srv.Unacked(); n != 1 {
		t.Errorf("%d Socket Mode envelopes, want 1", n)
	}
}

func TestEventsAPIDelivers(t *testing.T) {
	t.Parallel()
	const secret = "8f742231b10e8888abcd99yyyzzz85a5" // the example in Slack's documentation
	f := newFixture(t, fakeslack.Options{SigningSecret: secret})
	if got := f.srv.SigningSecret(); got != secret {
		t.Errorf("SigningSecret() = %q, want %q", got, secret)
	}
	requestURL, got := serveRequestURL(t, acceptAll)
	f.useEventsAPI(t, requestURL, got)

	ts := f.post(t, f.alice.ID, "hello over HTTP")
	req := nextRequest(t, got)
	checkSigned(t, req, secret)
	if verifySignature(req, "another secret") == nil {
		t.Error("the signature checks out with another secret too")
	}
	headers := map[string]string{}
	for _, name := range []string{"Content-Type", "User-Agent", "X-Slack-Retry-Num", "X-Slack-Retry-Reason"} {
		headers[name] = req.header.Get(name)
	}
	wantHeaders := map[string]string{
		"Content-Type": "application/json", "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
		"X-Slack-Retry-Num": "", "X-Slack-Retry-Reason": "",
	}
	if diff := cmp.Diff(wantHeaders, headers); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	// The fixture's clock is stopped in 2023: the signature must use the real time.
	sent, err := strconv.ParseInt(req.header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(sent, 0)).Abs() > time.Minute {
		t.Errorf("X-Slack-Request-Timestamp = %q, want the real time", req.header.Get("X-Slack-Request-Timestamp"))
	}

	cb, inner := parseCallback(t, req)
	if cb.TeamID != f.srv.TeamID() || cb.APIAppID != f.srv.AppID() || cb.EventID == "" || cb.EventTime != 1700000000 {
		t.Errorf("event_callback = %+v", cb)
	}
	msg, ok := inner.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("inner event is %T, want a message", inner)
	}
	want := slackevents.MessageEvent{User: f.alice.ID, Text: "hello over HTTP", TimeStamp: ts, Channel: f.general.ID, ChannelType: "channel", EventTimeStamp: ts}
	gotMsg := slackevents.MessageEvent{User: msg.User, Text: msg.Text, TimeStamp: msg.TimeStamp, Channel: msg.Channel, ChannelType: msg.ChannelType, EventTimeStamp: msg.EventTimeStamp}
	if diff := cmp.Diff(want, gotMsg); diff != "" {
		t.Errorf("message event (-want +got):\n%s", diff)
	}
	waitDelivered(t, f.srv)
	if n := f.srv.Unacked(); n != 0 {
		t.Errorf("%d Socket Mode envelopes, want none", n)
	}
	checkNoRequest(t, got)
}

func TestEventsAPIOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	requestURL, got := serveRequestURL(t, acceptAll)
	f.useEventsAPI(t, requestURL, got)

	var posted, delivered []string
	for i := range 20 {
		text := fmt.Sprint("message ", i)
		f.post(t, f.alice.ID, text)
		posted = append(posted, text)
	}
	for range posted {
		delivered = append(delivered, messageText(t, nextRequest(t, got)))
	}
	if diff := cmp.Diff(posted, delivered); diff != "" {
		t.Errorf("events out of order (-posted +delivered):\n%s", diff)
	}
	waitDelivered(t, f.srv)
	checkNoRequest(t, got)
}

// TestEventsAPIRetries fails the first attempt at an event in each way Slack names and
// checks the retry that follows.
func TestEventsAPIRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fail    http.HandlerFunc
		timeout time.Duration // Options.EventTimeout; 0 for the default
		reason  string
	}{
		{"500", func(rw http.ResponseWriter, _ *http.Request) {
			rw.WriteHeader(http.StatusInternalServerError)
		}, 0, "http_error"},
		{"redirect", func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, "/elsewhere", http.StatusFound)
		}, 0, "http_error"},
		{"too slow", func(_ http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // until the fake gives up and hangs up
		}, 500 * time.Millisecond, "http_timeout"},
		{"hang up", func(rw http.ResponseWriter, _ *http.Request) {
			conn, _, err := http.NewResponseController(rw).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}, 0, "connection_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fakeslack.Options{EventRetryDelays: []time.Duration{0, 0, 0}, EventTimeout: tt.timeout})
			requestURL, got := serveRequestURL(t, failFirstAttempts(tt.fail))
			f.useEventsAPI(t, requestURL, got)

			f.post(t, f.alice.ID, "try again")
			first, retry := nextRequest(t, got), nextRequest(t, got)
			if diff := cmp.Diff([2]string{"", ""}, first.retry()); diff != "" {
				t.Errorf("first attempt's retry headers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([2]string{"1", tt.reason}, retry.retry()); diff != "" {
				t.Errorf("retry headers (-want +got):\n%s", diff)
			}
			checkSigned(t, retry, f.srv.SigningSecret())
			firstEvent, _ := parseCallback(t, first)
			retryEvent, _ := parseCallback(t, retry)
			if firstEvent.EventID != retryEvent.EventID || !bytes.Equal(first.body, retry.body) {
				t.Errorf("retry carries %s, want the same event as %s", retry.body, first.body)
			}
			waitDelivered(t, f.srv)
			if n := f.srv.DroppedEvents(); n != 0 {
				t.Errorf("DroppedEvents() = %d after a successful retry", n)
			}
			checkNoRequest(t, got)
		})
	}
}

func TestEventsAPIDropsAfterLastRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{EventRetryDelays: []time.Duration{0, 10 * time.Millisecond}})
	requestURL, got := serveRequestURL(t, func(rw http.ResponseWriter, r *http.Request) {
		if !answerChallenge(rw, r) {
			rw.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	f.useEventsAPI(t, requestURL, got)

	f.post(t, f.alice.ID, "nobody takes this")
	var attempts [][2]string
	for range 3 {
		attempts = append(attempts, nextRequest(t, got).retry())
	}
	waitDelivered(t, f.srv)
	want := [][2]string{{"", ""}, {"1", "http_error"}, {"2", "http_error"}}
	if diff := cmp.Diff(want, attempts); diff != "" {
		t.Errorf("attempts' retry headers (-want +got):\n%s", diff)
	}
	if n := f.srv.DroppedEvents(); n != 1 {
		t.Errorf("DroppedEvents() = %d, want 1", n)
	}
	checkNoRequest(t, got)
}

// TestEventsAPIRetryWaitsAlone fails an event whose retry is an hour away: the next event
// is delivered meanwhile, WaitEventsDelivered keeps waiting for the retry, and Close does
// not.
func TestEventsAPIRetryWaitsAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{EventRetryDelays: []time.Duration{time.Hour}})
	var failed atomic.Bool
	requestURL, got := serveRequestURL(t, func(rw http.ResponseWriter, r *http.Request) {
		if !answerChallenge(rw, r) && failed.CompareAndSwap(false, true) {
			rw.WriteHeader(http.StatusInternalServerError)
		}
	})
	f.useEventsAPI(t, requestURL, got)

	f.post(t, f.alice.ID, "first")
	if text := messageText(t, nextRequest(t, got)); text != "first" {
		t.Fatalf("first request carries %q", text)
	}
	f.post(t, f.alice.ID, "second")
	if text := messageText(t, nextRequest(t, got)); text != "second" {
		t.Errorf("the event after the failed one carries %q, want second", text)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.srv.WaitEventsDelivered(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitEventsDelivered with a retry pending = %v, want %v", err, context.DeadlineExceeded)
	}
	closed := make(chan struct{})
	go func() {
		f.srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(eventTimeout):
		t.Fatal("Close waits for the pending retry")
	}
	waitDelivered(t, f.srv)
	if n := f.srv.DroppedEvents(); n != 0 {
		t.Errorf("DroppedEvents() = %d, want 0: the retry was still pending", n)
	}
	checkNoRequest(t, got)
}

func TestEventsAPIUninstall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	requestURL, got := serveRequestURL(t, acceptAll)
	f.useEventsAPI(t, requestURL, got)

	f.srv.Uninstall()
	var types []string
	for range 2 {
		_, inner := parseCallback(t, nextRequest(t, got))
		types = append(types, fmt.Sprintf("%T", inner))
	}
	want := []string{"*slackevents.TokensRevokedEvent", "*slackevents.AppUninstalledEvent"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("events on Uninstall (-want +got):\n%s", diff)
	}
	f.post(t, f.alice.ID, "after the app is gone")
	waitDelivered(t, f.srv)
	checkNoRequest(t, got)
}
