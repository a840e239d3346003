package accounts

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestArgon2DefaultHashFormat(t *testing.T) {
	h, err := defaultArgon2Params.hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=2,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(h) {
		t.Fatalf("hash %q is not a PHC argon2id string with the default parameters", h)
	}
	ok, stale, err := verifyPassword(h, "correct horse", defaultArgon2Params)
	if err != nil || !ok || stale {
		t.Errorf("verify right password = %v, stale %v, %v; want true, false, nil", ok, stale, err)
	}
}

func TestArgon2Verify(t *testing.T) {
	h, err := cheapArgon2Params.hash("pässword")
	if err != nil {
		t.Fatal(err)
	}
	other := cheapArgon2Params
	other.time = 3
	cases := []struct {
		name      string
		password  string
		current   argon2Params
		wantOK    bool
		wantStale bool
	}{
		{"right", "pässword", cheapArgon2Params, true, false},
		{"wrong", "password", cheapArgon2Params, false, false},
		{"empty", "", cheapArgon2Params, false, false},
		{"right, parameters changed since", "pässword", other, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, stale, err := verifyPassword(h, tc.password, tc.current)
			if err != nil || ok != tc.wantOK || stale != tc.wantStale {
				t.Errorf("verify = %v, stale %v, %v; want %v, %v, nil", ok, stale, err, tc.wantOK, tc.wantStale)
			}
		})
	}
}

func TestArgon2Malformed(t *testing.T) {
	good, err := cheapArgon2Params.hash("x")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	cases := map[string]string{
		"empty":        "",
		"bcrypt":       "$2b$12$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01",
		"argon2i":      strings.Replace(good, "argon2id", "argon2i", 1),
		"version 16":   strings.Replace(good, "v=19", "v=16", 1),
		"extra params": strings.Replace(good, parts[3], parts[3]+",x=1", 1),
		"huge memory":  strings.Replace(good, parts[3], "m=4294967295,t=1,p=1", 1),
		"zero threads": strings.Replace(good, parts[3], "m=8,t=1,p=0", 1),
		"bad salt":     strings.Replace(good, parts[4], "!!!", 1),
		"no key":       strings.TrimSuffix(good, parts[5]),
	}
	for name, encoded := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := verifyPassword(encoded, "x", cheapArgon2Params); !errors.Is(err, errBadHash) {
				t.Errorf("verify %q: err = %v, want errBadHash", encoded, err)
			}
		})
	}
}
