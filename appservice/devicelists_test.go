package appservice_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	mxappservice "maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/crypto/canonicaljson"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// TestDeviceListsToAppservices checks MSC3202 through mautrix-go's appservice: the appservice
// hears that a user sharing a room with its ghost changed devices, and gets the one-time-key
// counts of its ghost's device, which go down when someone claims one.
func TestDeviceListsToAppservices(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		ghost, ghostCli := env.ghostWithDevice(t, "@_bridge_crypto:localhost", "BRIDGEDEV")
		uploadSignedKeys(t, ghostCli, 5)

		alice := env.user(t, "alice")
		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		if err := ghost.EnsureJoined(ctx, room.RoomID); err != nil {
			t.Fatal(err)
		}
		who, err := alice.Whoami(ctx)
		if err != nil {
			t.Fatal(err)
		}
		alice.DeviceID = who.DeviceID
		uploadSignedKeys(t, alice, 0) // alice's device list changes

		waitDeviceListChange(t, env, alice.UserID)
		waitOTKCount(t, env, ghost.UserID, ghostCli.DeviceID, 5)

		if _, err := alice.ClaimKeys(ctx, &mautrix.ReqClaimKeys{OneTimeKeys: mautrix.OneTimeKeysRequest{
			ghost.UserID: {ghostCli.DeviceID: id.KeyAlgorithmSignedCurve25519}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendText(ctx, room.RoomID, "a transaction for the counts to ride with"); err != nil {
			t.Fatal(err)
		}
		waitOTKCount(t, env, ghost.UserID, ghostCli.DeviceID, 4)
	})
}

func waitDeviceListChange(t *testing.T, env *bridgeEnv, user id.UserID) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case dl := <-env.as.DeviceLists:
			if slices.Contains(dl.Changed, user) {
				return
			}
		case <-timeout:
			t.Fatalf("the appservice did not hear that %s's devices changed", user)
		}
	}
}

func waitOTKCount(t *testing.T, env *bridgeEnv, user id.UserID, device id.DeviceID, want int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-env.as.OTKCounts:
			if c.UserID == user && c.DeviceID == device && c.SignedCurve25519 == want {
				return
			}
		case <-timeout:
			t.Fatalf("the appservice got no one-time-key count %d for %s/%s", want, user, device)
		}
	}
}

// uploadSignedKeys uploads self-signed device keys for cli's device and n signed one-time keys,
// made with a fresh ed25519 key as a client's olm account would.
func uploadSignedKeys(t *testing.T, cli *mautrix.Client, n int) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(v any) string {
		enc, _ := json.Marshal(v)
		var obj map[string]json.RawMessage
		json.Unmarshal(enc, &obj)
		delete(obj, "signatures")
		delete(obj, "unsigned")
		enc, _ = json.Marshal(obj)
		canonical, err := canonicaljson.CanonicalJSON(enc)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawStdEncoding.EncodeToString(ed25519.Sign(priv, canonical))
	}
	key := func() string {
		p, _, _ := ed25519.GenerateKey(rand.Reader)
		return base64.RawStdEncoding.EncodeToString(p)
	}
	dk := &mautrix.DeviceKeys{UserID: cli.UserID, DeviceID: cli.DeviceID, Algorithms: []id.Algorithm{id.AlgorithmOlmV1, id.AlgorithmMegolmV1},
		Keys: mautrix.KeyMap{id.NewDeviceKeyID(id.KeyAlgorithmEd25519, cli.DeviceID): base64.RawStdEncoding.EncodeToString(pub),
			id.NewDeviceKeyID(id.KeyAlgorithmCurve25519, cli.DeviceID): key()}}
	dk.Signatures = signatures.NewSingleSignature(cli.UserID, id.KeyAlgorithmEd25519, string(cli.DeviceID), sign(dk))
	otks := map[id.KeyID]mautrix.OneTimeKey{}
	for i := range n {
		otk := mautrix.OneTimeKey{Key: id.Curve25519(key()), IsSigned: true}
		otk.Signatures = signatures.NewSingleSignature(cli.UserID, id.KeyAlgorithmEd25519, string(cli.DeviceID), sign(&otk))
		otks[id.NewKeyID(id.KeyAlgorithmSignedCurve25519, fmt.Sprint("k", i))] = otk
	}
	if _, err := cli.UploadKeys(context.Background(), &mautrix.ReqUploadKeys{DeviceKeys: dk, OneTimeKeys: otks}); err != nil {
		t.Fatalf("upload keys of %s/%s: %v", cli.UserID, cli.DeviceID, err)
	}
}

// ghostWithDevice registers a ghost, creates a device for it (MSC4190) and returns its intent
// and a client acting as that device.
func (env *bridgeEnv) ghostWithDevice(t *testing.T, userID id.UserID, deviceID id.DeviceID) (*mxappservice.IntentAPI, *mautrix.Client) {
	t.Helper()
	ctx := context.Background()
	ghost := env.as.Intent(userID)
	if err := ghost.EnsureRegistered(ctx); err != nil {
		t.Fatal(err)
	}
	cli := env.as.Client(userID)
	if err := cli.SetDeviceInfo(ctx, deviceID, &mautrix.ReqDeviceInfo{DisplayName: "bridge"}); err != nil {
		t.Fatal(err)
	}
	cli.SetAppServiceDeviceID, cli.DeviceID = true, deviceID
	return ghost, cli
}
