// Package importer writes a Slack workspace's history into the rooms the Slack bridge uses,
// through the bridge (bridges/slack.History) and so only through the appservice API: the
// messages keep their authors and Slack's timestamps, threads, reactions, edits and files, and
// every one is recorded in the bridge's message map, so that a second run, a resumed run and
// the live bridge's catch-up never bring a message twice.
//
// An import reads an export ZIP (migration/slackexport). It runs as a job in the server (Jobs),
// which the CLI starts and follows through the admin API, and which the scheduler can run.
package importer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/migration/cutover"
	"causeway/migration/slackexport"
)

// The kinds of import.
const (
	KindSlackExport = "slack-export" // an export ZIP
	KindSlackAPI    = "slack-api"    // the Web API of a connected workspace
)

// Options are one import's, as the CLI and the admin API give them.
type Options struct {
	Kind string `json:"kind"`
	// Path is the export ZIP, on the server's file system (slack-export).
	Path string `json:"path,omitempty"`
	// Workspace names a configured Slack workspace: the import lands in its portals (and a
	// slack-api import reads it). Without it the team comes from the export, and the rooms are
	// those the bridge uses once that team is configured.
	Workspace string `json:"workspace,omitempty"`
	// Channels limits the import to these conversations, by name (with or without #) or ID.
	Channels []string  `json:"channels,omitempty"`
	Since    time.Time `json:"since,omitzero"` // messages before it are left out
	DryRun   bool      `json:"dry_run,omitempty"`
	// FilesToken fetches files with this token instead of the export links' own; NoFiles
	// fetches none (each shows as a placeholder).
	FilesToken string `json:"files_token,omitempty"`
	NoFiles    bool   `json:"no_files,omitempty"`
	// UserMap attributes people's history to their Matrix accounts: Slack user ID or e-mail
	// address -> Matrix user ID.
	UserMap map[string]string `json:"user_map,omitempty"`
	// MatchEmails attributes the history of the people the user map leaves out to the account
	// of this server named by the local part of their Slack e-mail address, when it exists
	// (alice@example.com -> @alice:server). The dry run shows the matches to check.
	MatchEmails bool `json:"match_emails,omitempty"`
}

// Deps are what an import needs from the running server.
type Deps struct {
	Bridge     *slackbridge.Bridge
	Bridges    *bridge.Store  // the bridge's store: portals and the message map
	Store      *Store         // the import jobs
	Records    *cutover.Store // each conversation's migration record
	HTTPClient *http.Client   // fetches files; nil for a default one
	Log        *slog.Logger
}

// connectWait is how long an import waits for its configured workspace to connect.
const connectWait = time.Minute

// maxFileBytes bounds one imported file.
const maxFileBytes = 100 << 20

// Run imports what opts name and returns the report. Progress is updated as it goes.
func Run(ctx context.Context, deps Deps, opts Options, progress *Progress) (*Report, error) {
	f, err := openFeed(ctx, deps, opts)
	if err != nil {
		return nil, err
	}
	defer f.close()
	r := &run{deps: deps, opts: opts, feed: f, progress: progress, log: deps.Log}
	if err := r.resolveTeam(ctx); err != nil {
		return nil, err
	}
	return r.run(ctx)
}

// openFeed opens what an import reads.
func openFeed(ctx context.Context, deps Deps, opts Options) (feed, error) {
	switch opts.Kind {
	case KindSlackExport:
		exp, err := slackexport.Open(opts.Path, slackexport.DefaultLimits())
		if err != nil {
			return nil, &InputError{err.Error()}
		}
		client := deps.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 5 * time.Minute}
		}
		return newExportFeed(exp, fileFetcher{client: client, token: opts.FilesToken, none: opts.NoFiles, limit: maxFileBytes}), nil
	case KindSlackAPI:
		if opts.Workspace == "" {
			return nil, &InputError{"a slack-api import reads a configured workspace: name it with --workspace"}
		}
		teamID, teamName, err := deps.Bridge.AwaitWorkspaceTeam(ctx, opts.Workspace, connectWait)
		if err != nil {
			return nil, &InputError{fmt.Sprintf("--workspace %s: %v", opts.Workspace, err)}
		}
		return newWebFeed(deps.Bridge, teamID, teamName)
	}
	return nil, &InputError{fmt.Sprintf("unknown import kind %q (want %s or %s)", opts.Kind, KindSlackExport, KindSlackAPI)}
}

// InputError is a problem with what the import was asked to do (a bad export, an unknown
// channel or user): the admin API answers it with 400.
type InputError struct{ msg string }

func (e *InputError) Error() string { return e.msg }

// BadRequest marks the error for the admin API.
func (e *InputError) BadRequest() bool { return true }

// run is one import under way.
type run struct {
	deps     Deps
	opts     Options
	feed     feed
	progress *Progress
	log      *slog.Logger

	members  []slackapi.User // the workspace's, as the feed lists them
	key      bridge.Key
	users    map[string]id.UserID // the user map, by Slack user ID
	history  *slackbridge.History
	teamName string
	report   Report
}

