package accounts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func TestDevices(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, accounts.Options{})
		reg, err := s.Register(ctx, accounts.RegisterParams{Localpart: "alice", Password: "pw", DeviceID: "AAA", InitialDeviceDisplayName: "A"})
		if err != nil {
			t.Fatal(err)
		}
		mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw", DeviceID: "BBB", IP: "192.0.2.9"})
		mustLogin(t, s, accounts.LoginParams{UserID: reg.UserID, Password: "pw", DeviceID: "CCC", InitialDeviceDisplayName: strings.Repeat("é", 150)})
		bob := mustRegister(t, s, "bob", "pw")

		devs, err := s.Devices(ctx, reg.UserID)
		if err != nil {
			t.Fatal(err)
		}
		want := []accounts.Device{
			{UserID: reg.UserID, ID: "AAA", DisplayName: "A", LastSeen: clk.Now().Truncate(1e6)},
			{UserID: reg.UserID, ID: "BBB", LastSeen: clk.Now().Truncate(1e6), LastSeenIP: "192.0.2.9"},
			{UserID: reg.UserID, ID: "CCC", DisplayName: strings.Repeat("é", accounts.MaxDeviceDisplayName), LastSeen: clk.Now().Truncate(1e6)},
		}
		if diff := cmp.Diff(want, devs); diff != "" {
			t.Errorf("devices (-want +got):\n%s", diff)
		}

		if err := s.RenameDevice(ctx, reg.UserID, "BBB", "Work laptop"); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Device(ctx, reg.UserID, "BBB"); err != nil || d.DisplayName != "Work laptop" {
			t.Errorf("renamed device = %+v, %v", d, err)
		}
		wantCode(t, s.RenameDevice(ctx, reg.UserID, "NOPE", "x"), "M_NOT_FOUND")
		wantCode(t, s.RenameDevice(ctx, bob.UserID, "BBB", "x"), "M_NOT_FOUND")
		wantCode(t, s.RenameDevice(ctx, reg.UserID, "BBB", strings.Repeat("x", 101)), "M_INVALID_PARAM")
		_, err = s.Device(ctx, reg.UserID, "NOPE")
		wantCode(t, err, "M_NOT_FOUND")
		_, err = s.Device(ctx, reg.UserID, bob.DeviceID)
		wantCode(t, err, "M_NOT_FOUND")

		if err := s.DeleteDevices(ctx, reg.UserID, []id.DeviceID{"AAA", "NOPE", "CCC", bob.DeviceID}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]id.DeviceID{"BBB"}, deviceIDs(t, s, reg.UserID)); diff != "" {
			t.Errorf("devices after delete (-want +got):\n%s", diff)
		}
		if _, err := s.Authenticate(ctx, reg.AccessToken); err == nil {
			t.Error("deleted device's token still works")
		}
		if _, err := s.Authenticate(ctx, bob.AccessToken); err != nil {
			t.Errorf("another user's device was deleted: %v", err)
		}
		if err := s.DeleteDevices(ctx, reg.UserID, nil); err != nil {
			t.Errorf("delete no devices: %v", err)
		}
	})
}
