package slack

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	slackapi "github.com/slack-go/slack"

	"causeway/bridges/bridge"
)

// historyPage is how many messages one conversations.history or .replies call asks for.
const historyPage = 200

// catchUp bridges, oldest first, what a channel said after its newest bridged message: what
// Slack could not deliver while the bridge was stopped or disconnected. Messages already
// bridged are skipped (the message map), so catching up twice duplicates nothing. A channel
// with no bridged message yet has nothing to catch up on; at start it gets its portal, since
// the bot may have been invited while the bridge was away. Earlier history is the importer's.
//
// Replies to threads are fetched for the messages caught up that have any. New replies to a
// thread whose root is older than the newest bridged message are not seen here; they arrive
// live, or with the importer's incremental run.
func (w *workspace) catchUp(ctx context.Context, channelID string, atStart bool) error {
	latest, err := w.b.store.LatestMessage(ctx, w.key, channelID)
	if bridge.IsNotFound(err) {
		if !atStart {
			return nil
		}
		unlock := w.lockChannel(channelID)
		defer unlock()
		_, err := w.portal(ctx, channelID)
		return err
	} else if err != nil {
		return err
	}
	msgs, err := w.historySince(ctx, channelID, latest.RemoteID)
	if err != nil {
		return err
	}
	for i := range msgs {
		m := &msgs[i].Msg
		m.Channel = channelID
		if err := w.onMessage(ctx, m); err != nil {
			return fmt.Errorf("message %s: %w", m.Timestamp, err)
		}
		if m.ReplyCount > 0 {
			if err := w.catchUpThread(ctx, channelID, m.Timestamp); err != nil {
				return fmt.Errorf("thread %s: %w", m.Timestamp, err)
			}
		}
	}
	if len(msgs) > 0 {
		w.log.InfoContext(ctx, "caught a channel up", "channel", channelID, "messages", len(msgs))
	}
	return nil
}

// historySince returns a channel's messages after ts, oldest first.
func (w *workspace) historySince(ctx context.Context, channelID, ts string) ([]slackapi.Message, error) {
	var all []slackapi.Message
	cursor := ""
	for {
		var resp *slackapi.GetConversationHistoryResponse
		err := w.call(ctx, "conversations.history", func(ctx context.Context) (err error) {
			resp, err = w.bot().GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
				ChannelID: channelID, Oldest: ts, Inclusive: false, Limit: historyPage, Cursor: cursor,
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("conversations.history: %w", err)
		}
		all = append(all, resp.Messages...)
		cursor = resp.ResponseMetaData.NextCursor
		if !resp.HasMore || cursor == "" {
			break
		}
	}
	slices.SortFunc(all, func(a, b slackapi.Message) int {
		return cmp.Compare(slackMicros(a.Timestamp), slackMicros(b.Timestamp))
	})
	return all, nil
}

// catchUpThread bridges the replies of a thread that are not bridged yet, oldest first.
func (w *workspace) catchUpThread(ctx context.Context, channelID, rootTS string) error {
	cursor := ""
	for {
		var msgs []slackapi.Message
		var more bool
		err := w.call(ctx, "conversations.replies", func(ctx context.Context) (err error) {
			msgs, more, cursor, err = w.bot().GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{
				ChannelID: channelID, Timestamp: rootTS, Limit: historyPage, Cursor: cursor,
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("conversations.replies: %w", err)
		}
		for i := range msgs {
			m := &msgs[i].Msg
			if m.Timestamp == rootTS {
				continue // the root leads each page
			}
			m.Channel = channelID
			if err := w.onMessage(ctx, m); err != nil {
				return err
			}
		}
		if !more || cursor == "" {
			return nil
		}
	}
}