// resolveTeam finds the workspace the import writes to.
func (r *run) resolveTeam(ctx context.Context) error {
	teamID, teamName := r.feed.team()
	if r.opts.Workspace != "" {
		id, name, err := r.deps.Bridge.AwaitWorkspaceTeam(ctx, r.opts.Workspace, connectWait)
		if err != nil {
			return &InputError{fmt.Sprintf("--workspace %s: %v", r.opts.Workspace, err)}
		}
		teamID, teamName = id, name
	}
	if teamID == "" {
		return &InputError{"the export does not say which Slack team it is from (no team_id in users.json): name a configured workspace with --workspace"}
	}
	r.teamName = teamNameOr(teamName, teamID)
	r.key = bridge.Key{Network: slackbridge.Network, Workspace: teamID}
	r.report.TeamID = teamID
	return nil
}

func (r *run) run(ctx context.Context) (*Report, error) {
	var err error
	if r.members, err = r.feed.users(ctx); err != nil {
		return nil, err
	}
	if r.users, err = r.resolveUsers(); err != nil {
		return nil, err
	}
	if err := r.matchEmails(ctx); err != nil {
		return nil, err
	}
	convs, err := r.selectConversations(ctx)
	if err != nil {
		return nil, err
	}
	sv, err := r.feed.survey(ctx)
	if err != nil {
		return nil, err
	}
	r.setTotals(sv, convs)
	r.reportUsers(sv)
	if r.opts.DryRun {
		return r.plan(ctx, sv, convs)
	}
	if err := surveyErr(sv, convs); err != nil {
		// Refused before anything is written: no half-imported conversation to clean up.
		return nil, err
	}
	r.history, err = r.deps.Bridge.History(ctx, slackbridge.HistoryOptions{
		TeamID: r.key.Workspace, TeamName: r.teamName, Source: r.feed, Users: r.users,
	})
	if err != nil {
		return nil, err
	}
	if err := r.importGhosts(ctx, convs); err != nil {
		return nil, err
	}
	r.progress.setPhase(PhaseChannels)
	targets := make([]target, len(convs))
	for i, ch := range convs {
		if targets[i], err = r.prepare(ctx, ch); err != nil {
			return nil, err
		}
		r.progress.add(PhaseChannels, 1)
	}
	r.progress.setPhase(PhaseMessages)
	for i, ch := range convs {
		rep, err := r.importConversation(ctx, ch, targets[i])
		r.report.Channels = append(r.report.Channels, rep)
		if err != nil {
			return &r.report, fmt.Errorf("%s: %w", rep.label(), err)
		}
	}
	r.progress.setPhase(PhaseDone)
	return &r.report, nil
}

func teamNameOr(name, teamID string) string {
	if name == "" {
		return teamID
	}
	return name
}

// resolveUsers reads the user map: Slack user IDs or e-mail addresses (looked up in the
// export's profiles) to Matrix user IDs. Anything it cannot place is an error, all at once.
func (r *run) resolveUsers() (map[string]id.UserID, error) {
	byEmail, byID := map[string]string{}, map[string]bool{}
	for _, u := range r.members {
		byID[u.ID] = true
		if u.Profile.Email != "" {
			byEmail[strings.ToLower(u.Profile.Email)] = u.ID
		}
	}
	out := map[string]id.UserID{}
	var problems []string
	for key, mxid := range r.opts.UserMap {
		userID := id.UserID(mxid)
		if _, _, err := userID.Parse(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not a Matrix user ID", key, mxid))
			continue
		}
		slackID := key
		if strings.Contains(key, "@") {
			if slackID = byEmail[strings.ToLower(key)]; slackID == "" {
				problems = append(problems, fmt.Sprintf("%s: no member of the workspace has this e-mail address", key))
				continue
			}
		} else if !byID[key] {
			problems = append(problems, fmt.Sprintf("%s: no member of the workspace has this ID", key))
			continue
		}
		out[slackID] = userID
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, &InputError{"user map: " + strings.Join(problems, "; ")}
	}
	return out, nil
}

// matchEmails maps, when asked, the people the user map leaves out to the accounts named by
// the local part of their e-mail addresses.
func (r *run) matchEmails(ctx context.Context) error {
	if !r.opts.MatchEmails {
		return nil
	}
	for _, u := range r.members {
		local, _, ok := strings.Cut(u.Profile.Email, "@")
		if !ok || u.IsBot || u.Deleted || r.users[u.ID] != "" {
			continue
		}
		userID, found, err := r.deps.Bridge.LocalAccount(ctx, local)
		if err != nil {
			return err
		}
		if found {
			r.users[u.ID] = userID
		}
	}
	return nil
}

