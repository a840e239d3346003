package accounts_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func TestAuthenticate(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, accounts.Options{AccessTokenLifetime: time.Hour})
		reg := mustRegister(t, s, "alice", "pw")
		if reg.ExpiresIn != time.Hour {
			t.Errorf("ExpiresIn = %v, want the configured 1h", reg.ExpiresIn)
		}

		r, err := s.AuthenticateFrom(ctx, reg.AccessToken, "198.51.100.7")
		if err != nil {
			t.Fatal(err)
		}
		if r.UserID != reg.UserID || r.DeviceID != reg.DeviceID || r.IsGuest || r.IsAdmin || r.TokenHash == "" || r.TokenHash == reg.AccessToken {
			t.Errorf("requester = %+v", r)
		}

		_, err = s.Authenticate(ctx, "cwa_nonsense")
		if resp := wantCode(t, err, "M_UNKNOWN_TOKEN"); softLogout(resp) || resp.StatusCode != 401 {
			t.Errorf("unknown token: %+v; want 401 without soft_logout", resp)
		}

		clk.Advance(time.Hour - time.Millisecond)
		if _, err := s.Authenticate(ctx, reg.AccessToken); err != nil {
			t.Errorf("token just before expiry: %v", err)
		}
		clk.Advance(time.Millisecond)
		_, err = s.Authenticate(ctx, reg.AccessToken)
		if resp := wantCode(t, err, "M_UNKNOWN_TOKEN"); !softLogout(resp) || resp.StatusCode != 401 {
			t.Errorf("expired token: %+v; want 401 with soft_logout", resp)
		}

		// Soft logout: logging in again on the same device works.
		again := mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw", DeviceID: reg.DeviceID})
		if _, err := s.Authenticate(ctx, again.AccessToken); err != nil {
			t.Errorf("token after re-login: %v", err)
		}
	})
}

func TestAuthenticateUpdatesLastSeenAtMostOnceAMinute(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, accounts.Options{})
		reg := mustRegister(t, s, "alice", "pw")
		lastSeen := func() (time.Time, string) {
			t.Helper()
			d, err := s.Device(ctx, reg.UserID, reg.DeviceID)
			if err != nil {
				t.Fatal(err)
			}
			return d.LastSeen, d.LastSeenIP
		}
		start := clk.Now()
		clk.Advance(time.Second)
		if _, err := s.AuthenticateFrom(ctx, reg.AccessToken, "192.0.2.2"); err != nil {
			t.Fatal(err)
		}
		if ts, ip := lastSeen(); !ts.Equal(start.Add(time.Second)) || ip != "192.0.2.2" {
			t.Errorf("after first request: last seen %v from %s", ts, ip)
		}
		clk.Advance(30 * time.Second)
		s.AuthenticateFrom(ctx, reg.AccessToken, "192.0.2.3")
		if ts, _ := lastSeen(); !ts.Equal(start.Add(time.Second)) {
			t.Errorf("last seen written again after 30s: %v", ts)
		}
		clk.Advance(31 * time.Second)
		s.AuthenticateFrom(ctx, reg.AccessToken, "192.0.2.4")
		if ts, ip := lastSeen(); !ts.Equal(start.Add(62*time.Second)) || ip != "192.0.2.4" {
			t.Errorf("after a minute: last seen %v from %s", ts, ip)
		}
		clk.Advance(time.Minute)
		s.Authenticate(ctx, reg.AccessToken)
		if ts, ip := lastSeen(); !ts.Equal(start.Add(122*time.Second)) || ip != "192.0.2.4" {
			t.Errorf("without an address: last seen %v from %s; want the address kept", ts, ip)
		}
	})
}

