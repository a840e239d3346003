package slackconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// How the Socket Mode side works, and what it works around in slack-go v0.35's
// socketmode.Client:
//
//   - RunContext reconnects by itself, at once, whenever a connection ends, and retries a
//     failed connection attempt forever with its own backoff (up to 5 min), returning only
//     for invalid_auth, account_inactive, not_authed and token_revoked. A caller cannot
//     apply its own backoff, count reconnects or notice not_allowed_token_type or
//     missing_scope. So each connection is a session with a socketmode.Client of its own:
//     the session ends at the first sign of slack-go reconnecting (a "connecting" event
//     with ConnectionCount > 0) or of a failed attempt ("connection_error"), and Run
//     decides when to try again.
//   - The internal reconnect may already be dialling when the session ends. The session's
//     WebSocket dialer dials once only, so no second connection ever opens behind Run's
//     back; a stray one would take envelopes and, once closed, make Slack send them
//     again out of order.
//   - A {"type":"disconnect"} from Slack never reaches the Events channel: slack-go just
//     reconnects. It therefore looks like any other ended connection; after a connection
//     that got its hello the next attempt waits only MinBackoff/2 to MinBackoff.
//   - slack-go learns that a connection died only when it next reads, and says so after
//     the events it has queued; meanwhile acks go into a channel that no writer drains any
//     more, and block once it is full. The session's dialer therefore wraps the network
//     connection to notice its end itself (a failed read or write, or Close): the session
//     then ends at once, and acks never wait for a connection that is gone. What was
//     handled but not acknowledged comes back from Slack and is recognised by its
//     event_id; what was queued but not handled comes back in order.
//   - An event slackevents cannot parse (an inner event type it does not know) arrives as
//     "error_bad_message" and is never acked by slack-go: it is acked here and logged.

// ackTimeout bounds queueing an acknowledgement for the connection's writer. The writer
// only falls behind when the connection is dead, and then the session must end.
const ackTimeout = 10 * time.Second

// Handler receives a workspace's Events API events.
type Handler interface {
	// HandleEvent handles one event. Run calls it from a single goroutine, one event at a
	// time, in the order Slack delivered them, and acknowledges the envelope when it
	// returns. An event reaches it once, even when Slack delivers it again after a lost
	// connection. Slack keeps the order of what it delivers once, but an event it retries
	// (meta.RetryAttempt > 0) may come after newer ones; message timestamps tell.
	//
	// It may block, but should return within seconds: nothing is read from the connection
	// meanwhile, Slack retries what stays unacknowledged, and past Config.PingInterval the
	// connection is taken for dead and opened again. Nothing is lost either way.
	//
	// An error is logged and counted, and the envelope is acknowledged all the same:
	// Slack's retries cannot fix a bridge-side failure, and an unacknowledged envelope
	// would come back in the middle of later events, out of order. The bridge recovers
	// what it failed to bridge through its own catch-up from conversations.history. Only
	// when ctx is done (Run is stopping) does an error leave the envelope unacknowledged,
	// for Slack to deliver again to the next Run.
	HandleEvent(ctx context.Context, ev slackevents.EventsAPIEvent, meta EventMeta) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, ev slackevents.EventsAPIEvent, meta EventMeta) error

// HandleEvent calls f.
func (f HandlerFunc) HandleEvent(ctx context.Context, ev slackevents.EventsAPIEvent, meta EventMeta) error {
	return f(ctx, ev, meta)
}

// EventMeta is how an event was delivered: its Socket Mode envelope, or its HTTP request.
type EventMeta struct {
	EnvelopeID   string    // the Socket Mode envelope; "" over HTTP
	EventID      string    // Slack's event_id (Ev…), the same on every delivery of the event
	EventTime    time.Time // event_time, whole seconds
	RetryAttempt int       // 0 on the first delivery
	RetryReason  string    // why Slack delivered it again, like "timeout" or "http_timeout"; "" on the first delivery
}

