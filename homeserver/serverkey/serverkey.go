// Package serverkey owns the server's ed25519 signing key: generating it on first start,
// storing it in the data dir in Synapse's file format ("ed25519 <version> <base64 seed>"), and
// signing with it. Key publication and remote key fetching belong to homeserver/federation.
package serverkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"maunium.net/go/mautrix/id"
)

// Key is the server's signing key.
type Key struct {
	ID      id.KeyID // "ed25519:<version>"
	Private ed25519.PrivateKey
}

// Public returns the public half, unpadded base64 as Matrix publishes it.
func (k Key) Public() id.SigningKey {
	return id.SigningKey(base64.RawStdEncoding.EncodeToString(k.Private.Public().(ed25519.PublicKey)))
}

// LoadOrGenerate reads the key file, or creates it (mode 0600) with a fresh key when missing.
func LoadOrGenerate(path string) (Key, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return generate(path)
	}
	if err != nil {
		return Key{}, fmt.Errorf("read signing key: %w", err)
	}
	return Parse(string(data))
}

// Parse reads a key in Synapse's format: "ed25519 <version> <unpadded base64 seed>".
func Parse(text string) (Key, error) {
	fields := strings.Fields(text)
	if len(fields) != 3 || fields[0] != "ed25519" {
		return Key{}, errors.New("signing key file must hold one line: ed25519 <version> <seed>")
	}
	seed, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(fields[2], "="))
	if err != nil || len(seed) != ed25519.SeedSize {
		return Key{}, errors.New("signing key seed is not 32 bytes of base64")
	}
	return Key{ID: id.NewKeyID(id.KeyAlgorithmEd25519, fields[1]), Private: ed25519.NewKeyFromSeed(seed)}, nil
}

func generate(path string) (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, err
	}
	version := "a_" + base64.RawURLEncoding.EncodeToString(priv.Seed()[:3])
	line := fmt.Sprintf("ed25519 %s %s\n", version, base64.RawStdEncoding.EncodeToString(priv.Seed()))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Key{}, fmt.Errorf("create signing key dir: %w", err)
	}
	// O_EXCL: two processes starting at once must not overwrite each other's key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrGenerate(path)
	}
	if err != nil {
		return Key{}, fmt.Errorf("create signing key: %w", err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return Key{}, fmt.Errorf("write signing key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return Key{}, err
	}
	if err := f.Close(); err != nil {
		return Key{}, err
	}
	return Parse(line)
}
