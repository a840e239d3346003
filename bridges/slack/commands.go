package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/bridges/slack/slackconn"
)

const helpText = `Slack bridge commands:
  help                       this text
  status                     how each workspace is connected
  login [workspace] TOKEN    post as yourself in Slack, with your user token (xoxp-…)
  logout [workspace]         go back to being relayed through the bot
  bridge [workspace] CHANNEL bridge a Slack channel (#name or ID) into a new room
  bridge [workspace] CHANNEL here
                             (by an admin of the room) bridge the channel into this room
  unbridge                   (in a portal, by one of its admins) stop bridging its channel
  resync                     (in a portal) refresh the channel's name and topic and catch up`

// errUsage is what a command answers when it was given the wrong words.
var errUsage = errors.New("see help")

// command is one command sent to the bridge bot, in a DM or in a room it is in.
type command struct {
	b      *Bridge
	evt    *event.Event
	args   []string
	portal *bridge.Portal // the portal the command was sent in, if it is one
}

// handleCommand runs a command a Matrix user sent to the bot and answers it in the room.
// Messages in portals are commands only when they start with "!slack ".
func (b *Bridge) handleCommand(ctx context.Context, evt *event.Event, portal *bridge.Portal) error {
	if evt.Type != event.EventMessage {
		return nil
	}
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return err
	}
	content := evt.Content.AsMessage()
	if content.MsgType != event.MsgText {
		return nil
	}
	text := strings.TrimSpace(content.Body)
	if portal != nil {
		var ok bool
		if text, ok = strings.CutPrefix(text, "!slack "); !ok {
			return nil
		}
	}
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return nil
	}
	c := command{b: b, evt: evt, args: fields[1:], portal: portal}
	reply, err := c.run(ctx, strings.ToLower(fields[0]))
	if err != nil {
		reply = "Error: " + err.Error()
		if errors.Is(err, errUsage) {
			reply += "\n\n" + helpText
		}
	}
	_, err = b.as.BotIntent().SendMessageEvent(ctx, evt.RoomID, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgNotice, Body: reply, RelatesTo: (&event.RelatesTo{}).SetReplyTo(evt.ID),
	})
	return err
}

func (c *command) run(ctx context.Context, name string) (string, error) {
	switch name {
	case "help":
		return helpText, nil
	case "status":
		return c.status(ctx), nil
	case "login":
		return c.login(ctx)
	case "logout":
		return c.logout(ctx)
	case "bridge":
		return c.bridgeChannel(ctx)
	case "unbridge":
		return c.unbridge(ctx)
	case "resync":
		return c.resync(ctx)
	}
	return "", fmt.Errorf("unknown command %q: %w", name, errUsage)
}

// workspaceArg takes the optional leading workspace name off the arguments; with one
// workspace configured it may be left out. The workspace must have connected.
func (c *command) workspaceArg(want int) (*workspace, []string, error) {
	w, args, err := c.pickWorkspace(want)
	if err != nil {
		return nil, nil, err
	}
	if !w.ready.Load() {
		return nil, nil, fmt.Errorf("the workspace %s has not connected yet", w.cfg.Name)
	}
	return w, args, nil
}

func (c *command) pickWorkspace(want int) (*workspace, []string, error) {
	args := c.args
	if len(args) == want+1 {
		for _, w := range c.b.workspaces {
			if w.cfg.Name == args[0] {
				return w, args[1:], nil
			}
		}
		return nil, nil, fmt.Errorf("no workspace is named %q", args[0])
	}
	if len(args) != want {
		return nil, nil, errUsage
	}
	if c.portal != nil {
		if w := c.b.workspaceByTeam(c.portal.Workspace); w != nil {
			return w, args, nil
		}
	}
	if len(c.b.workspaces) != 1 {
		return nil, nil, errors.New("several workspaces are bridged: name one")
	}
	return c.b.workspaces[0], args, nil
}

func (c *command) status(ctx context.Context) string {
	var b strings.Builder
	for _, s := range c.b.Statuses(ctx) {
		state := string(s.State)
		if s.Error != "" {
			state += ": " + s.Error
		}
		fmt.Fprintf(&b, "%s (%s): %s, %d channels bridged\n", s.Name, s.TeamID, state, len(s.Channels))
	}
	return strings.TrimSpace(b.String())
}

