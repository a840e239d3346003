package importer_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"causeway/homeserver/storage/storagetest"
	"causeway/internal/slackstack"
	"causeway/migration/importer"
)

// The synthetic workspace of the import benchmark.
const (
	benchTeam       = "T0BENCH01"
	benchUsers      = 200
	benchChannels   = 20
	benchDayMsgs    = 300 // messages per day file, about: more when two years of days are not enough
	benchSpanDays   = 730 // the history spreads over two years
	benchMessageEnv = "CAUSEWAY_BENCH_IMPORT_MESSAGES"
)

// benchStart is the first day of the synthetic history.
var benchStart = time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)

// benchMessages is how many messages the benchmark's export holds: $CAUSEWAY_BENCH_IMPORT_MESSAGES,
// or 20,000, which a laptop imports quickly. The figure that matters is for 1,000,000.
func benchMessages(tb testing.TB) int {
	s := os.Getenv(benchMessageEnv)
	if s == "" {
		return 20_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < benchChannels {
		tb.Fatalf("%s=%q: want a number of messages, at least %d", benchMessageEnv, s, benchChannels)
	}
	return n
}

// BenchmarkImportExport imports one large synthetic export (200 users, 20 public channels,
// threads, reactions, mentions) into a fresh server and reports the import's throughput and
// the process's peak memory. Each iteration is one whole import into a fresh database: a
// second import into the same one would skip every message.
//
// Run it with 1,000,000 messages:
//
//	CAUSEWAY_BENCH_IMPORT_MESSAGES=1000000 go test -run '^$' -bench BenchmarkImportExport -benchtime 1x -timeout 3h ./migration/importer/
func BenchmarkImportExport(b *testing.B) {
	n := benchMessages(b)
	path := filepath.Join(b.TempDir(), "export.zip")
	began := time.Now()
	size := writeBenchExport(b, path, n)
	b.Logf("export: %d messages, %.1f MB zipped, written in %s", n, float64(size)/(1<<20), time.Since(began).Round(time.Millisecond))

	storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
		var imported time.Duration
		var messages int64
		var peakHeap, peakRSS uint64
		b.StopTimer()
		for i := range b.N {
			if i > 0 {
				dsn = storagetest.DatabaseURL(b, driver)
			}
			st := slackstack.Start(b, slackstack.Options{DSN: dsn})
			runtime.GC()
			rssReset := resetPeakRSS()
			progress := importer.NewProgress()
			mon := startMonitor(progress)

			b.StartTimer()
			t0 := time.Now()
			rep, err := importer.Run(b.Context(), deps(st), importer.Options{Kind: importer.KindSlackExport, Path: path}, progress)
			took := time.Since(t0)
			b.StopTimer()

			mon.stop()
			if err != nil {
				b.Fatalf("import: %v", err)
			}
			messages += checkBenchReport(b, rep, n)
			imported += took
			peakHeap = max(peakHeap, mon.peakHeap)
			rss, ok := peakRSSBytes()
			peakRSS = max(peakRSS, rss)
			if ok && !rssReset {
				b.Logf("peak RSS could not be reset: it is the process's since it started")
			}
			b.Logf("%s: %d messages in %s (%s); msgs/s by tenth of the messages: %s", driver, n,
				took.Round(time.Millisecond), mon.phases(t0), mon.rates(n))
			st.Stop()
		}
		b.ReportMetric(float64(messages)/imported.Seconds(), "msgs/s")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
		if peakRSS > 0 {
			b.ReportMetric(float64(peakRSS)/(1<<20), "peak-rss-MB")
		}
	})
}

