// Package cutover walks each conversation of a workspace through its migration to Matrix:
//
//	planned -> imported -> bridged -> matrix-primary -> archived
//
// one step at a time, and back one step with Rollback. The importer records "imported"; the
// other steps are taken here, on an operator's command (causeway migrate, or the admin API),
// and carried out by the Slack bridge (bridges/slack: StartBridging, MoveToMatrix, Retire and
// their undoing). The state of each conversation is recorded in migration_channels.
package cutover

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
)

// Service takes the steps of the migration.
type Service struct {
	bridge  *slackbridge.Bridge
	bridges *bridge.Store
	store   *Store
	log     *slog.Logger
}

// New returns the cutover service.
func New(b *slackbridge.Bridge, bridges *bridge.Store, store *Store, log *slog.Logger) *Service {
	return &Service{bridge: b, bridges: bridges, store: store, log: log}
}

// The steps an operator takes.
const (
	ActionBridge   = "bridge"
	ActionCutover  = "cutover"
	ActionArchive  = "archive"
	ActionRollback = "rollback"
)

// Error is a refused step, with what kind of refusal it is for the admin API.
type Error struct {
	msg      string
	notFound bool
	conflict bool
}

func (e *Error) Error() string    { return e.msg }
func (e *Error) NotFound() bool   { return e.notFound }
func (e *Error) Conflict() bool   { return e.conflict }
func (e *Error) BadRequest() bool { return !e.notFound && !e.conflict }

// ChannelStatus is one conversation's line of the status table.
type ChannelStatus struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Kind          string    `json:"kind"`
	State         string    `json:"state"`
	RoomID        id.RoomID `json:"room_id"`
	HistoryRoomID id.RoomID `json:"history_room_id,omitempty"`
	Imported      int64     `json:"messages_imported"`
	LastBridged   time.Time `json:"last_bridged,omitzero"` // the newest message in the portal, by Slack time
	MatrixPeople  int       `json:"matrix_people"`         // members who already use Matrix
	SlackOnly     int       `json:"unmapped_users"`        // members still seen only through their ghosts
	FilesMissing  int64     `json:"files_missing"`
}

// Status is the status table of a workspace.
type Status struct {
	TeamID   string          `json:"team_id"`
	Channels []ChannelStatus `json:"channels"`
}

