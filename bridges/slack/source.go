package slack

import (
	"context"
	"errors"
	"io"

	slackapi "github.com/slack-go/slack"
)

// Source is where the bridge learns what a Slack message refers to: the profiles of its
// users and bots, the conversations, the workspace's custom emoji and user groups, and the
// content of its files. A live workspace asks the Web API with its bot token; an import asks
// an export (migration/importer), so that history is bridged by the same code as live traffic.
type Source interface {
	User(ctx context.Context, userID string) (*slackapi.User, error)
	Bot(ctx context.Context, botID string) (*slackapi.Bot, error)
	Conversation(ctx context.Context, channelID string) (*slackapi.Channel, error)
	// CustomEmoji maps the workspace's custom emoji to their image URLs ("alias:name" for
	// aliases), as emoji.list does.
	CustomEmoji(ctx context.Context) (map[string]string, error)
	UserGroups(ctx context.Context) ([]slackapi.UserGroup, error)
	// Download writes a file's content to w. An error wrapping ErrFileGone means the file
	// cannot be had at all (deleted, hidden by the plan's limits, access denied): the message
	// then shows a placeholder instead of failing.
	Download(ctx context.Context, f slackapi.File, w io.Writer) error
}

// ErrFileGone marks a file that no retry will fetch.
var ErrFileGone = errors.New("the file is not available")

// apiSource is a live workspace's Source: its bot token on the Web API, within rate limits.
type apiSource struct{ w *workspace }

func (s apiSource) User(ctx context.Context, userID string) (u *slackapi.User, err error) {
	err = s.w.call(ctx, "users.info", func(ctx context.Context) (err error) {
		u, err = s.w.bot().GetUserInfoContext(ctx, userID)
		return err
	})
	return u, err
}

func (s apiSource) Bot(ctx context.Context, botID string) (bot *slackapi.Bot, err error) {
	err = s.w.call(ctx, "bots.info", func(ctx context.Context) (err error) {
		bot, err = s.w.bot().GetBotInfoContext(ctx, slackapi.GetBotInfoParameters{Bot: botID})
		return err
	})
	return bot, err
}

func (s apiSource) Conversation(ctx context.Context, channelID string) (ch *slackapi.Channel, err error) {
	err = s.w.call(ctx, "conversations.info", func(ctx context.Context) (err error) {
		ch, err = s.w.bot().GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: channelID})
		return err
	})
	return ch, err
}

func (s apiSource) CustomEmoji(ctx context.Context) (urls map[string]string, err error) {
	err = s.w.call(ctx, "emoji.list", func(ctx context.Context) (err error) {
		urls, err = s.w.bot().GetEmojiContext(ctx)
		return err
	})
	return urls, err
}

func (s apiSource) UserGroups(ctx context.Context) (groups []slackapi.UserGroup, err error) {
	err = s.w.call(ctx, "usergroups.list", func(ctx context.Context) (err error) {
		groups, err = s.w.bot().GetUserGroupsContext(ctx)
		return err
	})
	return groups, err
}

// Download fetches a file with the bot token. Slack answers a file the bot may not see, or
// one that is gone, with an HTML page or an error status, which slack-go reports as an error:
// those are retried like any other failure, since a live message's file is rarely gone.
func (s apiSource) Download(ctx context.Context, f slackapi.File, w io.Writer) error {
	return s.w.call(ctx, "files.download", func(ctx context.Context) error {
		if r, ok := w.(interface{ Reset() }); ok {
			r.Reset() // a retry starts over
		}
		return s.w.bot().GetFileContext(ctx, f.URLPrivateDownload, w)
	})
}