// Run connects to the workspace and delivers its events to h until ctx ends (it then
// returns nil) or Slack refuses the app or bot token (it then returns *AuthError, and Status
// shows AuthFailed). It first calls auth.test with the bot token, which Identity then
// reports, and retries that call with backoff on any other error. A Conn runs one Run at
// a time; a Conn whose token was refused stays failed.
//
// Over Socket Mode, connections that end or fail are opened again with exponential backoff
// and jitter, between MinBackoff and MaxBackoff, starting again at MinBackoff after a
// connection that got Slack's hello. Over HTTP (no AppToken), Run takes the events that
// EventsHandler receives (see events.go).
func (c *Conn) Run(ctx context.Context, h Handler) error {
	if !c.running.TryLock() {
		return errors.New("slackconn: Run is already running for workspace " + c.cfg.Name)
	}
	defer c.running.Unlock()
	if ae := c.authError(); ae != nil {
		return ae
	}
	defer c.setState(StateStopped)
	c.setState(StateConnecting)

	if err := c.identify(ctx); err != nil {
		if ae, ok := errors.AsType[*AuthError](err); ok {
			return ae
		}
		return nil // ctx ended
	}

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { c.checkAuth(runCtx) })
	if c.overHTTP() {
		return c.receiveEvents(runCtx, h)
	}

	b := backoff{min: c.cfg.MinBackoff, max: c.cfg.MaxBackoff}
	for {
		end := c.session(runCtx, h)
		if ae := c.authError(); ae != nil {
			return ae
		}
		if ctx.Err() != nil {
			return nil
		}
		if end.greeted {
			b.reset()
		}
		delay := max(b.next(), end.retryAfter)
		c.setState(StateConnecting)
		c.update(func(s *connStatus) { s.reconnects++ })
		c.recordError(end.err)
		c.log.WarnContext(ctx, "Slack connection ended; reconnecting",
			slog.Any("error", end.err), slog.Duration("delay", delay))
		if !c.pause(ctx, delay) {
			if ae := c.authError(); ae != nil {
				return ae
			}
			return nil
		}
	}
}

// identify calls auth.test with the bot token until it answers, and records the identity.
func (c *Conn) identify(ctx context.Context) error {
	b := backoff{min: c.cfg.MinBackoff, max: c.cfg.MaxBackoff}
	for {
		id, err := c.authTest(ctx)
		if err == nil {
			c.mu.Lock()
			c.identity = &id
			c.mu.Unlock()
			c.log.InfoContext(ctx, "authenticated with Slack",
				slog.String("team_id", id.TeamID), slog.String("bot_user_id", id.BotUserID))
			return nil
		}
		if _, ok := errors.AsType[*AuthError](err); ok || ctx.Err() != nil {
			return err
		}
		c.recordError(err)
		delay := b.next()
		c.log.WarnContext(ctx, "auth.test failed; retrying", slog.Any("error", err), slog.Duration("delay", delay))
		if !c.pause(ctx, delay) {
			return ctx.Err()
		}
	}
}

// authTest calls auth.test with the bot token through the rate limits.
func (c *Conn) authTest(ctx context.Context) (Identity, error) {
	var resp *slackgo.AuthTestResponse
	err := c.api.do(ctx, "auth.test", true, func(ctx context.Context) error {
		var err error
		resp, err = c.api.client.AuthTestContext(ctx)
		return err
	})
	if err != nil {
		return Identity{}, err
	}
	return Identity{
		TeamID: resp.TeamID, TeamName: resp.Team, URL: resp.URL, EnterpriseID: resp.EnterpriseID,
		BotUserID: resp.UserID, BotID: resp.BotID, BotName: resp.User,
	}, nil
}

// checkAuth calls auth.test every AuthCheckInterval until ctx ends. A refused token fails
// the Conn (in API.do), which stops Run.
func (c *Conn) checkAuth(ctx context.Context) {
	ticker := time.NewTicker(c.cfg.AuthCheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.failed:
			return
		case <-ticker.C:
			if _, err := c.authTest(ctx); err != nil && ctx.Err() == nil {
				c.log.DebugContext(ctx, "periodic auth.test failed", slog.Any("error", err))
			}
		}
	}
}

