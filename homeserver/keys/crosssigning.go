package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Cross-signing (end_to_end_encryption.md, "Cross-signing"; data/api/client-server/
// cross_signing.yaml): a user's master key signs their self-signing key, which signs their
// devices, and their user-signing key, which signs other users' master keys.

// The cross-signing key usages, which are also the key types in storage.
const (
	usageMaster      = "master"
	usageSelfSigning = "self_signing"
	usageUserSigning = "user_signing"
)

// ErrAuthRequired is returned by UploadCrossSigningKeys when the upload replaces keys and the
// request has not passed user-interactive auth.
var ErrAuthRequired = errors.New("replacing cross-signing keys needs user-interactive auth")

// CrossSigningUpload is the body of POST /keys/device_signing/upload, without auth. Absent
// keys are nil.
type CrossSigningUpload struct {
	MasterKey      json.RawMessage `json:"master_key"`
	SelfSigningKey json.RawMessage `json:"self_signing_key"`
	UserSigningKey json.RawMessage `json:"user_signing_key"`
}

// crossSigningKeyObject is what the server checks of a cross-signing key
// (data/api/client-server/definitions/cross_signing_key.yaml).
type crossSigningKeyObject struct {
	UserID     id.UserID                       `json:"user_id"`
	Usage      []string                        `json:"usage"`
	Keys       map[string]string               `json:"keys"`
	Signatures map[id.UserID]map[string]string `json:"signatures"`
}

// UploadCrossSigningKeys stores the user's cross-signing keys (POST /keys/device_signing/upload)
// in one transaction. The self-signing and user-signing keys must be signed by the master key
// uploaded with them, or else the stored one. Without authenticated (the request passed
// user-interactive auth, or comes from an application service), it stores only a first
// master key or keys identical to the stored ones, and returns ErrAuthRequired otherwise
// (cross_signing.yaml: "User-Interactive Authentication MUST be performed ... except").
func (s *DeviceKeys) UploadCrossSigningKeys(ctx context.Context, userID id.UserID, u CrossSigningUpload, authenticated bool) error {
	uploads, err := parseCrossSigningUpload(userID, u)
	if err != nil {
		return err
	}
	now := s.nowMS()
	var changed bool
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		changed = false
		stored, err := tx.CrossSigningKeysOf(ctx, userID)
		if err != nil {
			return err
		}
		_, hasMaster := stored[usageMaster]
		if !authenticated && hasMaster && !allStored(uploads, stored) {
			return ErrAuthRequired
		}
		if err := checkCrossSigningUpload(ctx, tx, userID, uploads, stored); err != nil {
			return err
		}
		for _, k := range uploads {
			old, had := stored[k.Type]
			if had && bytes.Equal(old.KeyJSON, k.KeyJSON) {
				continue
			}
			if had && k.Type == usageMaster && old.PublicKey != k.PublicKey {
				// Signatures of the replaced master key sign nothing any more.
				if err := tx.DeleteKeySignatures(ctx, userID, old.PublicKey); err != nil {
					return err
				}
			}
			if err := tx.PutCrossSigningKey(ctx, k, now); err != nil {
				return err
			}
			changed = true
		}
		if changed {
			_, err = tx.AddDeviceListChange(ctx, userID, "", now)
		}
		return err
	})
	if err != nil {
		return err
	}
	if changed {
		s.changed(ctx, userID)
		s.log.InfoContext(ctx, "cross-signing keys uploaded", "user_id", userID)
	}
	return nil
}

