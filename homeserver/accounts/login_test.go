package accounts_test

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func TestLogin(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		reg := mustRegister(t, s, "alice", "right")

		sess := mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "right", InitialDeviceDisplayName: "Laptop"})
		if sess.UserID != reg.UserID || sess.DeviceID == reg.DeviceID || !deviceIDPattern.MatchString(string(sess.DeviceID)) {
			t.Errorf("session = %+v; want a new device for alice", sess)
		}
		if d, err := s.Device(ctx, reg.UserID, sess.DeviceID); err != nil || d.DisplayName != "Laptop" {
			t.Errorf("device = %+v, %v; want Laptop", d, err)
		}

		_, wrongPassword := s.Login(ctx, accounts.LoginParams{UserID: reg.UserID, Password: "wrong"})
		_, unknownUser := s.Login(ctx, accounts.LoginParams{UserID: "@nobody:hs.test", Password: "right"})
		_, emptyPassword := s.Login(ctx, accounts.LoginParams{UserID: reg.UserID})
		_, remoteUser := s.Login(ctx, accounts.LoginParams{UserID: "@alice:elsewhere.test", Password: "right"})
		var msgs []string
		for _, err := range []error{wrongPassword, unknownUser, emptyPassword, remoteUser} {
			msgs = append(msgs, wantCode(t, err, "M_FORBIDDEN").Err)
		}
		for _, m := range msgs {
			if m != msgs[0] {
				t.Errorf("failed logins answer differently: %q", msgs)
			}
		}
		if devs, _ := s.Devices(ctx, reg.UserID); len(devs) != 2 {
			t.Errorf("failed logins created devices: %v", devs)
		}
	})
}

func TestLoginExistingDeviceRevokesItsTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		reg := mustRegister(t, s, "alice", "pw")
		first := mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw", DeviceID: "PHONE",
			InitialDeviceDisplayName: "Phone", RefreshToken: true})
		second := mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw", DeviceID: "PHONE",
			InitialDeviceDisplayName: "Renamed?"})
		if second.DeviceID != "PHONE" {
			t.Fatalf("device = %s, want PHONE", second.DeviceID)
		}
		_, err := s.Authenticate(ctx, first.AccessToken)
		if resp := wantCode(t, err, "M_UNKNOWN_TOKEN"); softLogout(resp) {
			t.Error("revoked token answered with soft_logout")
		}
		_, err = s.Refresh(ctx, first.RefreshToken)
		wantCode(t, err, "M_UNKNOWN_TOKEN")
		if _, err := s.Authenticate(ctx, second.AccessToken); err != nil {
			t.Errorf("new token: %v", err)
		}
		if _, err := s.Authenticate(ctx, reg.AccessToken); err != nil {
			t.Errorf("other device's token: %v", err)
		}
		d, err := s.Device(ctx, reg.UserID, "PHONE")
		if err != nil || d.DisplayName != "Phone" {
			t.Errorf("device = %+v, %v; want its first name kept", d, err)
		}
		if devs, _ := s.Devices(ctx, reg.UserID); len(devs) != 2 {
			t.Errorf("devices = %v, want the registration device and PHONE", devs)
		}
	})
}

func TestLoginDeactivated(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		reg := mustRegister(t, s, "alice", "pw")
		if err := s.Deactivate(ctx, reg.UserID); err != nil {
			t.Fatal(err)
		}
		_, err := s.Login(ctx, accounts.LoginParams{UserID: reg.UserID, Password: "pw"})
		if resp := wantCode(t, err, "M_USER_DEACTIVATED"); resp.StatusCode != 403 {
			t.Errorf("status = %d, want 403", resp.StatusCode)
		}
	})
}

func TestLoginRehashesStalePasswords(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		reg := mustRegister(t, s, "alice", "pw")
		before, _ := db.UserByID(ctx, reg.UserID)
		accounts.UseOtherCheapHashing(s)
		mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw"})
		after, _ := db.UserByID(ctx, reg.UserID)
		if after.PasswordHash == before.PasswordHash || !strings.Contains(after.PasswordHash, ",t=2,") {
			t.Errorf("hash %q after login; want it re-made with t=2", after.PasswordHash)
		}
		mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw"})
	})
}

func TestResolveIdentifier(t *testing.T) {
	cases := []struct {
		name   string
		ident  mautrix.UserIdentifier
		legacy string
		want   id.UserID
		code   string
	}{
		{"localpart", mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"}, "", "@alice:hs.test", ""},
		{"upper-case localpart", mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "Alice"}, "", "@alice:hs.test", ""},
		{"user ID", mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "@Alice:hs.test"}, "", "@alice:hs.test", ""},
		{"remote user ID", mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "@Alice:other.test"}, "", "@Alice:other.test", ""},
		{"legacy user field", mautrix.UserIdentifier{}, "bob", "@bob:hs.test", ""},
		{"identifier wins over legacy", mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "carol"}, "bob", "@carol:hs.test", ""},
		{"no user", mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser}, "", "", "M_MISSING_PARAM"},
		{"nothing", mautrix.UserIdentifier{}, "", "", "M_MISSING_PARAM"},
		{"bad user ID", mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "@alice"}, "", "", "M_INVALID_PARAM"},
		{"third party", mautrix.UserIdentifier{Type: mautrix.IdentifierTypeThirdParty, Medium: "email", Address: "a@b.c"}, "", "", "M_FORBIDDEN"},
		{"legacy third party", mautrix.UserIdentifier{Medium: "email", Address: "a@b.c"}, "", "", "M_FORBIDDEN"},
		{"phone", mautrix.UserIdentifier{Type: mautrix.IdentifierTypePhone, Country: "GB", Phone: "123"}, "", "", "M_FORBIDDEN"},
		{"unknown type", mautrix.UserIdentifier{Type: "m.id.carrier_pigeon"}, "", "", "M_INVALID_PARAM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := accounts.ResolveIdentifier(tc.ident, tc.legacy, serverName)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ResolveIdentifier = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
