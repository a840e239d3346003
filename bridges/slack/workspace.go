package slack

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/bridges/slack/slackconn"
)

const (
	// defaultHTTPTimeout bounds a request to Slack when the bridge was given no client.
	defaultHTTPTimeout = time.Minute
	// authCheckInterval is how often the bot token is checked while Slack is quiet, so that
	// a revoked token shows in the status within seconds even when no message needs it.
	authCheckInterval = 10 * time.Second
)

// workspace is one bridged Slack workspace.
type workspace struct {
	b    *Bridge
	cfg  WorkspaceConfig
	conn *slackconn.Conn // nil for a workspace that is only imported (History)
	src  Source
	http *http.Client
	log  *slog.Logger

	// Set by start before anything is bridged, then fixed; other goroutines read them only
	// once ready says so (or through Bridge.workspaceByTeam, which start fills last).
	key      bridge.Key // Slack's team ID is the workspace in the store
	ident    slackconn.Identity
	teamName string
	teamURL  string
	space    id.RoomID
	ready    atomic.Bool

	mapped map[string]id.UserID // Slack user ID -> the Matrix account an import attributes them to

	emoji      emojiCache
	usergroups usergroupCache

	mu          sync.Mutex
	channels    map[string]*slackapi.Channel // what conversations.info said, by ID
	caughtUpFor time.Time                    // the connection whose channels are caught up
	caughtUp    map[string]bool              // channels caught up since that connection opened
	lastErr     error                        // why run stopped, if it did
}

func newWorkspace(b *Bridge, cfg WorkspaceConfig, client *http.Client, minBackoff, maxBackoff time.Duration) (*workspace, error) {
	// Validate checked that exactly one of the app token and the signing secret is set.
	appToken, err := secretValue(cfg.Name, "app_token", cfg.AppToken, false)
	if err != nil {
		return nil, err
	}
	signingSecret, err := secretValue(cfg.Name, "signing_secret", cfg.SigningSecret, false)
	if err != nil {
		return nil, err
	}
	botToken, err := secretValue(cfg.Name, "bot_token", cfg.BotToken, true)
	if err != nil {
		return nil, err
	}
	log := b.log.With("workspace", cfg.Name)
	conn := slackconn.New(slackconn.Config{
		Name: cfg.Name, AppToken: appToken, SigningSecret: signingSecret, BotToken: botToken, APIURL: cfg.APIURL, HTTPClient: client, Log: log,
		MinBackoff: minBackoff, MaxBackoff: maxBackoff, AuthCheckInterval: authCheckInterval,
	})
	w := &workspace{b: b, cfg: cfg, conn: conn, http: client, log: log,
		channels: map[string]*slackapi.Channel{}, caughtUp: map[string]bool{}}
	w.src = apiSource{w: w}
	return w, nil
}

// secretValue resolves a workspace's secret; one that is not required may be unset ("").
func secretValue(workspace, key string, s Secret, required bool) (string, error) {
	if s == "" && !required {
		return "", nil
	}
	v, err := s.Value()
	if err != nil {
		return "", fmt.Errorf("slack workspace %s: %s: %w", workspace, key, err)
	}
	return v, nil
}

// bot is the slack-go client of the bot token; call it inside call.
func (w *workspace) bot() *slackapi.Client { return w.conn.API().Client() }

// call makes one Web API call with the bot token, within Slack's rate limits.
func (w *workspace) call(ctx context.Context, method string, fn func(ctx context.Context) error) error {
	return w.conn.API().Do(ctx, method, fn)
}