// pause waits for d, and reports false if ctx ended or the Conn failed first.
func (c *Conn) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-c.failed:
		return false
	}
}

// sessionEnd says how a session ended.
type sessionEnd struct {
	greeted    bool          // the connection got Slack's hello
	err        error         // why it ended; nil when ctx ended
	retryAfter time.Duration // a Retry-After from apps.connections.open
}

var (
	errConnectionClosed    = errors.New("socket mode connection closed")
	errDisconnectRequested = errors.New("slack asked to reconnect")
	errOneConnection       = errors.New("slackconn: a session dials once")
)

// session runs one Socket Mode connection, from apps.connections.open to its end, and
// returns once slack-go's client has stopped and closed it.
func (c *Conn) session(ctx context.Context, h Handler) (end sessionEnd) {
	sctx, cancel := context.WithCancel(ctx)
	// connCtx ends with the connection itself, which slack-go reports only after the
	// events it has queued: acks must not wait for a writer that is gone.
	connCtx, connGone := context.WithCancel(sctx)
	smc := socketmode.New(c.appClient,
		socketmode.OptionPingInterval(c.cfg.PingInterval),
		socketmode.OptionDialer(oneShotDialer(connGone)))
	done := make(chan error, 1)
	go func() { done <- smc.RunContext(sctx) }()
	defer func() {
		cancel()
		if done != nil {
			// slack-go's goroutines stop sending events once sctx is cancelled, so
			// nothing needs to read Events while RunContext winds down.
			<-done
		}
		c.setState(StateConnecting)
	}()

	for {
		select {
		case err := <-done:
			done = nil
			if ctx.Err() == nil {
				end.err = c.connectFailed(ctx, err, &end)
			}
			return end
		case <-c.failed:
			return end
		case <-connCtx.Done():
			// The events still queued came from the lost connection and cannot be
			// acknowledged; Slack sends them again on the next one.
			if end.err == nil && ctx.Err() == nil {
				end.err = errConnectionClosed
			}
			return end
		case ev := <-smc.Events:
			stop, err := c.handleSocketEvent(ctx, connCtx, smc, ev, h, &end)
			if err != nil {
				end.err = err
			}
			if stop {
				if ctx.Err() != nil {
					end.err = nil
				}
				return end
			}
		}
	}
}

// handleSocketEvent acts on one event from slack-go's client. It reports stop when the
// session must end.
func (c *Conn) handleSocketEvent(ctx, connCtx context.Context, smc *socketmode.Client, ev socketmode.Event, h Handler, end *sessionEnd) (stop bool, err error) {
	switch ev.Type {
	case socketmode.EventTypeConnecting:
		if data, ok := ev.Data.(*slackgo.ConnectingEvent); ok && data.ConnectionCount > 0 {
			// slack-go lost the connection and is reconnecting on its own.
			if end.err != nil {
				return true, end.err
			}
			return true, errConnectionClosed
		}
		c.log.DebugContext(ctx, "opening a Socket Mode connection")
	case socketmode.EventTypeConnectionError:
		var err error = errConnectionClosed
		if data, ok := ev.Data.(*slackgo.ConnectionErrorEvent); ok && data.ErrorObj != nil {
			err = data.ErrorObj
		}
		return true, c.connectFailed(ctx, err, end)
	case socketmode.EventTypeConnected:
		c.log.DebugContext(ctx, "Socket Mode connection open")
	case socketmode.EventTypeHello:
		end.greeted = true
		now := time.Now()
		c.mu.Lock()
		if c.authErr == nil {
			c.status.state, c.status.connected, c.status.connectedSince = StateConnected, true, now
		}
		c.mu.Unlock()
		c.log.InfoContext(ctx, "connected to Slack")
	case socketmode.EventTypeDisconnect:
		// slack-go v0.35 handles this itself and never sends it; should it start to, the
		// answer is the same: reconnect.
		return true, errDisconnectRequested
	case socketmode.EventTypeIncomingError:
		// A failed read. slack-go decides whether the connection survives it; if not, a
		// "connecting" event follows, and this is why.
		if data, ok := ev.Data.(*slackgo.IncomingEventError); ok {
			end.err = data.ErrorObj
		}
	case socketmode.EventTypeErrorWriteFailed:
		c.log.DebugContext(ctx, "an acknowledgement was not sent; Slack will deliver the envelope again")
	case socketmode.EventTypeErrorBadMessage:
		return c.handleBadMessage(ctx, connCtx, smc, ev)
	case socketmode.EventTypeEventsAPI:
		if err := c.deliver(ctx, connCtx, smc, ev, h); err != nil {
			return true, err
		}
	case socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand:
		// The app declares no interactivity or commands; answer so that Slack stops asking.
		if ev.Request != nil {
			if err := c.ack(connCtx, smc, ev.Request.EnvelopeID); err != nil {
				return true, err
			}
		}
	default:
		c.log.DebugContext(ctx, "ignored Socket Mode event", slog.String("type", string(ev.Type)))
	}
	return false, nil
}

