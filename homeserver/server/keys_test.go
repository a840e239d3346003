package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/canonicaljson"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// signingKey is an ed25519 key pair a test signs keys with, as a client's olm account or
// cross-signing keys would.
type signingKey struct {
	priv ed25519.PrivateKey
	pub  string // unpadded base64, as Matrix writes keys
}

func newSigningKey(t *testing.T) signingKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, pub: base64.RawStdEncoding.EncodeToString(pub)}
}

// sign returns the signature of v (without its signatures and unsigned) as the spec's
// "Signing JSON" appendix makes it.
func (k signingKey) sign(t *testing.T, v any) string {
	t.Helper()
	enc, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(enc, &obj); err != nil {
		t.Fatal(err)
	}
	delete(obj, "signatures")
	delete(obj, "unsigned")
	enc, _ = json.Marshal(obj)
	canonical, err := canonicaljson.CanonicalJSON(enc)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawStdEncoding.EncodeToString(ed25519.Sign(k.priv, canonical))
}

// e2eeDevice is a logged-in device with its ed25519 identity key.
type e2eeDevice struct {
	cli *mautrix.Client
	key signingKey
}

func newE2EEDevice(t *testing.T, cli *mautrix.Client) *e2eeDevice {
	return &e2eeDevice{cli: cli, key: newSigningKey(t)}
}

// deviceKeys returns the device's device_keys object, self-signed.
func (d *e2eeDevice) deviceKeys(t *testing.T) *mautrix.DeviceKeys {
	t.Helper()
	dk := &mautrix.DeviceKeys{
		UserID:     d.cli.UserID,
		DeviceID:   d.cli.DeviceID,
		Algorithms: []id.Algorithm{id.AlgorithmOlmV1, id.AlgorithmMegolmV1},
		Keys: mautrix.KeyMap{
			id.NewDeviceKeyID(id.KeyAlgorithmEd25519, d.cli.DeviceID):    d.key.pub,
			id.NewDeviceKeyID(id.KeyAlgorithmCurve25519, d.cli.DeviceID): newSigningKey(t).pub,
		},
	}
	dk.Signatures = signatures.NewSingleSignature(d.cli.UserID, id.KeyAlgorithmEd25519, string(d.cli.DeviceID), d.key.sign(t, dk))
	return dk
}

// oneTimeKeys returns n signed curve25519 one-time keys named prefix0, prefix1, ...
func (d *e2eeDevice) oneTimeKeys(t *testing.T, prefix string, n int) map[id.KeyID]mautrix.OneTimeKey {
	t.Helper()
	out := map[id.KeyID]mautrix.OneTimeKey{}
	for i := range n {
		otk := mautrix.OneTimeKey{Key: id.Curve25519(newSigningKey(t).pub), IsSigned: true}
		otk.Signatures = signatures.NewSingleSignature(d.cli.UserID, id.KeyAlgorithmEd25519, string(d.cli.DeviceID), d.key.sign(t, &otk))
		out[id.NewKeyID(id.KeyAlgorithmSignedCurve25519, fmt.Sprintf("%s%d", prefix, i))] = otk
	}
	return out
}

// upload uploads the device's keys and n one-time keys, and fails the test if it cannot.
func (d *e2eeDevice) upload(t *testing.T, n int) *mautrix.RespUploadKeys {
	t.Helper()
	resp, err := d.cli.UploadKeys(context.Background(), &mautrix.ReqUploadKeys{DeviceKeys: d.deviceKeys(t), OneTimeKeys: d.oneTimeKeys(t, "first", n)})
	if err != nil {
		t.Fatalf("upload keys of %s: %v", d.cli.DeviceID, err)
	}
	return resp
}

// uploadFallbackKey uploads a signed fallback key over raw HTTP: mautrix's ReqUploadKeys has no
// fallback_keys.
func (d *e2eeDevice) uploadFallbackKey(t *testing.T, ts *testServer, keyID string) {
	t.Helper()
	fk := map[string]any{"key": newSigningKey(t).pub, "fallback": true}
	fk["signatures"] = map[id.UserID]map[string]string{d.cli.UserID: {"ed25519:" + string(d.cli.DeviceID): d.key.sign(t, fk)}}
	r := ts.do(t, http.MethodPost, "/_matrix/client/v3/keys/upload", d.cli.AccessToken,
		map[string]any{"fallback_keys": map[string]any{"signed_curve25519:" + keyID: fk}})
	wantOK(t, r)
}

