package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// CrossSigningKey is one of a user's cross-signing keys.
type CrossSigningKey struct {
	UserID    id.UserID
	Type      string // "master", "self_signing" or "user_signing"
	PublicKey string // unpadded base64 ed25519 public key
	KeyJSON   json.RawMessage
}

// KeySignature is a signature uploaded with /keys/signatures/upload: signer's key signerKeyID
// ("ed25519:...") signed target's device or master key targetKeyID (a device ID or the
// master key's public key).
type KeySignature struct {
	TargetUserID id.UserID
	TargetKeyID  string
	SignerUserID id.UserID
	SignerKeyID  string
	Signature    string
}

const (
	selectCrossSigningKeys = `SELECT user_id, key_type, public_key, key_json FROM cross_signing_keys
		WHERE user_id = $1 ORDER BY key_type`
	upsertCrossSigningKey = `INSERT INTO cross_signing_keys (user_id, key_type, public_key, key_json, created_ts)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, key_type) DO UPDATE SET public_key = excluded.public_key, key_json = excluded.key_json,
			created_ts = excluded.created_ts`
	upsertKeySignature = `INSERT INTO key_signatures (target_user_id, target_key_id, signer_user_id, signer_key_id, signature, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id) DO UPDATE
		SET signature = excluded.signature, created_ts = excluded.created_ts`
	selectKeySignatures = `SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, signature FROM key_signatures
		WHERE target_user_id = $1 ORDER BY target_key_id, signer_user_id, signer_key_id`
	deleteKeySignatures = `DELETE FROM key_signatures WHERE target_user_id = $1 AND target_key_id = $2`
)

// CrossSigningKeysOf returns the user's cross-signing keys by type; a type the user has not
// uploaded is missing.
func (c conn) CrossSigningKeysOf(ctx context.Context, userID id.UserID) (map[string]CrossSigningKey, error) {
	rows, err := c.q.Query(ctx, selectCrossSigningKeys, userID)
	if err != nil {
		return nil, fmt.Errorf("cross-signing keys of %s: %w", userID, err)
	}
	defer rows.Close()
	out := map[string]CrossSigningKey{}
	for rows.Next() {
		var k CrossSigningKey
		var s string
		if err := rows.Scan(&k.UserID, &k.Type, &k.PublicKey, &s); err != nil {
			return nil, fmt.Errorf("cross-signing keys of %s: %w", userID, err)
		}
		k.KeyJSON = json.RawMessage(s)
		out[k.Type] = k
	}
	return out, rows.Err()
}

// PutCrossSigningKey stores k, replacing the user's key of its type. ts is the time of the
// upload (Unix ms).
func (tx *Tx) PutCrossSigningKey(ctx context.Context, k CrossSigningKey, ts int64) error {
	if _, err := tx.q.Exec(ctx, upsertCrossSigningKey, k.UserID, k.Type, k.PublicKey, string(k.KeyJSON), ts); err != nil {
		return fmt.Errorf("put %s key of %s: %w", k.Type, k.UserID, err)
	}
	return nil
}

// PutKeySignature stores s, replacing an earlier signature of the same key by the same key.
func (tx *Tx) PutKeySignature(ctx context.Context, s KeySignature, ts int64) error {
	_, err := tx.q.Exec(ctx, upsertKeySignature, s.TargetUserID, s.TargetKeyID, s.SignerUserID, s.SignerKeyID, s.Signature, ts)
	if err != nil {
		return fmt.Errorf("put signature of %s/%s: %w", s.TargetUserID, s.TargetKeyID, err)
	}
	return nil
}

// KeySignaturesOf returns the uploaded signatures of the user's devices and master keys.
func (c conn) KeySignaturesOf(ctx context.Context, userID id.UserID) ([]KeySignature, error) {
	rows, err := c.q.Query(ctx, selectKeySignatures, userID)
	if err != nil {
		return nil, fmt.Errorf("signatures of %s: %w", userID, err)
	}
	defer rows.Close()
	var out []KeySignature
	for rows.Next() {
		var s KeySignature
		if err := rows.Scan(&s.TargetUserID, &s.TargetKeyID, &s.SignerUserID, &s.SignerKeyID, &s.Signature); err != nil {
			return nil, fmt.Errorf("signatures of %s: %w", userID, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// DeleteKeySignatures deletes every uploaded signature of one of the user's keys (a device
// ID or a master key's public key).
func (c conn) DeleteKeySignatures(ctx context.Context, userID id.UserID, targetKeyID string) error {
	if _, err := c.q.Exec(ctx, deleteKeySignatures, userID, targetKeyID); err != nil {
		return fmt.Errorf("delete signatures of %s/%s: %w", userID, targetKeyID, err)
	}
	return nil
}
