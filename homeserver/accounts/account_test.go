package accounts_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func deviceIDs(t *testing.T, s *accounts.Service, userID id.UserID) []id.DeviceID {
	t.Helper()
	devs, err := s.Devices(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	var out []id.DeviceID
	for _, d := range devs {
		out = append(out, d.ID)
	}
	return out
}

func TestChangePassword(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		reg := mustRegister(t, s, "alice", "old")
		for _, d := range []id.DeviceID{"AAA", "BBB", "CCC"} {
			mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "old", DeviceID: d})
		}

		wantCode(t, s.ChangePassword(ctx, reg.UserID, "", true, "BBB"), "M_WEAK_PASSWORD")

		if err := s.ChangePassword(ctx, reg.UserID, "middle", false, "BBB"); err != nil {
			t.Fatal(err)
		}
		if got := deviceIDs(t, s, reg.UserID); len(got) != 4 {
			t.Errorf("devices after change without logout = %v, want all 4", got)
		}
		if err := s.ChangePassword(ctx, reg.UserID, "new", true, "BBB"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]id.DeviceID{"BBB"}, deviceIDs(t, s, reg.UserID)); diff != "" {
			t.Errorf("devices (-want +got):\n%s", diff)
		}
		if _, err := s.Authenticate(ctx, reg.AccessToken); err == nil {
			t.Error("other device's token survives the password change")
		}
		_, err := s.Login(ctx, accounts.LoginParams{UserID: reg.UserID, Password: "old"})
		wantCode(t, err, "M_FORBIDDEN")
		mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "new"})

		if err := s.CheckPassword(ctx, reg.UserID, "new"); err != nil {
			t.Errorf("CheckPassword(right) = %v", err)
		}
		wantCode(t, s.CheckPassword(ctx, reg.UserID, "old"), "M_FORBIDDEN")
		wantCode(t, s.CheckPassword(ctx, "@nobody:hs.test", "new"), "M_FORBIDDEN")
	})
}

func TestDeactivate(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		reg := mustRegister(t, s, "alice", "pw")
		other := mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw", RefreshToken: true})
		if err := s.Deactivate(ctx, reg.UserID); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{reg.AccessToken, other.AccessToken} {
			_, err := s.Authenticate(ctx, tok)
			wantCode(t, err, "M_UNKNOWN_TOKEN")
		}
		_, err := s.Refresh(ctx, other.RefreshToken)
		wantCode(t, err, "M_UNKNOWN_TOKEN")
		if got := deviceIDs(t, s, reg.UserID); len(got) != 0 {
			t.Errorf("devices after deactivation = %v", got)
		}
		u, err := db.UserByID(ctx, reg.UserID)
		if err != nil || !u.Deactivated || u.PasswordHash != "" || u.DisplayName != "" {
			t.Errorf("user = %+v, %v; want deactivated, password and profile erased", u, err)
		}
		wantCode(t, s.CheckPassword(ctx, reg.UserID, "pw"), "M_USER_DEACTIVATED")
		wantCode(t, s.ChangePassword(ctx, reg.UserID, "again", true, ""), "M_USER_DEACTIVATED")
		_, err = s.Register(ctx, accounts.RegisterParams{Localpart: "alice", Password: "pw"})
		wantCode(t, err, "M_USER_IN_USE")
		if err := s.Deactivate(ctx, reg.UserID); err != nil {
			t.Errorf("second deactivation: %v", err)
		}
	})
}