func queryKeys(t *testing.T, cli *mautrix.Client, users ...id.UserID) *mautrix.RespQueryKeys {
	t.Helper()
	req := &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{}}
	for _, u := range users {
		req.DeviceKeys[u] = mautrix.DeviceIDList{}
	}
	resp, err := cli.QueryKeys(context.Background(), req)
	if err != nil {
		t.Fatalf("query keys: %v", err)
	}
	return resp
}

func claimKey(t *testing.T, cli *mautrix.Client, user id.UserID, device id.DeviceID) map[id.KeyID]mautrix.OneTimeKey {
	t.Helper()
	resp, err := cli.ClaimKeys(context.Background(), &mautrix.ReqClaimKeys{OneTimeKeys: mautrix.OneTimeKeysRequest{
		user: {device: id.KeyAlgorithmSignedCurve25519},
	}})
	if err != nil {
		t.Fatalf("claim keys: %v", err)
	}
	return resp.OneTimeKeys[user][device]
}

// wantHTTPError fails the test unless err is an HTTP error with the status and errcode ("" for
// a body without one, such as a user-interactive auth challenge).
func wantHTTPError(t *testing.T, err error, status int, errcode string) {
	t.Helper()
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Response == nil || httpErr.Response.StatusCode != status {
		t.Errorf("got %v, want %d %s", err, status, errcode)
		return
	}
	if got := httpErr.RespError; (got == nil && errcode != "") || (got != nil && got.ErrCode != errcode) {
		t.Errorf("got %v, want %d %s", err, status, errcode)
	}
}

