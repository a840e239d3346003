package slackfmt

import (
	"strings"
	"testing"
)

func TestShortcodeToUnicode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   string
		want   string
		wantOK bool
	}{
		{"smile", "😄", true},
		{"+1", "👍", true},
		{"thumbsup", "👍", true}, // alias from short_names
		{"-1", "👎", true},
		{"heart", "❤️", true}, // fully qualified, with U+FE0F
		{"+1::skin-tone-2", "👍🏻", true},
		{"thumbsup::skin-tone-6", "👍🏿", true},
		{"people_holding_hands::skin-tone-3", "🧑🏼\u200d🤝\u200d🧑🏼", true}, // two people, one tone
		{"handshake::skin-tone-4", "🤝🏽", true},
		{"skin-tone-2", "🏻", true},
		{"smile::skin-tone-3", "😄🏼", true}, // no variant: modifier appended, as Slack shows it
		{"+1::skin-tone-7", "", false},
		{"+1::skin-tone-x", "", false},
		{"partyparrot", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := ShortcodeToUnicode(tt.code)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ShortcodeToUnicode(%q) = %q, %v; want %q, %v", tt.code, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestUnicodeToShortcode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		emoji  string
		want   string
		wantOK bool
	}{
		{"👍", "+1", true},
		{"👍🏻", "+1::skin-tone-2", true},
		{"❤️", "heart", true},
		{"❤", "heart", true}, // without U+FE0F
		{"☺", "relaxed", true},
		{"#️⃣", "hash", true},
		{"#⃣", "hash", true},
		{"🧑🏼\u200d🤝\u200d🧑🏼", "people_holding_hands::skin-tone-3", true},
		{"🧑🏻\u200d🤝\u200d🧑🏿", "people_holding_hands", true}, // mixed tones: Slack has no name
		{"😄🏼", "smile", true}, // tone on an emoji without variants
		{"🏻", "skin-tone-2", true},
		{"🇫🇷", "fr", true}, // short_name, not the flag-fr alias
		{"+1", "", false},
		{"👍👍", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := UnicodeToShortcode(tt.emoji)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("UnicodeToShortcode(%q) = %q, %v; want %q, %v", tt.emoji, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestEmojiTablesSorted guards the binary search: the generator must emit
// both tables sorted by key, without duplicates.
func TestEmojiTablesSorted(t *testing.T) {
	t.Parallel()
	for name, table := range map[string][]emojiPair{
		"emojiByShortcode": emojiByShortcode[:],
		"shortcodeByEmoji": shortcodeByEmoji[:],
	} {
		if len(table) < 1000 {
			t.Errorf("%s has %d entries, want the full emoji set", name, len(table))
		}
		for i := 1; i < len(table); i++ {
			if table[i-1].key >= table[i].key {
				t.Fatalf("%s not sorted at %d: %q >= %q", name, i, table[i-1].key, table[i].key)
			}
		}
	}
	for _, p := range shortcodeByEmoji {
		if strings.Contains(p.key, "\ufe0f") {
			t.Fatalf("shortcodeByEmoji key %q holds U+FE0F", p.key)
		}
	}
}

// TestEmojiRoundTrip: every canonical shortcode maps to an emoji that maps
// back to it.
func TestEmojiRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range shortcodeByEmoji {
		u, ok := ShortcodeToUnicode(p.value)
		if !ok {
			t.Errorf("ShortcodeToUnicode(%q) not found", p.value)
			continue
		}
		if back, ok := UnicodeToShortcode(u); !ok || back != p.value {
			t.Errorf("UnicodeToShortcode(ShortcodeToUnicode(%q) = %q) = %q, %v", p.value, u, back, ok)
		}
	}
}

func TestEmojiDataVersion(t *testing.T) {
	t.Parallel()
	if emojiDataVersion == "" {
		t.Error("emojiDataVersion is empty")
	}
}