// lock takes the bridge's lock of a name, and returns the unlock.
func (b *Bridge) lock(name string) func() {
	l, _ := b.locks.LoadOrStore(name, &sync.Mutex{})
	mu := l.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// lockChannel serialises the work on one channel (live, catch-up and imports alike), and returns
// the unlock.
func (w *workspace) lockChannel(channelID string) func() {
	return w.b.lock("channel/" + w.key.Workspace + "/" + channelID)
}

// lockGhost serialises the registration and profile updates of one Slack user's ghost, which
// an import's conversations may reach at once.
func (w *workspace) lockGhost(slackID string) func() {
	return w.b.lock("ghost/" + w.key.Workspace + "/" + slackID)
}

// run bridges the workspace until ctx ends or Slack refuses its tokens. It learns who the
// bot is, makes the space, brings every bridged channel up to date from its history, and
// then follows Socket Mode or the events Slack sends over HTTP.
func (w *workspace) run(ctx context.Context) {
	go w.announceFailure(ctx)
	if w.cfg.SigningSecret != "" {
		w.log.InfoContext(ctx, "the workspace's app sends its events over HTTP to its Request URL", "request_url", w.eventsURL())
	}
	err := w.start(ctx)
	if err == nil {
		err = w.conn.Run(ctx, slackconn.HandlerFunc(w.handle))
	}
	if err != nil && ctx.Err() == nil {
		w.mu.Lock()
		w.lastErr = err
		w.mu.Unlock()
		w.log.ErrorContext(ctx, "Slack workspace stopped", "error", err)
	}
}

// announceFailure tells the workspace's people, as soon as Slack refuses a token, that the
// workspace is no longer bridged.
func (w *workspace) announceFailure(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-w.conn.Failed():
		if !w.ready.Load() {
			return // refused before the workspace had a space: start's error says it
		}
		w.announce(ctx, fmt.Sprintf("The Slack workspace %s is no longer bridged: %s. Fix its tokens in the configuration and restart Causeway.",
			w.cfg.Name, w.conn.Status().LastError))
	}
}

// announce tells the workspace's Matrix users, in its space, what an admin must know.
func (w *workspace) announce(ctx context.Context, text string) {
	if w.space == "" {
		return
	}
	_, err := w.b.as.BotIntent().SendMessageEvent(ctx, w.space, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgNotice, Body: text})
	if err != nil {
		w.log.WarnContext(ctx, "cannot post a notice in the workspace's space", "error", err)
	}
}

// start identifies the workspace and catches its channels up.
func (w *workspace) start(ctx context.Context) error {
	if err := w.identify(ctx); err != nil {
		return err
	}
	if err := w.ensureSpace(ctx); err != nil {
		return err
	}
	w.ready.Store(true)
	w.b.registerTeam(w.key.Workspace, w)
	channels, err := w.memberChannels(ctx)
	if err != nil {
		return err
	}
	for _, ch := range channels {
		if err := w.catchUp(ctx, ch.ID, true); err != nil {
			w.log.WarnContext(ctx, "cannot catch a channel up", "channel", ch.ID, "error", err)
		}
	}
	return w.catchUpDMs(ctx)
}