func TestRefresh(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, accounts.Options{RefreshAccessLifetime: 5 * time.Minute})
		mustRegister(t, s, "alice", "pw")
		login := mustLogin(t, s, accounts.LoginParams{UserID: "@alice:hs.test", Password: "pw", RefreshToken: true})
		if login.RefreshToken == "" || login.ExpiresIn != 5*time.Minute {
			t.Fatalf("login = %+v; want a refresh token and 5m expiry", login)
		}
		authOK := func(token string) bool {
			_, err := s.Authenticate(ctx, token)
			return err == nil
		}
		refreshGone := func(token string) {
			t.Helper()
			_, err := s.Refresh(ctx, token)
			if resp := wantCode(t, err, "M_UNKNOWN_TOKEN"); softLogout(resp) || resp.StatusCode != 401 {
				t.Errorf("refresh of a revoked token: %+v; want 401 without soft_logout", resp)
			}
		}

		clk.Advance(5 * time.Minute)
		if authOK(login.AccessToken) {
			t.Fatal("access token alive after its lifetime")
		}
		first, err := s.Refresh(ctx, login.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if first.UserID != login.UserID || first.DeviceID != login.DeviceID || first.RefreshToken == login.RefreshToken ||
			first.AccessToken == login.AccessToken || first.ExpiresIn != 5*time.Minute {
			t.Fatalf("refresh = %+v; want new tokens for the same device", first)
		}

		// The client lost the answer and retries: the first answer's pair is revoked.
		retry, err := s.Refresh(ctx, login.RefreshToken)
		if err != nil {
			t.Fatalf("retried refresh: %v", err)
		}
		if authOK(first.AccessToken) {
			t.Error("access token of the superseded refresh still works")
		}
		refreshGone(first.RefreshToken)

		// Using the new access token revokes the old refresh token.
		if !authOK(retry.AccessToken) {
			t.Fatal("refreshed access token does not work")
		}
		refreshGone(login.RefreshToken)

		// Using the new refresh token revokes the one before it too.
		second, err := s.Refresh(ctx, retry.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		third, err := s.Refresh(ctx, second.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		refreshGone(retry.RefreshToken)
		if !authOK(third.AccessToken) {
			t.Error("latest access token does not work")
		}
		clk.Advance(5 * time.Minute)
		_, err = s.Authenticate(ctx, third.AccessToken)
		if resp := wantCode(t, err, "M_UNKNOWN_TOKEN"); !softLogout(resp) {
			t.Error("expired refreshed token without soft_logout")
		}
		if _, err := s.Refresh(ctx, third.RefreshToken); err != nil {
			t.Errorf("refresh after expiry: %v", err)
		}

		refreshGone("cwr_nonsense")
		if err := s.LogoutAll(ctx, login.UserID); err != nil {
			t.Fatal(err)
		}
		refreshGone(third.RefreshToken)
	})
}

func TestConcurrentRefreshLeavesOnePair(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		mustRegister(t, s, "alice", "pw")
		login := mustLogin(t, s, accounts.LoginParams{UserID: "@alice:hs.test", Password: "pw", RefreshToken: true})
		const n = 4
		var wg sync.WaitGroup
		sessions := make([]accounts.Session, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { sessions[i], errs[i] = s.Refresh(ctx, login.RefreshToken) })
		}
		wg.Wait()
		alive := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("refresh %d: %v", i, errs[i])
			}
			if _, err := s.Authenticate(ctx, sessions[i].AccessToken); err == nil {
				alive++
			}
		}
		if alive != 1 {
			t.Errorf("%d refreshed access tokens work, want exactly 1", alive)
		}
	})
}

func TestLogout(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		reg := mustRegister(t, s, "alice", "pw")
		other := mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw", RefreshToken: true})
		r, err := s.Authenticate(ctx, reg.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Logout(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, reg.AccessToken); err == nil {
			t.Error("token works after logout")
		}
		if _, err := s.Device(ctx, reg.UserID, reg.DeviceID); err == nil {
			t.Error("device survives logout")
		}
		if err := s.Logout(ctx, r); err != nil {
			t.Errorf("second logout: %v", err)
		}
		if _, err := s.Authenticate(ctx, other.AccessToken); err != nil {
			t.Errorf("other device logged out too: %v", err)
		}

		mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw"})
		if err := s.LogoutAll(ctx, reg.UserID); err != nil {
			t.Fatal(err)
		}
		if devs, err := s.Devices(ctx, reg.UserID); err != nil || len(devs) != 0 {
			t.Errorf("devices after logout all = %v, %v", devs, err)
		}
		if _, err := s.Authenticate(ctx, other.AccessToken); err == nil {
			t.Error("token works after logout all")
		}
		if _, err := s.Refresh(ctx, other.RefreshToken); err == nil {
			t.Error("refresh token works after logout all")
		}
	})
}
