package slackconn_test

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
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"causeway/bridges/slack/slackconn"
)

const testSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// httpConfig is a Conn's configuration for events over HTTP: a signing secret, no app token.
func (f *fixture) httpConfig() slackconn.Config {
	cfg := f.config()
	cfg.AppToken, cfg.SigningSecret = "", testSigningSecret
	return cfg
}

// eventsEndpoint serves conn's EventsHandler over loopback and returns its URL.
func eventsEndpoint(t *testing.T, conn *slackconn.Conn) string {
	t.Helper()
	srv := httptest.NewServer(conn.EventsHandler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// slackRequest is a request as Slack sends it: signed with secret at the given time.
type slackRequest struct {
	body     []byte
	secret   string
	at       time.Time
	retryNum int
}

func (r slackRequest) send(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	at := r.at
	if at.IsZero() {
		at = time.Now()
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(r.secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, r.body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	if r.retryNum > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(r.retryNum))
		req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// callback is an event_callback carrying a message event.
func callback(eventID, channel, ts, text string) []byte {
	body, _ := json.Marshal(map[string]any{
		"token": "verification", "team_id": "T0FAKE001", "api_app_id": "A1", "type": "event_callback",
		"event_id": eventID, "event_time": 1_700_000_000,
		"event": map[string]any{"type": "message", "channel": channel, "channel_type": "channel",
			"user": "U1", "text": text, "ts": ts, "event_ts": ts},
	})
	return body
}

func TestEventsAnswerURLVerification(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	url := eventsEndpoint(t, slackconn.New(f.httpConfig()))

	body := []byte(`{"token":"verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	code, out := slackRequest{body: body, secret: testSigningSecret}.send(t, url)
	if code != http.StatusOK || out != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("url_verification answered %d %q, want 200 with the challenge", code, out)
	}
}

func TestEventsRefuseBadRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.httpConfig())
	var rec recorder
	start(t, conn, &rec)
	waitConnected(t, conn)
	url := eventsEndpoint(t, conn)
	good := callback("Ev1", f.general.ID, "1700000000.000100", "hello")

	for _, tc := range []struct {
		name string
		req  slackRequest
		want int
	}{
		{"wrong secret", slackRequest{body: good, secret: "not-the-secret"}, http.StatusUnauthorized},
		{"stale timestamp", slackRequest{body: good, secret: testSigningSecret, at: time.Now().Add(-6 * time.Minute)}, http.StatusUnauthorized},
		{"future timestamp", slackRequest{body: good, secret: testSigningSecret, at: time.Now().Add(6 * time.Minute)}, http.StatusUnauthorized},
		{"malformed JSON", slackRequest{body: []byte(`{"type":`), secret: testSigningSecret}, http.StatusBadRequest},
		{"too large", slackRequest{body: bytes.Repeat([]byte(" "), 1<<20+1), secret: testSigningSecret}, http.StatusRequestEntityTooLarge},
	} {
		if code, out := tc.req.send(t, url); code != tc.want {
			t.Errorf("%s: answered %d %q, want %d", tc.name, code, out, tc.want)
		}
	}

	unsigned, err := http.Post(url, "application/json", bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	unsigned.Body.Close()
	if unsigned.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unsigned request answered %d, want 401", unsigned.StatusCode)
	}
	get, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d, want 405", get.StatusCode)
	}
	if got := rec.seen(); len(got) != 0 {
		t.Errorf("the handler saw %d events from refused requests", len(got))
	}
	if logs := f.logs.String(); strings.Contains(logs, testSigningSecret) {
		t.Errorf("the signing secret was logged:\n%s", logs)
	}
}

func TestEventsDeliveredInOrderOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.httpConfig())
	var rec recorder
	start(t, conn, &rec)
	waitConnected(t, conn)
	url := eventsEndpoint(t, conn)

	want := map[string]string{}
	for i := range 10 {
		text, ts := fmt.Sprintf("message %d", i), fmt.Sprintf("1700000000.%06d", i+1)
		want[text] = ts
		body := callback(fmt.Sprintf("Ev%d", i), f.general.ID, ts, text)
		if code, out := (slackRequest{body: body, secret: testSigningSecret}).send(t, url); code != http.StatusOK {
			t.Fatalf("event %d answered %d %q", i, code, out)
		}
		if got := len(rec.seen()); got != i+1 {
			t.Fatalf("answered before it was handled: %d events handled after %d answers", got, i+1)
		}
	}
	// Slack's retry of an event already answered: answered, not handled again.
	retry := slackRequest{body: callback("Ev3", f.general.ID, want["message 3"], "message 3"), secret: testSigningSecret, retryNum: 1}
	if code, _ := retry.send(t, url); code != http.StatusOK {
		t.Errorf("a retry answered %d, want 200", code)
	}
	checkExactlyOnce(t, rec.seen(), want)
	st := conn.Status()
	if st.Transport != slackconn.TransportEventsAPI || st.Events != 10 || st.Duplicates != 1 || !st.Connected {
		t.Errorf("status %+v, want events_api, connected, 10 events and 1 duplicate", st)
	}
	if got := rec.seen()[0].meta; got.EventID != "Ev0" || got.RetryAttempt != 0 {
		t.Errorf("the first event's meta is %+v", got)
	}
}

func TestEventsRetriedWhileHandled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.httpConfig())
	release := make(chan struct{})
	rec := recorder{block: func(ctx context.Context, s seen) error {
		if s.text == "slow" {
			<-release
		}
		return nil
	}}
	start(t, conn, &rec)
	waitConnected(t, conn)
	url := eventsEndpoint(t, conn)

	slow := callback("EvSlow", f.general.ID, "1700000000.000001", "slow")
	first := make(chan int, 1)
	go func() {
		code, _ := slackRequest{body: slow, secret: testSigningSecret}.send(t, url)
		first <- code
	}()
	waitUntil(t, "the slow event to be taken", func() bool { return conn.Status().LastEventAt.After(time.Time{}) })
	// Slack gave up waiting and retries while the first delivery is still being handled.
	retried := make(chan int, 1)
	go func() {
		code, _ := slackRequest{body: slow, secret: testSigningSecret, retryNum: 1}.send(t, url)
		retried <- code
	}()
	time.Sleep(50 * time.Millisecond) // let the retry queue behind the first delivery
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("the first delivery answered %d", code)
	}
	if code := <-retried; code != http.StatusOK {
		t.Errorf("the retry answered %d", code)
	}
	if got := rec.seen(); len(got) != 1 {
		t.Errorf("the handler saw %d events, want the slow one once", len(got))
	}
}

func TestEventsRefusedWhileNotRunning(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.httpConfig())
	url := eventsEndpoint(t, conn)
	body := callback("Ev1", f.general.ID, "1700000000.000100", "too early")
	if code, _ := (slackRequest{body: body, secret: testSigningSecret}).send(t, url); code != http.StatusServiceUnavailable {
		t.Errorf("before Run: answered %d, want 503 for Slack to retry", code)
	}

	var rec recorder
	r := start(t, conn, &rec)
	waitConnected(t, conn)
	if code, _ := (slackRequest{body: body, secret: testSigningSecret, retryNum: 1}).send(t, url); code != http.StatusOK {
		t.Errorf("Slack's retry once Run runs: answered %d, want 200", code)
	}
	r.cancel()
	if err := r.result(t, waitTimeout); err != nil {
		t.Errorf("Run returned %v", err)
	}
	if code, _ := (slackRequest{body: callback("Ev2", f.general.ID, "1700000000.000200", "too late"), secret: testSigningSecret}).send(t, url); code != http.StatusServiceUnavailable {
		t.Errorf("after Run: answered %d, want 503", code)
	}
	if got := rec.seen(); len(got) != 1 || got[0].text != "too early" {
		t.Errorf("the handler saw %+v, want the retried event only", got)
	}
}

func TestEventsHandlerFailureAnswered(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.httpConfig())
	rec := recorder{block: func(context.Context, seen) error { return errors.New("portal unavailable") }}
	start(t, conn, &rec)
	waitConnected(t, conn)
	url := eventsEndpoint(t, conn)
	body := callback("Ev1", f.general.ID, "1700000000.000100", "hello")
	if code, _ := (slackRequest{body: body, secret: testSigningSecret}).send(t, url); code != http.StatusOK {
		t.Errorf("answered %d, want 200: a bridge-side failure is left to catch-up, not to Slack's retries", code)
	}
	if st := conn.Status(); st.HandlerErrors != 1 || !strings.Contains(st.LastError, "portal unavailable") {
		t.Errorf("status %+v, want the handler error counted", st)
	}
}

func TestEventsHandlerOfSocketModeConn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	url := eventsEndpoint(t, slackconn.New(f.config()))
	body := callback("Ev1", f.general.ID, "1700000000.000100", "hello")
	if code, _ := (slackRequest{body: body, secret: testSigningSecret}).send(t, url); code != http.StatusNotFound {
		t.Errorf("a Socket Mode workspace's events endpoint answered %d, want 404", code)
	}
}