// identify asks Slack who the bot is and which team it belongs to.
func (w *workspace) identify(ctx context.Context) error {
	var auth *slackapi.AuthTestResponse
	err := w.call(ctx, "auth.test", func(ctx context.Context) (err error) {
		auth, err = w.bot().AuthTestContext(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("auth.test: %w", err)
	}
	w.ident = slackconn.Identity{TeamID: auth.TeamID, TeamName: auth.Team, URL: auth.URL, BotUserID: auth.UserID, BotID: auth.BotID}
	w.key = bridge.Key{Network: Network, Workspace: auth.TeamID}
	w.teamName, w.teamURL = auth.Team, auth.URL
	return nil
}

// memberChannels lists the conversations the bot is in that the configuration bridges.
func (w *workspace) memberChannels(ctx context.Context) ([]slackapi.Channel, error) {
	var out []slackapi.Channel
	cursor := ""
	for {
		var page []slackapi.Channel
		err := w.call(ctx, "users.conversations", func(ctx context.Context) (err error) {
			page, cursor, err = w.bot().GetConversationsForUserContext(ctx, &slackapi.GetConversationsForUserParameters{
				Types: []string{"public_channel", "private_channel"}, Cursor: cursor, Limit: 200, ExcludeArchived: true,
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("users.conversations: %w", err)
		}
		for i := range page {
			w.rememberChannel(&page[i])
			if w.configured(&page[i]) {
				out = append(out, page[i])
			}
		}
		if cursor == "" {
			return out, nil
		}
	}
}

// configured reports whether the configuration bridges a channel.
func (w *workspace) configured(ch *slackapi.Channel) bool {
	return w.cfg.AllChannels() || slices.Contains(w.cfg.Channels, ch.ID) || slices.Contains(w.cfg.Channels, ch.Name)
}

// bridges reports whether events of a channel are bridged, asking Slack about channels it has
// not seen yet.
func (w *workspace) bridges(channelID string) bool {
	if w.cfg.AllChannels() {
		return true
	}
	if _, err := w.b.store.Portal(context.Background(), w.key, channelID); err == nil {
		return true // bridged by a command, or a DM of someone who logged in
	}
	w.mu.Lock()
	ch := w.channels[channelID]
	w.mu.Unlock()
	if ch == nil {
		err := w.call(context.Background(), "conversations.info", func(ctx context.Context) (err error) {
			ch, err = w.bot().GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: channelID})
			return err
		})
		if err != nil {
			return false
		}
		w.rememberChannel(ch)
	}
	return w.configured(ch)
}

func (w *workspace) rememberChannel(ch *slackapi.Channel) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.channels[ch.ID] = ch
}

// handle is slackconn's handler. After every new connection each channel is caught up from its
// history before its first live event, so that what Slack did not deliver meanwhile still
// arrives, and in order.
func (w *workspace) handle(ctx context.Context, ev slackevents.EventsAPIEvent, _ slackconn.EventMeta) error {
	if user := authorizedUser(ev); user != "" {
		return w.handleForUser(ctx, ev, user)
	}
	channelID := eventChannel(ev)
	if channelID != "" && !w.relaysToMatrix(ctx, channelID) {
		return nil
	}
	if channelID != "" && w.needsCatchUp(channelID) {
		if err := w.catchUp(ctx, channelID, false); err != nil {
			w.log.WarnContext(ctx, "cannot catch a channel up", "channel", channelID, "error", err)
		}
	}
	return w.dispatch(ctx, ev)
}

// relaysToMatrix reports whether what is said in a channel still goes to Matrix: not once its
// conversation moved there with nothing relayed any more (RelayNone).
func (w *workspace) relaysToMatrix(ctx context.Context, channelID string) bool {
	p, err := w.b.store.Portal(ctx, w.key, channelID)
	return err != nil || p.Relay != bridge.RelayNone
}

// handleForUser handles an event Slack delivered on a user's behalf: a message in one of their
// DMs, bridged when they logged in (which makes the DM's portal), or a reaction in a DM that
// has a portal. DMs are caught up at start (catchUpDMs).
func (w *workspace) handleForUser(ctx context.Context, ev slackevents.EventsAPIEvent, slackUserID string) error {
	if e, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent); ok {
		if !isDirect(e.ChannelType) {
			return nil
		}
		bridged, err := w.ensureDMPortal(ctx, e.Channel, slackUserID)
		if err != nil || !bridged {
			return err
		}
		return w.onMessageEvent(ctx, e)
	}
	channelID := eventChannel(ev)
	if channelID == "" {
		return nil
	}
	if _, err := w.b.store.Portal(ctx, w.key, channelID); err != nil {
		return nil // not a bridged DM
	}
	return w.dispatch(ctx, ev)
}

// needsCatchUp reports, once per channel and connection, that the channel should be caught up.
func (w *workspace) needsCatchUp(channelID string) bool {
	since := w.conn.ConnectedSince()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !since.Equal(w.caughtUpFor) {
		w.caughtUpFor, w.caughtUp = since, map[string]bool{}
	}
	if w.caughtUp[channelID] {
		return false
	}
	w.caughtUp[channelID] = true
	return true
}

// eventChannel returns the channel of a message or reaction event, "" for others.
func eventChannel(ev slackevents.EventsAPIEvent) string {
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		return e.Channel
	case *slackevents.ReactionAddedEvent:
		return e.Item.Channel
	case *slackevents.ReactionRemovedEvent:
		return e.Item.Channel
	}
	return ""
}