func TestKeysUploadQueryClaim(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := newE2EEDevice(t, ts.register(t, "alice"))
		bob := ts.register(t, "bob")
		if err := alice.cli.SetDeviceInfo(ctx, alice.cli.DeviceID, &mautrix.ReqDeviceInfo{DisplayName: "Alice's phone"}); err != nil {
			t.Fatal(err)
		}

		dk := alice.deviceKeys(t)
		resp, err := alice.cli.UploadKeys(ctx, &mautrix.ReqUploadKeys{DeviceKeys: dk, OneTimeKeys: alice.oneTimeKeys(t, "a", 2)})
		if err != nil {
			t.Fatal(err)
		}
		if resp.OneTimeKeyCounts.SignedCurve25519 != 2 {
			t.Errorf("one_time_key_counts = %v, want 2 signed_curve25519", resp.OneTimeKeyCounts)
		}
		later := alice.oneTimeKeys(t, "b", 1)
		if resp, err = alice.cli.UploadKeys(ctx, &mautrix.ReqUploadKeys{OneTimeKeys: later}); err != nil || resp.OneTimeKeyCounts.SignedCurve25519 != 3 {
			t.Fatalf("second upload: %v, %v", resp, err)
		}
		alice.uploadFallbackKey(t, ts, "fb")

		t.Run("query", func(t *testing.T) {
			q := queryKeys(t, bob, alice.cli.UserID, bob.UserID, "@someone:elsewhere.example")
			got, ok := q.DeviceKeys[alice.cli.UserID][alice.cli.DeviceID]
			if !ok {
				t.Fatalf("no keys of alice's device: %+v", q.DeviceKeys)
			}
			if !maps.Equal(got.Keys, dk.Keys) || got.Unsigned["device_display_name"] != "Alice's phone" {
				t.Errorf("alice's device keys = %+v, want the uploaded ones with the display name", got)
			}
			if ok, err := signatures.VerifySignatureJSON(got, alice.cli.UserID, string(alice.cli.DeviceID), id.Ed25519(alice.key.pub)); !ok || err != nil {
				t.Errorf("the queried keys' self-signature does not verify: %v", err)
			}
			if bobs, ok := q.DeviceKeys[bob.UserID]; !ok || len(bobs) != 0 {
				t.Errorf("bob, who uploaded no keys: %v (present %v), want an empty object", bobs, ok)
			}
			if _, ok := q.Failures["elsewhere.example"]; !ok {
				t.Errorf("failures = %v, want elsewhere.example", q.Failures)
			}
			one := &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.cli.UserID: {"NOSUCHDEVICE"}}}
			if r, err := bob.QueryKeys(ctx, one); err != nil || len(r.DeviceKeys[alice.cli.UserID]) != 0 {
				t.Errorf("query of an unknown device = %+v, %v", r, err)
			}
		})

		t.Run("upload errors", func(t *testing.T) {
			path := "/_matrix/client/v3/keys/upload"
			other := alice.deviceKeys(t)
			other.DeviceID = "OTHERDEVICE"
			other.Signatures = signatures.NewSingleSignature(alice.cli.UserID, id.KeyAlgorithmEd25519, string(alice.cli.DeviceID), alice.key.sign(t, other))
			badSig := alice.deviceKeys(t)
			badSig.Algorithms = append(badSig.Algorithms, "m.tampered")
			changed := alice.deviceKeys(t)      // a new curve25519 key
			dup := alice.oneTimeKeys(t, "a", 1) // a0 again, with another key
			tests := []struct {
				name    string
				body    any
				errcode string
			}{
				{"missing fields", map[string]any{"device_keys": map[string]any{"user_id": alice.cli.UserID, "device_id": alice.cli.DeviceID}}, "M_BAD_JSON"},
				{"another device", map[string]any{"device_keys": other}, "M_INVALID_PARAM"},
				{"bad signature", map[string]any{"device_keys": badSig}, "M_INVALID_SIGNATURE"},
				{"changed keys", map[string]any{"device_keys": changed}, "M_INVALID_PARAM"},
				{"one-time key ID reused", map[string]any{"one_time_keys": dup}, "M_INVALID_PARAM"},
				{"bad key name", map[string]any{"one_time_keys": map[string]any{"nocolon": "abc"}}, "M_INVALID_PARAM"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					wantError(t, ts.do(t, http.MethodPost, path, alice.cli.AccessToken, tt.body), http.StatusBadRequest, tt.errcode)
				})
			}
			if r, err := alice.cli.UploadKeys(ctx, &mautrix.ReqUploadKeys{DeviceKeys: dk}); err != nil || r.OneTimeKeyCounts.SignedCurve25519 != 3 {
				t.Errorf("re-uploading the same device keys: %v, %v; the failed uploads must leave nothing behind", r, err)
			}
		})

		t.Run("claim oldest first, then the fallback key", func(t *testing.T) {
			sync := ts.sync(t, alice.cli, url.Values{})
			if !slices.Equal(sync.FallbackKeys, []id.KeyAlgorithm{id.KeyAlgorithmSignedCurve25519}) || sync.DeviceOTKCount.SignedCurve25519 != 3 {
				t.Errorf("sync before claims: fallback %v, counts %v", sync.FallbackKeys, sync.DeviceOTKCount)
			}
			var claimed []id.KeyID
			for range 5 {
				for keyID := range claimKey(t, bob, alice.cli.UserID, alice.cli.DeviceID) {
					claimed = append(claimed, keyID)
				}
			}
			want := []id.KeyID{"signed_curve25519:a", "signed_curve25519:a", "signed_curve25519:b0", "signed_curve25519:fb", "signed_curve25519:fb"}
			for i := range claimed {
				if i < 2 && len(claimed[i]) > len(want[i]) {
					claimed[i] = claimed[i][:len(want[i])] // a0 and a1 came in one upload, in no order
				}
			}
			if !slices.Equal(claimed, want) {
				t.Errorf("claimed %v, want %v", claimed, want)
			}
			sync = ts.sync(t, alice.cli, url.Values{})
			if len(sync.FallbackKeys) != 0 || sync.DeviceOTKCount.SignedCurve25519 != 0 {
				t.Errorf("sync after claims: fallback %v, counts %v", sync.FallbackKeys, sync.DeviceOTKCount)
			}
			r := ts.do(t, http.MethodPost, "/_matrix/client/v3/keys/claim", bob.AccessToken,
				map[string]any{"one_time_keys": map[string]any{"@nobody:elsewhere.example": map[string]string{"X": "signed_curve25519"}}})
			wantOK(t, r)
			if f, _ := r.object(t)["failures"].(map[string]any); f["elsewhere.example"] == nil {
				t.Errorf("claim of a remote user: %s", r.Body)
			}
		})
	})
}

