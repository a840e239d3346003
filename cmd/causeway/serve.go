package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"causeway/appservice"
	"causeway/homeserver/server"
)

func runServe(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	cfg, err := loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, os.Stderr)
	registry := appservice.NewRegistry(cfg.ServerName)
	if err := registry.Load(cfg.Appservices); err != nil {
		return err
	}
	bridges, err := registerBridges(cfg, registry, log)
	if err != nil {
		return err
	}
	// Requests to appservices carry their own deadlines.
	options := append([]server.Option{appservice.Layer(registry, bridges.client(), appservice.SenderOptions{}),
		server.WithBridges(&bridges.directory), server.WithImports(&bridges.imports), server.WithMigration(&bridges.migration)},
		bridges.routes()...)
	srv, err := server.New(ctx, cfg.Config, log, options...)
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := bridges.start(ctx, cfg, registry, srv, log); err != nil {
		return err
	}
	go reloadOnHangup(ctx, registry, log)
	if token, err := srv.FirstRunToken(ctx); err != nil {
		return err
	} else if token != "" {
		fmt.Fprintf(stdout, "No account exists yet. Register the first one with this one-time registration token:\n\n    %s\n\n", token)
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	if cfg.AdminListen != "" {
		adminL, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			return err
		}
		adminSrv := &http.Server{Handler: adminMux(srv), ReadHeaderTimeout: 10 * time.Second}
		go adminSrv.Serve(adminL)
		defer adminSrv.Close()
		log.InfoContext(ctx, "admin listener (metrics)", "addr", adminL.Addr().String())
	}
	log.InfoContext(ctx, "causeway listening", "version", version, "addr", l.Addr().String(), "server_name", cfg.ServerName)
	// The e2e tests read this line to find the port when listening on :0.
	fmt.Fprintf(stdout, "listening on http://%s\n", l.Addr())
	return srv.Serve(ctx, l)
}

// reloadOnHangup re-reads the appservice registrations on SIGHUP. A registration file with
// errors leaves the running set as it was; queued events are never dropped, since delivery
// state lives in the database.
func reloadOnHangup(ctx context.Context, registry *appservice.Registry, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := registry.Reload(); err != nil {
				log.ErrorContext(ctx, "appservice registrations not reloaded", "err", err)
			} else {
				log.InfoContext(ctx, "appservice registrations reloaded", "count", len(registry.All()))
			}
		case <-ctx.Done():
			return
		}
	}
}

// adminMux serves the admin listener: Prometheus metrics.
func adminMux(srv *server.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", srv.MetricsHandler())
	return mux
}
