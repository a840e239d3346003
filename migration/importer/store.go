package importer

import (
	"context"
	"fmt"
	"time"

	"causeway/internal/sqldb"
)

// Store keeps the import jobs (migrations/migration, migration_jobs).
type Store struct {
	db *sqldb.DB
}

// NewStore returns the store on the process's database handle.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

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
