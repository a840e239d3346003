package slack

import (
	"context"
	"fmt"
	"time"

	slackapi "github.com/slack-go/slack"
)

// WebHistory is a connected workspace as its bot token sees it on the Web API: its members,
// its conversations and their history. An import reads it where there is no export, or to
// fill the gap between an export's end and the bridge's start.
type WebHistory struct {
	w *workspace
}

// WebHistory returns the Web API view of a connected workspace.
func (b *Bridge) WebHistory(teamID string) (*WebHistory, error) {
	w := b.workspaceByTeam(teamID)
	if w == nil {
		return nil, fmt.Errorf("the Slack workspace %s is not connected", teamID)
	}
	return &WebHistory{w: w}, nil
}

// Source answers the bridge's questions from the Web API.
func (h *WebHistory) Source() Source { return h.w.src }

// Users lists the workspace's members (users.list).
func (h *WebHistory) Users(ctx context.Context) ([]slackapi.User, error) {
	var users []slackapi.User
	err := h.w.call(ctx, "users.list", func(ctx context.Context) (err error) {
		users, err = h.w.bot().GetUsersContext(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("users.list: %w", err)
	}
	return users, nil
}

// Conversations lists the channels, private channels and group DMs the bot is in, archived
// ones included, each with its members.
func (h *WebHistory) Conversations(ctx context.Context) ([]slackapi.Channel, error) {
	var out []slackapi.Channel
	cursor := ""
	for {
		var page []slackapi.Channel
		err := h.w.call(ctx, "users.conversations", func(ctx context.Context) (err error) {
			page, cursor, err = h.w.bot().GetConversationsForUserContext(ctx, &slackapi.GetConversationsForUserParameters{
				Types: []string{"public_channel", "private_channel", "mpim"}, Cursor: cursor, Limit: 200,
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("users.conversations: %w", err)
		}
		for _, ch := range page {
			if ch.Members, err = h.members(ctx, ch.ID); err != nil {
				return nil, err
			}
			out = append(out, ch)
		}
		if cursor == "" {
			return out, nil
		}
	}
}

// members lists a conversation's members (conversations.members).
func (h *WebHistory) members(ctx context.Context, channelID string) ([]string, error) {
	var all []string
	cursor := ""
	for {
		var page []string
		err := h.w.call(ctx, "conversations.members", func(ctx context.Context) (err error) {
			page, cursor, err = h.w.bot().GetUsersInConversationContext(ctx, &slackapi.GetUsersInConversationParameters{ChannelID: channelID, Cursor: cursor, Limit: 1000})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("conversations.members of %s: %w", channelID, err)
		}
		all = append(all, page...)
		if cursor == "" {
			return all, nil
		}
	}
}

// Messages calls fn with a conversation's messages after the instant after, oldest first,
// each thread's replies right after its root, as the live catch-up reads them.
func (h *WebHistory) Messages(ctx context.Context, channelID string, after time.Time, fn func(*slackapi.Msg) error) error {
	return h.w.readHistory(ctx, h.w.conn.API(), channelID, slackTS(after.UnixMicro()), fn)
}
