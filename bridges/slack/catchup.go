package slack

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	slackapi "github.com/slack-go/slack"

	"causeway/bridges/bridge"
	"causeway/bridges/slack/slackconn"
)

// historyPage is how many messages one conversations.history or .replies call asks for.
const historyPage = 200

// catchUp bridges, oldest first, what a channel said after its newest bridged message: what
// Slack could not deliver while the bridge was stopped or disconnected. Messages already
// bridged are skipped (the message map), so catching up twice duplicates nothing. A channel
// with no bridged message yet has nothing to catch up on; at start it gets its portal, since
// the bot may have been invited while the bridge was away. Earlier history is the importer's.
//
// Replies to threads are fetched for the messages caught up that have any, and for the threads
// that had a reply bridged in the last threadWindow. A thread whose root is older and which had
// no reply bridged lately is not looked at: replies to it arrive live, or with the importer's
// incremental run.
func (w *workspace) catchUp(ctx context.Context, channelID string, atStart bool) error {
	if !w.relaysToMatrix(ctx, channelID) {
		return nil
	}
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
	return w.catchUpWith(ctx, w.conn.API(), channelID, latest.RemoteID)
}

// catchUpWith bridges what a channel said after the message ts, reading it with api: the
// bot's, or for a DM the token of a member who logged in.
func (w *workspace) catchUpWith(ctx context.Context, api *slackconn.API, channelID, ts string) error {
	n := 0
	err := w.readHistory(ctx, api, channelID, ts, func(m *slackapi.Msg) error {
		n++
		return w.onMessage(ctx, m)
	})
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.InfoContext(ctx, "caught a channel up", "channel", channelID, "messages", n)
	}
	return w.catchUpRecentThreads(ctx, api, channelID)
}

// threadWindow is how far back a thread's last bridged reply may be for its replies to be
// caught up after downtime.
const threadWindow = 7 * 24 * time.Hour

// catchUpRecentThreads fetches the replies missed in the threads that were active lately.
func (w *workspace) catchUpRecentThreads(ctx context.Context, api *slackconn.API, channelID string) error {
	roots, err := w.b.store.RecentThreads(ctx, w.key, channelID, time.Now().Add(-threadWindow).UnixMilli())
	if err != nil {
		return err
	}
	for _, root := range roots {
		if err := w.readThread(ctx, api, channelID, root, func(m *slackapi.Msg) error { return w.onMessage(ctx, m) }); err != nil {
			return fmt.Errorf("thread %s: %w", root, err)
		}
	}
	return nil
}

// historyWindow is how much of a channel's time readHistory reads, sorts and hands out at a
// time: reading oldest first in windows bounds the memory by one window's messages.
const historyWindow = 30 * 24 * time.Hour

// readHistory calls fn with each message of a channel after the message ts after (from the
// beginning when ""), oldest first, and with the replies of each thread right after its
// root. It is how the live bridge catches up and how an import reads the Web API.
func (w *workspace) readHistory(ctx context.Context, api *slackconn.API, channelID, after string, fn func(*slackapi.Msg) error) error {
	last := slackMicros(after) // what was handed out, up to this instant
	end := time.Now().Add(time.Minute).UnixMicro()
	for start := last; start <= end; start += historyWindow.Microseconds() {
		msgs, err := w.historyIn(ctx, api, channelID, start, start+historyWindow.Microseconds())
		if err != nil {
			return err
		}
		for i := range msgs {
			m := &msgs[i].Msg
			if slackMicros(m.Timestamp) <= last {
				continue // the window's first instant, handed out with the previous one
			}
			last = slackMicros(m.Timestamp)
			m.Channel = channelID
			if err := fn(m); err != nil {
				return fmt.Errorf("message %s: %w", m.Timestamp, err)
			}
			if m.ReplyCount > 0 {
				if err := w.readThread(ctx, api, channelID, m.Timestamp, fn); err != nil {
					return fmt.Errorf("thread %s: %w", m.Timestamp, err)
				}
			}
		}
	}
	return nil
}

// historyIn returns a channel's messages between two instants (microseconds, both
// included), oldest first.
func (w *workspace) historyIn(ctx context.Context, api *slackconn.API, channelID string, oldest, latest int64) ([]slackapi.Message, error) {
	var all []slackapi.Message
	cursor := ""
	for {
		var resp *slackapi.GetConversationHistoryResponse
		err := api.Do(ctx, "conversations.history", func(ctx context.Context) (err error) {
			resp, err = api.Client().GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
				ChannelID: channelID, Oldest: slackTS(oldest), Latest: slackTS(latest), Inclusive: true, Limit: historyPage, Cursor: cursor,
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

// readThread calls fn with the replies of a thread, oldest first.
func (w *workspace) readThread(ctx context.Context, api *slackconn.API, channelID, rootTS string, fn func(*slackapi.Msg) error) error {
	cursor := ""
	for {
		var msgs []slackapi.Message
		var more bool
		err := api.Do(ctx, "conversations.replies", func(ctx context.Context) (err error) {
			msgs, more, cursor, err = api.Client().GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{
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
			if err := fn(m); err != nil {
				return err
			}
		}
		if !more || cursor == "" {
			return nil
		}
	}
}

// catchUpDMs catches up the DM portals, each with the token of a member who logged in: the
// bot is in no DM and cannot read them.
func (w *workspace) catchUpDMs(ctx context.Context) error {
	portals, err := w.b.store.Portals(ctx, w.key)
	if err != nil {
		return err
	}
	logins, err := w.b.store.Logins(ctx, w.key)
	if err != nil {
		return err
	}
	for _, p := range portals {
		if !isDMKind(p.Kind) {
			continue
		}
		latest, err := w.b.store.LatestMessage(ctx, w.key, p.ChannelID)
		if bridge.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		api := w.memberAPI(ctx, p.ChannelID, logins)
		if api == nil {
			continue // no one who logged in is in it any more
		}
		if err := w.catchUpWith(ctx, api, p.ChannelID, latest.RemoteID); err != nil {
			w.log.WarnContext(ctx, "cannot catch a DM up", "channel", p.ChannelID, "error", err)
		}
	}
	return nil
}

// memberAPI returns the Web API of the first login whose token can read a conversation.
func (w *workspace) memberAPI(ctx context.Context, channelID string, logins []bridge.Login) *slackconn.API {
	for _, l := range logins {
		api := w.conn.UserAPI(l.Token)
		err := api.Do(ctx, "conversations.info", func(ctx context.Context) error {
			_, err := api.Client().GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: channelID})
			return err
		})
		if err == nil {
			return api
		}
	}
	return nil
}
