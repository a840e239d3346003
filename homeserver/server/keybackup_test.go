package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

const megolmBackupV1 = id.KeyBackupAlgorithmMegolmBackupV1

// backupKeyData encrypts a session's key for the backup as a client does
// (end_to_end_encryption.md, "Backup algorithm: m.megolm_backup.v1.curve25519-aes-sha2").
func backupKeyData(t *testing.T, key *backup.MegolmBackupKey, sessionKey string, index, forwarded int, verified bool) mautrix.ReqKeyBackupData {
	t.Helper()
	enc, err := backup.EncryptSessionData(key, backup.MegolmSessionData{
		Algorithm:  id.AlgorithmMegolmV1,
		SenderKey:  "sender",
		SessionKey: sessionKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	return mautrix.ReqKeyBackupData{FirstMessageIndex: index, ForwardedCount: forwarded, IsVerified: verified, SessionData: raw}
}

// sessionKeyIn decrypts a backed-up key and returns its session_key.
func sessionKeyIn(t *testing.T, key *backup.MegolmBackupKey, d mautrix.RespKeyBackupData[backup.EncryptedSessionData[backup.MegolmSessionData]]) string {
	t.Helper()
	plain, err := d.SessionData.Decrypt(key)
	if err != nil {
		t.Fatalf("decrypt backed-up key: %v", err)
	}
	return plain.SessionKey
}

func createBackup(t *testing.T, cli *mautrix.Client, key *backup.MegolmBackupKey) id.KeyBackupVersion {
	t.Helper()
	resp, err := cli.CreateKeyBackupVersion(context.Background(), &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
		Algorithm: megolmBackupV1,
		AuthData:  backup.MegolmAuthData{PublicKey: publicKey(key)},
	})
	if err != nil {
		t.Fatalf("create key backup: %v", err)
	}
	return resp.Version
}

// publicKey is the backup's public key as auth_data carries it, in unpadded base64.
func publicKey(key *backup.MegolmBackupKey) id.Ed25519 {
	return id.Ed25519(base64.RawStdEncoding.EncodeToString(key.PublicKey().Bytes()))
}

func oneKey(roomID id.RoomID, sessionID id.SessionID, d mautrix.ReqKeyBackupData) *mautrix.ReqKeyBackup {
	return &mautrix.ReqKeyBackup{Rooms: map[id.RoomID]mautrix.ReqRoomKeyBackup{
		roomID: {Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{sessionID: d}},
	}}
}

func roomKeysPath(rest string, version id.KeyBackupVersion) string {
	return "/_matrix/client/v3/room_keys/keys" + rest + "?version=" + url.QueryEscape(string(version))
}

func TestKeyBackupVersions(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		key, err := backup.NewMegolmBackupKey()
		if err != nil {
			t.Fatal(err)
		}

		_, err = alice.GetKeyBackupLatestVersion(ctx)
		wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")

		v1 := createBackup(t, alice, key)
		if v1 != "1" {
			t.Errorf("first version = %q, want \"1\"", v1)
		}
		latest, err := alice.GetKeyBackupLatestVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if latest.Version != v1 || latest.Algorithm != megolmBackupV1 || latest.Count != 0 || latest.ETag == "" ||
			latest.AuthData.PublicKey != publicKey(key) {
			t.Errorf("latest version = %+v", latest)
		}
		r := ts.do(t, http.MethodGet, "/_matrix/client/v3/room_keys/version", alice.AccessToken, nil)
		for _, field := range []string{"algorithm", "auth_data", "count", "etag", "version"} {
			if _, ok := r.object(t)[field]; !ok {
				t.Errorf("GET /room_keys/version lacks %s: %s", field, r.Body)
			}
		}

		t.Run("versions are per user", func(t *testing.T) {
			_, err := bob.GetKeyBackupLatestVersion(ctx)
			wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			_, err = bob.GetKeyBackupVersion(ctx, v1)
			wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			if v := createBackup(t, bob, key); v != "1" {
				t.Errorf("bob's first version = %q, want \"1\"", v)
			}
		})

		t.Run("update changes only auth_data", func(t *testing.T) {
			// mautrix v0.32.0's UpdateKeyBackupVersion sends no body at all, so the
			// update goes over plain HTTP; the answers are read with mautrix's types.
			other, _ := backup.NewMegolmBackupKey()
			newAuth := backup.MegolmAuthData{PublicKey: publicKey(other)}
			update := func(version id.KeyBackupVersion, req mautrix.ReqRoomKeysVersionUpdate[backup.MegolmAuthData]) apiResponse {
				return ts.do(t, http.MethodPut, "/_matrix/client/v3/room_keys/version/"+string(version), alice.AccessToken, req)
			}
			wantError(t, update(v1, mautrix.ReqRoomKeysVersionUpdate[backup.MegolmAuthData]{Algorithm: "org.example.other", AuthData: newAuth}),
				http.StatusBadRequest, "M_INVALID_PARAM")
			wantError(t, update(v1, mautrix.ReqRoomKeysVersionUpdate[backup.MegolmAuthData]{Algorithm: megolmBackupV1, AuthData: newAuth, Version: "7"}),
				http.StatusBadRequest, "M_INVALID_PARAM")
			wantError(t, update("7", mautrix.ReqRoomKeysVersionUpdate[backup.MegolmAuthData]{Algorithm: megolmBackupV1, AuthData: newAuth}),
				http.StatusNotFound, "M_NOT_FOUND")
			wantError(t, ts.do(t, http.MethodPut, "/_matrix/client/v3/room_keys/version/"+string(v1), alice.AccessToken, map[string]any{"algorithm": megolmBackupV1}),
				http.StatusBadRequest, "M_MISSING_PARAM")
			if got, _ := alice.GetKeyBackupVersion(ctx, v1); got.AuthData.PublicKey != latest.AuthData.PublicKey {
				t.Error("a refused update changed auth_data")
			}

			r := update(v1, mautrix.ReqRoomKeysVersionUpdate[backup.MegolmAuthData]{Algorithm: megolmBackupV1, AuthData: newAuth, Version: v1})
			wantOK(t, r)
			if string(r.Body) != "{}\n" {
				t.Errorf("update answered %s, want {}", r.Body)
			}
			got, err := alice.GetKeyBackupVersion(ctx, v1)
			if err != nil || got.AuthData.PublicKey != newAuth.PublicKey || got.ETag != latest.ETag || got.Algorithm != megolmBackupV1 {
				t.Errorf("after update: %+v, %v; want the new public key and the same etag %q", got, err, latest.ETag)
			}
		})

		t.Run("delete", func(t *testing.T) {
			v2 := createBackup(t, alice, key)
			if v2 != "2" {
				t.Errorf("second version = %q, want \"2\"", v2)
			}
			if _, err := alice.PutKeysInBackup(ctx, v2, oneKey("!r:localhost", "s", backupKeyData(t, key, "k", 0, 0, false))); err != nil {
				t.Fatal(err)
			}
			if err := alice.DeleteKeyBackupVersion(ctx, v2); err != nil {
				t.Fatal(err)
			}
			_, err := alice.GetKeyBackupVersion(ctx, v2)
			wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			_, err = alice.GetKeyBackup(ctx, v2)
			wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			if err := alice.DeleteKeyBackupVersion(ctx, v2); err != nil {
				t.Errorf("deleting a deleted version again: %v, want success", err)
			}
			wantRespError(t, alice.DeleteKeyBackupVersion(ctx, "99"), http.StatusNotFound, "M_NOT_FOUND")
			wantRespError(t, alice.DeleteKeyBackupVersion(ctx, "abc"), http.StatusNotFound, "M_NOT_FOUND")
			if got, err := alice.GetKeyBackupLatestVersion(ctx); err != nil || got.Version != v1 {
				t.Errorf("latest after deleting 2 = %+v, %v; want version 1", got, err)
			}
			if v3 := createBackup(t, alice, key); v3 != "3" {
				t.Errorf("the version after a deleted 2 = %q, want \"3\"", v3)
			}
		})

		t.Run("a backup outlives the device that made it", func(t *testing.T) {
			if _, err := alice.Logout(ctx); err != nil {
				t.Fatal(err)
			}
			again := ts.login(t, alice.UserID, password)
			if got, err := again.GetKeyBackupLatestVersion(ctx); err != nil || got.Version != "3" {
				t.Errorf("latest after logging out = %+v, %v", got, err)
			}
		})
	})
}

