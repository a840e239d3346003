package importer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"causeway/bridges/bridge"
	"causeway/migration/slackexport"
)

// Jobs runs imports inside the server, one at a time. Each job is recorded (migration_jobs)
// with its options, progress and report, so that the CLI can follow it through the admin API
// and a job cut short by a stop or a crash goes on, from where it was, when the server starts
// again. The scheduler starts its imports here too.
type Jobs struct {
	deps Deps

	mu      sync.Mutex
	ctx     context.Context // Run's; nil until it runs
	running *runningJob     // at most one
}

type runningJob struct {
	id        string
	cancel    context.CancelFunc
	progress  *Progress
	cancelled bool // by request, as opposed to the server stopping
	done      chan struct{}
}

// NewJobs returns the job runner; Run starts it.
func NewJobs(deps Deps) *Jobs { return &Jobs{deps: deps} }

// progressInterval is how often a running job's progress is recorded.
const progressInterval = time.Second

// Run resumes the jobs a stop interrupted and then serves Start until ctx ends. A job still
// running then is left recorded as running, to go on at the next start.
func (j *Jobs) Run(ctx context.Context) error {
	interrupted, err := j.deps.Store.JobsIn(ctx, JobRunning)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.ctx = ctx
	j.mu.Unlock()
	for _, job := range interrupted {
		var opts Options
		if err := json.Unmarshal([]byte(job.Params), &opts); err != nil {
			job.State, job.Error = JobFailed, "its options no longer read: "+err.Error()
			if err := j.deps.Store.PutJob(ctx, job); err != nil {
				return err
			}
			continue
		}
		j.deps.Log.InfoContext(ctx, "resuming an import", "job", job.ID)
		j.mu.Lock()
		r := j.launchLocked(job, opts)
		j.mu.Unlock()
		<-r.done // one at a time
	}
	<-ctx.Done()
	j.mu.Lock()
	r := j.running
	j.mu.Unlock()
	if r != nil {
		<-r.done
	}
	return nil
}

// JobView is a job as the admin API shows it. The files token is never shown.
type JobView struct {
	ID        string           `json:"id"`
	Kind      string           `json:"kind"`
	State     string           `json:"state"`
	Options   Options          `json:"options"`
	Progress  ProgressSnapshot `json:"progress"`
	Report    *Report          `json:"report,omitempty"`
	Error     string           `json:"error,omitempty"`
	CreatedTS int64            `json:"created_ts"`
	UpdatedTS int64            `json:"updated_ts"`
}

// JobError is a refusal of the job API, with the kind of refusal for the admin API's status.
type JobError struct {
	msg                string
	notFound, conflict bool
	badRequest         bool
}

func (e *JobError) Error() string    { return e.msg }
func (e *JobError) NotFound() bool   { return e.notFound }
func (e *JobError) Conflict() bool   { return e.conflict }
func (e *JobError) BadRequest() bool { return e.badRequest }

// maxOptionsBytes bounds the options of a job (a user map may be long).
const maxOptionsBytes = 4 << 20

// Start starts an import from its options as JSON (Options), after checking them and that
// the export opens: a bad request is refused at once, not as a failed job.
func (j *Jobs) Start(ctx context.Context, body []byte) (JobView, error) {
	opts, err := decodeOptions(body)
	if err != nil {
		return JobView{}, err
	}
	if err := checkSource(opts); err != nil {
		return JobView{}, err
	}
	params, err := json.Marshal(opts)
	if err != nil {
		return JobView{}, err
	}
	job := Job{ID: newJobID(), Kind: opts.Kind, Params: string(params), State: JobRunning, Progress: "{}", CreatedTS: time.Now().UnixMilli()}
	// Checked, recorded and started under the lock: two requests cannot both start one.
	j.mu.Lock()
	err = j.checkIdle()
	if err == nil {
		err = j.deps.Store.PutJob(ctx, job)
	}
	if err == nil {
		j.launchLocked(job, opts)
	}
	j.mu.Unlock()
	if err != nil {
		return JobView{}, err
	}
	return j.Get(ctx, job.ID)
}