// connectFailed classifies why a connection could not be opened (or RunContext returned):
// a refused app token fails the Conn; a Retry-After is kept for the next attempt.
func (c *Conn) connectFailed(ctx context.Context, err error, end *sessionEnd) error {
	if err == nil || errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	if ae := c.authFailure(err, TokenApp, true); ae != nil {
		c.fail(ctx, ae)
		return ae
	}
	if rl, ok := errors.AsType[*slackgo.RateLimitedError](err); ok {
		end.retryAfter = rl.RetryAfter
	}
	return fmt.Errorf("open socket mode connection: %w", err)
}

// handleBadMessage acknowledges a message slack-go could not parse, typically an event type
// slackevents does not know, so that Slack does not send it again and again.
func (c *Conn) handleBadMessage(ctx, connCtx context.Context, smc *socketmode.Client, ev socketmode.Event) (bool, error) {
	data, ok := ev.Data.(*socketmode.ErrorBadMessage)
	if !ok {
		return false, nil
	}
	var env struct {
		EnvelopeID string `json:"envelope_id"`
		Type       string `json:"type"`
	}
	_ = json.Unmarshal(data.Message, &env)
	c.log.WarnContext(ctx, "dropped a Socket Mode message slack-go cannot parse",
		slog.String("type", env.Type), slog.Any("error", data.Cause))
	if err := c.ack(connCtx, smc, env.EnvelopeID); err != nil {
		return true, err
	}
	return false, nil
}

// deliver hands an events_api envelope to h unless its event was handled already, then
// acknowledges it. An error means the session must end.
func (c *Conn) deliver(ctx, connCtx context.Context, smc *socketmode.Client, ev socketmode.Event, h Handler) error {
	apiEvent, _ := ev.Data.(slackevents.EventsAPIEvent)
	meta := callbackMeta(apiEvent)
	if req := ev.Request; req != nil {
		meta.EnvelopeID, meta.RetryAttempt, meta.RetryReason = req.EnvelopeID, req.RetryAttempt, req.RetryReason
	}
	if !c.handleOnce(ctx, apiEvent, meta, h) {
		// Run is stopping and the handler was cut short: leave the envelope to Slack.
		return ctx.Err()
	}
	return c.ack(connCtx, smc, meta.EnvelopeID)
}

// callbackMeta returns the event_id and event_time of an event_callback.
func callbackMeta(ev slackevents.EventsAPIEvent) EventMeta {
	var meta EventMeta
	if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
		meta.EventID = cb.EventID
		meta.EventTime = time.Unix(int64(cb.EventTime), 0)
	}
	return meta
}

