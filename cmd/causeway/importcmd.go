package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"causeway/migration/importer"
)

const importUsage = `usage: causeway import slack-export EXPORT.zip [flags]
       causeway import slack-api --workspace NAME [flags]

Imports a Slack export, or the history the bot of a connected workspace can read through the
Web API (for teams without an export, or for the gap between an export's end and the bridge's
start), into the rooms of the Slack bridge, through the running server (which must be able to
read EXPORT.zip). Running it again imports nothing twice and goes on where an interrupted run
stopped.

flags:
  --workspace NAME     a configured Slack workspace to import into (default: the export's team)
  --channels a,b       only these conversations (names or IDs)
  --since DATE         only messages from DATE on (YYYY-MM-DD)
  --dry-run            print what would be imported, import nothing
  --files-token TOKEN  fetch files with this Slack token instead of the export's links
  --no-files           fetch no files (each shows as a placeholder)
  --user-map FILE      lines "SLACK_USER_ID_OR_EMAIL @user:server": whose history is their own account's
  --match-emails       also give people's history to the account named by their e-mail's local
                       part (alice@example.com -> @alice:server), when it exists; check with --dry-run
  --json               print the report as JSON
  --url URL            the server (default: http:// and the configured listen address)
  --token TOKEN        a server admin's access token (default: $CAUSEWAY_ADMIN_TOKEN)
  --config FILE        the configuration file`

// pollInterval is how often the command asks the server how the import goes.
const pollInterval = 300 * time.Millisecond

// runImport runs "causeway import slack-export|slack-api …": it starts the import as a job in the
// running server, draws its progress on stderr, and prints the report. Ctrl-C cancels the job.
func runImport(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) < 1 || (args[0] != importer.KindSlackExport && args[0] != importer.KindSlackAPI) {
		return errors.New(importUsage)
	}
	fs := flag.NewFlagSet("import "+args[0], flag.ContinueOnError)
	opts := importer.Options{Kind: args[0]}
	fs.StringVar(&opts.Workspace, "workspace", "", "a configured Slack workspace")
	channels := fs.String("channels", "", "only these conversations")
	since := fs.String("since", "", "only messages from this date on")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "print the plan only")
	fs.StringVar(&opts.FilesToken, "files-token", "", "a Slack token for the files")
	fs.BoolVar(&opts.NoFiles, "no-files", false, "fetch no files")
	userMap := fs.String("user-map", "", "a user map file")
	fs.BoolVar(&opts.MatchEmails, "match-emails", false, "match people to accounts by their e-mail's local part")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	serverURL := fs.String("url", "", "the server's URL")
	token := fs.String("token", getenv("CAUSEWAY_ADMIN_TOKEN"), "a server admin's access token")
	cfg, err := loadConfig(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	switch {
	case opts.Kind == importer.KindSlackAPI && (fs.NArg() != 0 || opts.Workspace == ""):
		return errors.New(importUsage)
	case opts.Kind == importer.KindSlackExport && fs.NArg() != 1:
		return errors.New(importUsage)
	case opts.Kind == importer.KindSlackExport:
		if opts.Path, err = filepath.Abs(fs.Arg(0)); err != nil {
			return err
		}
	}
	if err := completeOptions(&opts, *channels, *since, *userMap); err != nil {
		return err
	}
	if *token == "" {
		return errors.New("a server admin's access token is needed: --token or CAUSEWAY_ADMIN_TOKEN")
	}
	if *serverURL == "" {
		*serverURL = localURL(cfg.Listen)
	}
	api := adminClient{base: strings.TrimSuffix(*serverURL, "/") + "/_causeway/admin/v1/imports", token: *token}
	job, err := startImport(ctx, api, opts)
	if err != nil {
		return err
	}
	job, err = followImport(ctx, api, job, newProgressView(os.Stderr))
	if err != nil {
		return err
	}
	return printReport(stdout, job, *asJSON)
}

// completeOptions reads the flags that need parsing into opts.
func completeOptions(opts *importer.Options, channels, since, userMapFile string) error {
	for _, c := range strings.Split(channels, ",") {
		if c = strings.TrimSpace(c); c != "" {
			opts.Channels = append(opts.Channels, c)
		}
	}
	if since != "" {
		t, err := time.Parse(time.DateOnly, since)
		if err != nil {
			return fmt.Errorf("--since: want a date as 2024-03-01 (got %q)", since)
		}
		opts.Since = t
	}
	if userMapFile != "" {
		m, err := readUserMap(userMapFile)
		if err != nil {
			return err
		}
		opts.UserMap = m
	}
	return nil
}

// readUserMap reads a user map: one "KEY MATRIX_ID" per line (a comma or = may separate
// them too), KEY a Slack user ID or an e-mail address; # starts a comment.
func readUserMap(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--user-map: %w", err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '=' })
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 || !strings.HasPrefix(fields[1], "@") {
			return nil, fmt.Errorf("--user-map %s line %d: want a Slack user ID or e-mail and a Matrix user ID (@user:server)", path, n)
		}
		if _, dup := m[fields[0]]; dup {
			return nil, fmt.Errorf("--user-map %s line %d: %s is mapped twice", path, n, fields[0])
		}
		m[fields[0]] = fields[1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--user-map %s: %w", path, err)
	}
	return m, nil
}

