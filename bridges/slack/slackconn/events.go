package slackconn

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// How the Events API over HTTP works (https://docs.slack.dev/apis/events-api/), the
// alternative to Socket Mode for an app that has Socket Mode off: Slack POSTs each event to
// the app's Request URL, which the bridge serves with EventsHandler.
//
//   - Every request is verified before anything else is read from it: the v0 signature of
//     its body with the app's signing secret, and a timestamp within five minutes of now
//     (slack-go's SecretsVerifier). A valid request replayed within those five minutes is
//     dropped as a duplicate by its event_id.
//   - url_verification, which Slack sends when an admin enters the Request URL, is answered
//     with its challenge.
//   - An event_callback is handed to Run's goroutine, which handles events one at a time as it
//     does over Socket Mode, and the request is answered 200 once the handler has returned:
//     an answered event is a handled one. Slack waits three seconds for the answer; past them
//     it sends the event again (X-Slack-Retry-Num), and the retry, which queues behind the
//     original, is dropped as a duplicate once the original is handled.
//   - While Run is not taking events (starting, stopped, or the tokens refused) a request is
//     answered 503 at once, and Slack retries it at once, then after one and five minutes.
//     Slack gives an event up after three retries: what a long outage loses this way, the
//     bridge's catch-up from conversations.history recovers.

const (
	// maxEventBody bounds an Events API request. Slack's events are a few kilobytes.
	maxEventBody = 1 << 20
	// httpWait bounds how long a request waits for a busy Run to take it and handle it.
	// Slack stops waiting after three seconds; this only keeps requests from piling up.
	httpWait = 10 * time.Second
)

// The ways a Conn receives events, for Status.
const (
	TransportSocketMode = "socket_mode" // a WebSocket the Conn opens (Config.AppToken)
	TransportEventsAPI  = "events_api"  // HTTP requests from Slack (Config.SigningSecret)
)

// overHTTP reports whether the Conn receives its events over HTTP rather than Socket Mode:
// it has a signing secret and no app token.
func (c *Conn) overHTTP() bool { return c.cfg.AppToken == "" && c.cfg.SigningSecret != "" }

// transport names how the Conn receives its events.
func (c *Conn) transport() string {
	if c.overHTTP() {
		return TransportEventsAPI
	}
	return TransportSocketMode
}

// httpEvent is an event received over HTTP, on its way to Run's goroutine.
type httpEvent struct {
	ev      slackevents.EventsAPIEvent
	meta    EventMeta
	handled chan bool // handleOnce's answer; buffered, so that Run never waits for the request
}

// EventsHandler serves the workspace's Request URL: Slack's POSTs of the Events API over HTTP.
// Run must be running for events to be handled. A Conn configured for Socket Mode answers 404.
func (c *Conn) EventsHandler() http.Handler { return http.HandlerFunc(c.serveEvents) }

func (c *Conn) serveEvents(w http.ResponseWriter, r *http.Request) {
	if !c.overHTTP() {
		http.Error(w, "this workspace receives its events over Socket Mode", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBody))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return
	}
	if err := c.verifySignature(r.Header, body); err != nil {
		c.log.WarnContext(r.Context(), "refused an Events API request that Slack did not sign",
			slog.Any("error", err), slog.String("remote_addr", r.RemoteAddr))
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	var outer struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		http.Error(w, "malformed JSON", http.StatusBadRequest)
		return
	}
	ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
	if err != nil {
		// Well-formed but beyond slack-go, typically an inner event type it does not know:
		// answered, so that Slack does not send it again and again, as over Socket Mode.
		c.log.WarnContext(r.Context(), "dropped an Events API request slack-go cannot parse",
			slog.String("type", outer.Type), slog.Any("error", err))
		w.WriteHeader(http.StatusOK)
		return
	}
	c.route(w, r, ev)
}

// verifySignature checks a request's signature and timestamp with the signing secret.
func (c *Conn) verifySignature(header http.Header, body []byte) error {
	v, err := slackgo.NewSecretsVerifier(header, c.cfg.SigningSecret)
	if err != nil {
		return err
	}
	if _, err := v.Write(body); err != nil {
		return err
	}
	return v.Ensure()
}

// route answers a verified request by its type.
func (c *Conn) route(w http.ResponseWriter, r *http.Request, ev slackevents.EventsAPIEvent) {
	switch ev.Type {
	case slackevents.URLVerification:
		challenge, _ := ev.Data.(*slackevents.EventsAPIURLVerificationEvent)
		if challenge == nil {
			http.Error(w, "malformed url_verification", http.StatusBadRequest)
			return
		}
		c.log.InfoContext(r.Context(), "Slack verified the Events API request URL")
		// The challenge as plain text, the first of the answers Slack's documentation gives.
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, challenge.Challenge)
	case slackevents.CallbackEvent:
		c.receive(w, r, ev)
	case slackevents.AppRateLimited:
		c.log.WarnContext(r.Context(), "Slack is rate-limiting the app's events: some are not delivered; catch-up recovers their messages")
		w.WriteHeader(http.StatusOK)
	default:
		c.log.DebugContext(r.Context(), "ignored an Events API request", slog.String("type", ev.Type))
		w.WriteHeader(http.StatusOK)
	}
}

// receive hands an event_callback to Run and answers once it is handled.
func (c *Conn) receive(w http.ResponseWriter, r *http.Request, ev slackevents.EventsAPIEvent) {
	meta := callbackMeta(ev)
	meta.RetryAttempt, _ = strconv.Atoi(r.Header.Get("X-Slack-Retry-Num"))
	meta.RetryReason = r.Header.Get("X-Slack-Retry-Reason")
	in := httpEvent{ev: ev, meta: meta, handled: make(chan bool, 1)}
	if !c.taking.Load() {
		http.Error(w, "not taking events now", http.StatusServiceUnavailable)
		return
	}
	wait := time.NewTimer(httpWait)
	defer wait.Stop()
	select {
	case c.inbox <- in:
	case <-c.failed:
		http.Error(w, "the workspace's tokens were refused", http.StatusServiceUnavailable)
		return
	case <-wait.C:
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	case <-r.Context().Done():
		return
	}
	select {
	case ok := <-in.handled:
		if !ok {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	case <-wait.C:
		// Still being handled: Slack's retry will be recognised once it is.
		http.Error(w, "still handling the event", http.StatusServiceUnavailable)
	case <-r.Context().Done():
	}
}

// receiveEvents takes the events EventsHandler receives and hands them to h, one at a time,
// until ctx ends (it returns nil) or Slack refuses a token (it returns *AuthError).
func (c *Conn) receiveEvents(ctx context.Context, h Handler) error {
	now := time.Now()
	c.taking.Store(true) // before the status says connected, so that connected means taking
	defer c.taking.Store(false)
	c.mu.Lock()
	if c.authErr == nil {
		c.status.state, c.status.connected, c.status.connectedSince = StateConnected, true, now
	}
	c.mu.Unlock()
	c.log.InfoContext(ctx, "taking Slack's events over HTTP")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.failed:
			return c.authError()
		case in := <-c.inbox:
			in.handled <- c.handleOnce(ctx, in.ev, in.meta, h)
		}
	}
}