// TestClaimKeysConcurrently has many clients claim one device's one-time keys at once over
// HTTP: every key is handed out exactly once.
func TestClaimKeysConcurrently(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := newE2EEDevice(t, ts.register(t, "alice"))
		const keys, claimers, claimsEach = 60, 12, 8 // 96 claims of 60 keys
		uploaded := alice.oneTimeKeys(t, "k", keys)
		if _, err := alice.cli.UploadKeys(context.Background(), &mautrix.ReqUploadKeys{DeviceKeys: alice.deviceKeys(t), OneTimeKeys: uploaded}); err != nil {
			t.Fatal(err)
		}
		clients := make([]*mautrix.Client, claimers)
		for i := range clients {
			clients[i] = ts.register(t, fmt.Sprintf("claimer%d", i))
		}
		var mu sync.Mutex
		got := map[id.KeyID]int{}
		var wg sync.WaitGroup
		for _, cli := range clients {
			wg.Go(func() {
				for range claimsEach {
					resp, err := cli.ClaimKeys(context.Background(), &mautrix.ReqClaimKeys{OneTimeKeys: mautrix.OneTimeKeysRequest{
						alice.cli.UserID: {alice.cli.DeviceID: id.KeyAlgorithmSignedCurve25519},
					}})
					if err != nil {
						t.Errorf("claim: %v", err)
						return
					}
					mu.Lock()
					for keyID, k := range resp.OneTimeKeys[alice.cli.UserID][alice.cli.DeviceID] {
						if uploaded[keyID].Key != k.Key {
							t.Errorf("claimed %s with key %s, uploaded %s", keyID, k.Key, uploaded[keyID].Key)
						}
						got[keyID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(got) != keys {
			t.Errorf("%d distinct keys handed out, want all %d", len(got), keys)
		}
		for keyID, n := range got {
			if n != 1 {
				t.Errorf("key %s handed out %d times", keyID, n)
			}
		}
	})
}

// crossSigningKeys are a user's three cross-signing keys.
type crossSigningKeys struct {
	master, selfSigning, userSigning signingKey
}

func newCrossSigningKeys(t *testing.T) crossSigningKeys {
	return crossSigningKeys{newSigningKey(t), newSigningKey(t), newSigningKey(t)}
}

// upload returns the upload request for the keys of user, the self-signing and user-signing
// keys signed by the master key.
func (c crossSigningKeys) upload(t *testing.T, user id.UserID) *mautrix.UploadCrossSigningKeysReq[any] {
	t.Helper()
	key := func(k signingKey, usage id.CrossSigningUsage) mautrix.CrossSigningKeys {
		return mautrix.CrossSigningKeys{UserID: user, Usage: []id.CrossSigningUsage{usage},
			Keys: map[id.KeyID]id.Ed25519{id.NewKeyID(id.KeyAlgorithmEd25519, k.pub): id.Ed25519(k.pub)}}
	}
	req := &mautrix.UploadCrossSigningKeysReq[any]{
		Master:      key(c.master, id.XSUsageMaster),
		SelfSigning: key(c.selfSigning, id.XSUsageSelfSigning),
		UserSigning: key(c.userSigning, id.XSUsageUserSigning),
	}
	req.SelfSigning.Signatures = signatures.NewSingleSignature(user, id.KeyAlgorithmEd25519, c.master.pub, c.master.sign(t, req.SelfSigning))
	req.UserSigning.Signatures = signatures.NewSingleSignature(user, id.KeyAlgorithmEd25519, c.master.pub, c.master.sign(t, req.UserSigning))
	return req
}

func TestCrossSigning(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := newE2EEDevice(t, ts.register(t, "alice"))
		bob := newE2EEDevice(t, ts.register(t, "bob"))
		carol := ts.register(t, "carol")
		alice.upload(t, 0)
		aliceCS, bobCS := newCrossSigningKeys(t), newCrossSigningKeys(t)

		if err := alice.cli.UploadCrossSigningKeys(ctx, aliceCS.upload(t, alice.cli.UserID), nil); err != nil {
			t.Fatalf("first upload, without user-interactive auth: %v", err)
		}
		if err := bob.cli.UploadCrossSigningKeys(ctx, bobCS.upload(t, bob.cli.UserID), nil); err != nil {
			t.Fatal(err)
		}
		if err := alice.cli.UploadCrossSigningKeys(ctx, aliceCS.upload(t, alice.cli.UserID), nil); err != nil {
			t.Errorf("the same keys again need no user-interactive auth: %v", err)
		}

		t.Run("query", func(t *testing.T) {
			asBob := queryKeys(t, bob.cli, alice.cli.UserID)
			if firstKey(asBob.MasterKeys[alice.cli.UserID]) != id.Ed25519(aliceCS.master.pub) ||
				firstKey(asBob.SelfSigningKeys[alice.cli.UserID]) != id.Ed25519(aliceCS.selfSigning.pub) {
				t.Errorf("bob sees alice's master %v and self-signing %v", asBob.MasterKeys, asBob.SelfSigningKeys)
			}
			if _, ok := asBob.UserSigningKeys[alice.cli.UserID]; ok {
				t.Error("bob sees alice's user-signing key")
			}
			if asAlice := queryKeys(t, alice.cli, alice.cli.UserID); firstKey(asAlice.UserSigningKeys[alice.cli.UserID]) != id.Ed25519(aliceCS.userSigning.pub) {
				t.Errorf("alice's own user-signing key: %v", asAlice.UserSigningKeys)
			}
		})

		t.Run("upload errors", func(t *testing.T) {
			wrong := newCrossSigningKeys(t).upload(t, alice.cli.UserID)
			wrong.Master = aliceCS.upload(t, alice.cli.UserID).Master // the others are signed by another key
			err := alice.cli.UploadCrossSigningKeys(ctx, wrong, func(*mautrix.RespUserInteractive) any {
				return passwordAuth(alice.cli.UserID, password, "")
			})
			wantHTTPError(t, err, http.StatusBadRequest, "M_INVALID_SIGNATURE")
			noMaster := newCrossSigningKeys(t).upload(t, carol.UserID)
			r := ts.do(t, http.MethodPost, "/_matrix/client/v3/keys/device_signing/upload", carol.AccessToken,
				map[string]any{"self_signing_key": noMaster.SelfSigning})
			wantError(t, r, http.StatusBadRequest, "M_MISSING_PARAM")
			r = ts.do(t, http.MethodPost, "/_matrix/client/v3/keys/device_signing/upload", carol.AccessToken,
				map[string]any{"master_key": bobCS.upload(t, bob.cli.UserID).Master})
			wantError(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
		})

		t.Run("replacing keys needs user-interactive auth", func(t *testing.T) {
			next := newCrossSigningKeys(t)
			err := alice.cli.UploadCrossSigningKeys(ctx, next.upload(t, alice.cli.UserID), nil)
			wantHTTPError(t, err, http.StatusUnauthorized, "")
			if q := queryKeys(t, bob.cli, alice.cli.UserID); firstKey(q.MasterKeys[alice.cli.UserID]) != id.Ed25519(aliceCS.master.pub) {
				t.Fatal("the master key changed without auth")
			}
			err = alice.cli.UploadCrossSigningKeys(ctx, next.upload(t, alice.cli.UserID), func(resp *mautrix.RespUserInteractive) any {
				return passwordAuth(alice.cli.UserID, password, resp.Session)
			})
			if err != nil {
				t.Fatalf("with the password: %v", err)
			}
			if q := queryKeys(t, bob.cli, alice.cli.UserID); firstKey(q.MasterKeys[alice.cli.UserID]) != id.Ed25519(next.master.pub) {
				t.Error("the master key did not change")
			}
			aliceCS = next
		})

		t.Run("signatures", func(t *testing.T) {
			q := queryKeys(t, alice.cli, alice.cli.UserID)
			stored := q.DeviceKeys[alice.cli.UserID][alice.cli.DeviceID]
			deviceSig := signedObject(t, &stored, alice.cli.UserID, aliceCS.selfSigning)
			aliceMaster := q.MasterKeys[alice.cli.UserID]
			masterByDevice := signedCrossSigningKey(t, aliceMaster, alice.cli.UserID, alice.key, string(alice.cli.DeviceID))
			bobMaster := queryKeys(t, alice.cli, bob.cli.UserID).MasterKeys[bob.cli.UserID]
			bobByAlice := signedCrossSigningKey(t, bobMaster, alice.cli.UserID, aliceCS.userSigning, aliceCS.userSigning.pub)
			forged := signedCrossSigningKey(t, bobMaster, alice.cli.UserID, newSigningKey(t), aliceCS.userSigning.pub)
			resp, err := alice.cli.UploadSignatures(ctx, &mautrix.ReqUploadSignatures{
				alice.cli.UserID: {
					string(alice.cli.DeviceID): deviceSig,
					aliceCS.master.pub:         masterByDevice,
					"NOSUCHDEVICE":             deviceSig,
				},
				bob.cli.UserID: {bobCS.master.pub: bobByAlice},
			})
			if err != nil {
				t.Fatal(err)
			}
			failures, _ := json.Marshal(resp.Failures)
			var f map[id.UserID]map[string]struct {
				ErrCode string `json:"errcode"`
			}
			json.Unmarshal(failures, &f)
			if len(f) != 1 || len(f[alice.cli.UserID]) != 1 || f[alice.cli.UserID]["NOSUCHDEVICE"].ErrCode != "M_NOT_FOUND" {
				t.Errorf("failures = %s, want only NOSUCHDEVICE M_NOT_FOUND", failures)
			}
			resp, err = alice.cli.UploadSignatures(ctx, &mautrix.ReqUploadSignatures{bob.cli.UserID: {bobCS.master.pub: forged}})
			if failures, _ = json.Marshal(resp.Failures); err != nil || !json.Valid(failures) || !containsErrcode(failures, "M_INVALID_SIGNATURE") {
				t.Errorf("a forged signature: %s, %v", failures, err)
			}

			asAlice := queryKeys(t, alice.cli, alice.cli.UserID, bob.cli.UserID)
			if asAlice.DeviceKeys[alice.cli.UserID][alice.cli.DeviceID].Signatures[alice.cli.UserID][id.NewKeyID(id.KeyAlgorithmEd25519, aliceCS.selfSigning.pub)] == "" {
				t.Errorf("alice's device is not signed by her self-signing key: %v", asAlice.DeviceKeys[alice.cli.UserID][alice.cli.DeviceID].Signatures)
			}
			if asAlice.MasterKeys[alice.cli.UserID].Signatures[alice.cli.UserID][id.NewKeyID(id.KeyAlgorithmEd25519, string(alice.cli.DeviceID))] == "" {
				t.Errorf("alice's master key is not signed by her device: %v", asAlice.MasterKeys[alice.cli.UserID].Signatures)
			}
			if asAlice.MasterKeys[bob.cli.UserID].Signatures[alice.cli.UserID][id.NewKeyID(id.KeyAlgorithmEd25519, aliceCS.userSigning.pub)] == "" {
				t.Errorf("alice does not see her signature of bob's master key: %v", asAlice.MasterKeys[bob.cli.UserID].Signatures)
			}
			if asCarol := queryKeys(t, carol, bob.cli.UserID); asCarol.MasterKeys[bob.cli.UserID].Signatures[alice.cli.UserID] != nil {
				t.Errorf("carol sees alice's signature of bob's master key: %v", asCarol.MasterKeys[bob.cli.UserID].Signatures)
			}
		})
	})
}

// firstKey is the public key of a cross-signing key ("" for none).
func firstKey(k mautrix.CrossSigningKeys) id.Ed25519 { return k.FirstKey() }

func containsErrcode(b []byte, errcode string) bool {
	var f map[string]map[string]map[string]any
	json.Unmarshal(b, &f)
	for _, keys := range f {
		for _, e := range keys {
			if e["errcode"] == errcode {
				return true
			}
		}
	}
	return false
}

// signedObject signs a queried device's keys with key as user's self-signing key and returns
// the object for /keys/signatures/upload.
func signedObject(t *testing.T, dk *mautrix.DeviceKeys, user id.UserID, key signingKey) mautrix.ReqKeysSignatures {
	t.Helper()
	obj := mautrix.ReqKeysSignatures{UserID: dk.UserID, DeviceID: dk.DeviceID, Algorithms: dk.Algorithms, Keys: map[id.KeyID]string{}}
	for k, v := range dk.Keys {
		obj.Keys[id.KeyID(k)] = v
	}
	obj.Signatures = signatures.NewSingleSignature(user, id.KeyAlgorithmEd25519, key.pub, key.sign(t, obj))
	return obj
}

// signedCrossSigningKey signs a queried master key with key, named keyName, as user.
func signedCrossSigningKey(t *testing.T, ck mautrix.CrossSigningKeys, user id.UserID, key signingKey, keyName string) mautrix.ReqKeysSignatures {
	t.Helper()
	obj := mautrix.ReqKeysSignatures{UserID: ck.UserID, Usage: ck.Usage, Keys: map[id.KeyID]string{}}
	for k, v := range ck.Keys {
		obj.Keys[k] = string(v)
	}
	obj.Signatures = signatures.NewSingleSignature(user, id.KeyAlgorithmEd25519, keyName, key.sign(t, obj))
	return obj
}

// keyChanges runs GET /keys/changes. mautrix's GetKeyChanges sends a POST, which the spec
// does not have.
func (ts *testServer) keyChanges(t *testing.T, cli *mautrix.Client, from, to string) mautrix.RespKeyChanges {
	t.Helper()
	r := ts.do(t, http.MethodGet, "/_matrix/client/v3/keys/changes?"+url.Values{"from": {from}, "to": {to}}.Encode(), cli.AccessToken, nil)
	wantOK(t, r)
	var out mautrix.RespKeyChanges
	r.decode(t, &out)
	return out
}

func TestDeviceListsInSync(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := newE2EEDevice(t, ts.register(t, "alice"))
		bob := ts.register(t, "bob")
		carol := newE2EEDevice(t, ts.register(t, "carol"))
		roomID := mustCreateRoom(t, alice.cli, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))
		since := ts.sync(t, bob, url.Values{}).NextBatch

		t.Run("a new device's keys wake the long poll", func(t *testing.T) {
			wait := longPollAsync(t, ts, bob, since)
			alice.upload(t, 1)
			resp, elapsed := wait()
			if !slices.Equal(resp.DeviceLists.Changed, []id.UserID{alice.cli.UserID}) {
				t.Errorf("after %s: device_lists = %+v, want alice changed", elapsed, resp.DeviceLists)
			}
			if c := ts.keyChanges(t, bob, since, resp.NextBatch); !slices.Equal(c.Changed, []id.UserID{alice.cli.UserID}) || len(c.Left) != 0 {
				t.Errorf("/keys/changes = %+v", c)
			}
			if next := ts.sync(t, bob, url.Values{"since": {resp.NextBatch}}); len(next.DeviceLists.Changed) != 0 {
				t.Errorf("the next sync names alice again: %+v", next.DeviceLists)
			}
			since = resp.NextBatch
		})

		t.Run("only users sharing a room", func(t *testing.T) {
			carol.upload(t, 0)
			if resp := ts.sync(t, bob, url.Values{"since": {since}}); len(resp.DeviceLists.Changed) != 0 {
				t.Errorf("carol shares no room with bob, but: %+v", resp.DeviceLists)
			}
		})

		t.Run("renaming a device", func(t *testing.T) {
			wait := longPollAsync(t, ts, bob, since)
			if err := alice.cli.SetDeviceInfo(ctx, alice.cli.DeviceID, &mautrix.ReqDeviceInfo{DisplayName: "renamed"}); err != nil {
				t.Fatal(err)
			}
			resp, _ := wait()
			if !slices.Equal(resp.DeviceLists.Changed, []id.UserID{alice.cli.UserID}) {
				t.Errorf("device_lists = %+v, want alice changed", resp.DeviceLists)
			}
			since = resp.NextBatch
		})

		t.Run("joining and leaving", func(t *testing.T) {
			mustJoin(t, carol.cli, string(roomID))
			resp := ts.sync(t, bob, url.Values{"since": {since}})
			if !slices.Contains(resp.DeviceLists.Changed, carol.cli.UserID) {
				t.Errorf("carol joined: device_lists = %+v", resp.DeviceLists)
			}
			since = resp.NextBatch
			if _, err := carol.cli.LeaveRoom(ctx, roomID); err != nil {
				t.Fatal(err)
			}
			resp = ts.sync(t, bob, url.Values{"since": {since}})
			if !slices.Equal(resp.DeviceLists.Left, []id.UserID{carol.cli.UserID}) {
				t.Errorf("carol left: device_lists = %+v", resp.DeviceLists)
			}
			if c := ts.keyChanges(t, bob, since, resp.NextBatch); !slices.Equal(c.Left, []id.UserID{carol.cli.UserID}) {
				t.Errorf("/keys/changes after carol left = %+v", c)
			}
			since = resp.NextBatch
		})

		t.Run("counts in every sync of a device", func(t *testing.T) {
			resp := ts.sync(t, alice.cli, url.Values{})
			if resp.DeviceOTKCount.SignedCurve25519 != 1 || resp.FallbackKeys == nil {
				t.Errorf("alice's sync: counts %v, fallback types %v", resp.DeviceOTKCount, resp.FallbackKeys)
			}
			r := ts.do(t, http.MethodGet, "/_matrix/client/v3/sync?set_presence=offline", bob.AccessToken, nil)
			if obj := r.object(t); obj["device_unused_fallback_key_types"] == nil || obj["device_one_time_keys_count"] == nil {
				t.Errorf("bob's sync lacks the key counts: %s", r.Body)
			}
		})
	})
}

