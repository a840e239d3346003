package accounts

import (
	"context"
	"errors"
	"time"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// registrationTokenAlphabet is the spec's opaque identifier grammar (content/appendices.md
// "Opaque Identifiers"), which registration tokens use.
const registrationTokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"

// registrationTokenLength is the length of generated registration tokens, as Synapse's admin API
// makes them (the spec allows up to 64).
const registrationTokenLength = 16

// CreateRegistrationToken creates a random registration token for the m.login.registration_token
// stage. usesAllowed nil means unlimited uses; expiry nil means it never expires. A negative
// usesAllowed or an expiry in the past is M_INVALID_PARAM.
func (s *Service) CreateRegistrationToken(ctx context.Context, usesAllowed *int64, expiry *time.Time) (string, error) {
	if usesAllowed != nil && *usesAllowed < 0 {
		return "", mxerr.InvalidParam.WithMessage("uses_allowed must be a non-negative integer or null")
	}
	now := s.now()
	t := storage.RegistrationToken{UsesAllowed: usesAllowed, CreatedTS: now.UnixMilli()}
	if expiry != nil {
		if !expiry.After(now) {
			return "", mxerr.InvalidParam.WithMessage("expiry_time must not be in the past")
		}
		ts := expiry.UnixMilli()
		t.ExpiryTS = &ts
	}
	for attempt := 1; ; attempt++ {
		t.Token = randomString(registrationTokenAlphabet, registrationTokenLength)
		err := s.db.InsertRegistrationToken(ctx, t)
		if errors.Is(err, storage.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return "", opError("create registration token", err)
		}
		return t.Token, nil
	}
}

// ValidateRegistrationToken reports whether a registration token could be used now: it exists,
// has not expired and has uses left, counting those held by registrations in progress
// (data/api/client-server/registration_tokens.yaml). It reserves nothing.
func (s *Service) ValidateRegistrationToken(ctx context.Context, token string) (bool, error) {
	t, err := s.db.RegistrationTokenByValue(ctx, token)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, opError("validate registration token", err)
	}
	if t.ExpiryTS != nil && *t.ExpiryTS <= s.nowMS() {
		return false, nil
	}
	if t.UsesAllowed != nil && t.Pending+t.Completed >= *t.UsesAllowed {
		return false, nil
	}
	return true, nil
}
