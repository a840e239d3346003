package accounts_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

var deviceIDPattern = regexp.MustCompile(`^[A-Z]{10}$`)

func TestRegister(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		sess, err := s.Register(ctx, accounts.RegisterParams{Localpart: "Alice", Password: "secret",
			InitialDeviceDisplayName: "Phone", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		if sess.UserID != "@alice:hs.test" || !deviceIDPattern.MatchString(string(sess.DeviceID)) ||
			!strings.HasPrefix(sess.AccessToken, accounts.AccessTokenPrefix) || sess.RefreshToken != "" || sess.ExpiresIn != 0 {
			t.Errorf("session = %+v; want @alice:hs.test, a generated device, a cwa_ token, no refresh, no expiry", sess)
		}
		u, err := db.UserByID(ctx, sess.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if u.DisplayName != "alice" || u.IsAdmin || u.IsGuest || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("user = %+v; want display name alice, an argon2id hash", u)
		}
		dev, err := s.Device(ctx, sess.UserID, sess.DeviceID)
		if err != nil || dev.DisplayName != "Phone" || dev.LastSeenIP != "192.0.2.1" {
			t.Errorf("device = %+v, %v; want Phone from 192.0.2.1", dev, err)
		}
		r, err := s.AuthenticateFrom(ctx, sess.AccessToken, "192.0.2.1")
		if err != nil || r.UserID != sess.UserID || r.DeviceID != sess.DeviceID {
			t.Errorf("Authenticate = %+v, %v; want the new session", r, err)
		}
		mustLogin(t, s, accounts.LoginParams{UserID: sess.UserID, Password: "secret"})

		_, err = s.Register(ctx, accounts.RegisterParams{Localpart: "alice", Password: "other"})
		wantCode(t, err, "M_USER_IN_USE")
		wantCode(t, s.UsernameAvailable(ctx, "ALICE"), "M_USER_IN_USE")
		if err := s.UsernameAvailable(ctx, "bob"); err != nil {
			t.Errorf("UsernameAvailable(bob) = %v, want nil", err)
		}
	})
}

