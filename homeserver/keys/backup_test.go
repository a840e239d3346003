package keys

import (
	"testing"

	"causeway/homeserver/storage"
)

func TestBetterKey(t *testing.T) {
	stored := storage.KeyBackupSession{IsVerified: false, FirstMessageIndex: 5, ForwardedCount: 2}
	tests := []struct {
		name string
		key  KeyData
		want bool
	}{
		{"verified beats unverified, however late and forwarded", KeyData{IsVerified: true, FirstMessageIndex: 9, ForwardedCount: 9}, true},
		{"lower first_message_index wins", KeyData{FirstMessageIndex: 4, ForwardedCount: 9}, true},
		{"higher first_message_index loses, even if less forwarded", KeyData{FirstMessageIndex: 6, ForwardedCount: 0}, false},
		{"same index, fewer forwards wins", KeyData{FirstMessageIndex: 5, ForwardedCount: 1}, true},
		{"same index, more forwards loses", KeyData{FirstMessageIndex: 5, ForwardedCount: 3}, false},
		{"an equal key keeps the stored one", KeyData{FirstMessageIndex: 5, ForwardedCount: 2}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := better(tt.key, stored); got != tt.want {
				t.Errorf("better(%+v, %+v) = %v, want %v", tt.key, stored, got, tt.want)
			}
		})
	}
	t.Run("unverified never beats verified", func(t *testing.T) {
		verified := storage.KeyBackupSession{IsVerified: true, FirstMessageIndex: 9, ForwardedCount: 9}
		if better(KeyData{FirstMessageIndex: 0, ForwardedCount: 0}, verified) {
			t.Error("an unverified key replaced a verified one")
		}
	})
}

func TestParseVersion(t *testing.T) {
	tests := map[string]int64{"1": 1, "42": 42, "0": 0, "-1": 0, "01": 0, "+1": 0, "": 0, "abc": 0, "1.0": 0, "99999999999999999999": 0}
	for s, want := range tests {
		got, ok := parseVersion(s)
		if ok != (want != 0) || got != want {
			t.Errorf("parseVersion(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
}