// selectConversations returns the conversations to import: all, or those --channels names.
func (r *run) selectConversations(ctx context.Context) ([]*slackapi.Channel, error) {
	all, err := r.feed.conversations(ctx)
	if err != nil {
		return nil, err
	}
	if len(r.opts.Channels) == 0 {
		return all, nil
	}
	var out []*slackapi.Channel
	var unknown []string
	for _, want := range r.opts.Channels {
		name := strings.TrimPrefix(want, "#")
		i := slices.IndexFunc(all, func(ch *slackapi.Channel) bool { return ch.ID == want || (ch.Name != "" && ch.Name == name) })
		if i < 0 {
			unknown = append(unknown, want)
			continue
		}
		if !slices.Contains(out, all[i]) {
			out = append(out, all[i])
		}
	}
	if len(unknown) > 0 {
		return nil, &InputError{"--channels: not in the export (or, from the Web API, not a conversation the bot is in): " + strings.Join(unknown, ", ")}
	}
	return out, nil
}

// setTotals gives the progress its totals from the survey.
func (r *run) setTotals(sv survey, convs []*slackapi.Channel) {
	var msgs, files int64
	for _, ch := range convs {
		msgs += sv.counts[ch.ID].messages
		files += sv.counts[ch.ID].files
	}
	r.progress.setTotal(PhaseMessages, msgs)
	r.progress.setTotal("files", files)
	r.progress.setTotal(PhaseChannels, int64(len(convs)))
}

// surveyErr joins the problems the survey found in the conversations to import.
func surveyErr(sv survey, convs []*slackapi.Channel) error {
	var problems []string
	for _, ch := range convs {
		if err := sv.counts[ch.ID].err; err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", ch.ID, err))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &InputError{strings.Join(problems, "; ")}
}

// reportUsers lists the people who go to ghosts and the users the feed lacks.
func (r *run) reportUsers(sv survey) {
	r.report.UnmappedUsers, r.report.UnknownUsers = []string{}, append([]string{}, sv.unknownUsers...)
	for _, u := range r.members {
		if !u.IsBot && !u.Deleted && u.ID != slackexport.SlackbotID && r.users[u.ID] == "" {
			r.report.UnmappedUsers = append(r.report.UnmappedUsers, u.Name)
		}
	}
}

// importGhosts registers the ghosts of the selected conversations' members, with their
// export profiles. Others get theirs when they first speak.
func (r *run) importGhosts(ctx context.Context, convs []*slackapi.Channel) error {
	r.progress.setPhase(PhaseUsers)
	var members []string
	for _, ch := range convs {
		for _, m := range ch.Members {
			if !slices.Contains(members, m) {
				members = append(members, m)
			}
		}
	}
	r.progress.setTotal(PhaseUsers, int64(len(members)))
	for _, userID := range members {
		u, err := r.feed.User(ctx, userID)
		if err != nil {
			return err
		}
		if err := r.history.Ghost(ctx, u); err != nil {
			return fmt.Errorf("ghost of %s: %w", userID, err)
		}
		r.progress.add(PhaseUsers, 1)
	}
	return nil
}

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
	rep := ChannelReport{ID: ch.ID, Name: ch.Name, Kind: kindOf(ch), RoomID: t.portal.RoomID.String(),
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

// kindOf names a conversation's kind as the bridge store does.
func kindOf(ch *slackapi.Channel) string {
	switch {
	case ch.IsIM:
		return bridge.KindDM
	case ch.IsMpIM:
		return bridge.KindGroupDM
	case ch.IsPrivate:
		return bridge.KindPrivate
	}
	return bridge.KindChannel
}

// plan reports, without writing anything, what an import would do.
func (r *run) plan(ctx context.Context, sv survey, convs []*slackapi.Channel) (*Report, error) {
	r.report.DryRun = true
	for _, ch := range convs {
		c := sv.counts[ch.ID]
		rep := ChannelReport{ID: ch.ID, Name: ch.Name, Kind: kindOf(ch), Messages: c.messages, Files: c.files,
			Threads: c.threads, First: c.first, Last: c.last, FilesMissing: []slackbridge.MissingFile{}}
		if p, err := r.deps.Bridges.Portal(ctx, r.key, ch.ID); err == nil {
			rep.RoomID = p.RoomID.String()
		}
		n, err := r.deps.Bridges.CountMessages(ctx, r.key, ch.ID)
		if err != nil {
			return nil, err
		}
		rep.AlreadyImported = n
		if c.err != nil {
			rep.Failures = []Failure{{Error: c.err.Error()}}
		}
		r.report.Channels = append(r.report.Channels, rep)
	}
	for _, u := range r.members {
		mx, mapped := r.users[u.ID], r.users[u.ID] != ""
		if !mapped {
			mx = r.deps.Bridge.GhostID(r.key.Workspace, u.ID)
		}
		r.report.Users = append(r.report.Users, PlannedUser{ID: u.ID, Name: u.Name, MatrixID: mx.String(), Mapped: mapped, Bot: u.IsBot})
	}
	r.progress.setPhase(PhaseDone)
	return &r.report, surveyErr(sv, convs)
}

// IsInputError reports whether err is a problem with what the import was asked to do.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}