// checkBenchReport fails the benchmark when a message failed or is unaccounted for, and
// returns the number of messages the import read.
func checkBenchReport(b *testing.B, rep *importer.Report, want int) int64 {
	b.Helper()
	var total, imported, skipped int64
	for _, c := range rep.Channels {
		if c.Failed > 0 {
			b.Errorf("#%s: %d messages failed, the first: %+v", c.Name, c.Failed, c.Failures)
		}
		if c.Imported+c.Skipped != c.Messages {
			b.Errorf("#%s: %d imported + %d skipped of %d messages", c.Name, c.Imported, c.Skipped, c.Messages)
		}
		total += c.Messages
		imported += c.Imported
		skipped += c.Skipped
	}
	if total != int64(want) {
		b.Errorf("the import read %d messages, the export holds %d", total, want)
	}
	if b.Failed() {
		b.FailNow()
	}
	b.Logf("report: %d channels, %d messages imported, %d skipped", len(rep.Channels), imported, skipped)
	return total
}

// monitor watches a running import: the peak of the heap in use, when each phase begins, and
// when each tenth of the messages is done (whether the import slows as the database grows).
type monitor struct {
	progress *importer.Progress
	quit     chan struct{}
	done     chan struct{}

	peakHeap uint64
	marks    []phaseMark
	tenths   []time.Time // when the first k+1 tenths of the messages were done
}

type phaseMark struct {
	phase string
	at    time.Time
}

// monitorInterval is how often the monitor samples. ReadMemStats stops the world for
// microseconds, so ten times a second costs the import nothing measurable.
const monitorInterval = 100 * time.Millisecond

func startMonitor(progress *importer.Progress) *monitor {
	m := &monitor{progress: progress, quit: make(chan struct{}), done: make(chan struct{})}
	m.sample()
	go func() {
		defer close(m.done)
		tick := time.NewTicker(monitorInterval)
		defer tick.Stop()
		for {
			select {
			case <-m.quit:
				m.sample()
				return
			case <-tick.C:
				m.sample()
			}
		}
	}()
	return m
}

func (m *monitor) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.peakHeap = max(m.peakHeap, ms.HeapInuse)
	snap := m.progress.Snapshot()
	now := time.Now()
	if len(m.marks) == 0 || m.marks[len(m.marks)-1].phase != snap.Phase {
		m.marks = append(m.marks, phaseMark{snap.Phase, now})
	}
	for total := snap.Messages.Total; total > 0 && len(m.tenths) < 10 && snap.Messages.Done*10 >= total*int64(len(m.tenths)+1); {
		m.tenths = append(m.tenths, now)
	}
}

func (m *monitor) stop() {
	close(m.quit)
	<-m.done
}

