// Package server assembles the homeserver from its parts (storage, signing key, rooms, sync,
// accounts, client API) for a given configuration and runs its HTTP listener. cmd/causeway
// and the end-to-end tests both start servers through it, so they run the same wiring.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/admin"
	"causeway/homeserver/clientapi"
	"causeway/homeserver/config"
	"causeway/homeserver/federation"
	"causeway/homeserver/keys"
	"causeway/homeserver/media"
	"causeway/homeserver/moderation"
	"causeway/homeserver/push"
	"causeway/homeserver/rooms"
	"causeway/homeserver/serverkey"
	"causeway/homeserver/storage"
	"causeway/homeserver/syncapi"
	"causeway/internal/netguard"
)

// Server is one running homeserver.
type Server struct {
	cfg        config.Config
	DB         *storage.DB
	Accounts   *accounts.Service
	Rooms      *rooms.Service
	Sync       *syncapi.Service
	Media      *media.Repository
	handler    http.Handler
	metrics    *prometheus.Registry
	background []func(ctx context.Context) error
	log        *slog.Logger
}

// Core is what a layer built on top of the homeserver (the application-service layer, which
// the homeserver packages may not import) gets to work with.
type Core struct {
	ServerName string
	DB         *storage.DB
	Accounts   *accounts.Service
	Rooms      *rooms.Service
	Log        *slog.Logger
}

// AppserviceLayer is what the application-service layer adds to the server.
type AppserviceLayer struct {
	API      clientapi.Appservices           // authentication, namespaces, queries, pings
	Notifier rooms.Notifier                  // hears every committed event (the transaction sender)
	Run      func(ctx context.Context) error // background delivery while the server serves
	Statuses admin.AppserviceStatuses        // delivery status for the admin API
	Grants   admin.AppserviceGrants          // double-puppet grants for the admin API
	Metrics  prometheus.Collector            // delivery metrics for /metrics

	// Ephemeral hears typing, receipt and presence changes (the transaction sender); may be nil.
	Ephemeral syncapi.EphemeralNotifier
	// Devices hears that a to-device message was queued (the transaction sender, for MSC4203);
	// may be nil.
	Devices keys.DeviceWaker
	// DeviceLists hears of device-list changes (the transaction sender, for MSC3202); may be nil.
	DeviceLists keys.DeviceListNotifier
}

// Option changes how New assembles the server.
type Option func(*options)

type options struct {
	appservices func(context.Context, Core) (AppserviceLayer, error)
	bridges     admin.Bridges
	imports     admin.Imports
	migration   admin.Migration
	routes      map[string]http.Handler
	pushPolicy  push.DeliveryPolicy
}

// WithAppservices adds the application-service layer that build makes from the core services.
func WithAppservices(build func(context.Context, Core) (AppserviceLayer, error)) Option {
	return func(o *options) { o.appservices = build }
}

// WithBridges lets the admin API report on and operate the built-in bridges, which run outside
// the homeserver packages.
func WithBridges(b admin.Bridges) Option {
	return func(o *options) { o.bridges = b }
}

// WithImports lets the admin API start and follow history imports, which run outside the
// homeserver packages.
func WithImports(i admin.Imports) Option {
	return func(o *options) { o.imports = i }
}

// WithMigration lets the admin API walk conversations through their migration to Matrix.
func WithMigration(m admin.Migration) Option {
	return func(o *options) { o.migration = m }
}

// WithRoute serves pattern (a net/http ServeMux pattern) with h, next to the server's own
// endpoints: for what the built-in bridges serve publicly, such as relayed users' avatars.
func WithRoute(pattern string, h http.Handler) Option {
	return func(o *options) {
		if o.routes == nil {
			o.routes = map[string]http.Handler{}
		}
		o.routes[pattern] = h
	}
}

// WithPushPolicy changes how delivery to failing push gateways is retried (tests shorten it).
func WithPushPolicy(p push.DeliveryPolicy) Option {
	return func(o *options) { o.pushPolicy = p }
}

// fanout passes each committed event to every listener. Listeners are added while New
// assembles the server, before any event can be sent.
type fanout []rooms.Notifier

func (f *fanout) OnEvent(ev *storage.Event) {
	for _, n := range *f {
		n.OnEvent(ev)
	}
}

// ephemeralFanout passes typing, receipt and presence changes to every listener, added like fanout's.
type ephemeralFanout []syncapi.EphemeralNotifier

func (f *ephemeralFanout) OnTyping(roomID id.RoomID, userIDs []id.UserID) {
	for _, n := range *f {
		n.OnTyping(roomID, userIDs)
	}
}

func (f *ephemeralFanout) OnReceipt(r storage.Receipt) {
	for _, n := range *f {
		n.OnReceipt(r)
	}
}

