// Package slack is Causeway's built-in Slack bridge. It is an ordinary application service: it
// reaches the homeserver only through the appservice API (mautrix's appservice package, over
// HTTP or the in-process transport cmd gives it), keeps its own tables through bridges/bridge,
// and talks to Slack with slack-go over Socket Mode (bridges/slack/slackconn).
//
// Each configured workspace runs on its own: a workspace with a bad token fails alone. Its
// channels become portal rooms in a space, its users ghosts; messages, edits, deletions,
// reactions and threads cross both ways, in order per channel, and what Slack said while the
// bridge was away is fetched from the channel history when it comes back.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/bridges/slack/slackconn"
)

// Network names Slack in the bridge store.
const Network = "slack"

// BotLocalpart is the bridge bot's localpart.
const BotLocalpart = "slackbot"

// Options are what New needs.
type Options struct {
	Config     Config
	ServerName string
	// AppService is the bridge's side of the appservice API, made by cmd from NewRegistration
	// and connected to the homeserver.
	AppService *appservice.AppService
	Store      *bridge.Store
	// HTTPClient reaches Slack; nil means a default one with timeouts.
	HTTPClient *http.Client
	// Puppets lets the bridge act as a Matrix user who logged in with their Slack account, so
	// that their messages from Slack appear as their own Matrix account; nil leaves such
	// messages to ghosts.
	Puppets bridge.Puppets
	// PublicURL is where Slack reaches this server (public_baseurl), for the avatars of relayed
	// messages (AvatarHandler); "" sends relayed messages without an avatar.
	PublicURL string
	// MinBackoff and MaxBackoff bound the wait between Socket Mode reconnections; zero means
	// slackconn's defaults (1 s and 2 min). Tests make them short.
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger
}

// Bridge is the Slack bridge: every configured workspace, and the Matrix side they share.
type Bridge struct {
	cfg        Config
	serverName string
	as         *appservice.AppService
	store      *bridge.Store
	log        *slog.Logger
	workspaces []*workspace
	httpClient *http.Client   // reaches Slack (and the files and avatars of imports)
	ghostIDs   *regexp.Regexp // matches the user IDs of ghosts (and no one else)
	puppets    bridge.Puppets // nil: no double puppeting of Slack-originated messages
	publicURL  string         // where Slack fetches relayed users' avatars; "" for none
	avatars    avatarSigner

	locks    sync.Map     // name -> *sync.Mutex: one writer per channel, one per ghost (lock)
	handling sync.Mutex   // held while a transaction of Matrix events is bridged
	botMu    sync.Mutex   // guards botReady
	botReady bool         // the bot is registered and named
	txns     transactions // the transactions handled lately

	mu     sync.RWMutex
	ctx    context.Context       // Run's, once it runs
	byTeam map[string]*workspace // by Slack team ID, once each workspace has connected
}

