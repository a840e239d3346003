package importer

import (
	"context"
	"fmt"
	"time"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/migration/cutover"
	"causeway/migration/slackexport"
)

// target is where a conversation's past goes.
type target struct {
	portal bridge.Portal
	rec    cutover.Channel
}

// roomFor is the room of a message with the given Slack ts: the history room for what is
// older than the portal's live traffic, else the portal.
func (t target) roomFor(ts string) id.RoomID {
	if t.rec.HistoryRoomID != "" && slackexport.TS(ts).Time().UnixMicro() < t.rec.HistoryBefore {
		return t.rec.HistoryRoomID
	}
	return t.portal.RoomID
}

// prepare finds or makes a conversation's portal and decides, once, where its past goes:
// into the portal when it has no bridged message yet, else into a history room that the
// portal names as its predecessor. The decision is recorded before any message is sent.
func (r *run) prepare(ctx context.Context, ch *slackapi.Channel) (target, error) {
	portal, _, err := r.history.Portal(ctx, ch)
	if err != nil {
		return target{}, err
	}
	rec, err := r.deps.Records.Channel(ctx, r.key, ch.ID)
	if err == nil {
		return target{portal: portal, rec: rec}, nil
	} else if !bridge.IsNotFound(err) {
		return target{}, err
	}
	rec = cutover.Channel{Key: r.key, ChannelID: ch.ID, Name: ch.Name, State: cutover.StatePlanned}
	oldest, err := r.deps.Bridges.OldestMessage(ctx, r.key, ch.ID)
	switch {
	case err == nil:
		room, err := r.history.HistoryRoom(ctx, portal)
		if err != nil {
			return target{}, err
		}
		rec.HistoryRoomID, rec.HistoryBefore = room, oldest.SortKey
	case !bridge.IsNotFound(err):
		return target{}, err
	}
	if err := r.deps.Records.PutChannel(ctx, rec); err != nil {
		return target{}, err
	}
	return target{portal: portal, rec: rec}, nil
}

// maxConsecutiveFailures stops an import whose messages keep failing: the homeserver is
// likely down, and going on would only skip the rest.
const maxConsecutiveFailures = 20

// importConversation imports one conversation's messages, oldest first, then makes an
// archived channel's portal and a history room read-only, and records the outcome.
func (r *run) importConversation(ctx context.Context, ch *slackapi.Channel, t target) (ChannelReport, error) {
	rep := ChannelReport{ID: ch.ID, Name: ch.Name, Kind: slackbridge.ChannelKind(ch), RoomID: t.portal.RoomID.String(),
		HistoryRoomID: t.rec.HistoryRoomID.String(), FilesMissing: []slackbridge.MissingFile{}}
	failures := 0
	err := r.feed.messages(ctx, ch, r.opts.Since, func(m *slackapi.Msg) error {
		rep.Messages++
		r.progress.add(PhaseMessages, 1)
		if !r.opts.Since.IsZero() && slackexport.TS(m.Timestamp).Time().Before(r.opts.Since) {
			rep.Skipped++
			return nil
		}
		res, err := r.importMessage(ctx, t, m)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			rep.Failed++
			if len(rep.Failures) < maxFailures {
				rep.Failures = append(rep.Failures, Failure{TS: m.Timestamp, Error: err.Error()})
			}
			r.log.WarnContext(ctx, "cannot import a message", "channel", ch.ID, "ts", m.Timestamp, "error", err)
			if failures++; failures >= maxConsecutiveFailures {
				return fmt.Errorf("%d messages in a row failed, the last with: %w", failures, err)
			}
			return nil
		case res.Skipped:
			rep.Skipped++
		default:
			rep.Imported++
		}
		failures = 0
		r.countFiles(&rep, m, res)
		if m.ReplyCount > 0 && !res.Skipped {
			rep.Threads++
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	return rep, r.finish(ctx, ch, t, rep)
}

// countFiles counts the files of a message fetched and missing.
func (r *run) countFiles(rep *ChannelReport, m *slackapi.Msg, res slackbridge.Imported) {
	r.progress.add("files", int64(len(m.Files)))
	if res.Skipped {
		return
	}
	rep.FilesMissing = append(rep.FilesMissing, res.Missing...)
	rep.FilesFetched += int64(len(m.Files) - len(res.Missing))
}

// importAttempts is how often a message is tried before it counts as failed.
var importAttempts = []time.Duration{0, 200 * time.Millisecond, time.Second}

// importMessage imports one message, trying again after a short wait when it fails.
func (r *run) importMessage(ctx context.Context, t target, m *slackapi.Msg) (slackbridge.Imported, error) {
	var res slackbridge.Imported
	var err error
	for _, wait := range importAttempts {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(wait):
		}
		if res, err = r.history.Import(ctx, t.portal, t.roomFor(m.Timestamp), m); err == nil {
			return res, nil
		}
	}
	return res, err
}

// finish makes an archived channel's portal read-only, and the history room once its past is
// in, and records what the import did.
func (r *run) finish(ctx context.Context, ch *slackapi.Channel, t target, rep ChannelReport) error {
	if ch.IsArchived {
		if err := r.history.ReadOnly(ctx, t.portal.RoomID); err != nil {
			return err
		}
	}
	if t.rec.HistoryRoomID != "" {
		if err := r.history.ReadOnly(ctx, t.rec.HistoryRoomID); err != nil {
			return err
		}
	}
	rec, err := r.deps.Records.Channel(ctx, r.key, ch.ID)
	if err != nil {
		return err
	}
	if rec.State == cutover.StatePlanned {
		rec.PreviousState, rec.State = cutover.StatePlanned, cutover.StateImported
	}
	rec.Imported += rep.Imported
	rec.Failed = rep.Failed
	rec.FilesMissing = int64(len(rep.FilesMissing))
	return r.deps.Records.PutChannel(ctx, rec)
}