// Status lists every conversation of a workspace that has a portal.
func (s *Service) Status(ctx context.Context, workspace string) (Status, error) {
	key, portals, err := s.resolve(ctx, workspace)
	if err != nil {
		return Status{}, err
	}
	out := Status{TeamID: key.Workspace, Channels: []ChannelStatus{}}
	for _, p := range portals {
		cs, err := s.channelStatus(ctx, p)
		if err != nil {
			return Status{}, err
		}
		out.Channels = append(out.Channels, cs)
	}
	slices.SortFunc(out.Channels, func(a, b ChannelStatus) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
	return out, nil
}

// channelStatus gathers one portal's line.
func (s *Service) channelStatus(ctx context.Context, p bridge.Portal) (ChannelStatus, error) {
	rec, err := s.record(ctx, p)
	if err != nil {
		return ChannelStatus{}, err
	}
	cs := ChannelStatus{ID: p.ChannelID, Name: p.Name, Kind: p.Kind, State: rec.State, RoomID: p.RoomID,
		HistoryRoomID: rec.HistoryRoomID, Imported: rec.Imported, FilesMissing: rec.FilesMissing}
	if latest, err := s.bridges.LatestMessage(ctx, p.Key, p.ChannelID); err == nil {
		cs.LastBridged = time.UnixMicro(latest.SortKey).UTC()
	} else if !bridge.IsNotFound(err) {
		return ChannelStatus{}, err
	}
	if cs.MatrixPeople, cs.SlackOnly, err = s.bridge.PortalPeople(ctx, p.RoomID); err != nil {
		s.log.WarnContext(ctx, "cannot count a portal's members", "room_id", p.RoomID, "error", err)
	}
	return cs, nil
}

// record returns a portal's migration record; a portal without one is planned.
func (s *Service) record(ctx context.Context, p bridge.Portal) (Channel, error) {
	rec, err := s.store.Channel(ctx, p.Key, p.ChannelID)
	if bridge.IsNotFound(err) {
		return Channel{Key: p.Key, ChannelID: p.ChannelID, Name: p.Name, State: StatePlanned}, nil
	}
	return rec, err
}

// resolve finds a workspace and its portals: a configured workspace by name, or a team ID
// that has portals (an import into a workspace not configured yet).
func (s *Service) resolve(ctx context.Context, workspace string) (bridge.Key, []bridge.Portal, error) {
	key := bridge.Key{Network: slackbridge.Network, Workspace: workspace}
	configured := false
	if teamID, _, err := s.bridge.WorkspaceTeam(workspace); err == nil {
		key.Workspace, configured = teamID, true
	}
	portals, err := s.bridges.Portals(ctx, key)
	if err != nil {
		return bridge.Key{}, nil, err
	}
	if !configured && len(portals) == 0 {
		return bridge.Key{}, nil, &Error{msg: fmt.Sprintf("no Slack workspace %q: name a configured, connected workspace or a team ID with portals", workspace), notFound: true}
	}
	return key, portals, nil
}

// portal finds a conversation's portal by ID or name (with or without #).
func portal(key bridge.Key, portals []bridge.Portal, channel string) (bridge.Portal, error) {
	name := strings.TrimPrefix(channel, "#")
	for _, p := range portals {
		if p.ChannelID == channel || (p.Name != "" && p.Name == name) {
			return p, nil
		}
	}
	return bridge.Portal{}, &Error{msg: fmt.Sprintf("no portal of %s in workspace %s: import or bridge it first", channel, key.Workspace), notFound: true}
}

// Step takes one step of a conversation's migration: bridge, cutover, archive or rollback.
func (s *Service) Step(ctx context.Context, workspace, channel, action string) (ChannelStatus, error) {
	key, portals, err := s.resolve(ctx, workspace)
	if err != nil {
		return ChannelStatus{}, err
	}
	p, err := portal(key, portals, channel)
	if err != nil {
		return ChannelStatus{}, err
	}
	rec, err := s.record(ctx, p)
	if err != nil {
		return ChannelStatus{}, err
	}
	notice := rec.NoticeTS
	next, err := s.take(ctx, p, &rec, action)
	if err != nil {
		if rec.NoticeTS != notice {
			// A cutover failed after its notice was posted: the next attempt reuses it.
			if perr := s.store.PutChannel(ctx, rec); perr != nil {
				s.log.WarnContext(ctx, "cannot record the cutover notice", "channel", p.ChannelID, "error", perr)
			}
		}
		return ChannelStatus{}, err
	}
	rec.PreviousState, rec.State = rec.State, next
	if err := s.store.PutChannel(ctx, rec); err != nil {
		return ChannelStatus{}, err
	}
	s.log.InfoContext(ctx, "migration step", "channel", p.ChannelID, "action", action, "from", rec.PreviousState, "to", next)
	return s.channelStatus(ctx, p)
}

// take carries out an action on a conversation in state rec.State and returns the new state.
func (s *Service) take(ctx context.Context, p bridge.Portal, rec *Channel, action string) (string, error) {
	team, ch := p.Workspace, p.ChannelID
	switch action {
	case ActionBridge:
		if err := from(rec.State, action, StatePlanned, StateImported); err != nil {
			return "", err
		}
		return StateBridged, s.bridge.StartBridging(ctx, team, ch)
	case ActionCutover:
		if err := from(rec.State, action, StateBridged); err != nil {
			return "", err
		}
		ts, err := s.bridge.MoveToMatrix(ctx, team, ch, rec.NoticeTS)
		rec.NoticeTS = ts
		return StateMatrixPrimary, err
	case ActionArchive:
		if err := from(rec.State, action, StateMatrixPrimary); err != nil {
			return "", err
		}
		return StateArchived, s.bridge.Retire(ctx, team, ch)
	case ActionRollback:
		return s.rollback(ctx, p, rec)
	}
	return "", &Error{msg: fmt.Sprintf("unknown step %q (want %s, %s, %s or %s)", action, ActionBridge, ActionCutover, ActionArchive, ActionRollback)}
}

// rollback undoes the last step of a conversation, as far as Slack lets the bot.
func (s *Service) rollback(ctx context.Context, p bridge.Portal, rec *Channel) (string, error) {
	team, ch := p.Workspace, p.ChannelID
	switch rec.State {
	case StateArchived:
		return StateMatrixPrimary, s.bridge.Unretire(ctx, team, ch)
	case StateMatrixPrimary:
		err := s.bridge.MoveBackToSlack(ctx, team, ch, rec.NoticeTS)
		if err == nil {
			rec.NoticeTS = ""
		}
		return StateBridged, err
	case StateBridged:
		// Back to before the live bridge carried it: nothing crosses any more.
		back := StateImported
		if rec.Imported == 0 && rec.PreviousState == StatePlanned {
			back = StatePlanned
		}
		return back, s.bridges.SetPortalRelay(ctx, p.Key, ch, bridge.RelayNone)
	case StateImported:
		return StatePlanned, nil // the imported history stays in the room
	}
	return "", &Error{msg: fmt.Sprintf("%s is %s: there is no step to roll back", p.ChannelID, rec.State), conflict: true}
}

// from refuses an action unless the state is one of allowed.
func from(state, action string, allowed ...string) error {
	if slices.Contains(allowed, state) {
		return nil
	}
	return &Error{msg: fmt.Sprintf("cannot %s a conversation that is %s (it must be %s)", action, state, strings.Join(allowed, " or ")), conflict: true}
}

// Summary is the workspace-level view for the team lead.
type Summary struct {
	TeamID string                `json:"team_id"`
	States map[string]int        `json:"states"` // how many conversations are in each state
	Weekly []bridge.WeekActivity `json:"active_on_matrix"`
}

// summaryWeeks is how many weeks the summary counts Matrix activity for.
const summaryWeeks = 8

// Summary counts the conversations in each state and the people active on Matrix each week.
func (s *Service) Summary(ctx context.Context, workspace string) (Summary, error) {
	key, portals, err := s.resolve(ctx, workspace)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{TeamID: key.Workspace, States: map[string]int{}}
	for _, st := range States {
		sum.States[st] = 0
	}
	for _, p := range portals {
		rec, err := s.record(ctx, p)
		if err != nil {
			return Summary{}, err
		}
		sum.States[rec.State]++
	}
	sum.Weekly, err = s.bridges.MatrixActivity(ctx, key, summaryWeeks, time.Now())
	return sum, err
}
