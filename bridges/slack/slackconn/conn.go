// Package slackconn owns the connection to one Slack workspace: the Socket Mode session
// that receives events (with reconnects, backoff, acknowledgements and deduplication of
// redelivered envelopes) or, for an app without Socket Mode, the Events API requests that
// Slack sends over HTTP (verified with the app's signing secret); the Web API clients for
// the bot token and for users' tokens (with Slack's per-method rate limits respected); the
// workspace's connection status and its Prometheus metrics.
//
// It knows nothing of Matrix, portals or ghosts: what an event means, how a message is
// bridged, in which order channels are served and how missed history is caught up belong
// to bridges/slack and bridges/bridge. Telling the admin that a token was revoked is also
// the bridge's job; this package makes sure it cannot be missed (Run returns *AuthError,
// Status().AuthFailed is set, a metric and an Error log line say so).
//
// The Slack side is github.com/slack-go/slack and its socketmode package. slack-go's
// socketmode.Client reconnects by itself and hides Slack's disconnect requests; Conn runs
// each connection as its own socketmode.Client and does the reconnecting itself, so that
// backoff, status and auth failures are decided in one place (see socket.go).
package slackconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	slackgo "github.com/slack-go/slack"
)

// Config configures a Conn. Zero fields take the defaults named on them.
type Config struct {
	// Name is the workspace's name in logs, metrics and errors (WorkspaceConfig.Name).
	Name string
	// AppToken is the app-level token (xapp-…) that opens Socket Mode connections.
	AppToken string
	// SigningSecret is the app's signing secret. A Conn that has it and no AppToken
	// receives its events over HTTP, through EventsHandler, which verifies each request
	// with it.
	SigningSecret string
	// BotToken is the bot user's token (xoxb-…) for the Web API.
	BotToken string
	// APIURL is the Web API base, with a trailing slash. Defaults to "https://slack.com/api/".
	APIURL string
	// HTTPClient makes the Web API calls. Defaults to a client with a 60 s overall timeout
	// and connection, TLS and response-header timeouts.
	HTTPClient *http.Client
	// Log receives the Conn's records. Defaults to a logger that discards them.
	Log *slog.Logger

	// MinBackoff and MaxBackoff bound the wait between Socket Mode connection attempts,
	// which doubles with each failure (with jitter) and starts again at MinBackoff after a
	// connection that got Slack's hello. Default 1 s and 2 min.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// PingInterval is how long a connection may go without a WebSocket ping from Slack
	// before it is considered dead (socketmode.OptionPingInterval). Default 30 s.
	PingInterval time.Duration
	// AuthCheckInterval is how often Run calls auth.test with the bot token. The Socket
	// Mode connection uses only the app token, so without this check a revoked bot token
	// would go unnoticed until the bridge next calls the Web API. Default 5 min.
	AuthCheckInterval time.Duration
	// DedupSize is how many recent event IDs are remembered to drop redelivered events.
	// Default 10,000.
	DedupSize int
}

// DefaultAPIURL is Slack's Web API base.
const DefaultAPIURL = "https://slack.com/api/"

func (c *Config) setDefaults() {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 2 * time.Minute
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.AuthCheckInterval <= 0 {
		c.AuthCheckInterval = 5 * time.Minute
	}
	if c.DedupSize <= 0 {
		c.DedupSize = 10_000
	}
}

// defaultHTTPClient bounds every stage of a Web API call, so that a stalled Slack cannot hold
// a caller (and the per-method queue behind it) forever.
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   10,
			ForceAttemptHTTP2:     true,
		},
	}
}

// Conn is the connection to one Slack workspace. Create it with New, start it with Run and
// use API for Web API calls. Its methods are safe for concurrent use.
type Conn struct {
	cfg       Config
	log       *slog.Logger
	appClient *slackgo.Client // app-level token: apps.connections.open only
	api       *API            // bot token

	// running guards against two concurrent Runs, which would open two connections.
	running sync.Mutex
	// seen holds the IDs of recently handled events. Only Run's goroutine uses it.
	seen *seenEvents

	// limits holds the per-method rate-limit state shared by the bot and user APIs.
	limits limits

	// failed is closed when the workspace's bot or app token is rejected.
	failed chan struct{}
	// inbox carries the events EventsHandler receives to Run's goroutine.
	inbox chan httpEvent
	// taking says that Run's goroutine takes events from inbox.
	taking atomic.Bool

	mu       sync.Mutex
	identity *Identity
	authErr  *AuthError
	status   connStatus
}