func TestRegisterOptions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{RefreshAccessLifetime: 2 * time.Minute})

		t.Run("inhibit login", func(t *testing.T) {
			sess, err := s.Register(ctx, accounts.RegisterParams{Localpart: "quiet", Password: "pw", InhibitLogin: true})
			if err != nil || sess != (accounts.Session{UserID: "@quiet:hs.test"}) {
				t.Fatalf("Register = %+v, %v; want only the user ID", sess, err)
			}
			if devs, err := s.Devices(ctx, sess.UserID); err != nil || len(devs) != 0 {
				t.Errorf("Devices = %v, %v; want none", devs, err)
			}
		})
		t.Run("refresh token and device ID", func(t *testing.T) {
			sess, err := s.Register(ctx, accounts.RegisterParams{Localpart: "fresh", Password: "pw", DeviceID: "MYDEVICE", RefreshToken: true})
			if err != nil {
				t.Fatal(err)
			}
			if sess.DeviceID != "MYDEVICE" || !strings.HasPrefix(sess.RefreshToken, accounts.RefreshTokenPrefix) || sess.ExpiresIn != 2*time.Minute {
				t.Errorf("session = %+v; want MYDEVICE, a cwr_ refresh token, 2m expiry", sess)
			}
		})
		t.Run("guest", func(t *testing.T) {
			sess, err := s.Register(ctx, accounts.RegisterParams{Guest: true, Localpart: "ignored", Password: "ignored",
				DeviceID: "IGNORED", Admin: true, InitialDeviceDisplayName: "Guest phone"})
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`^@[0-9]{12}:hs\.test$`).MatchString(string(sess.UserID)) || sess.DeviceID == "IGNORED" {
				t.Errorf("session = %+v; want a numeric user ID and a generated device", sess)
			}
			u, err := db.UserByID(ctx, sess.UserID)
			if err != nil || !u.IsGuest || u.IsAdmin || u.PasswordHash != "" || u.DisplayName != "" {
				t.Errorf("guest user = %+v, %v; want a guest without password, admin or display name", u, err)
			}
			r, err := s.Authenticate(ctx, sess.AccessToken)
			if err != nil || !r.IsGuest {
				t.Errorf("Authenticate = %+v, %v; want a guest", r, err)
			}
		})
		t.Run("no username", func(t *testing.T) {
			sess, err := s.Register(ctx, accounts.RegisterParams{Password: "pw"})
			if err != nil || !regexp.MustCompile(`^@[0-9]{12}:hs\.test$`).MatchString(string(sess.UserID)) {
				t.Errorf("Register = %+v, %v; want a numeric user ID", sess, err)
			}
		})
		t.Run("password required", func(t *testing.T) {
			_, err := s.Register(ctx, accounts.RegisterParams{Localpart: "nopass"})
			wantCode(t, err, "M_MISSING_PARAM")
			_, err = s.Register(ctx, accounts.RegisterParams{Localpart: "longpass", Password: strings.Repeat("x", 513)})
			wantCode(t, err, "M_INVALID_PARAM")
		})
		t.Run("appservice", func(t *testing.T) {
			sess, err := s.Register(ctx, accounts.RegisterParams{Localpart: "_slack_u123", AppserviceID: "slack", InhibitLogin: true})
			if err != nil {
				t.Fatal(err)
			}
			u, err := db.UserByID(ctx, sess.UserID)
			if err != nil || u.AppserviceID != "slack" || u.PasswordHash != "" || u.DisplayName != "_slack_u123" {
				t.Errorf("appservice user = %+v, %v", u, err)
			}
			if _, err := s.Register(ctx, accounts.RegisterParams{Localpart: "42", AppserviceID: "slack", InhibitLogin: true}); err != nil {
				t.Errorf("numeric appservice localpart: %v", err)
			}
			_, err = s.Register(ctx, accounts.RegisterParams{Localpart: "_Slack_U1", AppserviceID: "slack", InhibitLogin: true})
			wantCode(t, err, "M_INVALID_USERNAME")
		})
		t.Run("admin", func(t *testing.T) {
			sess, err := s.Register(ctx, accounts.RegisterParams{Localpart: "root", Password: "pw", Admin: true})
			if err != nil {
				t.Fatal(err)
			}
			if r, err := s.Authenticate(ctx, sess.AccessToken); err != nil || !r.IsAdmin {
				t.Errorf("Authenticate = %+v, %v; want an admin", r, err)
			}
		})
	})
}

func TestCheckLocalpart(t *testing.T) {
	s := accounts.New(nil, accounts.Options{ServerName: serverName})
	cases := []struct {
		in, want string
		valid    bool
	}{
		{"alice", "alice", true},
		{"Alice", "alice", true},
		{"a.b_c=d-e/f+g", "a.b_c=d-e/f+g", true},
		{"r2d2", "r2d2", true},
		{"", "", false},
		{"al ice", "", false},
		{"alice:hs", "", false},
		{"@alice", "", false},
		{"ålice", "", false},
		{"a*", "", false},
		{"12345", "", false},
		{"_bot", "", false},
		{strings.Repeat("a", 255-len("@:hs.test")), strings.Repeat("a", 255-len("@:hs.test")), true},
		{strings.Repeat("a", 256-len("@:hs.test")), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := s.CheckLocalpart(tc.in, false)
			if !tc.valid {
				wantCode(t, err, "M_INVALID_USERNAME")
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("CheckLocalpart(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := s.CheckLocalpart("_discord_123", true); err != nil {
		t.Errorf("appservice localpart with underscore: %v", err)
	}
}

func TestRegisterInvalidUsernames(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s, _ := newService(t, db, accounts.Options{})
		for _, lp := range []string{"al ice", "a:b", "ünï", "0123", "_x", strings.Repeat("z", 250)} {
			_, err := s.Register(context.Background(), accounts.RegisterParams{Localpart: lp, Password: "pw"})
			wantCode(t, err, "M_INVALID_USERNAME")
			wantCode(t, s.UsernameAvailable(context.Background(), lp), "M_INVALID_USERNAME")
		}
		if _, err := db.UserByID(context.Background(), id.UserID("@al ice:hs.test")); err == nil {
			t.Error("an invalid user was created")
		}
	})
}
