package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/server"
)

func runAdmin(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	switch {
	case len(args) >= 1 && args[0] == "create-user":
		return runCreateUser(ctx, args[1:], stdout, getenv)
	case len(args) >= 2 && args[0] == "registration-token" && args[1] == "create":
		return runCreateRegistrationToken(ctx, args[2:], stdout, getenv)
	default:
		return errors.New("admin needs a subcommand: create-user or registration-token create")
	}
}

func runCreateUser(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("admin create-user", flag.ContinueOnError)
	admin := fs.Bool("admin", false, "make the user a server admin")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: causeway admin create-user [--admin] USER PASSWORD")
	}
	localpart := fs.Arg(0)
	if strings.HasPrefix(localpart, "@") {
		lp, server, err := id.UserID(localpart).Parse()
		if err != nil || server != cfg.ServerName {
			return fmt.Errorf("%s is not a user of this server (%s)", localpart, cfg.ServerName)
		}
		localpart = lp
	}
	srv, err := server.New(ctx, cfg.Config, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer srv.Close()
	sess, err := srv.Accounts.Register(ctx, accounts.RegisterParams{Localpart: localpart, Password: fs.Arg(1), Admin: *admin, InhibitLogin: true})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "created", sess.UserID)
	return nil
}

func runCreateRegistrationToken(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("admin registration-token create", flag.ContinueOnError)
	uses := fs.Int64("uses", 0, "how many registrations the token allows (0: unlimited)")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	if *uses < 0 {
		return errors.New("--uses must not be negative")
	}
	srv, err := server.New(ctx, cfg.Config, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer srv.Close()
	var allowed *int64
	if *uses > 0 {
		allowed = uses
	}
	token, err := srv.Accounts.CreateRegistrationToken(ctx, allowed, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}
