package appservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage"
)

// Service is the application-service layer as the client API sees it: authenticating
// appservice requests and their masquerading, enforcing exclusive namespaces, and asking
// appservices about users and aliases they may provide.
type Service struct {
	registry *Registry
	db       *storage.DB
	accounts *accounts.Service
	client   *http.Client
	log      *slog.Logger
}

// NewService returns the layer over registry. client carries the homeserver's requests to
// appservices (queries, pings); it may use an in-process transport.
func NewService(registry *Registry, db *storage.DB, accountsSvc *accounts.Service, client *http.Client, log *slog.Logger) *Service {
	return &Service{registry: registry, db: db, accounts: accountsSvc, client: client, log: log}
}

// Registry is the live set of registrations.
func (s *Service) Registry() *Registry { return s.registry }

// EnsureSenderUsers creates the sender_localpart user of every registration that lacks one,
// so that an appservice can act as its bot from the first request.
func (s *Service) EnsureSenderUsers(ctx context.Context) error {
	var errs []error
	for _, reg := range s.registry.All() {
		userID := reg.SenderUserID(s.registry.ServerName())
		if _, err := s.db.UserByID(ctx, userID); err == nil {
			continue
		} else if !errors.Is(err, storage.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		_, err := s.accounts.Register(ctx, accounts.RegisterParams{Localpart: reg.SenderLocalpart, AppserviceID: reg.ID, InhibitLogin: true})
		if err != nil && !errors.Is(err, storage.ErrConflict) {
			errs = append(errs, fmt.Errorf("create sender of appservice %s: %w", reg.ID, err))
		}
	}
	return errors.Join(errs...)
}

// queryTimeout bounds a query or ping to an appservice, which a client is waiting on.
const queryTimeout = 10 * time.Second