// WorkspaceStatus is where one workspace stands, for the admin API and the bot's status.
type WorkspaceStatus struct {
	Name          string                  `json:"name"`
	TeamID        string                  `json:"team_id,omitempty"`
	Transport     string                  `json:"transport"` // socket_mode, or events_api over HTTP
	State         slackconn.State         `json:"state"`
	Connected     bool                    `json:"connected"`
	ConnectedTS   int64                   `json:"connected_since_ts,omitempty"`
	LastEventTS   int64                   `json:"last_event_ts,omitempty"`
	Events        int64                   `json:"events"`
	HandlerErrors int64                   `json:"handler_errors"`
	Reconnects    int64                   `json:"reconnects"`
	AuthFailed    bool                    `json:"auth_failed"`
	Error         string                  `json:"error,omitempty"` // why the workspace stopped, or the latest error
	Methods       map[string]MethodStatus `json:"methods,omitempty"`
	Channels      []ChannelStatus         `json:"channels"`
}

// ChannelStatus is one bridged channel: its portal and the newest message bridged either way.
type ChannelStatus struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	RoomID         id.RoomID `json:"room_id"`
	LastMessageTS  int64     `json:"last_message_ts,omitempty"` // Unix ms of the newest bridged message
	LastMessageErr string    `json:"error,omitempty"`
}

// MethodStatus is the Web API use of one method: its calls, Slack's 429s, and the callers
// waiting on its rate limit now (the method's queue depth).
type MethodStatus struct {
	Calls       int64 `json:"calls"`
	RateLimited int64 `json:"rate_limited"`
	Waiting     int64 `json:"waiting"`
}

func (w *workspace) status(ctx context.Context) WorkspaceStatus {
	c := w.conn.Status()
	s := WorkspaceStatus{
		Name: w.cfg.Name, TeamID: c.TeamID, Transport: c.Transport, State: c.State, Connected: c.Connected,
		ConnectedTS: unixMilli(c.ConnectedSince), LastEventTS: unixMilli(c.LastEventAt),
		Events: c.Events, HandlerErrors: c.HandlerErrors, Reconnects: c.Reconnects, AuthFailed: c.AuthFailed,
		Error: c.LastError, Methods: map[string]MethodStatus{},
	}
	for name, m := range c.Methods {
		s.Methods[name] = MethodStatus{Calls: m.Calls, RateLimited: m.RateLimited, Waiting: int64(m.Waiting)}
	}
	s.Channels = w.channelStatuses(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastErr != nil {
		s.Error = w.lastErr.Error()
	}
	return s
}

// channelStatuses lists the workspace's portals with their newest bridged message.
func (w *workspace) channelStatuses(ctx context.Context) []ChannelStatus {
	out := []ChannelStatus{}
	if !w.ready.Load() {
		return out
	}
	portals, err := w.b.store.Portals(ctx, w.key)
	if err != nil {
		return out
	}
	for _, p := range portals {
		cs := ChannelStatus{ID: p.ChannelID, Name: p.Name, RoomID: p.RoomID}
		if m, err := w.b.store.LatestMessage(ctx, w.key, p.ChannelID); err == nil {
			cs.LastMessageTS = m.SortKey / 1000
		} else if !bridge.IsNotFound(err) {
			cs.LastMessageErr = err.Error()
		}
		out = append(out, cs)
	}
	return out
}

// unixMilli is t in Unix milliseconds, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