// New returns a Conn for the workspace cfg describes. It does not connect: Run does.
func New(cfg Config) *Conn {
	cfg.setDefaults()
	c := &Conn{
		cfg:    cfg,
		log:    cfg.Log.With(slog.String("workspace", cfg.Name)),
		failed: make(chan struct{}),
		inbox:  make(chan httpEvent),
		seen:   newSeenEvents(cfg.DedupSize),
		limits: limits{methods: map[string]*methodState{}},
	}
	c.status.state = StateStopped
	c.appClient = slackgo.New("",
		slackgo.OptionAppLevelToken(cfg.AppToken),
		slackgo.OptionAPIURL(cfg.APIURL),
		slackgo.OptionHTTPClient(cfg.HTTPClient))
	c.api = &API{conn: c, kind: TokenBot, client: c.newClient(cfg.BotToken)}
	return c
}

func (c *Conn) newClient(token string) *slackgo.Client {
	return slackgo.New(token, slackgo.OptionAPIURL(c.cfg.APIURL), slackgo.OptionHTTPClient(c.cfg.HTTPClient))
}

// Name is the workspace's name from Config.
func (c *Conn) Name() string { return c.cfg.Name }

// Identity is who the bot token belongs to, as auth.test answers.
type Identity struct {
	TeamID       string
	TeamName     string
	URL          string // the workspace's address, like "https://acme.slack.com/"
	EnterpriseID string // "" outside Enterprise Grid
	BotUserID    string // the bot user (U…)
	BotID        string // the bot (B…) that marks the bot's messages
	BotName      string
}

// Identity returns the bot's identity, and false until Run's first auth.test has answered.
func (c *Conn) Identity() (Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.identity == nil {
		return Identity{}, false
	}
	return *c.identity, true
}

// The token kinds an AuthError names.
const (
	TokenApp  = "app"  // the app-level token (xapp-…)
	TokenBot  = "bot"  // the bot token (xoxb-…)
	TokenUser = "user" // a user's token (xoxp-…), for double puppeting
)

// AuthError reports that Slack refused a token. For the app and bot tokens it is final for
// the Conn: Run returns it and the workspace stays down until an admin replaces the token
// (with a new Conn). For a user token it concerns that user only.
type AuthError struct {
	Workspace  string
	Token      string // TokenApp, TokenBot or TokenUser
	SlackError string // Slack's error code, like "token_revoked" or "invalid_auth"
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("slack workspace %q: %s token refused: %s", e.Workspace, e.Token, e.SlackError)
}

// authCodes are Slack's answers that mean the token itself is no good: retrying cannot help.
// https://docs.slack.dev/reference/methods/auth.test#errors and the common errors of every method.
var authCodes = map[string]bool{
	"invalid_auth":            true,
	"not_authed":              true,
	"account_inactive":        true,
	"token_revoked":           true,
	"token_expired":           true,
	"not_allowed_token_type":  true,
	"org_login_required":      true,
	"team_access_not_granted": true,
}

// slackCode returns Slack's error code when err is an {"ok":false,"error":…} answer.
func slackCode(err error) (string, bool) {
	var resp slackgo.SlackErrorResponse
	if errors.As(err, &resp) {
		return resp.Err, true
	}
	return "", false
}

// authFailure returns the AuthError for err when it is an authentication failure of the given
// token. connection says whether the call was one the workspace cannot work without
// (auth.test, apps.connections.open): only there is missing_scope fatal. A missing scope on
// an ordinary method only takes that feature away, so the bridge gets the plain error.
func (c *Conn) authFailure(err error, token string, connection bool) *AuthError {
	code, ok := slackCode(err)
	if !ok || !(authCodes[code] || connection && code == "missing_scope") {
		return nil
	}
	return &AuthError{Workspace: c.cfg.Name, Token: token, SlackError: code}
}

// fail records that the workspace's app or bot token was refused: the status shows it, Run
// stops, and one Error record names the workspace and Slack's error. Later failures are
// ignored: the first one is what the admin must fix.
func (c *Conn) fail(ctx context.Context, ae *AuthError) {
	c.mu.Lock()
	if c.authErr != nil {
		c.mu.Unlock()
		return
	}
	c.authErr = ae
	now := time.Now()
	c.status.state = StateAuthFailed
	c.status.connected = false
	c.status.lastError, c.status.lastErrorAt = ae.Error(), now
	close(c.failed)
	c.mu.Unlock()
	c.log.ErrorContext(ctx, "Slack refused the workspace's token; the workspace stays disconnected until an admin replaces it",
		slog.String("token_kind", ae.Token), slog.String("slack_error", ae.SlackError))
}

// authError returns the recorded app or bot token failure, or nil.
func (c *Conn) authError() *AuthError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authErr
}
