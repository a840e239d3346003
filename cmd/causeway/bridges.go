package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	mxappservice "maunium.net/go/mautrix/appservice"

	"causeway/appservice"
	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/server"
	"causeway/migration/cutover"
	"causeway/migration/importer"
)

// homeserverHost is the in-process address at which the built-in bridges reach the homeserver
// (appservice.InProcessTransport): nothing on the network answers to it.
const homeserverHost = "causeway.internal"

// builtinBridges wires the bridges the file configures to the homeserver in this process: each
// is registered as an ordinary appservice, and its HTTP hop in both directions goes through
// transport, without a socket.
type builtinBridges struct {
	transport *appservice.InProcessTransport
	slack     *mxappservice.AppService
	slackHost string                        // the Slack bridge's in-process host
	directory bridge.Directory              // the running bridges, for the admin API
	imports   importJobs                    // the importer, for the admin API
	migration migrationSteps                // the cutover, for the admin API
	public    atomic.Pointer[http.ServeMux] // what the Slack bridge serves publicly, once it runs
}

// registerBridges registers the built-in bridges' appservices. It runs before the server
// is built, which needs the registry complete. The Slack bridge is registered even with no
// workspace configured: a Slack export can be imported into its rooms before the workspace is.
func registerBridges(cfg *fileConfig, registry *appservice.Registry, log *slog.Logger) (*builtinBridges, error) {
	bb := &builtinBridges{transport: appservice.NewInProcessTransport(http.DefaultTransport, log)}
	mxreg := slackbridge.NewRegistration(cfg.Bridges.Slack, cfg.ServerName)
	host := mxreg.ID + ".appservice.internal"
	mxreg.URL = "http://" + host
	if err := registry.RegisterMautrix("built-in "+mxreg.ID+" bridge", mxreg); err != nil {
		return nil, err
	}
	as, err := mxappservice.CreateFull(mxappservice.CreateOpts{
		Registration: mxreg, HomeserverDomain: cfg.ServerName, HomeserverURL: "http://" + homeserverHost,
	})
	if err != nil {
		return nil, fmt.Errorf("slack bridge: %w", err)
	}
	// Until the bridge exists (start), nothing is delivered: the server's background work,
	// which sends transactions, starts after start.
	bb.transport.Handle(host, http.NotFoundHandler())
	bb.slack, bb.slackHost = as, host
	return bb, nil
}

// client is how the homeserver reaches appservices: built-in bridges in process, others over
// the network.
func (bb *builtinBridges) client() *http.Client { return bb.transport.Client() }

// start connects the bridges to the built server and runs them until ctx ends.
func (bb *builtinBridges) start(ctx context.Context, cfg *fileConfig, registry *appservice.Registry, srv *server.Server, log *slog.Logger) error {
	bb.transport.Handle(homeserverHost, srv.Handler())
	// After CreateFull and before the first intent, which copies the client.
	bb.slack.HTTPClient = bb.transport.Client()
	store := bridge.NewStore(srv.DB.SQL())
	b, err := slackbridge.New(slackbridge.Options{
		Config: cfg.Bridges.Slack, ServerName: cfg.ServerName, AppService: bb.slack,
		Store: store, Puppets: appservice.NewService(registry, srv.DB, srv.Accounts, nil, log).PuppetsOf("slack"), PublicURL: cfg.PublicBaseURL(),
		Log: log.With("component", "slack"),
	})
	if err != nil {
		return err
	}
	if err := srv.RegisterMetrics(b.Collector()); err != nil {
		return err
	}
	bb.transport.Handle(bb.slackHost, b.Router(bb.slack.Router))
	bb.directory.Add("slack", b)
	public := http.NewServeMux()
	public.Handle(slackbridge.AvatarPath, b.AvatarHandler())
	public.Handle(slackbridge.EventsPath, b.EventsHandler())
	bb.public.Store(public)
	go func() {
		if err := b.Run(ctx); err != nil {
			log.ErrorContext(ctx, "Slack bridge stopped", "error", err)
		}
	}()
	bb.startMigration(ctx, b, store, srv, log)
	return nil
}

// startMigration runs the importer's jobs and hands the importer and the cutover, which work
// through the Slack bridge, to the admin API.
func (bb *builtinBridges) startMigration(ctx context.Context, b *slackbridge.Bridge, store *bridge.Store, srv *server.Server, log *slog.Logger) {
	records := cutover.NewStore(srv.DB.SQL())
	jobs := importer.NewJobs(importer.Deps{Bridge: b, Bridges: store, Store: importer.NewStore(srv.DB.SQL()),
		Records: records, Log: log.With("component", "import")})
	bb.imports.v.Store(jobs)
	bb.migration.v.Store(cutover.New(b, store, records, log.With("component", "cutover")))
	go func() {
		if err := jobs.Run(ctx); err != nil {
			log.ErrorContext(ctx, "the importer stopped", "error", err)
		}
	}()
}

// late holds what exists only once the bridges run, for the admin API, which exists before.
type late[T any] struct {
	v atomic.Pointer[T]
}

var errStarting = errors.New("the bridges are starting; try again in a moment")

func (l *late[T]) get() (*T, error) {
	if v := l.v.Load(); v != nil {
		return v, nil
	}
	return nil, errStarting
}

// importJobs is the admin API's way to the importer (admin.Imports).
type importJobs struct{ late[importer.Jobs] }

func (i *importJobs) StartImport(ctx context.Context, options json.RawMessage) (any, error) {
	j, err := i.get()
	if err != nil {
		return nil, err
	}
	return j.Start(ctx, options)
}

func (i *importJobs) ImportJob(ctx context.Context, jobID string) (any, error) {
	j, err := i.get()
	if err != nil {
		return nil, err
	}
	return j.Get(ctx, jobID)
}

func (i *importJobs) CancelImport(ctx context.Context, jobID string) (any, error) {
	j, err := i.get()
	if err != nil {
		return nil, err
	}
	return j.Cancel(ctx, jobID)
}

// migrationSteps is the admin API's way to the cutover (admin.Migration).
type migrationSteps struct{ late[cutover.Service] }

func (m *migrationSteps) MigrationStatus(ctx context.Context, workspace string) (any, error) {
	s, err := m.get()
	if err != nil {
		return nil, err
	}
	return s.Status(ctx, workspace)
}

func (m *migrationSteps) MigrationSummary(ctx context.Context, workspace string) (any, error) {
	s, err := m.get()
	if err != nil {
		return nil, err
	}
	return s.Summary(ctx, workspace)
}

func (m *migrationSteps) MigrateChannel(ctx context.Context, workspace, channel, action string) (any, error) {
	s, err := m.get()
	if err != nil {
		return nil, err
	}
	return s.Step(ctx, workspace, channel, action)
}

// routes are the public endpoints of the bridges, for server.WithRoute: relayed users'
// avatars and Slack's events over HTTP. Mounted before the bridges exist, they answer 404
// until then.
func (bb *builtinBridges) routes() []server.Option {
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux := bb.public.Load()
		if mux == nil {
			http.NotFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return []server.Option{server.WithRoute(slackbridge.AvatarPath, serve), server.WithRoute(slackbridge.EventsPath, serve)}
}