func (f *ephemeralFanout) OnPresence(p storage.Presence) {
	for _, n := range *f {
		n.OnPresence(p)
	}
}

// deviceListFanout passes device-list changes to every listener, added like fanout's.
type deviceListFanout []keys.DeviceListNotifier

func (f *deviceListFanout) DeviceListChanged(ctx context.Context, userID id.UserID) {
	for _, n := range *f {
		n.DeviceListChanged(ctx, userID)
	}
}

// deviceWakers passes a queued to-device message's wake-up to every listener.
type deviceWakers []keys.DeviceWaker

func (d deviceWakers) WakeDevice(userID id.UserID, deviceID id.DeviceID) {
	for _, w := range d {
		w.WakeDevice(userID, deviceID)
	}
}

// New opens the database (migrating it), loads or creates the signing key and wires the services.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	driver, dsn := cfg.Database.Resolve(cfg.DataDir)
	db, err := storage.Open(ctx, driver, dsn, cfg.Database.MaxOpenConns, log.With("component", "storage"))
	if err != nil {
		return nil, err
	}
	key, err := serverkey.LoadOrGenerate(cfg.SigningKeyFile())
	if err != nil {
		db.Close()
		return nil, err
	}
	notifier := syncapi.NewNotifier()
	listeners := &fanout{notifier}
	evaluator := push.NewEvaluator(cfg.ServerName, nil)
	roomsSvc := rooms.New(db, rooms.Options{
		ServerName:     cfg.ServerName,
		Key:            key,
		DefaultVersion: cfg.Rooms.DefaultVersion,
		Notifier:       listeners,
		Push:           evaluator,
		Log:            log.With("component", "rooms"),
	})
	ephemeral := &ephemeralFanout{}
	syncSvc := syncapi.New(db, roomsSvc, notifier, ephemeral, log.With("component", "syncapi"))
	deviceLists := &deviceListFanout{syncSvc}
	*listeners = append(*listeners, syncSvc)
	accountsSvc := accounts.New(db, accounts.Options{
		ServerName:            cfg.ServerName,
		AccessTokenLifetime:   cfg.ClientAPI.AccessTokenLifetime.Std(),
		RefreshAccessLifetime: cfg.ClientAPI.RefreshTokenAccessLifetime.Std(),
		Log:                   log.With("component", "accounts"),
		DeviceLists:           deviceLists,
	})
	srv := &Server{cfg: cfg, DB: db, Accounts: accountsSvc, Rooms: roomsSvc, Sync: syncSvc, metrics: prometheus.NewRegistry(), log: log}
	srv.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var appservices clientapi.Appservices
	wakers := deviceWakers{notifier}
	var statuses admin.AppserviceStatuses
	var grants admin.AppserviceGrants
	if o.appservices != nil {
		layer, err := o.appservices(ctx, Core{ServerName: cfg.ServerName, DB: db, Accounts: accountsSvc, Rooms: roomsSvc, Log: log})
		if err != nil {
			db.Close()
			return nil, err
		}
		appservices, statuses, grants = layer.API, layer.Statuses, layer.Grants
		if api := layer.API; api != nil {
			evaluator.SkipUsers(func(u id.UserID) bool { return api.CheckUserID(u, "") != nil })
		}
		if layer.Notifier != nil {
			*listeners = append(*listeners, layer.Notifier)
		}
		if layer.Run != nil {
			srv.background = append(srv.background, layer.Run)
		}
		if layer.Devices != nil {
			wakers = append(wakers, layer.Devices)
		}
		if layer.DeviceLists != nil {
			*deviceLists = append(*deviceLists, layer.DeviceLists)
		}
		if layer.Ephemeral != nil {
			*ephemeral = append(*ephemeral, layer.Ephemeral)
		}
		if layer.Metrics != nil {
			srv.metrics.MustRegister(layer.Metrics)
		}
	}
	moderationSvc := moderation.New(db, roomsSvc, accountsSvc)
	pushers := push.NewPushers(db, push.PushersOptions{
		Guard:  netguard.NewPolicy(config.Prefixes(cfg.Push.GatewayAllowedCIDRs), config.Prefixes(cfg.Push.GatewayBlockedCIDRs)),
		Log:    log.With("component", "push"),
		Policy: o.pushPolicy,
	})
	*listeners = append(*listeners, pushers)
	srv.background = append(srv.background, pushers.Run)
	deviceKeys := keys.NewDeviceKeys(db, keys.DeviceKeysOptions{
		ServerName: cfg.ServerName,
		Notifier:   deviceLists,
		Log:        log.With("component", "keys"),
	})
	toDevice := keys.NewToDevice(db, keys.ToDeviceOptions{ServerName: cfg.ServerName, Waker: wakers, Log: log.With("component", "keys")})
	api := clientapi.New(clientapi.Options{
		Config:       cfg.ClientAPI,
		Registration: cfg.Registration,
		ServerName:   cfg.ServerName,
		BaseURL:      cfg.PublicBaseURL(),
		Accounts:     accountsSvc,
		Rooms:        roomsSvc,
		Sync:         syncSvc,
		Moderation:   moderationSvc,
		Pushers:      pushers,
		KeyBackups:   keys.NewBackups(db),
		ToDevice:     toDevice,
		Keys:         deviceKeys,
		Dehydration:  keys.NewDehydration(deviceKeys),
		Appservices:  appservices,
		Log:          log.With("component", "clientapi"),
	})
	blobs, err := media.NewDiskStore(filepath.Join(cfg.DataDir, "media"))
	if err != nil {
		db.Close()
		return nil, err
	}
	srv.Media = media.New(media.Options{
		Config:     cfg.Media,
		ServerName: cfg.ServerName,
		DB:         db,
		Store:      blobs,
		Log:        log.With("component", "media"),
	})
	mediaAPI := media.NewAPI(media.APIOptions{
		Repository:  srv.Media,
		Auth:        api,
		CORSOrigins: cfg.ClientAPI.CORSAllowedOrigins,
		LegacyR0:    cfg.ClientAPI.LegacyR0Prefix,
		Log:         log.With("component", "media"),
	}).Handler()
	mux := http.NewServeMux()
	adminAPI := admin.New(admin.Options{
		Accounts: accountsSvc, Media: srv.Media, Moderation: moderationSvc, Appservices: statuses, Grants: grants, Bridges: o.bridges, Imports: o.imports, Migration: o.migration, Log: log.With("component", "admin"),
	}).Handler()
	mux.Handle("/_causeway/admin/", adminAPI)
	mux.Handle("/_synapse/admin/", adminAPI)
	mux.Handle("/_matrix/federation/", federation.New(accountsSvc, log.With("component", "federation")).Handler())
	mux.Handle("/_matrix/media/", mediaAPI)
	mux.Handle("/_matrix/client/v1/media/", mediaAPI)
	for pattern, h := range o.routes {
		mux.Handle(pattern, h)
	}
	mux.Handle("/", api.Handler())
	srv.handler = mux
	srv.background = append(srv.background, srv.maintainDatabase, syncSvc.RunPresence)
	return srv, nil
}

