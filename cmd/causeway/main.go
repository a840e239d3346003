// Command causeway is the Causeway homeserver: one binary that serves the Matrix APIs and
// administers the server. Run with no arguments it serves (the same as "causeway serve").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"causeway/homeserver/config"
	"causeway/homeserver/web"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: causeway [command] [flags]

commands:
  serve                                  run the homeserver (the default)
  version                                print the version
  config check                           load and validate the configuration
  config example                         print the fully-defaulted, commented configuration
  admin create-user [--admin] USER PASS  create an account (USER is a localpart or @user:server)
  admin registration-token create [--uses N]
                                         create a registration token
  bridge slack status|bridge|unbridge|resync
                                         operate the Slack bridge of the running server
                                         (causeway bridge slack, for its flags)
  import slack-export EXPORT.zip         import a Slack export through the running server
                                         (causeway import, for its flags)
  migrate status|summary|bridge|cutover|archive|rollback
                                         walk Slack channels through their move to Matrix
                                         (causeway migrate, for its flags)

flags (every command): --config FILE  (default ./causeway.yaml when it exists)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Getenv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "causeway:", err)
		os.Exit(1)
	}
}

// run dispatches a command line; it is main without the process.
func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	cmd, rest := "serve", args
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, getenv)
	case "version":
		fmt.Fprintln(stdout, "causeway", version)
		return nil
	case "config":
		return runConfig(rest, stdout, getenv)
	case "admin":
		return runAdmin(ctx, rest, stdout, getenv)
	case "bridge":
		return runBridge(ctx, rest, stdout, getenv)
	case "import":
		return runImport(ctx, rest, stdout, getenv)
	case "migrate":
		return runMigrate(ctx, rest, stdout, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

func runConfig(args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return errors.New("config needs a subcommand: check or example")
	}
	switch args[0] {
	case "check":
		if _, err := loadConfig(flag.NewFlagSet("config check", flag.ContinueOnError), args[1:], getenv); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "configuration OK")
		return nil
	case "example":
		return writeExample(stdout)
	default:
		return fmt.Errorf("unknown config subcommand %q", args[0])
	}
}

// newLogger builds the process logger: text on a terminal, JSON otherwise (or as configured),
// with request and user IDs from the context on every record.
func newLogger(cfg config.Log, w *os.File) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	var h slog.Handler
	format := cfg.Format
	if format == config.LogAuto {
		format = config.LogJSON
		if info, err := w.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
			format = config.LogText
		}
	}
	if format == config.LogText {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(web.NewContextHandler(h))
}
