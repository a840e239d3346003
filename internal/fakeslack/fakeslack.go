// Package fakeslack is a Slack workspace for tests: an HTTP server that answers the Web API
// methods Causeway's Slack bridge uses and delivers Events API events over Socket Mode
// (WebSocket) or, once UseEventsAPI has set a Request URL, as signed HTTP POSTs to the app,
// so that github.com/slack-go/slack, its socketmode package and its SecretsVerifier work
// with it unmodified.
//
// A test points slack-go at the fake with slack.OptionAPIURL(srv.APIURL()), acts as Slack
// users through the Go API (Post, Edit, React, UploadFile, …), inspects what the bridge did
// (Messages, Message, Replies) and injects faults (RateLimit, RevokeToken, Uninstall,
// DropSockets, SendDisconnect). A test of the HTTP mode serves the app's Request URL itself,
// failing requests as it likes, and checks them with SigningSecret, DroppedEvents and
// WaitEventsDelivered. Wire shapes follow what Slack sends, not what slack-go happens to parse;
// where the two differ the doc comment of the shape says so.
//
// The package owns the fake's state and wire formats only. It does not belong to the bridge
// and has no knowledge of Matrix. Every method of Server is safe for concurrent use.
package fakeslack

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Options configures a new Server. The zero value is a working workspace.
type Options struct {
	TeamID   string // defaults to "T0FAKE001"
	TeamName string // defaults to "Causeway Test"
	Domain   string // the workspace's subdomain of slack.com; defaults to "causeway-test"
	BotName  string // the bot user's name; defaults to "causeway"

	// PingInterval is how often each Socket Mode connection gets a WebSocket ping.
	// slack-go reconnects when no ping arrives within its own interval (30 s by default,
	// socketmode.OptionPingInterval), so this must be shorter. Defaults to 10 s.
	PingInterval time.Duration

	// SigningSecret is the app's signing secret, which signs the requests sent to the
	// Request URL. Defaults to a random one.
	SigningSecret string

	// EventRetryDelays says when each retry of an event the Request URL failed to take is
	// sent, counted from the failure. Nil means Slack's schedule, {0, 1 min, 5 min}; an
	// empty slice means no retries.
	EventRetryDelays []time.Duration

	// EventTimeout is how long the fake waits for the Request URL's answer. Defaults to
	// Slack's 3 s.
	EventTimeout time.Duration

	// Now, when set, stops the clock at that instant: timestamps then only move by
	// Advance and SetTime (and by a microsecond per message, to keep them unique).
	// When zero the clock follows the real time.
	Now time.Time
}

func (o *Options) setDefaults() {
	if o.TeamID == "" {
		o.TeamID = "T0FAKE001"
	}
	if o.TeamName == "" {
		o.TeamName = "Causeway Test"
	}
	if o.Domain == "" {
		o.Domain = "causeway-test"
	}
	if o.BotName == "" {
		o.BotName = "causeway"
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 10 * time.Second
	}
	if o.SigningSecret == "" {
		o.SigningSecret = randomHex(16)
	}
	if o.EventRetryDelays == nil {
		o.EventRetryDelays = defaultEventRetryDelays
	}
	if o.EventTimeout <= 0 {
		o.EventTimeout = defaultEventTimeout
	}
}

// Server is a fake Slack workspace with one installed app (its bot user, bot token and
// app-level token) served over loopback HTTP.
type Server struct {
	http   *httptest.Server
	hub    *socketHub
	poster *eventPoster

	// mu guards ws and faults. API handlers run with it held, so each Web API call is
	// atomic, as the Go API methods are. The team and app identities in ws never change
	// after New, so their getters take no lock.
	mu     sync.Mutex
	ws     *workspace
	faults faults
}

// New starts a Server on a loopback port. Close it when the test ends.
func New(opts Options) *Server {
	opts.setDefaults()
	s := &Server{
		hub:    newSocketHub(opts.PingInterval),
		poster: newEventPoster(opts.SigningSecret, opts.EventRetryDelays, opts.EventTimeout),
		faults: newFaults(),
	}
	s.http = httptest.NewUnstartedServer(s.routes())
	// The state is built before Start so that no handler can observe it half made.
	s.ws = newWorkspace(opts, "http://"+s.http.Listener.Addr().String(), s.hub, s.poster)
	s.http.Start()
	return s
}

// Close stops delivering events to the Request URL, closes every Socket Mode connection and
// shuts the HTTP server down.
func (s *Server) Close() {
	s.poster.close()
	s.hub.close()
	s.http.Close()
}

// URL is the server's base URL, like "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.http.URL }

// APIURL is the Web API base for slack.OptionAPIURL: URL()+"/api/".
func (s *Server) APIURL() string { return s.http.URL + "/api/" }

// TeamID is the workspace ID.
func (s *Server) TeamID() string { return s.ws.team.id }

// AppID is the ID of the installed app.
func (s *Server) AppID() string { return s.ws.app.appID }

// BotToken is the app's bot token (xoxb-…).
func (s *Server) BotToken() string { return s.ws.app.botToken }

// AppToken is the app-level token (xapp-…), valid only for apps.connections.open.
func (s *Server) AppToken() string { return s.ws.app.appToken }

// BotUserID is the user ID of the app's bot user.
func (s *Server) BotUserID() string { return s.ws.app.botUserID }

// BotID is the bot ID (B…) that marks the bot's messages.
func (s *Server) BotID() string { return s.ws.app.botID }

// SetTime stops the clock at t. Timestamps never go backwards: a t before the latest
// timestamp only affects event_time and created fields.
func (s *Server) SetTime(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ws.clock.set(t)
}

// Advance moves the clock forward by d, stopping it first if it followed the real time.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ws.clock.advance(d)
}

// routes is the server's whole URL table.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("GET /link/", s.serveSocket)
	mux.HandleFunc("POST /upload/v1/{ticket}", s.serveUpload)
	mux.HandleFunc("GET /files-pri/{teamFile}/{name}", s.serveFile)
	mux.HandleFunc("GET /files-pri/{teamFile}/download/{name}", s.serveFile)
	mux.HandleFunc("GET /avatars/{name}", s.serveAvatar)
	mux.HandleFunc("GET /emoji/{name}/{hash}", s.serveEmoji)
	mux.HandleFunc("GET /{$}", serveSignIn)
	return mux
}