// decodeOptions reads a job's options strictly: an unknown field is a mistake worth hearing of.
func decodeOptions(body []byte) (Options, error) {
	if len(body) > maxOptionsBytes {
		return Options{}, &JobError{msg: "the import's options are too large", badRequest: true}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var opts Options
	if err := dec.Decode(&opts); err != nil {
		return Options{}, &JobError{msg: "the import's options: " + err.Error(), badRequest: true}
	}
	return opts, nil
}

// checkSource refuses an import whose kind is unknown or whose export does not open.
func checkSource(opts Options) error {
	switch opts.Kind {
	case KindSlackAPI:
		if opts.Workspace == "" {
			return &JobError{msg: "a slack-api import reads a configured workspace: name it", badRequest: true}
		}
		return nil
	case KindSlackExport:
	default:
		return &JobError{msg: fmt.Sprintf("unknown import kind %q (want %s or %s)", opts.Kind, KindSlackExport, KindSlackAPI), badRequest: true}
	}
	if !filepath.IsAbs(opts.Path) {
		return &JobError{msg: fmt.Sprintf("the export's path must be absolute, as the server sees it (got %q)", opts.Path), badRequest: true}
	}
	exp, err := slackexport.Open(opts.Path, slackexport.DefaultLimits())
	if err != nil {
		return &JobError{msg: err.Error(), badRequest: true}
	}
	return exp.Close()
}

// checkIdle refuses a job before Run or while another runs. j.mu must be held.
func (j *Jobs) checkIdle() error {
	if j.ctx == nil {
		return &JobError{msg: "the importer is not running yet"}
	}
	if j.running != nil {
		return &JobError{msg: fmt.Sprintf("import %s is still running", j.running.id), conflict: true}
	}
	return nil
}

// launchLocked runs a recorded job in the background. j.mu must be held, and no job running.
func (j *Jobs) launchLocked(job Job, opts Options) *runningJob {
	ctx, cancel := context.WithCancel(j.ctx)
	r := &runningJob{id: job.ID, cancel: cancel, progress: NewProgress(), done: make(chan struct{})}
	j.running = r
	go j.run(ctx, job, opts, r)
	return r
}

// run runs a job to its end and records the outcome.
func (j *Jobs) run(ctx context.Context, job Job, opts Options, r *runningJob) {
	defer close(r.done)
	defer func() {
		j.mu.Lock()
		j.running = nil
		j.mu.Unlock()
	}()
	stopSaving := j.saveProgress(ctx, job, r.progress)
	report, err := Run(ctx, j.deps, opts, r.progress)
	stopSaving()
	base := context.WithoutCancel(ctx)
	job.Progress = snapshotJSON(r.progress)
	j.mu.Lock()
	cancelled := r.cancelled
	j.mu.Unlock()
	switch {
	case err != nil && ctx.Err() != nil && !cancelled:
		// The server is stopping: the job stays running, to go on at the next start.
		_ = j.deps.Store.PutJob(base, job)
		return
	case cancelled:
		job.State, job.Error = JobCancelled, "cancelled; run the import again to go on from where it stopped"
	case err != nil:
		job.State, job.Error = JobFailed, err.Error()
	default:
		job.State = JobDone
	}
	if report != nil {
		job.Report = report.JSON()
	}
	if err := j.deps.Store.PutJob(base, job); err != nil {
		j.deps.Log.ErrorContext(base, "cannot record the end of an import", "job", job.ID, "error", err)
	}
	j.deps.Log.InfoContext(base, "import ended", "job", job.ID, "state", job.State, "error", job.Error)
}

// saveProgress records a job's progress every progressInterval until the returned stop.
func (j *Jobs) saveProgress(ctx context.Context, job Job, p *Progress) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				job.Progress = snapshotJSON(p)
				if err := j.deps.Store.PutJob(ctx, job); err != nil && ctx.Err() == nil {
					j.deps.Log.WarnContext(ctx, "cannot record an import's progress", "job", job.ID, "error", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func snapshotJSON(p *Progress) string {
	data, _ := json.Marshal(p.Snapshot())
	return string(data)
}

// Get returns a job: its live progress while it runs here, else what was recorded.
func (j *Jobs) Get(ctx context.Context, jobID string) (JobView, error) {
	job, err := j.deps.Store.Job(ctx, jobID)
	if bridge.IsNotFound(err) {
		return JobView{}, &JobError{msg: fmt.Sprintf("no import %q", jobID), notFound: true}
	} else if err != nil {
		return JobView{}, err
	}
	v := JobView{ID: job.ID, Kind: job.Kind, State: job.State, Error: job.Error, CreatedTS: job.CreatedTS, UpdatedTS: job.UpdatedTS}
	if err := json.Unmarshal([]byte(job.Params), &v.Options); err != nil {
		return JobView{}, fmt.Errorf("import %s: options: %w", job.ID, err)
	}
	v.Options.FilesToken = ""
	_ = json.Unmarshal([]byte(job.Progress), &v.Progress) // "{}" before the first save
	if job.Report != "" {
		v.Report = &Report{}
		if err := json.Unmarshal([]byte(job.Report), v.Report); err != nil {
			return JobView{}, fmt.Errorf("import %s: report: %w", job.ID, err)
		}
	}
	j.mu.Lock()
	if r := j.running; r != nil && r.id == jobID && job.State == JobRunning {
		v.Progress = r.progress.Snapshot()
	}
	j.mu.Unlock()
	return v, nil
}

// Cancel stops a running job; running it again goes on where it stopped.
func (j *Jobs) Cancel(ctx context.Context, jobID string) (JobView, error) {
	j.mu.Lock()
	r := j.running
	if r != nil && r.id == jobID {
		r.cancelled = true
		r.cancel()
	}
	j.mu.Unlock()
	if r != nil && r.id == jobID {
		<-r.done
		return j.Get(ctx, jobID)
	}
	v, err := j.Get(ctx, jobID)
	if err == nil && v.State == JobRunning {
		return v, &JobError{msg: fmt.Sprintf("import %s runs on another instance", jobID), conflict: true}
	}
	if err == nil {
		return v, &JobError{msg: fmt.Sprintf("import %s is not running (it is %s)", jobID, v.State), conflict: true}
	}
	return v, err
}

func newJobID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:4])
}
