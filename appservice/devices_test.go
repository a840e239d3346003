package appservice_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// TestDeviceManagement checks MSC4190: an appservice that opted in creates a device for its
// ghost with PUT /devices/{deviceId}, acts as that device with ?device_id=, and deletes it
// without user-interactive auth.
func TestDeviceManagement(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		ghost := env.as.Intent("@_bridge_crypto:localhost")
		if err := ghost.EnsureRegistered(ctx); err != nil {
			t.Fatal(err)
		}
		cli := env.as.Client(ghost.UserID)
		const deviceID = id.DeviceID("BRIDGEDEV")
		if err := cli.SetDeviceInfo(ctx, deviceID, &mautrix.ReqDeviceInfo{DisplayName: "bridge device"}); err != nil {
			t.Fatalf("create device: %v", err)
		}
		cli.SetAppServiceDeviceID = true
		cli.DeviceID = deviceID
		who, err := cli.Whoami(ctx)
		if err != nil || who.DeviceID != deviceID {
			t.Fatalf("whoami as the device: %+v, %v", who, err)
		}
		if err := cli.DeleteDevice(ctx, deviceID, nil); err != nil {
			t.Fatalf("delete device without UIA: %v", err)
		}
		if _, err := cli.Whoami(ctx); errCode(err) != "M_UNKNOWN_DEVICE" {
			t.Errorf("acting as a deleted device: %v, want M_UNKNOWN_DEVICE", err)
		}
	})
}