// phases says how long each phase took, to the monitor's resolution, from start.
func (m *monitor) phases(start time.Time) string {
	var parts []string
	for i, mark := range m.marks {
		if mark.phase == importer.PhaseDone {
			break
		}
		from, to := mark.at, time.Now()
		if i == 0 {
			from = start
		}
		if i+1 < len(m.marks) {
			to = m.marks[i+1].at
		}
		parts = append(parts, fmt.Sprintf("%s %s", mark.phase, to.Sub(from).Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// rates says how fast each tenth of the messages went, in messages per second.
func (m *monitor) rates(total int) string {
	var from time.Time
	for _, mark := range m.marks {
		if mark.phase == importer.PhaseMessages {
			from = mark.at
		}
	}
	if from.IsZero() {
		return "-"
	}
	var parts []string
	for _, at := range m.tenths {
		parts = append(parts, fmt.Sprintf("%.0f", float64(total)/10/at.Sub(from).Seconds()))
		from = at
	}
	return strings.Join(parts, " ")
}

// resetPeakRSS resets the process's peak resident set (VmHWM) to its current one, so that the
// peak read after an import is the import's, not the export generator's or an earlier
// iteration's. It reports whether it could (Linux only).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSSBytes reads VmHWM, the process's peak resident set, from /proc/self/status.
func peakRSSBytes() (uint64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// The export's JSON, in the shapes Slack writes (only the fields the benchmark needs).
type (
	benchUser struct {
		ID       string `json:"id"`
		TeamID   string `json:"team_id"`
		Name     string `json:"name"`
		RealName string `json:"real_name"`
		Profile  struct {
			RealName    string `json:"real_name"`
			DisplayName string `json:"display_name"`
		} `json:"profile"`
	}
	benchTopic struct {
		Value   string `json:"value"`
		Creator string `json:"creator"`
		LastSet int64  `json:"last_set"`
	}
	benchChannel struct {
		ID         string     `json:"id"`
		Name       string     `json:"name"`
		Created    int64      `json:"created"`
		Creator    string     `json:"creator"`
		IsArchived bool       `json:"is_archived"`
		IsGeneral  bool       `json:"is_general"`
		Members    []string   `json:"members"`
		Topic      benchTopic `json:"topic"`
		Purpose    benchTopic `json:"purpose"`
	}
	benchMessage struct {
		Type         string          `json:"type"`
		TS           string          `json:"ts"`
		User         string          `json:"user"`
		Text         string          `json:"text"`
		ThreadTS     string          `json:"thread_ts,omitempty"`
		ParentUserID string          `json:"parent_user_id,omitempty"`
		ReplyCount   int             `json:"reply_count,omitempty"`
		Replies      []benchReply    `json:"replies,omitempty"`
		Reactions    []benchReaction `json:"reactions,omitempty"`
	}
	benchReply struct {
		User string `json:"user"`
		TS   string `json:"ts"`
	}
	benchReaction struct {
		Name  string   `json:"name"`
		Users []string `json:"users"`
		Count int      `json:"count"`
	}
)

// benchGenerator writes the synthetic export; its random source is seeded, so every run
// writes the same export.
type benchGenerator struct {
	zw    *zip.Writer
	rng   *rand.Rand
	users []string // user IDs
}

// writeBenchExport writes an export of n messages to path, streaming: at most one day file's
// messages are in memory at a time. It returns the ZIP's size.
func writeBenchExport(tb testing.TB, path string, n int) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	g := &benchGenerator{zw: zip.NewWriter(bw), rng: rand.New(rand.NewPCG(1, 2))}
	// The fastest compression: the benchmark is about the import, not about writing ZIPs.
	g.zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	if err := g.write(n); err != nil {
		tb.Fatalf("write the export: %v", err)
	}
	if err := g.zw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	info, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return info.Size()
}

// write writes the metadata files, then each channel's day files.
func (g *benchGenerator) write(n int) error {
	users := make([]benchUser, benchUsers)
	for i := range users {
		u := &users[i]
		u.ID, u.TeamID = fmt.Sprintf("UB%07d", i+1), benchTeam
		u.Name = fmt.Sprintf("%s.%s%d", firstNames[i%len(firstNames)], lastNames[i/len(firstNames)%len(lastNames)], i)
		u.RealName = firstNames[i%len(firstNames)] + " " + lastNames[i/len(firstNames)%len(lastNames)]
		u.Profile.RealName, u.Profile.DisplayName = u.RealName, strings.ToLower(firstNames[i%len(firstNames)])
		g.users = append(g.users, u.ID)
	}
	channels := make([]benchChannel, benchChannels)
	for i := range channels {
		c := &channels[i]
		c.ID, c.Name, c.Created, c.Creator = fmt.Sprintf("CB%07d", i+1), fmt.Sprintf("project-%02d", i), benchStart.Unix()-86400, g.users[0]
		c.Members = g.members(10 + g.rng.IntN(50))
		switch i {
		case 0:
			c.Name, c.IsGeneral, c.Members = "general", true, g.users
		case 1:
			c.Name = "random"
		}
	}
	for name, v := range map[string]any{"users.json": users, "channels.json": channels, "groups.json": []any{}, "dms.json": []any{}, "mpims.json": []any{}} {
		if err := g.writeJSON(name, v); err != nil {
			return err
		}
	}
	for i, c := range channels {
		count := n / benchChannels
		if i < n%benchChannels {
			count++
		}
		if err := g.writeChannel(c, count); err != nil {
			return err
		}
	}
	return nil
}

// members picks k distinct users.
func (g *benchGenerator) members(k int) []string {
	out := make([]string, k)
	for i, j := range g.rng.Perm(len(g.users))[:k] {
		out[i] = g.users[j]
	}
	return out
}

func (g *benchGenerator) writeJSON(name string, v any) error {
	w, err := g.zw.Create(name)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(v)
}

// writeChannel writes count messages of a channel over day files of about benchDayMsgs
// messages, spread evenly over two years.
func (g *benchGenerator) writeChannel(c benchChannel, count int) error {
	days := min(max((count+benchDayMsgs-1)/benchDayMsgs, 1), benchSpanDays)
	for d := range days {
		date := benchStart.AddDate(0, 0, d*benchSpanDays/days)
		msgs := g.day(c, date, count*(d+1)/days-count*d/days)
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(msgs); err != nil {
			return err
		}
		w, err := g.zw.Create(c.Name + "/" + date.Format(time.DateOnly) + ".json")
		if err != nil {
			return err
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// day makes one day's n messages of a channel, in ts order between 08:00 and 22:00: about one
// in ten a reply to a recent thread of the day, one in twenty with reactions.
func (g *benchGenerator) day(c benchChannel, date time.Time, n int) []benchMessage {
	msgs := make([]benchMessage, n)
	root := make([]int, n) // index of the message's thread root, or -1
	from := date.Add(8 * time.Hour).UnixMicro()
	step := max((14*time.Hour).Microseconds()/int64(n), 1)
	for i := range msgs {
		m := &msgs[i]
		// Inside its own step, so ts strictly increase.
		us := from + int64(i)*step + g.rng.Int64N(step)
		m.Type, m.TS = "message", fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
		m.User, m.Text = c.Members[g.rng.IntN(len(c.Members))], g.text()
		root[i] = -1
		if i > 0 && g.rng.IntN(10) == 0 {
			r := i - 1 - g.rng.IntN(min(i, 30))
			if root[r] >= 0 {
				r = root[r]
			}
			root[i] = r
			parent := &msgs[r]
			parent.ThreadTS = parent.TS
			parent.ReplyCount++
			parent.Replies = append(parent.Replies, benchReply{User: m.User, TS: m.TS})
			m.ThreadTS, m.ParentUserID = parent.TS, parent.User
		}
		if g.rng.IntN(20) == 0 && len(c.Members) >= 2 {
			m.Reactions = []benchReaction{{Name: reactionNames[g.rng.IntN(len(reactionNames))], Users: g.pick(c.Members, 2), Count: 2}}
		}
	}
	return msgs
}

// pick picks k distinct members.
func (g *benchGenerator) pick(members []string, k int) []string {
	out := make([]string, k)
	for i, j := range g.rng.Perm(len(members))[:k] {
		out[i] = members[j]
	}
	return out
}

// text makes a message's text: words, a few in *bold* or `code`, a few mentions.
func (g *benchGenerator) text() string {
	var sb strings.Builder
	for i := range 4 + g.rng.IntN(24) {
		if i > 0 {
			sb.WriteByte(' ')
		}
		w := words[g.rng.IntN(len(words))]
		switch g.rng.IntN(40) {
		case 0, 1:
			sb.WriteString("*" + w + "*")
		case 2:
			sb.WriteString("`" + w + "`")
		case 3:
			sb.WriteString("<@" + g.users[g.rng.IntN(len(g.users))] + ">")
		default:
			sb.WriteString(w)
		}
	}
	return sb.String()
}

var (
	firstNames    = []string{"ada", "ben", "cleo", "dan", "eva", "finn", "gia", "hugo", "ines", "jon", "kim", "leo", "mia", "nils", "olga", "paul", "quinn", "rosa", "sam", "tara"}
	lastNames     = []string{"Adler", "Berg", "Costa", "Dahl", "Eriksen", "Fischer", "Garcia", "Horn", "Ivanova", "Jensen"}
	reactionNames = []string{"+1", "+1", "+1", "heart", "eyes", "tada"}
	words         = strings.Fields(`the a to of and in is it for on that this we with be can I you deploy build
		release review merge branch test fix bug issue ticket meeting tomorrow today yesterday schedule
		customer report dashboard metrics latency error timeout database query index migration rollout
		staging production config flag cache queue worker retry alert on-call incident postmortem docs
		design proposal draft feedback thanks agreed sounds good let's ship it later maybe after lunch`)
)
