package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"causeway/homeserver/mxerr"
)

// MaxPasswordBytes bounds a password's length. Causeway has no other password policy (Synapse's
// default has none either): a team server usually sits behind registration tokens or SSO, and
// composition rules mostly produce "Password1!". The bound keeps hashing cheap to refuse, as
// Synapse's 512-byte limit does.
const MaxPasswordBytes = 512

// argon2Params are the argon2id cost parameters, stored with every hash in its PHC string.
type argon2Params struct {
	memory  uint32 // KiB
	time    uint32 // passes
	threads uint8
	saltLen uint32
	keyLen  uint32
}

// defaultArgon2Params cost about 50 ms on two cores of a 2020s server CPU (64 MiB, 2 passes, 2
// lanes; measured 52 ms on an AMD EPYC), within RFC 9106's range and above OWASP's minimums
// (19 MiB × 2 passes). Memory is the costly resource for an attacker's GPUs; it is ours too, so
// Service.hashSlots bounds how many hashes run at once. Hashes made with other parameters keep
// verifying, and are re-hashed with these at the next successful login.
var defaultArgon2Params = argon2Params{memory: 64 * 1024, time: 2, threads: 2, saltLen: 16, keyLen: 32}

// Bounds on parameters read back from a stored hash, so a corrupt row cannot make one login
// allocate gigabytes.
const (
	maxStoredMemory  = 1 << 20 // 1 GiB in KiB
	maxStoredTime    = 100
	maxStoredKeyLen  = 1024
	argon2idPrefix   = "$argon2id$"
	argon2VersionStr = "v=19"
)

var b64 = base64.RawStdEncoding // PHC strings use unpadded standard base64

// hash returns password's argon2id hash in PHC string format:
// $argon2id$v=19$m=65536,t=2,p=2$<salt>$<hash>.
func (p argon2Params) hash(password string) (string, error) {
	salt := make([]byte, p.saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, p.keyLen)
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", argon2idPrefix, argon2.Version,
		p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("malformed argon2id hash")

// parseArgon2 splits a PHC argon2id string into its parameters, salt and key.
func parseArgon2(encoded string) (argon2Params, []byte, []byte, error) {
	var p argon2Params
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	if parts[2] != argon2VersionStr {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", errBadHash, parts[2])
	}
	_, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads)
	if err != nil || fmt.Sprintf("m=%d,t=%d,p=%d", p.memory, p.time, p.threads) != parts[3] {
		return p, nil, nil, fmt.Errorf("%w: parameters %q", errBadHash, parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("%w: salt", errBadHash)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return p, nil, nil, fmt.Errorf("%w: key", errBadHash)
	}
	if p.memory == 0 || p.memory > maxStoredMemory || p.time == 0 || p.time > maxStoredTime || p.threads == 0 ||
		len(key) == 0 || len(key) > maxStoredKeyLen || len(salt) == 0 {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", errBadHash)
	}
	p.saltLen, p.keyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// verifyPassword reports whether password matches encoded, comparing in constant time, and
// whether encoded was made with parameters other than current (so it should be re-hashed).
func verifyPassword(encoded, password string, current argon2Params) (ok, stale bool, err error) {
	p, salt, key, err := parseArgon2(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, p.keyLen)
	ok = subtle.ConstantTimeCompare(got, key) == 1
	return ok, p != current, nil
}

// checkNewPassword applies the password policy to a password being set: not empty and at most
// MaxPasswordBytes.
func checkNewPassword(password string) error {
	if password == "" {
		return mxerr.WeakPassword.WithMessage("The password must not be empty")
	}
	if len(password) > MaxPasswordBytes {
		return mxerr.InvalidParam.WithMessage("The password must be at most %d bytes long", MaxPasswordBytes)
	}
	return nil
}

// acquireHashSlot waits for a free hashing slot; the returned func releases it.
func (s *Service) acquireHashSlot(ctx context.Context) (func(), error) {
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hashPassword hashes a new password with the current parameters.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	release, err := s.acquireHashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return s.hashParams.hash(password)
}

// matchPassword checks password against a stored hash. An empty hash (an account without a
// password) or an over-long password never matches, but still costs one hash, so that the
// time taken does not tell which accounts exist or have passwords.
func (s *Service) matchPassword(ctx context.Context, encoded, password string) (ok, stale bool, err error) {
	if encoded == "" {
		encoded = s.dummyHash()
	}
	release, err := s.acquireHashSlot(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	if len(password) > MaxPasswordBytes {
		password = ""
	}
	ok, stale, err = verifyPassword(encoded, password, s.hashParams)
	if err != nil {
		return false, false, err
	}
	return ok && encoded != s.dummyHash(), stale, nil
}

// dummyHash is a hash of a random password that nobody knows, made once, checked against when
// there is no real hash to check.
func (s *Service) dummyHash() string {
	s.dummy.once.Do(func() {
		secret := make([]byte, 32)
		rand.Read(secret)
		h, err := s.hashParams.hash(string(secret))
		if err != nil {
			panic(err) // crypto/rand does not fail
		}
		s.dummy.hash = h
	})
	return s.dummy.hash
}
