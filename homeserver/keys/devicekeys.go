package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"maunium.net/go/mautrix/crypto/canonicaljson"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Device keys, one-time keys and fallback keys (data/api/client-server/keys.yaml), cross-signing
// (crosssigning.go) and the device-list changes they cause. Every change of a user's devices
// or keys takes a position in the "device_lists" stream in the transaction that makes it;
// what /sync and /keys/changes make of that stream is homeserver/syncapi's (devicelists.go).
//
// Dehydrated devices (MSC3814) are dehydrated.go's. What appservices get of this (MSC3202:
// device lists and key counts in their transactions) is the appservice sender's, which reads
// the same stream and storage (appservice/devicelists.go).

// DeviceListNotifier hears that a user's device list or keys changed, after the change has
// committed, to wake the long polls of the users who track them. It must not block for long.
type DeviceListNotifier interface {
	DeviceListChanged(ctx context.Context, userID id.UserID)
}

// DeviceKeysOptions configures a DeviceKeys service.
type DeviceKeysOptions struct {
	// ServerName is this homeserver's name: users of other servers are reported in failures.
	ServerName string
	// Notifier hears of every committed device-list change; may be nil.
	Notifier DeviceListNotifier
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Log receives the service's records; nil discards them.
	Log *slog.Logger
}

// DeviceKeys keeps devices' identity, one-time and fallback keys and users' cross-signing keys
// and signatures. It is safe for concurrent use.
type DeviceKeys struct {
	db         *storage.DB
	serverName string
	notifier   DeviceListNotifier
	now        func() time.Time
	log        *slog.Logger
}