// New returns the bridge for the configured workspaces.
func New(opts Options) (*Bridge, error) {
	ghostIDs, err := regexp.Compile(ghostRegex(opts.Config.UsernameTemplate, opts.ServerName))
	if err != nil {
		return nil, fmt.Errorf("slack bridge: username_template: %w", err)
	}
	b := &Bridge{
		cfg: opts.Config, serverName: opts.ServerName, as: opts.AppService, store: opts.Store,
		log: opts.Log, ghostIDs: ghostIDs, puppets: opts.Puppets, publicURL: opts.PublicURL, byTeam: map[string]*workspace{},
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	b.httpClient = client
	for _, wc := range opts.Config.Workspaces {
		w, err := newWorkspace(b, wc, client, opts.MinBackoff, opts.MaxBackoff)
		if err != nil {
			return nil, err
		}
		b.workspaces = append(b.workspaces, w)
	}
	return b, nil
}

// NewRegistration returns the appservice registration of the bridge, for cmd to register with
// the homeserver: the bot slackbot, and every user ID the username template can make, exclusively.
// Its tokens are fresh: the bridge runs in the same process and registers anew at each start.
func NewRegistration(cfg Config, serverName string) *appservice.Registration {
	reg := appservice.CreateRegistration()
	reg.ID = "slack"
	reg.SenderLocalpart = BotLocalpart
	notLimited := false
	reg.RateLimited = &notLimited
	reg.Namespaces.UserIDs = appservice.NamespaceList{{Regex: ghostRegex(cfg.UsernameTemplate, serverName), Exclusive: true}}
	return reg
}

// ghostRegex matches the user IDs the username template makes on serverName.
func ghostRegex(template, serverName string) string {
	parts := strings.Split(strings.ToLower(template), "{workspace}")
	for i, p := range parts {
		pieces := strings.Split(p, "{user}")
		for j := range pieces {
			pieces[j] = regexp.QuoteMeta(pieces[j])
		}
		parts[i] = strings.Join(pieces, `[a-z0-9._=-]+`)
	}
	return "^@" + strings.Join(parts, `[a-z0-9._=-]+`) + ":" + regexp.QuoteMeta(serverName) + "$"
}

// Run bridges until ctx ends: each workspace on its own; Matrix events arrive through Router.
// A workspace that fails (a revoked token, say) stops alone and says so in its status.
func (b *Bridge) Run(ctx context.Context) error {
	if err := b.ensureBot(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	b.ctx = ctx
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range b.workspaces {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	return nil
}

// handleEvent bridges one event the homeserver sent, unless the bridge sent it itself.
func (b *Bridge) handleEvent(ctx context.Context, evt *event.Event) {
	if b.isBridgeUser(evt.Sender) || fromBridge(evt) {
		return // our own events, echoed back
	}
	if err := b.handleMatrixEvent(ctx, evt); err != nil && !errors.Is(err, context.Canceled) {
		b.log.WarnContext(ctx, "cannot bridge a Matrix event to Slack", "event_id", evt.ID, "room_id", evt.RoomID, "error", err)
	}
}

// runCtx is the context of Run, which ends when the bridge stops; background before Run.
func (b *Bridge) runCtx() context.Context {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.ctx == nil {
		return context.Background()
	}
	return b.ctx
}

// isBridgeUser reports whether userID is the bridge bot or a ghost.
func (b *Bridge) isBridgeUser(userID id.UserID) bool {
	return userID == b.as.BotMXID() || b.ghostIDs.MatchString(string(userID))
}

// handleMatrixEvent routes one event to the workspace of its portal.
func (b *Bridge) handleMatrixEvent(ctx context.Context, evt *event.Event) error {
	portal, err := b.store.PortalByRoom(ctx, evt.RoomID)
	if bridge.IsNotFound(err) {
		return b.handleNonPortalEvent(ctx, evt)
	} else if err != nil {
		return err
	}
	if isCommand(evt) {
		return b.handleCommand(ctx, evt, &portal)
	}
	if evt.Type == event.EventMessage {
		if err := b.store.RecordMatrixActivity(ctx, portal.Key, evt.Sender, time.UnixMilli(evt.Timestamp)); err != nil {
			b.log.WarnContext(ctx, "cannot count a Matrix user's activity", "error", err)
		}
	}
	if portal.Relay != bridge.RelayBoth {
		return nil // the conversation moved to Matrix: nothing goes to Slack any more
	}
	w := b.workspaceByTeam(portal.Workspace)
	if w == nil {
		return fmt.Errorf("portal %s of workspace %s, which is not connected", portal.RoomID, portal.Workspace)
	}
	return w.handleMatrixEvent(ctx, portal, evt)
}

// handleNonPortalEvent answers what happens outside portals: the bot joins the rooms it is
// invited to, and reads commands there.
func (b *Bridge) handleNonPortalEvent(ctx context.Context, evt *event.Event) error {
	if evt.Type == event.StateMember && evt.GetStateKey() == b.as.BotMXID().String() {
		if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
			return err
		}
		if evt.Content.AsMember().Membership == event.MembershipInvite {
			_, err := b.as.BotIntent().JoinRoomByID(ctx, evt.RoomID)
			return err
		}
		return nil
	}
	return b.handleCommand(ctx, evt, nil)
}

// isCommand reports whether a portal message is addressed to the bridge bot ("!slack …").
func isCommand(evt *event.Event) bool {
	if evt.Type != event.EventMessage {
		return false
	}
	body, _ := evt.Content.Raw["body"].(string)
	return strings.HasPrefix(strings.TrimSpace(body), "!slack ")
}

func (b *Bridge) workspaceByTeam(teamID string) *workspace {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.byTeam[teamID]
}

func (b *Bridge) registerTeam(teamID string, w *workspace) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.byTeam[teamID] = w
}

// Collector returns the metrics of every workspace's connection, for /metrics.
func (b *Bridge) Collector() prometheus.Collector {
	conns := make([]*slackconn.Conn, len(b.workspaces))
	for i, w := range b.workspaces {
		conns[i] = w.conn
	}
	return slackconn.NewCollector(conns...)
}

// Status implements bridge.Operator: every workspace's status.
func (b *Bridge) Status(ctx context.Context) any {
	return map[string]any{"workspaces": b.Statuses(ctx)}
}

// Statuses reports on every workspace, for the admin API and metrics.
func (b *Bridge) Statuses(ctx context.Context) []WorkspaceStatus {
	out := make([]WorkspaceStatus, len(b.workspaces))
	for i, w := range b.workspaces {
		out[i] = w.status(ctx)
	}
	return out
}

// ensureBot registers and names the bridge bot, once, whoever asks first (Run, an import):
// mautrix's intents are not safe for concurrent registration.
func (b *Bridge) ensureBot(ctx context.Context) error {
	b.botMu.Lock()
	defer b.botMu.Unlock()
	if b.botReady {
		return nil
	}
	bot := b.as.BotIntent()
	if err := bot.EnsureRegistered(ctx); err != nil {
		return fmt.Errorf("slack bridge: register the bot: %w", err)
	}
	if err := bot.SetDisplayName(ctx, "Slack bridge"); err != nil {
		b.log.WarnContext(ctx, "cannot name the bridge bot", "error", err)
	}
	b.botReady = true
	return nil
}

// puppet is the intent of a Matrix user the bridge was granted to act as (double puppeting, an
// import's user map): an account of the homeserver's own, which the appservice must not try to
// register as it does its ghosts.
func (b *Bridge) puppet(ctx context.Context, userID id.UserID) *appservice.IntentAPI {
	if err := b.as.StateStore.MarkRegistered(ctx, userID); err != nil {
		b.log.WarnContext(ctx, "cannot note a puppet as registered", "user_id", userID, "error", err)
	}
	return b.as.Intent(userID)
}

// WorkspaceTeam returns the Slack team ID and name of a configured workspace that has
// connected: where an import into that workspace's portals goes.
func (b *Bridge) WorkspaceTeam(name string) (teamID, teamName string, err error) {
	w, err := b.workspaceNamed(name)
	if err != nil {
		return "", "", err
	}
	return w.key.Workspace, w.teamName, nil
}

// AwaitWorkspaceTeam is WorkspaceTeam, waiting up to within for a configured workspace to
// connect: an import the server resumes at start may ask before its workspace has.
func (b *Bridge) AwaitWorkspaceTeam(ctx context.Context, name string, within time.Duration) (teamID, teamName string, err error) {
	deadline := time.Now().Add(within)
	for {
		teamID, teamName, err = b.WorkspaceTeam(name)
		if err == nil || bridge.IsNotFound(err) || time.Now().After(deadline) {
			return teamID, teamName, err
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// workspaceNamed finds a configured workspace by its name.
func (b *Bridge) workspaceNamed(name string) (*workspace, error) {
	for _, w := range b.workspaces {
		if w.cfg.Name == name {
			if !w.ready.Load() {
				return nil, fmt.Errorf("workspace %s has not connected", name)
			}
			return w, nil
		}
	}
	return nil, &bridge.NotFoundError{What: fmt.Sprintf("Slack workspace %q", name)}
}

// BridgeChannel bridges a channel of a workspace into a new portal, or into the existing room
// into, and returns the portal's room (the admin API's and the CLI's "bridge").
func (b *Bridge) BridgeChannel(ctx context.Context, workspaceName, channel string, into id.RoomID) (id.RoomID, error) {
	w, err := b.workspaceNamed(workspaceName)
	if err != nil {
		return "", err
	}
	ch, err := w.findChannel(ctx, channel)
	if err != nil {
		return "", err
	}
	p, err := w.bridgeChannel(ctx, ch, into)
	return p.RoomID, err
}

// UnbridgeChannel stops bridging a channel.
func (b *Bridge) UnbridgeChannel(ctx context.Context, workspaceName, channel string) error {
	w, p, err := b.portalOf(ctx, workspaceName, channel)
	if err != nil {
		return err
	}
	return w.unbridge(ctx, p)
}

// ResyncChannel refreshes a portal's name and topic from its channel and catches it up.
func (b *Bridge) ResyncChannel(ctx context.Context, workspaceName, channel string) error {
	w, p, err := b.portalOf(ctx, workspaceName, channel)
	if err != nil {
		return err
	}
	return w.resync(ctx, p.ChannelID)
}

// portalOf finds the portal of a channel named by name or ID.
func (b *Bridge) portalOf(ctx context.Context, workspaceName, channel string) (*workspace, bridge.Portal, error) {
	w, err := b.workspaceNamed(workspaceName)
	if err != nil {
		return nil, bridge.Portal{}, err
	}
	ch, err := w.findChannel(ctx, channel)
	if err != nil {
		return nil, bridge.Portal{}, err
	}
	p, err := b.store.Portal(ctx, w.key, ch.ID)
	if bridge.IsNotFound(err) {
		return nil, bridge.Portal{}, &bridge.NotFoundError{What: fmt.Sprintf("the portal of #%s", ch.Name)}
	}
	return w, p, err
}
