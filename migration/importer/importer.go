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
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"golang.org/x/sync/errgroup"
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
	// Workers is how many conversations are imported at a time; 0 means defaultWorkers.
	Workers int `json:"workers,omitempty"`
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

// defaultWorkers is how many conversations an import writes at a time: the homeserver then
// overlaps their sends, which each wait for the database.
const defaultWorkers = 4

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
	err = r.importConversations(ctx, convs, targets)
	if err == nil {
		r.progress.setPhase(PhaseDone)
	}
	return &r.report, err
}

// importConversations imports the conversations, opts.Workers at a time: each one's messages
// in order, different conversations side by side. The first failure stops the others.
func (r *run) importConversations(ctx context.Context, convs []*slackapi.Channel, targets []target) error {
	reports := make([]ChannelReport, len(convs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp.Or(r.opts.Workers, defaultWorkers))
	for i, ch := range convs {
		g.Go(func() error {
			rep, err := r.importConversation(gctx, ch, targets[i])
			reports[i] = rep
			if err != nil {
				return fmt.Errorf("%s: %w", rep.label(), err)
			}
			return nil
		})
	}
	err := g.Wait()
	for _, rep := range reports {
		if rep.ID != "" {
			r.report.Channels = append(r.report.Channels, rep)
		}
	}
	return err
}

func teamNameOr(name, teamID string) string {
	if name == "" {
		return teamID
	}
	return name
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

// IsInputError reports whether err is a problem with what the import was asked to do.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}
