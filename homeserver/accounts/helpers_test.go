package accounts_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage"
)

const serverName = "hs.test"

// clock is a settable time source for the service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newService returns a service on db with cheap password hashing and a clock set to a fixed time.
func newService(t *testing.T, db *storage.DB, opts accounts.Options) (*accounts.Service, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	opts.ServerName = serverName
	opts.Now = c.Now
	s := accounts.New(db, opts)
	accounts.UseCheapHashing(s)
	return s, c
}

// mustRegister registers localpart with password and a device.
func mustRegister(t *testing.T, s *accounts.Service, localpart, password string) accounts.Session {
	t.Helper()
	sess, err := s.Register(context.Background(), accounts.RegisterParams{Localpart: localpart, Password: password})
	if err != nil {
		t.Fatalf("Register(%s): %v", localpart, err)
	}
	return sess
}

// mustLogin logs in with a password.
func mustLogin(t *testing.T, s *accounts.Service, p accounts.LoginParams) accounts.Session {
	t.Helper()
	sess, err := s.Login(context.Background(), p)
	if err != nil {
		t.Fatalf("Login(%s): %v", p.UserID, err)
	}
	return sess
}

// respError returns err as a RespError, failing the test when it is not one.
func respError(t *testing.T, err error) mautrix.RespError {
	t.Helper()
	var resp mautrix.RespError
	if !errors.As(err, &resp) {
		t.Fatalf("err = %v, want a Matrix error", err)
	}
	return resp
}

// wantCode fails the test unless err is a Matrix error with code.
func wantCode(t *testing.T, err error, code string) mautrix.RespError {
	t.Helper()
	resp := respError(t, err)
	if resp.ErrCode != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
	return resp
}

// softLogout reports the soft_logout field of an M_UNKNOWN_TOKEN answer.
func softLogout(resp mautrix.RespError) bool {
	v, _ := resp.ExtraData["soft_logout"].(bool)
	return v
}
