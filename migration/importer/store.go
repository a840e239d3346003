package importer

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/internal/sqldb"
)

// Store keeps what import and cutover remember (migrations/migration): one record per
// conversation, and the import jobs.
type Store struct {
	db *sqldb.DB
}

// NewStore returns the store on the process's database handle.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

// The migration states of a conversation, in order. A rollback goes back one.
const (
	StatePlanned       = "planned"
	StateImported      = "imported"
	StateBridged       = "bridged"
	StateMatrixPrimary = "matrix-primary"
	StateArchived      = "archived"
)

// States lists the migration states in order.
var States = []string{StatePlanned, StateImported, StateBridged, StateMatrixPrimary, StateArchived}

// Channel is the migration record of one conversation.
type Channel struct {
	bridge.Key
	ChannelID     string
	Name          string
	State         string
	PreviousState string    // "" when nothing can be rolled back
	HistoryRoomID id.RoomID // "" when the past went into the portal
	HistoryBefore int64     // sort key: older messages go to the history room
	Imported      int64
	Failed        int64
	FilesMissing  int64
	UpdatedTS     int64
}

const channelColumns = `network, workspace, channel_id, name, state, previous_state, history_room_id, history_before,
	messages_imported, messages_failed, files_missing, updated_ts`

func scanChannel(row interface{ Scan(...any) error }) (Channel, error) {
	var c Channel
	err := row.Scan(&c.Network, &c.Workspace, &c.ChannelID, &c.Name, &c.State, &c.PreviousState, &c.HistoryRoomID,
		&c.HistoryBefore, &c.Imported, &c.Failed, &c.FilesMissing, &c.UpdatedTS)
	return c, err
}

// Channel returns a conversation's record, or sqldb.ErrNotFound.
func (s *Store) Channel(ctx context.Context, k bridge.Key, channelID string) (Channel, error) {
	c, err := scanChannel(s.db.QueryRow(ctx, `SELECT `+channelColumns+` FROM migration_channels
		WHERE network = $1 AND workspace = $2 AND channel_id = $3`, k.Network, k.Workspace, channelID))
	if err != nil {
		return Channel{}, fmt.Errorf("migration record of %s: %w", channelID, err)
	}
	return c, nil
}

// Channels lists a workspace's records by name.
func (s *Store) Channels(ctx context.Context, k bridge.Key) ([]Channel, error) {
	rows, err := s.db.Query(ctx, `SELECT `+channelColumns+` FROM migration_channels
		WHERE network = $1 AND workspace = $2 ORDER BY name, channel_id`, k.Network, k.Workspace)
	if err != nil {
		return nil, fmt.Errorf("list migration records: %w", err)
	}
	defer rows.Close()
	var out []Channel
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("list migration records: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PutChannel writes a record whole.
func (s *Store) PutChannel(ctx context.Context, c Channel) error {
	c.UpdatedTS = time.Now().UnixMilli()
	_, err := s.db.Exec(ctx, `INSERT INTO migration_channels (`+channelColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (network, workspace, channel_id) DO UPDATE SET name = excluded.name, state = excluded.state,
			previous_state = excluded.previous_state, history_room_id = excluded.history_room_id,
			history_before = excluded.history_before, messages_imported = excluded.messages_imported,
			messages_failed = excluded.messages_failed, files_missing = excluded.files_missing, updated_ts = excluded.updated_ts`,
		c.Network, c.Workspace, c.ChannelID, c.Name, c.State, c.PreviousState, c.HistoryRoomID, c.HistoryBefore,
		c.Imported, c.Failed, c.FilesMissing, c.UpdatedTS)
	if err != nil {
		return fmt.Errorf("record migration of %s: %w", c.ChannelID, err)
	}
	return nil
}

// Job is an import job as stored.
type Job struct {
	ID        string
	Kind      string
	Params    string // JSON of Options
	State     string
	Progress  string // JSON of Progress
	Report    string // JSON of Report, "" until the job ends
	Error     string
	CreatedTS int64
	UpdatedTS int64
}

// The states of a job.
const (
	JobRunning   = "running"
	JobDone      = "done"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

const jobColumns = `id, kind, params, state, progress, report, error, created_ts, updated_ts`

func scanJob(row interface{ Scan(...any) error }) (Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.Kind, &j.Params, &j.State, &j.Progress, &j.Report, &j.Error, &j.CreatedTS, &j.UpdatedTS)
	return j, err
}

// PutJob writes a job whole.
func (s *Store) PutJob(ctx context.Context, j Job) error {
	j.UpdatedTS = time.Now().UnixMilli()
	_, err := s.db.Exec(ctx, `INSERT INTO migration_jobs (`+jobColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, progress = excluded.progress, report = excluded.report,
			error = excluded.error, updated_ts = excluded.updated_ts`,
		j.ID, j.Kind, j.Params, j.State, j.Progress, j.Report, j.Error, j.CreatedTS, j.UpdatedTS)
	if err != nil {
		return fmt.Errorf("record import job %s: %w", j.ID, err)
	}
	return nil
}

// Job returns a job, or sqldb.ErrNotFound.
func (s *Store) Job(ctx context.Context, jobID string) (Job, error) {
	j, err := scanJob(s.db.QueryRow(ctx, `SELECT `+jobColumns+` FROM migration_jobs WHERE id = $1`, jobID))
	if err != nil {
		return Job{}, fmt.Errorf("import job %s: %w", jobID, err)
	}
	return j, nil
}

// JobsIn lists the jobs in a state, oldest first.
func (s *Store) JobsIn(ctx context.Context, state string) ([]Job, error) {
	rows, err := s.db.Query(ctx, `SELECT `+jobColumns+` FROM migration_jobs WHERE state = $1 ORDER BY created_ts, id`, state)
	if err != nil {
		return nil, fmt.Errorf("list import jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list import jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