// parseCrossSigningUpload checks each uploaded key on its own and returns them, the master
// key first.
func parseCrossSigningUpload(userID id.UserID, u CrossSigningUpload) ([]storage.CrossSigningKey, error) {
	var out []storage.CrossSigningKey
	for _, part := range []struct {
		usage string
		raw   json.RawMessage
	}{{usageMaster, u.MasterKey}, {usageSelfSigning, u.SelfSigningKey}, {usageUserSigning, u.UserSigningKey}} {
		if len(part.raw) == 0 || string(part.raw) == "null" {
			continue
		}
		k, err := parseCrossSigningKey(userID, part.usage, part.raw)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// parseCrossSigningKey checks one cross-signing key of the user: its user, its usage, and
// its single ed25519 key named after itself.
func parseCrossSigningKey(userID id.UserID, usage string, raw json.RawMessage) (storage.CrossSigningKey, error) {
	var obj crossSigningKeyObject
	if err := json.Unmarshal(raw, &obj); err != nil {
		return storage.CrossSigningKey{}, mxerr.BadJSON.WithMessage("%s key is not a cross-signing key: %v", usage, err)
	}
	if obj.UserID != userID {
		return storage.CrossSigningKey{}, mxerr.InvalidParam.WithMessage("%s key must be %s's", usage, userID)
	}
	if !slices.Contains(obj.Usage, usage) {
		return storage.CrossSigningKey{}, mxerr.InvalidParam.WithMessage("%s key must have usage %s", usage, usage)
	}
	pub, err := singleKey(obj.Keys)
	if err != nil {
		return storage.CrossSigningKey{}, err
	}
	keyJSON, err := withoutFields(raw, "unsigned")
	if err != nil {
		return storage.CrossSigningKey{}, err
	}
	return storage.CrossSigningKey{UserID: userID, Type: usage, PublicKey: pub, KeyJSON: keyJSON}, nil
}

// singleKey returns the public key of a cross-signing key's keys map, which must hold one
// ed25519 key whose ID is the key itself.
func singleKey(keys map[string]string) (string, error) {
	if len(keys) != 1 {
		return "", mxerr.InvalidParam.WithMessage("A cross-signing key must have exactly one key")
	}
	for keyID, pub := range keys {
		if name, ok := strings.CutPrefix(keyID, "ed25519:"); !ok || name != pub || pub == "" {
			return "", mxerr.InvalidParam.WithMessage("Key %s must be ed25519:<the public key>", keyID)
		}
		return pub, nil
	}
	return "", nil
}

// allStored reports whether every uploaded key is the one stored.
func allStored(uploads []storage.CrossSigningKey, stored map[string]storage.CrossSigningKey) bool {
	for _, k := range uploads {
		if old, ok := stored[k.Type]; !ok || !bytes.Equal(old.KeyJSON, k.KeyJSON) {
			return false
		}
	}
	return true
}

// checkCrossSigningUpload checks the uploaded keys against each other and what is stored:
// there is a master key, it signs the other two, and no public key is one of the user's
// device IDs (which would make a signature's key ID ambiguous).
func checkCrossSigningUpload(ctx context.Context, tx *storage.Tx, userID id.UserID, uploads []storage.CrossSigningKey, stored map[string]storage.CrossSigningKey) error {
	master, ok := stored[usageMaster]
	for _, k := range uploads {
		if k.Type == usageMaster {
			master, ok = k, true
		}
	}
	if !ok {
		return mxerr.MissingParam.WithMessage("No master key is available")
	}
	for _, k := range uploads {
		if k.Type != usageMaster {
			if err := verifySigned(k.KeyJSON, userID, "ed25519:"+master.PublicKey, master.PublicKey); err != nil {
				return err
			}
		}
		if _, err := tx.DeviceByID(ctx, userID, id.DeviceID(k.PublicKey)); err == nil {
			return mxerr.Forbidden.WithMessage("Key ID in use")
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return nil
}

// SignatureFailure is one entry of the failures of POST /keys/signatures/upload.
type SignatureFailure struct {
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
}

// UploadSignatures stores the signatures in a POST /keys/signatures/upload body that the
// signer may make and that verify: of the signer's own devices by their self-signing key, of
// their own master key by one of their devices, and of other users' master keys by their
// user-signing key. The signed object must be the stored key, apart from signatures and
// unsigned. Each key that fails is reported by user and key ID, the others are stored.
func (s *DeviceKeys) UploadSignatures(ctx context.Context, signer id.UserID, body map[id.UserID]map[string]json.RawMessage) (map[id.UserID]map[string]SignatureFailure, error) {
	failures := map[id.UserID]map[string]SignatureFailure{}
	now := s.nowMS()
	var changedUsers []id.UserID
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		clear(failures)
		changedUsers = changedUsers[:0]
		signerKeys, err := tx.CrossSigningKeysOf(ctx, signer)
		if err != nil {
			return err
		}
		for target, objs := range body {
			changed := false
			for keyID, obj := range objs {
				sigs, err := s.checkSignature(ctx, tx, signer, signerKeys, target, keyID, obj)
				var re mautrix.RespError
				if errors.As(err, &re) {
					if failures[target] == nil {
						failures[target] = map[string]SignatureFailure{}
					}
					failures[target][keyID] = SignatureFailure{ErrCode: re.ErrCode, Error: re.Err}
					continue
				}
				if err != nil {
					return err
				}
				for _, sig := range sigs {
					if err := tx.PutKeySignature(ctx, sig, now); err != nil {
						return err
					}
				}
				changed = changed || len(sigs) > 0
			}
			if changed {
				if _, err := tx.AddDeviceListChange(ctx, target, "", now); err != nil {
					return err
				}
				changedUsers = append(changedUsers, target)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, u := range changedUsers {
		s.changed(ctx, u)
	}
	return failures, nil
}

// checkSignature checks the signer's new signatures of one of target's keys (a device ID or
// a master public key) and returns them; a protocol failure is a mautrix.RespError.
func (s *DeviceKeys) checkSignature(ctx context.Context, tx *storage.Tx, signer id.UserID, signerKeys map[string]storage.CrossSigningKey,
	target id.UserID, keyID string, obj json.RawMessage) ([]storage.KeySignature, error) {
	if target != signer {
		usk, ok := signerKeys[usageUserSigning]
		if !ok {
			return nil, mxerr.NotFound.WithMessage("You have no user-signing key")
		}
		return s.checkMasterSignature(ctx, tx, signer, target, keyID, obj, func(string) (string, bool) {
			return usk.PublicKey, true
		}, "ed25519:"+usk.PublicKey)
	}
	if master, ok := signerKeys[usageMaster]; ok && keyID == master.PublicKey {
		return s.checkMasterSignature(ctx, tx, signer, target, keyID, obj, func(name string) (string, bool) {
			keyJSON, err := tx.DeviceKeysOf(ctx, signer, id.DeviceID(name))
			if err != nil {
				return "", false
			}
			var dk deviceKeysObject
			if json.Unmarshal(keyJSON, &dk) != nil {
				return "", false
			}
			pub, ok := dk.Keys["ed25519:"+name]
			return pub, ok
		}, "")
	}
	ssk, ok := signerKeys[usageSelfSigning]
	if !ok {
		return nil, mxerr.NotFound.WithMessage("You have no self-signing key")
	}
	stored, err := tx.DeviceKeysOf(ctx, signer, id.DeviceID(keyID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, mxerr.NotFound.WithMessage("Unknown device %s", keyID)
	}
	if err != nil {
		return nil, err
	}
	return newSignatures(stored, obj, signer, target, keyID, func(string) (string, bool) { return ssk.PublicKey, true },
		"ed25519:"+ssk.PublicKey)
}

// checkMasterSignature checks signatures of target's master key keyID; keyOf gives the public
// key of a signing key by name (after "ed25519:"), and only, when not "", may sign.
func (s *DeviceKeys) checkMasterSignature(ctx context.Context, tx *storage.Tx, signer, target id.UserID, keyID string,
	obj json.RawMessage, keyOf func(name string) (string, bool), only string) ([]storage.KeySignature, error) {
	csks, err := tx.CrossSigningKeysOf(ctx, target)
	if err != nil {
		return nil, err
	}
	master, ok := csks[usageMaster]
	if !ok || master.PublicKey != keyID {
		return nil, mxerr.NotFound.WithMessage("%s has no master key %s", target, keyID)
	}
	return newSignatures(master.KeyJSON, obj, signer, target, keyID, keyOf, only)
}

// newSignatures returns the signer's signatures in obj that stored (the key as stored) does not
// carry, each verified. obj must be stored apart from signatures and unsigned. only, when not
// "", is the one key ID that may sign.
func newSignatures(stored, obj json.RawMessage, signer, target id.UserID, targetKeyID string,
	keyOf func(name string) (string, bool), only string) ([]storage.KeySignature, error) {
	a, err := withoutFields(stored, "signatures", "unsigned")
	if err != nil {
		return nil, err
	}
	b, err := withoutFields(obj, "signatures", "unsigned")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(a, b) {
		return nil, mxerr.InvalidParam.WithMessage("The signed object is not the stored key")
	}
	var have, got struct {
		Signatures map[id.UserID]map[string]string `json:"signatures"`
	}
	if json.Unmarshal(stored, &have) != nil || json.Unmarshal(obj, &got) != nil {
		return nil, mxerr.BadJSON.WithMessage("signatures must map user IDs to key IDs to signatures")
	}
	var out []storage.KeySignature
	for signerKeyID, sig := range got.Signatures[signer] {
		if _, already := have.Signatures[signer][signerKeyID]; already {
			continue
		}
		if only != "" && signerKeyID != only {
			return nil, mxerr.InvalidSignature.WithMessage("%s may not sign this key", signerKeyID)
		}
		name, _ := strings.CutPrefix(signerKeyID, "ed25519:")
		pub, ok := keyOf(name)
		if !ok {
			return nil, mxerr.NotFound.WithMessage("Unknown signing key %s", signerKeyID)
		}
		if err := verifySigned(obj, signer, signerKeyID, pub); err != nil {
			return nil, err
		}
		out = append(out, storage.KeySignature{TargetUserID: target, TargetKeyID: targetKeyID,
			SignerUserID: signer, SignerKeyID: signerKeyID, Signature: sig})
	}
	if len(out) == 0 {
		return nil, mxerr.InvalidSignature.WithMessage("No new signature by %s", signer)
	}
	return out, nil
}
