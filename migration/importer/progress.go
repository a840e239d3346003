package importer

import (
	"sync"
	"time"
)

// The phases of an import, in order.
const (
	PhasePlan     = "plan" // reading the export through once, for the totals
	PhaseUsers    = "users"
	PhaseChannels = "channels"
	PhaseMessages = "messages"
	PhaseDone     = "done"
)

// Counter is how far one phase got: Done of Total (Total is an estimate for files and
// messages when --since or --channels narrow the import).
type Counter struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// Progress is where a running import stands; the CLI draws its bars from it.
type Progress struct {
	mu       sync.Mutex
	phase    string
	counters map[string]*Counter
	started  time.Time
}

// NewProgress returns the progress of an import that starts now.
func NewProgress() *Progress {
	p := &Progress{phase: PhasePlan, started: time.Now(), counters: map[string]*Counter{}}
	for _, name := range []string{PhaseUsers, PhaseChannels, PhaseMessages, "files"} {
		p.counters[name] = &Counter{}
	}
	return p
}

func (p *Progress) setPhase(phase string) {
	p.mu.Lock()
	p.phase = phase
	p.mu.Unlock()
}

func (p *Progress) setTotal(name string, total int64) {
	p.mu.Lock()
	p.counters[name].Total = total
	p.mu.Unlock()
}

func (p *Progress) add(name string, n int64) {
	p.mu.Lock()
	p.counters[name].Done += n
	p.mu.Unlock()
}

// ProgressSnapshot is Progress at one moment, as JSON carries it.
type ProgressSnapshot struct {
	Phase     string  `json:"phase"`
	Users     Counter `json:"users"`
	Channels  Counter `json:"channels"`
	Messages  Counter `json:"messages"`
	Files     Counter `json:"files"`
	StartedTS int64   `json:"started_ts"`
	ElapsedMS int64   `json:"elapsed_ms"`
}

// Snapshot copies the progress.
func (p *Progress) Snapshot() ProgressSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProgressSnapshot{
		Phase: p.phase, Users: *p.counters[PhaseUsers], Channels: *p.counters[PhaseChannels],
		Messages: *p.counters[PhaseMessages], Files: *p.counters["files"],
		StartedTS: p.started.UnixMilli(), ElapsedMS: time.Since(p.started).Milliseconds(),
	}
}