func startImport(ctx context.Context, api adminClient, opts importer.Options) (importer.JobView, error) {
	data, err := api.do(ctx, http.MethodPost, "", opts)
	if err != nil {
		return importer.JobView{}, err
	}
	var job importer.JobView
	return job, json.Unmarshal(data, &job)
}

// followImport polls the job until it ends, drawing its progress. When ctx ends (Ctrl-C) the
// job is cancelled.
func followImport(ctx context.Context, api adminClient, job importer.JobView, view *progressView) (importer.JobView, error) {
	path := "/" + url.PathEscape(job.ID)
	for job.State == importer.JobRunning {
		view.draw(job)
		select {
		case <-ctx.Done():
			cancelled, err := getJob(context.WithoutCancel(ctx), api, http.MethodPost, path+"/cancel")
			if err != nil {
				return job, fmt.Errorf("interrupted, and the import could not be cancelled: %w", err)
			}
			return cancelled, fmt.Errorf("import %s cancelled: run the same command again to go on from where it stopped", job.ID)
		case <-time.After(pollInterval):
		}
		var err error
		if job, err = getJob(ctx, api, http.MethodGet, path); err != nil && ctx.Err() == nil {
			return job, err
		}
	}
	view.draw(job)
	return job, nil
}

func getJob(ctx context.Context, api adminClient, method, path string) (importer.JobView, error) {
	data, err := api.do(ctx, method, path, nil)
	if err != nil {
		return importer.JobView{}, err
	}
	var job importer.JobView
	return job, json.Unmarshal(data, &job)
}

// printReport prints an ended job's report; a failed job is the command's error.
func printReport(stdout io.Writer, job importer.JobView, asJSON bool) error {
	if job.Report != nil {
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(job.Report); err != nil {
				return err
			}
		} else if err := job.Report.WriteTable(stdout); err != nil {
			return err
		}
	}
	if job.State != importer.JobDone {
		return fmt.Errorf("import %s %s: %s", job.ID, job.State, job.Error)
	}
	return nil
}

// progressView draws an import's progress: a bar per phase, redrawn in place on a terminal;
// a plain line now and then otherwise.
type progressView struct {
	w        io.Writer
	terminal bool
	drawn    int       // lines drawn last time, on a terminal
	lastLine time.Time // when the last plain line was written
}

func newProgressView(f *os.File) *progressView {
	st, err := f.Stat()
	return &progressView{w: f, terminal: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// plainEvery is how often the progress is written when not on a terminal.
const plainEvery = 5 * time.Second

func (v *progressView) draw(job importer.JobView) {
	p := job.Progress
	elapsed := time.Duration(p.ElapsedMS) * time.Millisecond
	rows := []struct {
		name string
		c    importer.Counter
	}{{"users", p.Users}, {"channels", p.Channels}, {"messages", p.Messages}, {"files", p.Files}}
	if !v.terminal {
		if time.Since(v.lastLine) < plainEvery && job.State == importer.JobRunning {
			return
		}
		v.lastLine = time.Now()
		var parts []string
		for _, r := range rows {
			parts = append(parts, fmt.Sprintf("%s %d/%d", r.name, r.c.Done, r.c.Total))
		}
		fmt.Fprintf(v.w, "import %s: %s, %s (%s)\n", job.ID, p.Phase, strings.Join(parts, ", "), elapsed.Round(time.Second))
		return
	}
	if v.drawn > 0 {
		fmt.Fprintf(v.w, "\x1b[%dA", v.drawn)
	}
	for _, r := range rows {
		fmt.Fprintf(v.w, "\x1b[2K%s\n", bar(r.name, r.c, elapsed))
	}
	v.drawn = len(rows)
}

// bar is one phase's line: its bar, count, rate and time left.
func bar(name string, c importer.Counter, elapsed time.Duration) string {
	const width = 30
	filled := 0
	if c.Total > 0 {
		filled = int(min(c.Done, c.Total) * width / c.Total)
	}
	count := fmt.Sprintf("%d/%d", c.Done, c.Total)
	if c.Total == 0 {
		count = fmt.Sprint(c.Done) // a Web API import cannot know its totals in advance
	}
	line := fmt.Sprintf("%-9s [%s%s] %s", name, strings.Repeat("#", filled), strings.Repeat("-", width-filled), count)
	if secs := elapsed.Seconds(); secs > 0 && c.Done > 0 {
		rate := float64(c.Done) / secs
		line += fmt.Sprintf("  %.0f/s", rate)
		if left := c.Total - c.Done; left > 0 {
			line += fmt.Sprintf("  ETA %s", (time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
		}
	}
	return line
}