// TestDeleteDeviceDeletesKeys deletes a device with keys by every path there is: its keys go,
// and users sharing a room see its owner's device list change.
func TestDeleteDeviceDeletesKeys(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		bob := ts.register(t, "bob")
		tests := []struct {
			name   string
			delete func(t *testing.T, keep, gone *mautrix.Client)
		}{
			{"DELETE /devices", func(t *testing.T, keep, gone *mautrix.Client) {
				err := keep.DeleteDevice(ctx, gone.DeviceID, &mautrix.ReqDeleteDevice[any]{Auth: passwordAuth(keep.UserID, password, "")})
				if err != nil {
					t.Fatal(err)
				}
			}},
			{"delete_devices", func(t *testing.T, keep, gone *mautrix.Client) {
				err := keep.DeleteDevices(ctx, &mautrix.ReqDeleteDevices[any]{Devices: []id.DeviceID{gone.DeviceID}, Auth: passwordAuth(keep.UserID, password, "")})
				if err != nil {
					t.Fatal(err)
				}
			}},
			{"logout", func(t *testing.T, keep, gone *mautrix.Client) {
				if _, err := gone.Logout(ctx); err != nil {
					t.Fatal(err)
				}
			}},
			{"logout/all", func(t *testing.T, keep, gone *mautrix.Client) {
				if _, err := gone.LogoutAll(ctx); err != nil {
					t.Fatal(err)
				}
			}},
			{"password change", func(t *testing.T, keep, gone *mautrix.Client) {
				// mautrix's client has no password change.
				wantOK(t, ts.do(t, http.MethodPost, "/_matrix/client/v3/account/password", keep.AccessToken, map[string]any{
					"new_password": password + " 2", "auth": passwordAuth(keep.UserID, password, ""),
				}))
			}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				owner := ts.register(t, fmt.Sprintf("owner%d", i))
				roomID := mustCreateRoom(t, owner, &mautrix.ReqCreateRoom{Preset: "public_chat"})
				mustJoin(t, bob, string(roomID))
				gone := newE2EEDevice(t, ts.login(t, owner.UserID, password))
				gone.upload(t, 3)
				gone.uploadFallbackKey(t, ts, "fb")
				since := ts.sync(t, bob, url.Values{}).NextBatch

				tt.delete(t, owner, gone.cli)

				if q := queryKeys(t, bob, owner.UserID); len(q.DeviceKeys[owner.UserID]) != 0 {
					t.Errorf("the deleted device's keys are still served: %v", q.DeviceKeys[owner.UserID])
				}
				if k := claimKey(t, bob, owner.UserID, gone.cli.DeviceID); len(k) != 0 {
					t.Errorf("a key of the deleted device was claimed: %v", k)
				}
				if resp := ts.sync(t, bob, url.Values{"since": {since}}); !slices.Contains(resp.DeviceLists.Changed, owner.UserID) {
					t.Errorf("device_lists = %+v, want %s changed", resp.DeviceLists, owner.UserID)
				}
			})
		}
	})
}
