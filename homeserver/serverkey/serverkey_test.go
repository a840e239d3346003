package serverkey

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrGenerateReusesTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "signing.key")
	first, err := LoadOrGenerate(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadOrGenerate(path)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != second.ID || !first.Private.Equal(second.Private) {
		t.Fatalf("second load gave a different key: %s vs %s", first.ID, second.ID)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", info.Mode().Perm())
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	for name, text := range map[string]string{
		"empty":      "",
		"wrong algo": "rsa a_x AAAA",
		"short seed": "ed25519 a_x AAAA",
		"not base64": "ed25519 a_x !!!!",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(text); err == nil {
				t.Error("Parse accepted a bad key file")
			}
		})
	}
}
