//go:build goolm

package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// olmDehydratedRequest returns the PUT /dehydrated_device body of a device backed by a real olm
// account: its ID is the account's curve25519 identity key, as MSC3814 asks, and its keys
// and one-time keys are signed by the account.
func olmDehydratedRequest(t *testing.T, owner id.UserID, acct *crypto.OlmAccount) map[string]any {
	t.Helper()
	deviceID := id.DeviceID(acct.IdentityKey())
	dk := &mautrix.DeviceKeys{
		UserID: owner, DeviceID: deviceID,
		Algorithms: []id.Algorithm{id.AlgorithmOlmV1, id.AlgorithmMegolmV1},
		Keys: mautrix.KeyMap{
			id.NewDeviceKeyID(id.KeyAlgorithmCurve25519, deviceID): string(acct.IdentityKey()),
			id.NewDeviceKeyID(id.KeyAlgorithmEd25519, deviceID):    string(acct.SigningKey()),
		},
		Dehydrated: true,
	}
	sig, err := acct.SignJSON(dk)
	if err != nil {
		t.Fatal(err)
	}
	dk.Signatures = signatures.NewSingleSignature(owner, id.KeyAlgorithmEd25519, string(deviceID), sig)
	if err := acct.Internal.GenOneTimeKeys(5); err != nil {
		t.Fatal(err)
	}
	keys, err := acct.Internal.OneTimeKeys()
	if err != nil {
		t.Fatal(err)
	}
	otks := map[id.KeyID]mautrix.OneTimeKey{}
	for keyID, key := range keys {
		otk := mautrix.OneTimeKey{Key: key, IsSigned: true}
		sig, err := acct.SignJSON(&otk)
		if err != nil {
			t.Fatal(err)
		}
		otk.Signatures = signatures.NewSingleSignature(owner, id.KeyAlgorithmEd25519, string(deviceID), sig)
		otks[id.NewKeyID(id.KeyAlgorithmSignedCurve25519, keyID)] = otk
	}
	acct.Internal.MarkKeysAsPublished()
	return map[string]any{
		"device_id":   deviceID,
		"device_data": map[string]any{"algorithm": "org.matrix.msc3814.v2", "device_pickle": "not used by the test"},
		"device_keys": dk, "one_time_keys": otks,
	}
}

// TestDehydratedDeviceReceivesRoomKey is MSC3814's purpose end to end: alice has a dehydrated
// device (a real olm account) and no other device with keys; bob's client (mautrix-go's
// crypto) sends to an encrypted room and shares the room key with it over Olm; alice's next
// client fetches the device's to-device messages, decrypts the room key with the account and
// with it the message.
func TestDehydratedDeviceReceivesRoomKey(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		acct := crypto.NewOlmAccount()
		deviceID := id.DeviceID(acct.IdentityKey())
		if _, err := alice.MakeRequest(ctx, http.MethodPut, dehydratedURL(alice), olmDehydratedRequest(t, alice.UserID, acct), nil); err != nil {
			t.Fatalf("PUT dehydrated_device: %v", err)
		}

		bob := startE2EE(t, ts.register(t, "bob"))
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.cli.UserID},
			InitialState: []*event.Event{{Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}}}}})
		mustJoin(t, bob.cli, string(roomID))
		waitMembers(t, bob, roomID, 2)
		sent, err := bob.cli.SendText(ctx, roomID, "for the dehydrated device")
		if err != nil {
			t.Fatal(err)
		}

		// Rehydration: alice logs in anew and reads the device's messages.
		rehydrator := ts.login(t, alice.UserID, password)
		batch := dehydratedEvents(t, rehydrator, deviceID, "", nil)
		roomKey := roomKeyFrom(t, acct, bob.cli.UserID, batch.Events)

		ev, err := rehydrator.GetEvent(ctx, roomID, sent.EventID)
		if err != nil {
			t.Fatal(err)
		}
		var enc event.EncryptedEventContent
		if err := json.Unmarshal(ev.Content.VeryRaw, &enc); err != nil {
			t.Fatal(err)
		}
		if enc.SessionID != roomKey.SessionID {
			t.Fatalf("the room key is of session %s, the message of %s", roomKey.SessionID, enc.SessionID)
		}
		igs, err := olm.NewInboundGroupSession([]byte(roomKey.SessionKey))
		if err != nil {
			t.Fatal(err)
		}
		plaintext, _, err := igs.Decrypt(enc.MegolmCiphertext)
		if err != nil {
			t.Fatalf("decrypt the message with the recovered room key: %v", err)
		}
		var msg struct {
			Content struct {
				Body string `json:"body"`
			} `json:"content"`
		}
		if err := json.Unmarshal(plaintext, &msg); err != nil || msg.Content.Body != "for the dehydrated device" {
			t.Errorf("decrypted %s (%v), want the message bob sent", plaintext, err)
		}
	})
}

// roomKeyFrom decrypts the Olm-encrypted to-device messages from sender with the account and
// returns the m.room_key among them.
func roomKeyFrom(t *testing.T, acct *crypto.OlmAccount, sender id.UserID, evs []*event.Event) event.RoomKeyEventContent {
	t.Helper()
	for _, ev := range evs {
		if ev.Sender != sender || ev.Type.Type != event.ToDeviceEncrypted.Type {
			continue
		}
		var enc event.EncryptedEventContent
		if err := json.Unmarshal(ev.Content.VeryRaw, &enc); err != nil {
			t.Fatal(err)
		}
		ct, ok := enc.OlmCiphertext[acct.IdentityKey()]
		if !ok || ct.Type != id.OlmMsgTypePreKey {
			continue
		}
		senderKey := enc.SenderKey
		sess, err := acct.Internal.NewInboundSessionFrom(&senderKey, ct.Body)
		if err != nil {
			t.Fatalf("olm session from %s: %v", sender, err)
		}
		plaintext, err := sess.Decrypt(ct.Body, ct.Type)
		if err != nil {
			t.Fatalf("olm decrypt: %v", err)
		}
		var inner struct {
			Type    string                    `json:"type"`
			Content event.RoomKeyEventContent `json:"content"`
		}
		if err := json.Unmarshal(plaintext, &inner); err != nil {
			t.Fatal(err)
		}
		if inner.Type == event.ToDeviceRoomKey.Type {
			return inner.Content
		}
	}
	t.Fatalf("no Olm-encrypted m.room_key from %s among %d to-device messages", sender, len(evs))
	return event.RoomKeyEventContent{}
}