// login checks a user token with Slack and records it: the user's messages are then posted as
// their own Slack account.
func (c *command) login(ctx context.Context) (string, error) {
	w, args, err := c.workspaceArg(1)
	if err != nil {
		return "", err
	}
	token := args[0]
	if !strings.HasPrefix(token, "xoxp-") {
		return "", errors.New("that is not a Slack user token (xoxp-…)")
	}
	api := w.conn.UserAPI(token)
	var auth *slackapi.AuthTestResponse
	err = api.Do(ctx, "auth.test", func(ctx context.Context) (err error) {
		auth, err = api.Client().AuthTestContext(ctx)
		return err
	})
	if err != nil {
		var ae *slackconn.AuthError
		if errors.As(err, &ae) {
			return "", fmt.Errorf("Slack refused the token: %s", ae.SlackError)
		}
		return "", err
	}
	if auth.TeamID != w.key.Workspace {
		return "", fmt.Errorf("the token belongs to another workspace (%s)", auth.Team)
	}
	err = c.b.store.PutLogin(ctx, bridge.Login{Key: w.key, UserID: c.evt.Sender, RemoteID: auth.UserID, Token: token, CreatedTS: time.Now().UnixMilli()})
	if err != nil {
		return "", err
	}
	c.redactToken(ctx)
	if c.b.puppets != nil {
		if err := c.b.puppets.Grant(ctx, c.evt.Sender); err != nil {
			return "", fmt.Errorf("logged in, but the homeserver did not let the bridge act as you: %w", err)
		}
	}
	return fmt.Sprintf("Logged in to %s as %s: your messages are now posted as you.", w.cfg.Name, auth.User), nil
}

// redactToken removes the login command from the room, so that the token does not stay in it.
func (c *command) redactToken(ctx context.Context) {
	if _, err := c.b.as.BotIntent().RedactEvent(ctx, c.evt.RoomID, c.evt.ID); err != nil {
		c.b.log.WarnContext(ctx, "cannot redact a login command", "room_id", c.evt.RoomID, "error", err)
	}
}

func (c *command) logout(ctx context.Context) (string, error) {
	w, _, err := c.workspaceArg(0)
	if err != nil {
		return "", err
	}
	if err := c.b.store.DeleteLogin(ctx, w.key, c.evt.Sender); err != nil {
		return "", err
	}
	if c.b.puppets != nil {
		if err := c.b.puppets.Revoke(ctx, c.evt.Sender); err != nil && !isNotFound(err) {
			return "", fmt.Errorf("logged out, but the bridge may still act as you: %w", err)
		}
	}
	return "Logged out of " + w.cfg.Name + ": your messages are relayed through the bot again.", nil
}

// bridgeChannel bridges a channel into a new portal or, with "here", into the room the
// command was sent in, when the sender is an admin of that room.
func (c *command) bridgeChannel(ctx context.Context) (string, error) {
	if c.portal != nil {
		return "", errors.New("this room is already the portal of a channel")
	}
	into := id.RoomID("")
	if n := len(c.args); n > 1 && c.args[n-1] == "here" {
		if !c.isRoomAdmin(ctx, c.evt.RoomID) {
			return "", errors.New("only an admin of this room may bridge a channel into it")
		}
		into, c.args = c.evt.RoomID, c.args[:n-1]
	}
	w, args, err := c.workspaceArg(1)
	if err != nil {
		return "", err
	}
	ch, err := w.findChannel(ctx, args[0])
	if err != nil {
		return "", err
	}
	p, err := w.bridgeChannel(ctx, ch, into)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("#%s is bridged to %s.", ch.Name, p.RoomID.URI(c.b.serverName).MatrixToURL()), nil
}

func (c *command) unbridge(ctx context.Context) (string, error) {
	if c.portal == nil {
		return "", errors.New("send unbridge in the portal of the channel")
	}
	if !c.isRoomAdmin(ctx, c.portal.RoomID) {
		return "", errors.New("only an admin of this room may unbridge it")
	}
	w := c.b.workspaceByTeam(c.portal.Workspace)
	if w == nil {
		return "", errors.New("its workspace is not connected")
	}
	if err := w.unbridge(ctx, *c.portal); err != nil {
		return "", err
	}
	return "This room is no longer bridged to Slack.", nil
}

func (c *command) resync(ctx context.Context) (string, error) {
	if c.portal == nil {
		return "", errors.New("send resync in the portal of the channel")
	}
	w := c.b.workspaceByTeam(c.portal.Workspace)
	if w == nil {
		return "", errors.New("its workspace is not connected")
	}
	if err := w.resync(ctx, c.portal.ChannelID); err != nil {
		return "", err
	}
	return "Resynced.", nil
}

// isRoomAdmin reports whether the sender has power level 100 in a room.
func (c *command) isRoomAdmin(ctx context.Context, roomID id.RoomID) bool {
	levels, err := c.b.as.BotIntent().PowerLevels(ctx, roomID)
	return err == nil && levels.GetUserLevel(c.evt.Sender) >= 100
}
