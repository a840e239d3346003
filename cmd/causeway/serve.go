package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"causeway/homeserver/server"
)

func runServe(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	cfg, err := loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, os.Stderr)
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	if token, err := srv.FirstRunToken(ctx); err != nil {
		return err
	} else if token != "" {
		fmt.Fprintf(stdout, "No account exists yet. Register the first one with this one-time registration token:\n\n    %s\n\n", token)
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "causeway listening", "version", version, "addr", l.Addr().String(), "server_name", cfg.ServerName)
	// The e2e tests read this line to find the port when listening on :0.
	fmt.Fprintf(stdout, "listening on http://%s\n", l.Addr())
	return srv.Serve(ctx, l)
}