// maintenanceInterval is how often the database is checked for tables to vacuum or analyze.
const maintenanceInterval = time.Minute

// maintainDatabase vacuums and analyzes the tables that need it every maintenanceInterval,
// until ctx ends: the work of PostgreSQL's autovacuum where it is off (sqldb.DB.Maintain).
func (s *Server) maintainDatabase(ctx context.Context) error {
	tick := time.NewTicker(maintenanceInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		done, err := s.DB.SQL().Maintain(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "database maintenance failed", "error", err)
		case len(done.Vacuumed)+len(done.Analyzed) > 0:
			s.log.DebugContext(ctx, "maintained the database, as autovacuum is off", "vacuumed", done.Vacuumed, "analyzed", done.Analyzed)
		}
	}
}

// Handler serves every HTTP endpoint of the server.
func (s *Server) Handler() http.Handler { return s.handler }

// RegisterMetrics adds a collector to the server's /metrics (the built-in bridges' metrics).
func (s *Server) RegisterMetrics(c prometheus.Collector) error { return s.metrics.Register(c) }

// MetricsHandler serves the server's Prometheus metrics, for the admin listener.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{})
}

// Close releases the database.
func (s *Server) Close() { s.DB.Close() }

// RunBackground runs the server's background work (appservice delivery, presence, database
// maintenance) until ctx ends.
func (s *Server) RunBackground(ctx context.Context) error {
	errc := make(chan error, len(s.background))
	for _, run := range s.background {
		go func() { errc <- run(ctx) }()
	}
	var errs []error
	for range s.background {
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Serve answers HTTP on l and runs the background work until ctx ends, then drains requests in
// flight (long polls are cut short) for up to 10 seconds.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	bgCtx, stopBackground := context.WithCancel(ctx)
	bgDone := make(chan error, 1)
	go func() { bgDone <- s.RunBackground(bgCtx) }()
	err := s.serveHTTP(ctx, l)
	stopBackground()
	return errors.Join(err, <-bgDone)
}

func (s *Server) serveHTTP(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// FirstRunToken creates and returns a one-use registration token when registration needs
// tokens and no person's account exists yet (the built-in bridges' bots do not count), so that
// a newcomer can create the first account. It returns "" otherwise.
func (s *Server) FirstRunToken(ctx context.Context) (string, error) {
	if s.cfg.Registration.Mode != config.RegistrationToken {
		return "", nil
	}
	n, err := s.DB.CountPeople(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	one := int64(1)
	return s.Accounts.CreateRegistrationToken(ctx, &one, nil)
}
