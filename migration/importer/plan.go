package importer

import (
	"context"

	slackapi "github.com/slack-go/slack"

	slackbridge "causeway/bridges/slack"
)

// plan reports, without writing anything, what an import would do.
func (r *run) plan(ctx context.Context, sv survey, convs []*slackapi.Channel) (*Report, error) {
	r.report.DryRun = true
	for _, ch := range convs {
		c := sv.counts[ch.ID]
		rep := ChannelReport{ID: ch.ID, Name: ch.Name, Kind: slackbridge.ChannelKind(ch), Messages: c.messages, Files: c.files,
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
