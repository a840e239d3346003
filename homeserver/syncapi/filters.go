package syncapi

import (
	"context"
	"errors"
	"strconv"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// SaveFilter validates and stores a filter exactly as uploaded, returning its ID.
func (s *Service) SaveFilter(ctx context.Context, userID id.UserID, raw []byte) (string, error) {
	if _, err := ParseFilter(raw); err != nil {
		return "", err
	}
	var filterID int64
	for attempt := 1; ; attempt++ {
		err := s.db.InTx(ctx, func(tx *storage.Tx) error {
			var err error
			filterID, err = tx.InsertFilter(ctx, userID, raw, s.now().UnixMilli())
			return err
		})
		// The ID is the user's highest plus one: a concurrent upload of the same user's may
		// take it first (on PostgreSQL), and the next attempt reads the new highest.
		if errors.Is(err, storage.ErrConflict) && attempt < maxFilterAttempts {
			continue
		}
		return strconv.FormatInt(filterID, 10), err
	}
}

// maxFilterAttempts bounds the retries of a filter upload that lost a race for its ID.
const maxFilterAttempts = 10

// RawFilter returns a stored filter as uploaded.
func (s *Service) RawFilter(ctx context.Context, userID id.UserID, filterID string) ([]byte, error) {
	n, err := strconv.ParseInt(filterID, 10, 64)
	if err != nil {
		return nil, mxerr.NotFound.WithMessage("no filter %q", filterID)
	}
	raw, err := s.db.FilterByID(ctx, userID, n)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, mxerr.NotFound.WithMessage("no filter %q", filterID)
	}
	return raw, err
}

// Filter returns a stored filter, parsed.
func (s *Service) Filter(ctx context.Context, userID id.UserID, filterID string) (mautrix.Filter, error) {
	raw, err := s.RawFilter(ctx, userID, filterID)
	if err != nil {
		return mautrix.Filter{}, err
	}
	return ParseFilter(raw)
}
