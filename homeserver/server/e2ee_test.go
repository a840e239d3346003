//go:build goolm

package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// e2eeClient is one device of a user running mautrix-go's crypto machine (pure-Go olm, the goolm
// build tag) against the server, syncing in the background like a real client. The wiring is
// what mautrix's cryptohelper does, without its SQLite store (which needs cgo).
type e2eeClient struct {
	cli      *mautrix.Client
	mach     *crypto.OlmMachine
	messages chan *event.Event // decrypted m.room.message events
}

// startE2EE gives cli a crypto machine, which uploads the device's keys, and starts syncing.
func startE2EE(t *testing.T, cli *mautrix.Client) *e2eeClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	who, err := cli.Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cli.DeviceID = who.DeviceID
	stateStore := mautrix.NewMemoryStateStore()
	cli.StateStore = stateStore
	c := &e2eeClient{cli: cli, mach: crypto.NewOlmMachine(cli, nil, crypto.NewMemoryStore(nil), stateStore.(crypto.StateStore)),
		messages: make(chan *event.Event, 100)}
	if err := c.mach.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.mach.ShareKeys(ctx, -1); err != nil {
		t.Fatalf("upload keys of %s: %v", cli.UserID, err)
	}
	cli.Crypto = clientCrypto{c}
	syncer := cli.Syncer.(*mautrix.DefaultSyncer)
	syncer.OnSync(c.mach.ProcessSyncResponse)
	syncer.OnEvent(cli.StateStoreSyncHandler)
	syncer.OnEventType(event.StateMember, c.mach.HandleMemberEvent)
	syncer.OnEventType(event.EventEncrypted, func(ctx context.Context, ev *event.Event) {
		if decrypted, err := c.mach.DecryptMegolmEvent(ctx, ev); err == nil {
			c.messages <- decrypted
		} else if c.mach.WaitForSession(ctx, ev.RoomID, ev.Content.AsEncrypted().SenderKey, ev.Content.AsEncrypted().SessionID, 5*time.Second) {
			if decrypted, err := c.mach.DecryptMegolmEvent(ctx, ev); err == nil {
				c.messages <- decrypted
			}
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		cli.SyncWithContext(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// clientCrypto lets mautrix's client encrypt what it sends to encrypted rooms, sharing the
// room key with the members' devices when there is no current one, as cryptohelper does.
type clientCrypto struct{ c *e2eeClient }

func (h clientCrypto) Encrypt(ctx context.Context, roomID id.RoomID, evType event.Type, content any) (*event.EncryptedEventContent, error) {
	enc, err := h.c.mach.EncryptMegolmEvent(ctx, roomID, evType, content)
	if errors.Is(err, crypto.ErrSessionExpired) || errors.Is(err, crypto.ErrNoGroupSession) || errors.Is(err, crypto.ErrSessionNotShared) {
		users, err := h.c.cli.StateStore.GetRoomJoinedOrInvitedMembers(ctx, roomID)
		if err != nil {
			return nil, err
		}
		if err := h.c.mach.ShareGroupSession(ctx, roomID, users); err != nil {
			return nil, err
		}
		return h.c.mach.EncryptMegolmEvent(ctx, roomID, evType, content)
	}
	return enc, err
}

func (h clientCrypto) Decrypt(ctx context.Context, ev *event.Event) (*event.Event, error) {
	return h.c.mach.DecryptMegolmEvent(ctx, ev)
}

func (h clientCrypto) WaitForSession(ctx context.Context, roomID id.RoomID, senderKey id.SenderKey, sessionID id.SessionID, timeout time.Duration) bool {
	return h.c.mach.WaitForSession(ctx, roomID, senderKey, sessionID, timeout)
}

func (clientCrypto) RequestSession(context.Context, id.RoomID, id.SenderKey, id.SessionID, id.UserID, id.DeviceID) {
}
func (clientCrypto) Init(context.Context) error { return nil }

// receive waits for the decrypted message with body.
func (c *e2eeClient) receive(t *testing.T, body string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-c.messages:
			if ev.Content.AsMessage().Body == body {
				return
			}
		case <-timeout:
			t.Fatalf("%s/%s did not decrypt %q", c.cli.UserID, c.cli.DeviceID, body)
		}
	}
}

// TestEndToEndEncryption runs two real E2EE clients (mautrix-go's crypto) against the server:
// an encrypted room where the other side decrypts; a device added later that the sender's next
// message reaches (device-list tracking); cross-signing bootstrapped; and a key backup created,
// uploaded to and restored on a new device, which then decrypts the room's history.
func TestEndToEndEncryption(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := startE2EE(t, ts.register(t, "alice"))
		bob := startE2EE(t, ts.register(t, "bob"))

		roomID := mustCreateRoom(t, alice.cli, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.cli.UserID},
			InitialState: []*event.Event{{Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}}}}})
		mustJoin(t, bob.cli, string(roomID))
		waitMembers(t, alice, roomID, 2)

		if _, err := alice.cli.SendText(ctx, roomID, "the first secret"); err != nil {
			t.Fatal(err)
		}
		bob.receive(t, "the first secret")

		// A second device of bob's: alice's client learns of it from device_lists and shares
		// the room key with it too.
		bob2 := startE2EE(t, ts.login(t, bob.cli.UserID, password))
		waitForDevice(t, alice, bob2)
		if _, err := alice.cli.SendText(ctx, roomID, "the second secret"); err != nil {
			t.Fatal(err)
		}
		bob2.receive(t, "the second secret")
		bob.receive(t, "the second secret")

		// Cross-signing: bootstrap alice's keys; the server publishes them.
		if _, _, err := alice.mach.GenerateAndUploadCrossSigningKeys(ctx, nil, ""); err != nil {
			t.Fatalf("cross-signing bootstrap: %v", err)
		}
		keys, err := bob.cli.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: map[id.UserID]mautrix.DeviceIDList{alice.cli.UserID: {}}})
		if err != nil || keys.MasterKeys[alice.cli.UserID].Keys == nil || keys.SelfSigningKeys[alice.cli.UserID].Keys == nil {
			t.Fatalf("query after the bootstrap: %+v, %v", keys, err)
		}

		// Key backup: bob backs up his room keys, a new device restores them and decrypts.
		backupKey, version := createMegolmBackup(t, bob)
		uploadRoomKeys(t, bob, version, backupKey, roomID)
		bob3cli := ts.login(t, bob.cli.UserID, password)
		bob3 := startE2EE(t, bob3cli)
		restored, err := bob3.mach.DownloadAndStoreLatestKeyBackup(ctx, backupKey)
		if err != nil || restored != version {
			t.Fatalf("restore: version %q, %v; want %q", restored, err, version)
		}
		history := ts.messages(t, bob3cli, roomID, url.Values{"dir": {"b"}})
		decrypted := 0
		for _, ev := range history.Chunk {
			if ev.Type != event.EventEncrypted {
				continue
			}
			if err := ev.Content.ParseRaw(ev.Type); err != nil {
				t.Fatal(err)
			}
			ev.RoomID = roomID
			if _, err := bob3.mach.DecryptMegolmEvent(ctx, ev); err != nil {
				t.Errorf("the restored device cannot decrypt %s: %v", ev.ID, err)
				continue
			}
			decrypted++
		}
		if decrypted != 2 {
			t.Errorf("the restored device decrypted %d messages, want the 2 secrets", decrypted)
		}
	})
}

