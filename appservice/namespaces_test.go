package appservice

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"
)

func TestNewNamespaceUnsupportedSyntax(t *testing.T) {
	t.Parallel()
	const re2 = " (Causeway uses Go's RE2 regexp syntax, which has no lookarounds, backreferences, atomic groups or possessive quantifiers)"
	tests := []struct {
		name   string
		source string
		want   string
	}{
		{"negative lookahead", `@(?!admin).*`, "error parsing regexp: invalid or unsupported Perl syntax: `(?!`: lookahead assertions are not supported" + re2},
		{"lookahead", `@bot(?=_).*`, "error parsing regexp: invalid or unsupported Perl syntax: `(?=`: lookahead assertions are not supported" + re2},
		{"lookbehind", `@.*(?<=_bot):example\.com`, "error parsing regexp: invalid named capture: `(?<=_bot):example\\.com`: lookbehind assertions are not supported" + re2},
		{"negative lookbehind", `@.*(?<!admin):example\.com`, "error parsing regexp: invalid named capture: `(?<!admin):example\\.com`: lookbehind assertions are not supported" + re2},
		{"backreference", `@(a+)_\1:example\.com`, "error parsing regexp: invalid escape sequence: `\\1`: backreferences are not supported" + re2},
		{"named backreference", `@(?P<x>a+)_(?P=x)`, "error parsing regexp: invalid or unsupported Perl syntax: `(?P`: named backreferences are not supported" + re2},
		{"atomic group", `@(?>a+):example\.com`, "error parsing regexp: invalid or unsupported Perl syntax: `(?>`: atomic groups are not supported" + re2},
		{"possessive", `@a++:example\.com`, "error parsing regexp: invalid nested repetition operator: `++`: possessive quantifiers are not supported" + re2},
		{"Python end of text", `@bot_.*\Z`, "error parsing regexp: invalid escape sequence: `\\Z`: write \\z (end of text) instead of Python's \\Z"},
		{"plain syntax error", `@bot_(.*`, "error parsing regexp: missing closing ): `@bot_(.*`"},
		{"empty", ``, "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewNamespace(tt.source, true)
			if err == nil {
				t.Fatalf("NewNamespace(%q) succeeded", tt.source)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("NewNamespace(%q) error mismatch (-want +got):\n%s", tt.source, diff)
			}
		})
	}
}

func TestNamespaceMatchesWholeID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		source string
		input  string
		want   bool
	}{
		{"spec example", `@_irc_bridge_.*`, "@_irc_bridge_bob:example.org", true},
		{"no prefix match", `@_irc_`, "@_irc_bob:example.org", false},
		{"no substring match", `irc_.*`, "@irc_bob:example.org", false},
		{"no suffix match", `@irc_[a-z]+`, "@irc_bob:example.org", false},
		{"anchored mautrix regex", `^@whatsapp_.*:example\.com$`, "@whatsapp_123:example.com", true},
		{"anchored mautrix regex, other server", `^@whatsapp_.*:example\.com$`, "@whatsapp_123:example.com.evil", false},
		{"alternation is grouped", `@a|@b`, "@a:x", false},
		{"alternation still matches whole", `@a:x|@b:x`, "@b:x", true},
		{"flags stay inside", `(?i)@BOT:example\.com`, "@bot:example.com", true},
		{"newline does not end the ID", `@bot:example\.com$`, "@bot:example.com\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ns(tt.source, false).Matches(tt.input); got != tt.want {
				t.Errorf("%q matches %q = %v, want %v", tt.source, tt.input, got, tt.want)
			}
		})
	}
}

func TestRegistrationMatching(t *testing.T) {
	t.Parallel()
	load := func(file string) *Registration {
		t.Helper()
		path := filepath.Join("testdata", file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := ParseRegistration(path, data)
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	spec := load("spec-example.yaml")   // @_irc_bridge_.* exclusive, #_irc_bridge_.* not, no server part
	wa := load("mautrix-whatsapp.yaml") // users only, anchored to example.com
	hooks := load("extra-keys.yaml")    // non-exclusive users, rooms

	const local = "example.org"
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"sender user id", spec.SenderUserID(local) == "@_irc_bot:example.org", true},
		{"owns its sender", spec.OwnsUser("@_irc_bot:example.org", local), true},
		{"sender is exclusive", spec.IsExclusiveUser("@_irc_bot:example.org", local), true},
		{"sender is interesting", spec.InterestedInUser("@_irc_bot:example.org", local), true},
		{"owns a namespaced user", spec.OwnsUser("@_irc_bridge_alice:example.org", local), true},
		{"namespaced user is exclusive", spec.IsExclusiveUser("@_irc_bridge_alice:example.org", local), true},
		{"does not own a remote user its regex matches", spec.OwnsUser("@_irc_bridge_alice:evil.example", local), false},
		{"remote user is not exclusive", spec.IsExclusiveUser("@_irc_bridge_alice:evil.example", local), false},
		{"remote user is not interesting", spec.InterestedInUser("@_irc_bridge_alice:evil.example", local), false},
		{"remote user with the sender localpart", spec.OwnsUser("@_irc_bot:evil.example", local), false},
		{"does not own an ordinary user", spec.OwnsUser("@alice:example.org", local), false},
		{"substring is not enough", spec.OwnsUser("@x_irc_bridge_alice:example.org", local), false},
		{"malformed user ID", spec.OwnsUser("_irc_bridge_alice", local), false},
		{"no server name owns nothing", spec.OwnsUser("@_irc_bot:", ""), false},
		{"alias interest", spec.InterestedInAlias("#_irc_bridge_chan:example.org"), true},
		{"non-exclusive alias", spec.IsExclusiveAlias("#_irc_bridge_chan:example.org"), false},
		{"other alias", spec.InterestedInAlias("#general:example.org"), false},
		{"no room namespaces", spec.InterestedInRoom("!abc:example.org"), false},
		{"mautrix ghost", wa.OwnsUser("@whatsapp_4915123456789:example.com", "example.com"), true},
		{"mautrix bot", wa.IsExclusiveUser("@whatsappbot:example.com", "example.com"), true},
		{"mautrix sender", wa.IsExclusiveUser(wa.SenderUserID("example.com"), "example.com"), true},
		{"mautrix regex is for example.com only", wa.OwnsUser("@whatsapp_1:example.org", "example.org"), false},
		{"non-exclusive user is owned", hooks.OwnsUser("@hook_ci:example.com", "example.com"), true},
		{"non-exclusive user is not exclusive", hooks.IsExclusiveUser("@hook_ci:example.com", "example.com"), false},
		{"room interest", hooks.InterestedInRoom("!hooksABC:example.com"), true},
		{"room regex is whole", hooks.InterestedInRoom(id.RoomID("!hooksABC:example.com:8448")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}