func TestKeyBackupKeys(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		key, err := backup.NewMegolmBackupKey()
		if err != nil {
			t.Fatal(err)
		}
		const room1, room2 id.RoomID = "!one:localhost", "!two:localhost"

		_, err = alice.PutKeysInBackup(ctx, "1", oneKey(room1, "s1", backupKeyData(t, key, "k", 0, 0, false)))
		wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")

		v1 := createBackup(t, alice, key)
		empty := ts.do(t, http.MethodGet, roomKeysPath("", v1), alice.AccessToken, nil)
		wantOK(t, empty)
		if string(empty.Body) != "{\"rooms\":{}}\n" {
			t.Errorf("GET keys of an empty backup = %s, want {\"rooms\":{}}", empty.Body)
		}
		emptyRoom := ts.do(t, http.MethodGet, roomKeysPath("/"+url.PathEscape(string(room1)), v1), alice.AccessToken, nil)
		wantOK(t, emptyRoom)
		if string(emptyRoom.Body) != "{\"sessions\":{}}\n" {
			t.Errorf("GET keys of a room without keys = %s, want {\"sessions\":{}}", emptyRoom.Body)
		}
		before, _ := alice.GetKeyBackupVersion(ctx, v1)

		up, err := alice.PutKeysInBackup(ctx, v1, &mautrix.ReqKeyBackup{Rooms: map[id.RoomID]mautrix.ReqRoomKeyBackup{
			room1: {Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{
				"s1": backupKeyData(t, key, "k1", 5, 1, false),
				"s2": backupKeyData(t, key, "k2", 0, 0, true),
			}},
			room2: {Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{
				"s3": backupKeyData(t, key, "k3", 0, 0, false),
			}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if up.Count != 3 || up.ETag == before.ETag {
			t.Errorf("after uploading 3 keys: %+v; want count 3 and an etag other than %q", up, before.ETag)
		}
		if info, _ := alice.GetKeyBackupVersion(ctx, v1); info.Count != 3 || info.ETag != up.ETag {
			t.Errorf("version info = %+v, want count 3 and etag %q", info, up.ETag)
		}

		all, err := alice.GetKeyBackup(ctx, v1)
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Rooms) != 2 || len(all.Rooms[room1].Sessions) != 2 || len(all.Rooms[room2].Sessions) != 1 {
			t.Fatalf("GET keys = %+v", all.Rooms)
		}
		if got := sessionKeyIn(t, key, all.Rooms[room1].Sessions["s1"]); got != "k1" {
			t.Errorf("decrypted s1 = %q, want k1", got)
		}
		if d := all.Rooms[room1].Sessions["s1"]; d.FirstMessageIndex != 5 || d.ForwardedCount != 1 || d.IsVerified {
			t.Errorf("metadata of s1 = %+v", d)
		}
		roomKeys, err := alice.GetKeyBackupForRoom(ctx, v1, room2)
		if err != nil || len(roomKeys.Sessions) != 1 || sessionKeyIn(t, key, roomKeys.Sessions["s3"]) != "k3" {
			t.Errorf("GET keys of room 2 = %+v, %v", roomKeys, err)
		}

		t.Run("replacement rules", func(t *testing.T) {
			tests := []struct {
				name     string
				session  id.SessionID
				upload   mautrix.ReqKeyBackupData
				wantKey  string
				replaced bool
			}{
				// s1 is stored unverified, index 5, forwarded once.
				{"higher first_message_index is kept out", "s1", backupKeyData(t, key, "worse", 6, 0, false), "k1", false},
				{"same index, more forwards is kept out", "s1", backupKeyData(t, key, "worse", 5, 2, false), "k1", false},
				{"an equal key is kept out", "s1", backupKeyData(t, key, "equal", 5, 1, false), "k1", false},
				{"same index, fewer forwards replaces", "s1", backupKeyData(t, key, "fewer", 5, 0, false), "fewer", true},
				{"lower index replaces", "s1", backupKeyData(t, key, "lower", 2, 3, false), "lower", true},
				{"verified replaces, whatever its index", "s1", backupKeyData(t, key, "verified", 9, 9, true), "verified", true},
				// s2 is stored verified, index 0.
				{"unverified never replaces verified", "s2", backupKeyData(t, key, "unverified", 0, 0, false), "k2", false},
			}
			for _, tt := range tests {
				before, _ := alice.GetKeyBackupVersion(ctx, v1)
				up, err := alice.PutKeysInBackupForRoomAndSession(ctx, v1, room1, tt.session, &tt.upload)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				got, err := alice.GetKeyBackupForRoomAndSession(ctx, v1, room1, tt.session)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if k := sessionKeyIn(t, key, *got); k != tt.wantKey {
					t.Errorf("%s: stored key = %q, want %q", tt.name, k, tt.wantKey)
				}
				if changed := up.ETag != before.ETag; changed != tt.replaced {
					t.Errorf("%s: etag %q -> %q; want a change: %v", tt.name, before.ETag, up.ETag, tt.replaced)
				}
				if up.Count != 3 {
					t.Errorf("%s: count = %d, want 3", tt.name, up.Count)
				}
			}
		})

		t.Run("a room's keys", func(t *testing.T) {
			up, err := alice.PutKeysInBackupForRoom(ctx, v1, room2, &mautrix.ReqRoomKeyBackup{Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{
				"s4": backupKeyData(t, key, "k4", 0, 0, false),
			}})
			if err != nil || up.Count != 4 {
				t.Fatalf("PUT a room's keys = %+v, %v; want count 4", up, err)
			}
			_, err = alice.GetKeyBackupForRoomAndSession(ctx, v1, room2, "nope")
			wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			_, err = alice.GetKeyBackupForRoomAndSession(ctx, "99", room2, "s4")
			wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			_, err = alice.GetKeyBackupForRoom(ctx, "99", room2)
			wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")
		})

		t.Run("only the current version takes keys", func(t *testing.T) {
			v2 := createBackup(t, alice, key)
			r := ts.do(t, http.MethodPut, roomKeysPath("", v1), alice.AccessToken,
				oneKey(room1, "s9", backupKeyData(t, key, "k9", 0, 0, false)))
			wantError(t, r, http.StatusForbidden, "M_WRONG_ROOM_KEYS_VERSION")
			if cur := r.object(t)["current_version"]; cur != string(v2) {
				t.Errorf("current_version = %v, want %q", cur, v2)
			}
			_, err := alice.PutKeysInBackupForRoomAndSession(ctx, "99", room1, "s9", ptr(backupKeyData(t, key, "k9", 0, 0, false)))
			wantRespError(t, err, http.StatusForbidden, "M_WRONG_ROOM_KEYS_VERSION")
			// The old version can still be read, and its keys deleted.
			if old, err := alice.GetKeyBackup(ctx, v1); err != nil || len(old.Rooms[room1].Sessions) != 2 {
				t.Errorf("keys of the old version = %+v, %v", old, err)
			}
			if got, _ := alice.GetKeyBackup(ctx, v2); len(got.Rooms) != 0 {
				t.Errorf("the new version has keys: %+v", got.Rooms)
			}
			if err := alice.DeleteKeyBackupVersion(ctx, v2); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("delete keys at each level", func(t *testing.T) {
			before, _ := alice.GetKeyBackupVersion(ctx, v1)
			up, err := alice.DeleteKeysInBackupForRoomAndSession(ctx, v1, room1, "s1")
			if err != nil || up.Count != 3 || up.ETag == before.ETag {
				t.Errorf("delete one session = %+v, %v; want count 3 and a new etag", up, err)
			}
			again, err := alice.DeleteKeysInBackupForRoomAndSession(ctx, v1, room1, "s1")
			if err != nil || again.Count != 3 || again.ETag != up.ETag {
				t.Errorf("deleting it again = %+v, %v; want nothing changed", again, err)
			}
			_, err = alice.GetKeyBackupForRoomAndSession(ctx, v1, room1, "s1")
			wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			if up, err := alice.DeleteKeysFromBackupForRoom(ctx, v1, room2); err != nil || up.Count != 1 {
				t.Errorf("delete room 2 = %+v, %v; want count 1", up, err)
			}
			if up, err := alice.DeleteKeyBackup(ctx, v1); err != nil || up.Count != 0 {
				t.Errorf("delete all = %+v, %v; want count 0", up, err)
			}
			_, err = alice.DeleteKeyBackup(ctx, "99")
			wantRespError(t, err, http.StatusNotFound, "M_NOT_FOUND")
		})
	})
}

func ptr[T any](v T) *T { return &v }

func TestKeyBackupBadRequests(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		key, err := backup.NewMegolmBackupKey()
		if err != nil {
			t.Fatal(err)
		}
		v1 := createBackup(t, alice, key)
		good := backupKeyData(t, key, "k", 0, 0, false)
		room := "/" + url.PathEscape("!r:localhost")
		tok := alice.AccessToken

		tests := []struct {
			name    string
			method  string
			path    string
			token   string
			body    any
			status  int
			errcode string
		}{
			{"no token", http.MethodGet, "/_matrix/client/v3/room_keys/version", "", nil, http.StatusUnauthorized, "M_MISSING_TOKEN"},
			{"create without auth_data", http.MethodPost, "/_matrix/client/v3/room_keys/version", tok,
				map[string]any{"algorithm": megolmBackupV1}, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"create without algorithm", http.MethodPost, "/_matrix/client/v3/room_keys/version", tok,
				map[string]any{"auth_data": map[string]any{}}, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"create with auth_data not an object", http.MethodPost, "/_matrix/client/v3/room_keys/version", tok,
				map[string]any{"algorithm": megolmBackupV1, "auth_data": "x"}, http.StatusBadRequest, "M_BAD_JSON"},
			{"create with a body that is not JSON", http.MethodPost, "/_matrix/client/v3/room_keys/version", tok,
				rawBody("{"), http.StatusBadRequest, "M_NOT_JSON"},
			{"get an unknown version", http.MethodGet, "/_matrix/client/v3/room_keys/version/2", tok, nil, http.StatusNotFound, "M_NOT_FOUND"},
			{"get a version that is not a number", http.MethodGet, "/_matrix/client/v3/room_keys/version/01", tok, nil, http.StatusNotFound, "M_NOT_FOUND"},
			{"keys without version", http.MethodGet, "/_matrix/client/v3/room_keys/keys", tok, nil, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"put keys without version", http.MethodPut, "/_matrix/client/v3/room_keys/keys" + room + "/s", tok, good, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"delete keys without version", http.MethodDelete, "/_matrix/client/v3/room_keys/keys" + room, tok, nil, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"put keys without rooms", http.MethodPut, roomKeysPath("", v1), tok, map[string]any{}, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"put a room without sessions", http.MethodPut, roomKeysPath(room, v1), tok, map[string]any{}, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"put a key without is_verified", http.MethodPut, roomKeysPath(room+"/s", v1), tok,
				map[string]any{"first_message_index": 0, "forwarded_count": 0, "session_data": map[string]any{}}, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"put a key with a negative index", http.MethodPut, roomKeysPath(room+"/s", v1), tok,
				map[string]any{"first_message_index": -1, "forwarded_count": 0, "is_verified": false, "session_data": map[string]any{}}, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"put a key whose session_data is not an object", http.MethodPut, roomKeysPath(room+"/s", v1), tok,
				map[string]any{"first_message_index": 0, "forwarded_count": 0, "is_verified": false, "session_data": "x"}, http.StatusBadRequest, "M_BAD_JSON"},
			{"put keys under something not a room ID", http.MethodPut, roomKeysPath("", v1), tok,
				map[string]any{"rooms": map[string]any{"#alias:localhost": map[string]any{"sessions": map[string]any{}}}}, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"path room ID without sigil", http.MethodGet, roomKeysPath("/room", v1), tok, nil, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"put keys with index of the wrong type", http.MethodPut, roomKeysPath(room+"/s", v1), tok,
				map[string]any{"first_message_index": "0", "forwarded_count": 0, "is_verified": false, "session_data": map[string]any{}}, http.StatusBadRequest, "M_BAD_JSON"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, ts.do(t, tt.method, tt.path, tt.token, tt.body), tt.status, tt.errcode)
			})
		}

		t.Run("one bad key writes nothing", func(t *testing.T) {
			bad := good
			bad.FirstMessageIndex = -1
			_, err := alice.PutKeysInBackup(ctx, v1, &mautrix.ReqKeyBackup{Rooms: map[id.RoomID]mautrix.ReqRoomKeyBackup{
				"!a:localhost": {Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{"good": good}},
				"!b:localhost": {Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{"bad": bad}},
			}})
			wantRespError(t, err, http.StatusBadRequest, "M_INVALID_PARAM")
			if info, _ := alice.GetKeyBackupVersion(ctx, v1); info.Count != 0 {
				t.Errorf("count after a refused upload = %d, want 0", info.Count)
			}
		})
	})
}

// TestKeyBackupConcurrentUploads uploads keys for one session from many clients at once: the
// best key must win whatever the order, and no upload may fail.
func TestKeyBackupConcurrentUploads(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		key, err := backup.NewMegolmBackupKey()
		if err != nil {
			t.Fatal(err)
		}
		v1 := createBackup(t, alice, key)
		const n = 16
		uploads := make([]mautrix.ReqKeyBackupData, n)
		for i := range n {
			uploads[i] = backupKeyData(t, key, fmt.Sprintf("k%d", i), n-i, 0, false) // the last is best
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = alice.PutKeysInBackupForRoomAndSession(ctx, v1, "!r:localhost", "s", &uploads[i])
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		got, err := alice.GetKeyBackupForRoomAndSession(ctx, v1, "!r:localhost", "s")
		if err != nil {
			t.Fatal(err)
		}
		if k := sessionKeyIn(t, key, *got); k != fmt.Sprintf("k%d", n-1) || got.FirstMessageIndex != 1 {
			t.Errorf("stored key = %s at index %d, want k%d at index 1", k, got.FirstMessageIndex, n-1)
		}
	})
}