// waitForDevice waits until c's machine knows other's device, from the device-list change in
// its sync.
func waitForDevice(t *testing.T, c, other *e2eeClient) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if dev, err := c.mach.CryptoStore.GetDevice(context.Background(), other.cli.UserID, other.cli.DeviceID); err == nil && dev != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never learnt of %s's device %s", c.cli.UserID, other.cli.UserID, other.cli.DeviceID)
		}
	}
}

// waitMembers waits until c's state store knows members joined users of the room, which the
// crypto machine needs to share room keys with them.
func waitMembers(t *testing.T, c *e2eeClient, roomID id.RoomID, members int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		joined, err := c.cli.StateStore.GetRoomJoinedOrInvitedMembers(context.Background(), roomID)
		if err == nil && len(joined) >= members {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sees %d members of %s, want %d", c.cli.UserID, len(joined), roomID, members)
		}
	}
}

// createMegolmBackup creates a megolm backup version for c's user with a new backup key.
func createMegolmBackup(t *testing.T, c *e2eeClient) (*backup.MegolmBackupKey, id.KeyBackupVersion) {
	t.Helper()
	key, err := backup.NewMegolmBackupKey()
	if err != nil {
		t.Fatal(err)
	}
	publicKey := id.Ed25519(base64.RawStdEncoding.EncodeToString(key.PublicKey().Bytes()))
	resp, err := c.cli.CreateKeyBackupVersion(context.Background(), &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
		Algorithm: id.KeyBackupAlgorithmMegolmBackupV1, AuthData: backup.MegolmAuthData{PublicKey: publicKey}})
	if err != nil {
		t.Fatalf("create backup: %v", err)
	}
	return key, resp.Version
}

// uploadRoomKeys encrypts every megolm session c holds for the room with the backup key and
// puts it in the backup, as a client backing up its keys does.
func uploadRoomKeys(t *testing.T, c *e2eeClient, version id.KeyBackupVersion, key *backup.MegolmBackupKey, roomID id.RoomID) {
	t.Helper()
	ctx := context.Background()
	sessions, err := c.mach.CryptoStore.GetGroupSessionsForRoom(ctx, roomID).AsList()
	if err != nil || len(sessions) == 0 {
		t.Fatalf("bob's sessions for the room: %d, %v", len(sessions), err)
	}
	req := &mautrix.ReqKeyBackup{Rooms: map[id.RoomID]mautrix.ReqRoomKeyBackup{roomID: {Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{}}}}
	for _, s := range sessions {
		index := s.Internal.FirstKnownIndex()
		exported, err := s.Internal.Export(index)
		if err != nil {
			t.Fatal(err)
		}
		data, err := backup.EncryptSessionData(key, backup.MegolmSessionData{Algorithm: id.AlgorithmMegolmV1, SenderKey: s.SenderKey,
			SenderClaimedKeys: backup.SenderClaimedKeys{Ed25519: s.SigningKey}, SessionKey: string(exported), ForwardingKeyChain: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		req.Rooms[roomID].Sessions[s.ID()] = mautrix.ReqKeyBackupData{FirstMessageIndex: int(index), SessionData: raw}
	}
	if _, err := c.cli.PutKeysInBackup(ctx, version, req); err != nil {
		t.Fatalf("upload to the backup: %v", err)
	}
}
