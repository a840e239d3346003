package importer

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	slackbridge "causeway/bridges/slack"
)

// Report is what an import did, or for a dry run what it would do.
type Report struct {
	TeamID   string          `json:"team_id"`
	DryRun   bool            `json:"dry_run,omitempty"`
	Channels []ChannelReport `json:"channels"`
	// UnmappedUsers are the people (not bots) whose history went to ghosts, not to a Matrix
	// account of theirs.
	UnmappedUsers []string `json:"unmapped_users"`
	// UnknownUsers are referred to by messages but missing from the export's users.
	UnknownUsers []string      `json:"unknown_users"`
	Users        []PlannedUser `json:"users,omitempty"` // dry run: every member and where they go
}

// ChannelReport is one conversation's part of a Report.
type ChannelReport struct {
	ID            string                    `json:"id"`
	Name          string                    `json:"name"`
	Kind          string                    `json:"kind"`
	RoomID        string                    `json:"room_id,omitempty"`
	HistoryRoomID string                    `json:"history_room_id,omitempty"`
	Messages      int64                     `json:"messages"` // in the export (or the history read)
	Imported      int64                     `json:"imported"`
	Skipped       int64                     `json:"skipped"` // imported before, older than --since, or nothing to show
	Failed        int64                     `json:"failed"`
	Threads       int64                     `json:"threads"`
	FilesFetched  int64                     `json:"files_fetched"`
	FilesMissing  []slackbridge.MissingFile `json:"files_missing"`
	Failures      []Failure                 `json:"failures,omitempty"` // the first few
	First         time.Time                 `json:"first,omitzero"`
	Last          time.Time                 `json:"last,omitzero"`
	// AlreadyImported counts, in a dry run, the messages the bridge store has already.
	AlreadyImported int64 `json:"already_imported,omitempty"`
	Files           int64 `json:"files,omitempty"` // dry run: files in the export
}

// Failure is one message that could not be imported.
type Failure struct {
	TS    string `json:"ts"`
	Error string `json:"error"`
}

// PlannedUser is, in a dry run, one member and where their messages go.
type PlannedUser struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	MatrixID string `json:"matrix_id"`
	Mapped   bool   `json:"mapped"` // to an existing account by the user map, rather than a ghost
	Bot      bool   `json:"bot,omitempty"`
}

// maxFailures is how many failures a channel's report lists.
const maxFailures = 20

// WriteTable writes the report as people read it: one line per conversation, then the users.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	if r.DryRun {
		fmt.Fprintln(tw, "conversation\tkind\tmessages\tfiles\tthreads\tfrom\tto\talready imported\t")
		for _, c := range r.Channels {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%d\t\n", c.label(), c.Kind, c.Messages, c.Files, c.Threads,
				day(c.First), day(c.Last), c.AlreadyImported)
		}
	} else {
		fmt.Fprintln(tw, "conversation\tkind\timported\tskipped\tfailed\tthreads\tfiles fetched\tfiles missing\t")
		for _, c := range r.Channels {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", c.label(), c.Kind, c.Imported, c.Skipped, c.Failed,
				c.Threads, c.FilesFetched, len(c.FilesMissing))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.DryRun {
		mapped := 0
		for _, u := range r.Users {
			if u.Mapped {
				mapped++
			}
		}
		fmt.Fprintf(w, "\nusers: %d, %d mapped to Matrix accounts, %d as ghosts\n", len(r.Users), mapped, len(r.Users)-mapped)
	}
	for _, c := range r.Channels {
		for _, f := range c.FilesMissing {
			fmt.Fprintf(w, "missing file in %s: %s (%d bytes): %s\n", c.label(), f.Name, f.Size, f.Reason)
		}
		for _, f := range c.Failures {
			fmt.Fprintf(w, "failed message in %s at %s: %s\n", c.label(), f.TS, f.Error)
		}
	}
	if len(r.UnmappedUsers) > 0 {
		fmt.Fprintf(w, "users without a Matrix account of theirs (ghosts): %s\n", strings.Join(r.UnmappedUsers, ", "))
	}
	if len(r.UnknownUsers) > 0 {
		fmt.Fprintf(w, "users the export does not list: %s\n", strings.Join(r.UnknownUsers, ", "))
	}
	return nil
}

// label names a conversation: #name, or its ID for DMs.
func (c ChannelReport) label() string {
	if c.Name == "" {
		return c.ID
	}
	return "#" + c.Name
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

// JSON is the report as its JSON.
func (r *Report) JSON() string {
	data, _ := json.Marshal(r)
	return string(data)
}
