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
// whose roots were bridged before (catchUpThreads).
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
	return w.catchUpWith(ctx, w.conn.API(), channelID, latest)
}

// catchUpWith bridges what a channel said after its newest bridged message, latest, reading it
// with api: the bot's, or for a DM the token of a member who logged in.
func (w *workspace) catchUpWith(ctx context.Context, api *slackconn.API, channelID string, latest bridge.Message) error {
	n := 0
	err := w.readHistory(ctx, api, channelID, latest.RemoteID, func(m *slackapi.Msg) error {
		n++
		return w.onMessage(ctx, m)
	})
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.InfoContext(ctx, "caught a channel up", "channel", channelID, "messages", n)
	}
	return w.catchUpThreads(ctx, api, channelID, latest)
}

// threadLookback is how far back from a channel's newest bridged message catch-up looks for
// threads that may have had replies meanwhile.
const threadLookback = 14 * 24 * time.Hour

// catchUpThreads fetches the replies written while the bridge was away to threads whose roots
// were bridged before, latest being the channel's newest bridged message then:
//
//   - the threads whose roots are in the threadLookback before latest: the history of that
//     time, read again, gives each root's latest reply, and a thread is read only when that
//     reply is not bridged;
//   - the threads with older roots that had a reply in that time, each read.
//
// Slack offers no way to find the other threads short of reading the whole history: a reply
// to a thread quiet for longer than threadLookback before the bridge stopped arrives only
// with the importer's incremental run (causeway import slack-api).
func (w *workspace) catchUpThreads(ctx context.Context, api *slackconn.API, channelID string, latest bridge.Message) error {
	until := slackMicros(latest.RemoteID)
	since := until - threadLookback.Microseconds()
	recent, err := w.historyIn(ctx, api, channelID, since, until)
	if err != nil {
		return err
	}
	roots := map[string]bool{}
	for i := range recent {
		m := &recent[i].Msg
		if m.ReplyCount == 0 {
			continue
		}
		roots[m.Timestamp] = true
		bridged, err := w.bridged(ctx, channelID, m.LatestReply)
		if err != nil {
			return err
		}
		if bridged {
			continue
		}
		if err := w.readThread(ctx, api, channelID, m.Timestamp, func(m *slackapi.Msg) error { return w.onMessage(ctx, m) }); err != nil {
			return fmt.Errorf("thread %s: %w", m.Timestamp, err)
		}
	}
	active, err := w.b.store.ActiveThreads(ctx, w.key, channelID, since)
	if err != nil {
		return err
	}
	for _, root := range active {
		if roots[root] {
			continue
		}
		if err := w.readThread(ctx, api, channelID, root, func(m *slackapi.Msg) error { return w.onMessage(ctx, m) }); err != nil {
			return fmt.Errorf("thread %s: %w", root, err)
		}
	}
	return nil
}

// bridged reports whether the message ts of a channel was bridged or imported.
func (w *workspace) bridged(ctx context.Context, channelID, ts string) (bool, error) {
	parts, err := w.b.store.Message(ctx, w.key, channelID, ts)
	return len(parts) > 0, err
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
		if err := w.catchUpWith(ctx, api, p.ChannelID, latest); err != nil {
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
