package slack

import (
	"context"
	"strings"

	"maunium.net/go/mautrix/id"
)

// resolver answers slackfmt's questions about a workspace from the bridge store: Slack users
// are their ghosts (or the Matrix users who logged in as them), channels their portals.
type resolver struct {
	w *workspace
}

// User implements slackfmt.SlackResolver.
func (r resolver) User(slackUserID string) (id.UserID, string, bool) {
	ctx := context.Background()
	if mx := r.w.mapped[slackUserID]; mx != "" {
		return mx, "", true
	}
	if l, err := r.w.b.store.LoginByRemote(ctx, r.w.key, slackUserID); err == nil {
		return l.UserID, "", true
	}
	g, err := r.w.b.store.Ghost(ctx, r.w.key, slackUserID)
	if err != nil {
		// Not seen yet: the pill still points at the ghost, named by Slack's text.
		return r.w.ghostID(slackUserID), "", true
	}
	return g.UserID, g.Name, true
}

// Channel implements slackfmt.SlackResolver.
func (r resolver) Channel(slackChannelID string) (string, string, bool) {
	p, err := r.w.b.store.Portal(context.Background(), r.w.key, slackChannelID)
	if err != nil {
		return "", "", false
	}
	return p.RoomID.URI(r.w.b.serverName).MatrixToURL(), p.Name, true
}

// Usergroup implements slackfmt.SlackResolver: a user group shows as its handle.
func (r resolver) Usergroup(groupID string) (string, bool) {
	return r.w.usergroupHandle(context.Background(), groupID)
}

// CustomEmoji implements slackfmt.SlackResolver: the workspace's custom emoji, copied to the
// media repository on first use.
func (r resolver) CustomEmoji(name string) (id.ContentURI, bool) {
	return r.w.customEmoji(context.Background(), name)
}

// SlackUserID implements slackfmt.MatrixResolver.
func (r resolver) SlackUserID(mxid id.UserID) (string, bool) {
	if slackID, ok := r.w.slackIDOfGhost(mxid); ok {
		return slackID, true
	}
	l, err := r.w.b.store.LoginOf(context.Background(), r.w.key, mxid)
	if err != nil {
		return "", false
	}
	return l.RemoteID, true
}

// SlackChannelID implements slackfmt.MatrixResolver.
func (r resolver) SlackChannelID(room id.RoomID, _ id.RoomAlias) (string, bool) {
	p, err := r.w.b.store.PortalByRoom(context.Background(), room)
	if err != nil || p.Key != r.w.key {
		return "", false
	}
	return p.ChannelID, true
}

// slackIDOfGhost returns the Slack user a ghost of this workspace stands for.
func (w *workspace) slackIDOfGhost(mxid id.UserID) (string, bool) {
	prefix, suffix, ok := strings.Cut(strings.ToLower(w.b.cfg.UsernameTemplate), "{user}")
	if !ok {
		return "", false
	}
	prefix = strings.ReplaceAll(prefix, "{workspace}", strings.ToLower(w.key.Workspace))
	suffix = strings.ReplaceAll(suffix, "{workspace}", strings.ToLower(w.key.Workspace))
	local, server, err := mxid.Parse()
	if err != nil || server != w.b.serverName || !strings.HasPrefix(local, prefix) || !strings.HasSuffix(local, suffix) {
		return "", false
	}
	slackID := strings.TrimSuffix(strings.TrimPrefix(local, prefix), suffix)
	if slackID == "" {
		return "", false
	}
	return strings.ToUpper(slackID), true
}