// handleOnce hands an event to h unless it was handled already, whichever way it arrived,
// and keeps the status. It reports false when ctx ended while h ran: the event must then
// stay unacknowledged, for Slack to deliver again. Only Run's goroutine calls it.
func (c *Conn) handleOnce(ctx context.Context, ev slackevents.EventsAPIEvent, meta EventMeta, h Handler) bool {
	key := meta.EventID
	if key == "" {
		key = "envelope:" + meta.EnvelopeID
	}
	log := c.log.With(slog.String("slack_event_id", meta.EventID), slog.String("slack_event_type", ev.InnerEvent.Type))

	if c.seen.seen(key) {
		c.update(func(s *connStatus) { s.duplicates++ })
		log.DebugContext(ctx, "dropped a redelivered event", slog.Int("retry_attempt", meta.RetryAttempt))
		return true
	}
	c.update(func(s *connStatus) { s.lastEventAt = time.Now() })

	err := h.HandleEvent(ctx, ev, meta)
	if err != nil && ctx.Err() != nil {
		return false
	}
	c.seen.add(key)
	c.update(func(s *connStatus) {
		s.events++
		if err != nil {
			s.handlerErrors++
			s.lastError, s.lastErrorAt = "handler: "+err.Error(), time.Now()
		}
	})
	if err != nil {
		log.WarnContext(ctx, "event handler failed; the event is acknowledged and left to catch-up", slog.Any("error", err))
	}
	c.noticeRevocation(ctx, ev)
	return true
}

// noticeRevocation fails the Conn when Slack announces that the app was uninstalled or its
// bot token revoked. Slack sends these events before the tokens stop working, so the
// status changes without waiting for a call to be refused.
func (c *Conn) noticeRevocation(ctx context.Context, ev slackevents.EventsAPIEvent) {
	switch inner := ev.InnerEvent.Data.(type) {
	case *slackevents.AppUninstalledEvent:
		c.fail(ctx, &AuthError{Workspace: c.cfg.Name, Token: TokenBot, SlackError: "app_uninstalled"})
	case *slackevents.TokensRevokedEvent:
		id, ok := c.Identity()
		if ok && slices.Contains(inner.Tokens.Bot, id.BotUserID) {
			c.fail(ctx, &AuthError{Workspace: c.cfg.Name, Token: TokenBot, SlackError: "tokens_revoked"})
		}
	}
}

// ack queues the acknowledgement of an envelope for the connection's writer. connCtx ends
// with the connection.
func (c *Conn) ack(connCtx context.Context, smc *socketmode.Client, envelopeID string) error {
	if envelopeID == "" {
		return nil
	}
	actx, cancel := context.WithTimeout(connCtx, ackTimeout)
	defer cancel()
	if err := smc.AckCtx(actx, envelopeID, nil); err != nil {
		if connCtx.Err() != nil {
			return errConnectionClosed
		}
		return fmt.Errorf("acknowledge envelope: %w", err)
	}
	return nil
}

// oneShotDialer is the WebSocket dialer of one session: it dials once, so that slack-go's
// own reconnect cannot open a connection that Run does not know about, and it calls gone
// when that connection fails or is closed. Its other settings are slack-go's defaults.
func oneShotDialer(gone func()) *websocket.Dialer {
	var used atomic.Bool
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: 45 * time.Second,
		// Slack drops responses split over several frames; slack-go's own dialer uses 32 KiB.
		WriteBufferSize: 32 * 1024,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if used.Swap(true) {
				return nil, errOneConnection
			}
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err // slack-go reports it as a connection_error
			}
			return &watchedConn{Conn: conn, gone: gone}, nil
		},
	}
}

// watchedConn is a network connection that reports its end: the first failed read or
// write, or Close. A read deadline is not set on Socket Mode connections (slack-go watches
// pings instead), so a failed read is a dead connection.
type watchedConn struct {
	net.Conn
	gone func()
}

func (w *watchedConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if err != nil {
		w.gone()
	}
	return n, err
}

func (w *watchedConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	if err != nil {
		w.gone()
	}
	return n, err
}

func (w *watchedConn) Close() error {
	w.gone()
	return w.Conn.Close()
}

// backoff computes the waits between connection attempts: doubling from min up to max, with
// "equal jitter" (half fixed, half random) so that bridges restarting together spread out.
type backoff struct {
	min, max time.Duration
	attempt  int
}

func (b *backoff) next() time.Duration {
	d := b.max
	if b.attempt < 32 {
		if grown := b.min << b.attempt; grown > 0 && grown < b.max {
			d = grown
		}
	}
	b.attempt++
	half := d / 2
	return half + rand.N(d-half+1)
}

func (b *backoff) reset() { b.attempt = 0 }