// NewDeviceKeys returns the service on db.
func NewDeviceKeys(db *storage.DB, opts DeviceKeysOptions) *DeviceKeys {
	s := &DeviceKeys{db: db, serverName: opts.ServerName, notifier: opts.Notifier, now: opts.Now, log: opts.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s *DeviceKeys) nowMS() int64 { return s.now().UnixMilli() }

// changed tells the notifier that the user's device list changed.
func (s *DeviceKeys) changed(ctx context.Context, userID id.UserID) {
	if s.notifier != nil {
		s.notifier.DeviceListChanged(ctx, userID)
	}
}

// isLocal reports whether the user belongs to this server.
func (s *DeviceKeys) isLocal(userID id.UserID) bool {
	_, server, err := userID.Parse()
	return err == nil && server == s.serverName
}

// UploadRequest is the body of POST /keys/upload. Each key is kept as the JSON the client
// sent: a signature covers every field, known to us or not.
type UploadRequest struct {
	DeviceKeys   json.RawMessage            `json:"device_keys"`
	OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
	FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
}

// deviceKeysObject is the signed part of a device_keys object (data/api/client-server/
// definitions/device_keys.yaml) that the server checks.
type deviceKeysObject struct {
	UserID     id.UserID                       `json:"user_id"`
	DeviceID   id.DeviceID                     `json:"device_id"`
	Algorithms []string                        `json:"algorithms"`
	Keys       map[string]string               `json:"keys"`
	Signatures map[id.UserID]map[string]string `json:"signatures"`
}

// DefaultOneTimeKeyAlgorithm is the algorithm every one_time_key_counts and
// device_one_time_keys_count names, with 0 when the device has none: clients read a missing
// count as "unknown", not "zero", and so may never upload keys.
const DefaultOneTimeKeyAlgorithm = "signed_curve25519"

// Upload stores the keys a device publishes (POST /keys/upload) in one transaction and
// returns its one-time key counts by algorithm. The device keys must be the requester's own,
// self-signed by their ed25519 key; once uploaded, a device's keys may not change (the
// signatures and other fields may). A one-time key ID the device already has must come with
// the same key. A fallback key replaces the device's fallback key of its algorithm.
func (s *DeviceKeys) Upload(ctx context.Context, userID id.UserID, deviceID id.DeviceID, req UploadRequest) (map[string]int, error) {
	up, err := parseUpload(userID, deviceID, req)
	if err != nil {
		return nil, err
	}
	now := s.nowMS()
	var counts map[string]int
	var listChanged bool
	err = s.db.InTx(ctx, func(tx *storage.Tx) (err error) {
		if listChanged, err = up.store(ctx, tx, now); err != nil {
			return err
		}
		counts, err = tx.OneTimeKeyCounts(ctx, userID, deviceID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if listChanged {
		s.changed(ctx, userID)
	}
	return withDefaultCount(counts), nil
}

// upload is an UploadRequest checked and made canonical, ready to store.
type upload struct {
	userID     id.UserID
	deviceID   id.DeviceID
	deviceKeys json.RawMessage // nil when none were uploaded
	otks       []storage.OneTimeKey
	fallbacks  []storage.OneTimeKey
}

// parseUpload checks the keys of req for the user's device: the device keys' self-signature,
// the form of every key name and key, and at most one fallback key per algorithm.
func parseUpload(userID id.UserID, deviceID id.DeviceID, req UploadRequest) (upload, error) {
	if deviceID == "" {
		return upload{}, mxerr.InvalidParam.WithMessage("This request has no device to upload keys for")
	}
	up := upload{userID: userID, deviceID: deviceID}
	var err error
	if up.deviceKeys, err = checkDeviceKeys(userID, deviceID, req.DeviceKeys); err != nil {
		return upload{}, err
	}
	if up.otks, err = parseKeys(userID, deviceID, req.OneTimeKeys); err != nil {
		return upload{}, err
	}
	if up.fallbacks, err = parseKeys(userID, deviceID, req.FallbackKeys); err != nil {
		return upload{}, err
	}
	if err := oneKeyPerAlgorithm(up.fallbacks); err != nil {
		return upload{}, err
	}
	return up, nil
}

// store writes the upload in tx and reports whether the device list changed (new device keys).
func (up upload) store(ctx context.Context, tx *storage.Tx, now int64) (listChanged bool, err error) {
	if up.deviceKeys != nil {
		if listChanged, err = putDeviceKeys(ctx, tx, up.userID, up.deviceID, up.deviceKeys, now); err != nil {
			return false, err
		}
	}
	if err := insertOneTimeKeys(ctx, tx, up.otks, now); err != nil {
		return false, err
	}
	for _, k := range up.fallbacks {
		if err := tx.PutFallbackKey(ctx, k, now); err != nil {
			return false, err
		}
	}
	return listChanged, nil
}

// withDefaultCount adds DefaultOneTimeKeyAlgorithm to counts with 0 when it is missing.
func withDefaultCount(counts map[string]int) map[string]int {
	if counts == nil {
		counts = map[string]int{}
	}
	if _, ok := counts[DefaultOneTimeKeyAlgorithm]; !ok {
		counts[DefaultOneTimeKeyAlgorithm] = 0
	}
	return counts
}

// checkDeviceKeys validates an uploaded device_keys object and returns it canonical, without
// unsigned; nil when raw is absent.
func checkDeviceKeys(userID id.UserID, deviceID id.DeviceID, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var obj deviceKeysObject
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, mxerr.BadJSON.WithMessage("device_keys is not a device keys object: %v", err)
	}
	if obj.UserID == "" || obj.DeviceID == "" || obj.Algorithms == nil || obj.Keys == nil || obj.Signatures == nil {
		return nil, mxerr.BadJSON.WithMessage("device_keys needs user_id, device_id, algorithms, keys and signatures")
	}
	if obj.UserID != userID || obj.DeviceID != deviceID {
		return nil, mxerr.InvalidParam.WithMessage("device_keys must be those of %s's device %s", userID, deviceID)
	}
	signing := obj.Keys["ed25519:"+string(deviceID)]
	if signing == "" {
		return nil, mxerr.BadJSON.WithMessage("device_keys has no ed25519:%s key", deviceID)
	}
	stripped, err := withoutFields(raw, "unsigned")
	if err != nil {
		return nil, err
	}
	if err := verifySigned(stripped, userID, "ed25519:"+string(deviceID), signing); err != nil {
		return nil, err
	}
	return stripped, nil
}

// putDeviceKeys stores a device's keys unless they are the ones it has, and reports whether
// the device list changed. The keys themselves may not change once uploaded: a device's
// identity is its keys, and other users have verified it by them.
func putDeviceKeys(ctx context.Context, tx *storage.Tx, userID id.UserID, deviceID id.DeviceID, keyJSON json.RawMessage, now int64) (bool, error) {
	old, err := tx.DeviceKeysOf(ctx, userID, deviceID)
	switch {
	case err == nil:
		if bytes.Equal(old, keyJSON) {
			return false, nil
		}
		if !sameKeys(old, keyJSON) {
			return false, mxerr.InvalidParam.WithMessage("Device %s already has different keys; a new device needs a new device ID", deviceID)
		}
	case !errors.Is(err, storage.ErrNotFound):
		return false, err
	}
	if err := tx.PutDeviceKeys(ctx, userID, deviceID, keyJSON, now); err != nil {
		return false, err
	}
	_, err = tx.AddDeviceListChange(ctx, userID, deviceID, now)
	return err == nil, err
}

// sameKeys reports whether two device_keys objects have the same keys.
func sameKeys(a, b json.RawMessage) bool {
	var ka, kb deviceKeysObject
	if json.Unmarshal(a, &ka) != nil || json.Unmarshal(b, &kb) != nil {
		return false
	}
	return maps.Equal(ka.Keys, kb.Keys)
}

// parseKeys reads a one_time_keys or fallback_keys map ("<algorithm>:<key_id>" to a key
// object, or a bare key string for unsigned algorithms), each key made canonical.
func parseKeys(userID id.UserID, deviceID id.DeviceID, in map[string]json.RawMessage) ([]storage.OneTimeKey, error) {
	out := make([]storage.OneTimeKey, 0, len(in))
	for name, raw := range in {
		alg, keyID, ok := strings.Cut(name, ":")
		if !ok || alg == "" || keyID == "" {
			return nil, mxerr.InvalidParam.WithMessage("key name %q is not <algorithm>:<key_id>", name)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || (raw[0] != '{' && raw[0] != '"') {
			return nil, mxerr.BadJSON.WithMessage("key %s is neither a key object nor a string", name)
		}
		canonical, err := canonicaljson.CanonicalJSON(raw)
		if err != nil {
			return nil, mxerr.BadJSON.WithMessage("key %s: %v", name, err)
		}
		out = append(out, storage.OneTimeKey{UserID: userID, DeviceID: deviceID, Algorithm: alg, KeyID: keyID, KeyJSON: canonical})
	}
	return out, nil
}

// oneKeyPerAlgorithm refuses two fallback keys of one algorithm: the spec allows at most one.
func oneKeyPerAlgorithm(keys []storage.OneTimeKey) error {
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.Algorithm] {
			return mxerr.InvalidParam.WithMessage("At most one fallback key per algorithm may be uploaded (%s)", k.Algorithm)
		}
		seen[k.Algorithm] = true
	}
	return nil
}

// insertOneTimeKeys stores one upload's one-time keys under one sequence number. A key ID
// uploaded again with the same key is no error (a retried request); with another key it is.
func insertOneTimeKeys(ctx context.Context, tx *storage.Tx, keys []storage.OneTimeKey, now int64) error {
	if len(keys) == 0 {
		return nil
	}
	seq, err := tx.NextCounter(ctx, "one_time_key_uploads")
	if err != nil {
		return err
	}
	for _, k := range keys {
		existing, err := tx.InsertOneTimeKey(ctx, k, seq, now)
		if err != nil {
			return err
		}
		if existing != nil && !bytes.Equal(existing, k.KeyJSON) {
			return mxerr.InvalidParam.WithMessage("One-time key %s:%s already exists with a different key", k.Algorithm, k.KeyID)
		}
	}
	return nil
}

// OneTimeKeyCounts returns the device's unclaimed one-time keys by algorithm, with
// DefaultOneTimeKeyAlgorithm always present.
func (s *DeviceKeys) OneTimeKeyCounts(ctx context.Context, userID id.UserID, deviceID id.DeviceID) (map[string]int, error) {
	counts, err := s.db.OneTimeKeyCounts(ctx, userID, deviceID)
	return withDefaultCount(counts), err
}

// Failure is what failures says of a server that could not be asked.
type Failure struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// remoteFailure is the failure of every remote server: this server does not reach other
// servers for keys yet, and says so at once rather than waiting out the timeout.
var remoteFailure = Failure{Status: 503, Message: "keys of users on other servers cannot be fetched yet"}

// QueryResult is the body of a POST /keys/query answer.
type QueryResult struct {
	Failures        map[string]Failure                            `json:"failures"`
	DeviceKeys      map[id.UserID]map[id.DeviceID]json.RawMessage `json:"device_keys"`
	MasterKeys      map[id.UserID]json.RawMessage                 `json:"master_keys"`
	SelfSigningKeys map[id.UserID]json.RawMessage                 `json:"self_signing_keys"`
	UserSigningKeys map[id.UserID]json.RawMessage                 `json:"user_signing_keys"`
}

// Query returns the device and cross-signing keys of the users asked for (POST /keys/query):
// all of a user's devices for an empty list, otherwise those listed. Each device's keys carry
// the signatures uploaded for them and unsigned.device_display_name; the user-signing key
// is only the requester's own. Users of other servers are reported in failures.
func (s *DeviceKeys) Query(ctx context.Context, requester id.UserID, users map[id.UserID][]id.DeviceID) (*QueryResult, error) {
	res := &QueryResult{
		Failures:        map[string]Failure{},
		DeviceKeys:      map[id.UserID]map[id.DeviceID]json.RawMessage{},
		MasterKeys:      map[id.UserID]json.RawMessage{},
		SelfSigningKeys: map[id.UserID]json.RawMessage{},
		UserSigningKeys: map[id.UserID]json.RawMessage{},
	}
	for userID, devices := range users {
		if !s.isLocal(userID) {
			if _, server, err := userID.Parse(); err == nil {
				res.Failures[server] = remoteFailure
			}
			continue
		}
		if err := s.queryUser(ctx, requester, userID, devices, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// queryUser adds one local user's keys to res.
func (s *DeviceKeys) queryUser(ctx context.Context, requester, userID id.UserID, devices []id.DeviceID, res *QueryResult) error {
	sigs, err := s.db.KeySignaturesOf(ctx, userID)
	if err != nil {
		return err
	}
	sigs = visibleSignatures(sigs, requester)
	all, err := s.db.DeviceKeysOfUser(ctx, userID)
	if err != nil {
		return err
	}
	want := map[id.DeviceID]bool{}
	for _, d := range devices {
		want[d] = true
	}
	out := map[id.DeviceID]json.RawMessage{}
	for _, dk := range all {
		if len(want) > 0 && !want[dk.DeviceID] {
			continue
		}
		keyJSON, err := withSignatures(dk.KeyJSON, signaturesOf(sigs, string(dk.DeviceID)))
		if err == nil && dk.DisplayName != "" {
			keyJSON, err = withField(keyJSON, "unsigned", map[string]string{"device_display_name": dk.DisplayName})
		}
		if err != nil {
			return fmt.Errorf("device keys of %s/%s: %w", userID, dk.DeviceID, err)
		}
		out[dk.DeviceID] = keyJSON
	}
	res.DeviceKeys[userID] = out
	return s.queryCrossSigning(ctx, requester, userID, sigs, res)
}

// queryCrossSigning adds a local user's cross-signing keys to res: master and self-signing
// keys for everyone, the user-signing key for its owner only.
func (s *DeviceKeys) queryCrossSigning(ctx context.Context, requester, userID id.UserID, sigs []storage.KeySignature, res *QueryResult) error {
	csks, err := s.db.CrossSigningKeysOf(ctx, userID)
	if err != nil {
		return err
	}
	if k, ok := csks[usageMaster]; ok {
		keyJSON, err := withSignatures(k.KeyJSON, signaturesOf(sigs, k.PublicKey))
		if err != nil {
			return fmt.Errorf("master key of %s: %w", userID, err)
		}
		res.MasterKeys[userID] = keyJSON
	}
	if k, ok := csks[usageSelfSigning]; ok {
		res.SelfSigningKeys[userID] = k.KeyJSON
	}
	if k, ok := csks[usageUserSigning]; ok && userID == requester {
		res.UserSigningKeys[userID] = k.KeyJSON
	}
	return nil
}

// visibleSignatures keeps the signatures the requester may see: those the key's owner made,
// and the requester's own. Who else has verified a user is nobody else's business
// (keys.yaml: "the signatures ... that the requesting user is allowed to see").
func visibleSignatures(sigs []storage.KeySignature, requester id.UserID) []storage.KeySignature {
	out := sigs[:0:0]
	for _, sig := range sigs {
		if sig.SignerUserID == sig.TargetUserID || sig.SignerUserID == requester {
			out = append(out, sig)
		}
	}
	return out
}

// signaturesOf picks the signatures of one key (a device ID or a master public key).
func signaturesOf(sigs []storage.KeySignature, targetKeyID string) []storage.KeySignature {
	var out []storage.KeySignature
	for _, sig := range sigs {
		if sig.TargetKeyID == targetKeyID {
			out = append(out, sig)
		}
	}
	return out
}

// ClaimResult is the body of a POST /keys/claim answer.
type ClaimResult struct {
	Failures    map[string]Failure                                       `json:"failures"`
	OneTimeKeys map[id.UserID]map[id.DeviceID]map[string]json.RawMessage `json:"one_time_keys"`
}

// Claim hands out one key per requested device and algorithm (POST /keys/claim): the
// device's oldest one-time key, deleted in the same transaction so that no other claim ever
// returns it, or, when none is left, its fallback key, marked used and kept. A device with
// neither is left out. Users of other servers are reported in failures.
func (s *DeviceKeys) Claim(ctx context.Context, want map[id.UserID]map[id.DeviceID]string) (*ClaimResult, error) {
	res := &ClaimResult{Failures: map[string]Failure{}, OneTimeKeys: map[id.UserID]map[id.DeviceID]map[string]json.RawMessage{}}
	local := map[id.UserID]map[id.DeviceID]string{}
	for userID, devices := range want {
		if s.isLocal(userID) {
			local[userID] = devices
		} else if _, server, err := userID.Parse(); err == nil {
			res.Failures[server] = remoteFailure
		}
	}
	if len(local) == 0 {
		return res, nil
	}
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		clear(res.OneTimeKeys) // the transaction may run again
		for userID, devices := range local {
			for deviceID, alg := range devices {
				k, err := claimKey(ctx, tx, userID, deviceID, alg)
				if errors.Is(err, storage.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if res.OneTimeKeys[userID] == nil {
					res.OneTimeKeys[userID] = map[id.DeviceID]map[string]json.RawMessage{}
				}
				res.OneTimeKeys[userID][deviceID] = map[string]json.RawMessage{k.Algorithm + ":" + k.KeyID: k.KeyJSON}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// claimKey takes the device's oldest one-time key of the algorithm, or its fallback key;
// ErrNotFound when it has neither.
func claimKey(ctx context.Context, tx *storage.Tx, userID id.UserID, deviceID id.DeviceID, alg string) (storage.OneTimeKey, error) {
	k, err := tx.ClaimOneTimeKey(ctx, userID, deviceID, alg)
	if errors.Is(err, storage.ErrNotFound) {
		return tx.ClaimFallbackKey(ctx, userID, deviceID, alg)
	}
	return k, err
}

// UnusedFallbackKeyTypes lists the algorithms of the device's fallback keys not yet handed
// out, never nil (device_unused_fallback_key_types is required in /sync).
func (s *DeviceKeys) UnusedFallbackKeyTypes(ctx context.Context, userID id.UserID, deviceID id.DeviceID) ([]string, error) {
	types, err := s.db.UnusedFallbackKeyTypes(ctx, userID, deviceID)
	if types == nil {
		types = []string{}
	}
	return types, err
}

// verifySigned checks that obj carries a valid signature by userID's key keyID
// ("ed25519:...") with the unpadded base64 ed25519 public key pub; M_INVALID_SIGNATURE if not.
func verifySigned(obj json.RawMessage, userID id.UserID, keyID, pub string) error {
	name, ok := strings.CutPrefix(keyID, "ed25519:")
	if !ok {
		return mxerr.InvalidSignature.WithMessage("%s is not an ed25519 key", keyID)
	}
	valid, err := signatures.VerifySignatureJSON(obj, userID, name, id.Ed25519(pub))
	if errors.Is(err, signatures.ErrSignatureNotFound) {
		return mxerr.InvalidSignature.WithMessage("No signature by %s's key %s", userID, keyID)
	}
	if err != nil || !valid {
		return mxerr.InvalidSignature.WithMessage("Invalid signature by %s's key %s", userID, keyID)
	}
	return nil
}

// withoutFields returns the JSON object raw without the named fields, canonical.
func withoutFields(raw json.RawMessage, names ...string) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, mxerr.BadJSON.WithMessage("not a JSON object: %v", err)
	}
	for _, n := range names {
		delete(obj, n)
	}
	return canonical(obj)
}

// withField returns the JSON object raw with field set to v.
func withField(raw json.RawMessage, field string, v any) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	obj[field] = enc
	return canonical(obj)
}

// withSignatures returns the key object raw with the extra signatures merged into its
// signatures field.
func withSignatures(raw json.RawMessage, extra []storage.KeySignature) (json.RawMessage, error) {
	if len(extra) == 0 {
		return raw, nil
	}
	var obj struct {
		Signatures map[id.UserID]map[string]string `json:"signatures"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	if obj.Signatures == nil {
		obj.Signatures = map[id.UserID]map[string]string{}
	}
	for _, sig := range extra {
		if obj.Signatures[sig.SignerUserID] == nil {
			obj.Signatures[sig.SignerUserID] = map[string]string{}
		}
		obj.Signatures[sig.SignerUserID][sig.SignerKeyID] = sig.Signature
	}
	return withField(raw, "signatures", obj.Signatures)
}

// canonical encodes obj as canonical JSON.
func canonical(obj map[string]json.RawMessage) (json.RawMessage, error) {
	enc, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return canonicaljson.CanonicalJSON(enc)
}
