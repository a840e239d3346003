package slackconn

import "time"

// State is where a Conn is in its life.
type State string

// The states of a Conn.
const (
	StateStopped    State = "stopped"     // Run is not running
	StateConnecting State = "connecting"  // opening a Socket Mode connection, or waiting to retry
	StateConnected  State = "connected"   // Slack said hello on the open connection, or Run takes HTTP events
	StateAuthFailed State = "auth_failed" // Slack refused the app or bot token: an admin must act
)

// Status is a snapshot of a workspace's connection, for the status endpoint and the admin.
type Status struct {
	Workspace      string
	TeamID         string // "" until auth.test has answered
	Transport      string // TransportSocketMode or TransportEventsAPI
	State          State
	Connected      bool      // a Socket Mode connection is open and greeted, or Run takes HTTP events
	ConnectedSince time.Time // when the open connection got its hello (Run began taking HTTP events); zero when not connected
	LastEventAt    time.Time // when the last event arrived; zero before the first
	Events         int64     // events handed to the handler
	Duplicates     int64     // redelivered events dropped because they were handled already
	HandlerErrors  int64     // events whose handler returned an error (they were acknowledged)
	Reconnects     int64     // connections that ended and were opened again
	LastError      string    // the latest connection, handler or auth error; never holds a token
	LastErrorAt    time.Time
	AuthFailed     bool // Slack refused the app or bot token; Run has stopped
	// Methods is the Web API usage by method ("chat.postMessage"), for the methods called
	// at least once.
	Methods map[string]MethodStatus
}

// MethodStatus is the Web API usage of one method in a workspace.
type MethodStatus struct {
	Calls       int64 // requests made, retries included
	RateLimited int64 // HTTP 429 answers
	// Waiting is how many callers wait now for the method's rate limit to end: its queue depth.
	Waiting      int
	BlockedUntil time.Time // when Slack's Retry-After ends; zero or past when not limited
}

// connStatus is the part of Status the Conn keeps under Conn.mu.
type connStatus struct {
	state          State
	connected      bool
	connectedSince time.Time
	lastEventAt    time.Time
	events         int64
	duplicates     int64
	handlerErrors  int64
	reconnects     int64
	lastError      string
	lastErrorAt    time.Time
}

// Status returns the workspace's current status.
func (c *Conn) Status() Status {
	methods := c.limits.snapshot()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	st := Status{
		Workspace:      c.cfg.Name,
		Transport:      c.transport(),
		State:          s.state,
		Connected:      s.connected,
		ConnectedSince: s.connectedSince,
		LastEventAt:    s.lastEventAt,
		Events:         s.events,
		Duplicates:     s.duplicates,
		HandlerErrors:  s.handlerErrors,
		Reconnects:     s.reconnects,
		LastError:      s.lastError,
		LastErrorAt:    s.lastErrorAt,
		AuthFailed:     c.authErr != nil,
		Methods:        methods,
	}
	if c.identity != nil {
		st.TeamID = c.identity.TeamID
	}
	return st
}

// ConnectedSince is when the open connection got Slack's hello; zero when not connected. It is
// Status().ConnectedSince without the rest of the snapshot, for once per event.
func (c *Conn) ConnectedSince() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status.connectedSince
}

// Failed is closed when Slack refuses the app or bot token: the moment Status shows AuthFailed,
// before Run has finished winding down.
func (c *Conn) Failed() <-chan struct{} { return c.failed }

// update changes the status under Conn.mu.
func (c *Conn) update(change func(s *connStatus)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	change(&c.status)
}

// setState moves to state unless the tokens were refused, which no later state hides.
func (c *Conn) setState(state State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authErr != nil {
		return
	}
	c.status.state = state
	if state != StateConnected {
		c.status.connected = false
		c.status.connectedSince = time.Time{}
	}
}

// recordError notes err as the latest error. Its text comes from slack-go or the network
// and never contains a token.
func (c *Conn) recordError(err error) {
	if err == nil {
		return
	}
	c.update(func(s *connStatus) { s.lastError, s.lastErrorAt = err.Error(), time.Now() })
}
