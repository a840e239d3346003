package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"causeway/migration/cutover"
)

const migrateUsage = `usage: causeway migrate COMMAND [flags] [CHANNEL...]

commands (they act through the running server's admin API):
  status              each conversation: its state, messages imported, last bridged message,
                      members already on Matrix, members still only on Slack, missing files
  summary             conversations in each state, and people active on Matrix each week
  bridge CHANNEL...   bridge both ways                 (planned or imported -> bridged)
  cutover CHANNEL...  move to Matrix                   (bridged -> matrix-primary)
  archive CHANNEL...  archive in Slack, stop bridging  (matrix-primary -> archived)
  rollback CHANNEL    undo the last step

CHANNEL is a name (general or #general) or a Slack ID.

flags (before CHANNEL):
  --workspace NAME  a configured Slack workspace, or a team ID (default: the only configured one)
  --json            print the server's answers as JSON
  --url URL         the server (default: http:// and the configured listen address)
  --token TOKEN     a server admin's access token (default: $CAUSEWAY_ADMIN_TOKEN)
  --config FILE     the configuration file`

// runMigrate runs "causeway migrate …".
func runMigrate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) < 1 {
		return errors.New(migrateUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("migrate "+sub, flag.ContinueOnError)
	workspace := fs.String("workspace", "", "a configured Slack workspace or a team ID")
	asJSON := fs.Bool("json", false, "print JSON")
	serverURL := fs.String("url", "", "the server's URL")
	token := fs.String("token", getenv("CAUSEWAY_ADMIN_TOKEN"), "a server admin's access token")
	cfg, err := loadConfig(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	if *workspace == "" {
		if len(cfg.Bridges.Slack.Workspaces) != 1 {
			return errors.New("name the workspace with --workspace (a configured one's name, or the team ID of an import)")
		}
		*workspace = cfg.Bridges.Slack.Workspaces[0].Name
	}
	if *token == "" {
		return errors.New("a server admin's access token is needed: --token or CAUSEWAY_ADMIN_TOKEN")
	}
	if *serverURL == "" {
		*serverURL = localURL(cfg.Listen)
	}
	api := adminClient{base: strings.TrimSuffix(*serverURL, "/") + "/_causeway/admin/v1/migration/" + url.PathEscape(*workspace), token: *token}
	switch sub {
	case "status":
		return migrateShow(ctx, api, "", *asJSON, stdout, writeStatus)
	case "summary":
		return migrateShow(ctx, api, "/summary", *asJSON, stdout, writeSummary)
	case cutover.ActionBridge, cutover.ActionCutover, cutover.ActionArchive, cutover.ActionRollback:
		if fs.NArg() == 0 || (sub == cutover.ActionRollback && fs.NArg() != 1) {
			return errors.New(migrateUsage)
		}
		return migrateSteps(ctx, api, sub, fs.Args(), *asJSON, stdout)
	}
	return fmt.Errorf("unknown migrate command %q\n%s", sub, migrateUsage)
}

// migrateShow prints a GET answer, as JSON or through write.
func migrateShow[T any](ctx context.Context, api adminClient, path string, asJSON bool, stdout io.Writer, write func(io.Writer, T) error) error {
	if asJSON {
		return api.call(ctx, http.MethodGet, path, nil, stdout)
	}
	data, err := api.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return write(stdout, v)
}

// migrateSteps takes one step for each channel, stopping at the first refusal.
func migrateSteps(ctx context.Context, api adminClient, action string, channels []string, asJSON bool, stdout io.Writer) error {
	for _, ch := range channels {
		path := "/channels/" + url.PathEscape(ch) + "/" + action
		if asJSON {
			if err := api.call(ctx, http.MethodPost, path, nil, stdout); err != nil {
				return fmt.Errorf("%s: %w", ch, err)
			}
			continue
		}
		data, err := api.do(ctx, http.MethodPost, path, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", ch, err)
		}
		var cs cutover.ChannelStatus
		if err := json.Unmarshal(data, &cs); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s\n", label(cs), cs.State)
	}
	return nil
}

func label(cs cutover.ChannelStatus) string {
	if cs.Name == "" {
		return cs.ID
	}
	return "#" + cs.Name
}

// writeStatus prints the status table.
func writeStatus(w io.Writer, st cutover.Status) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tSTATE\tIMPORTED\tLAST BRIDGED\tON MATRIX\tSLACK ONLY\tMISSING FILES")
	for _, c := range st.Channels {
		last := "-"
		if !c.LastBridged.IsZero() {
			last = c.LastBridged.Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%d\n", label(c), c.State, c.Imported, last, c.MatrixPeople, c.SlackOnly, c.FilesMissing)
	}
	return tw.Flush()
}

// writeSummary prints the workspace summary.
func writeSummary(w io.Writer, sum cutover.Summary) error {
	fmt.Fprintf(w, "Slack team %s\n\nconversations by state:\n", sum.TeamID)
	for _, st := range cutover.States {
		fmt.Fprintf(w, "  %-15s %d\n", st, sum.States[st])
	}
	fmt.Fprintln(w, "\npeople who wrote from Matrix, by week:")
	for _, wk := range sum.Weekly {
		fmt.Fprintf(w, "  week of %s  %d\n", wk.Week.Format(time.DateOnly), wk.People)
	}
	return nil
}
