package appservice

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cmpOpts compares compiled regexes by their text and netip values by value.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b *regexp.Regexp) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.String() == b.String()
	}),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// ns builds a namespace for expected values in tables.
func ns(source string, exclusive bool) Namespace {
	n, err := NewNamespace(source, exclusive)
	if err != nil {
		panic(err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

func TestParseRegistrationFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want *Registration
	}{
		{
			file: "mautrix-whatsapp.yaml",
			want: &Registration{
				ID:              "whatsapp",
				URL:             "",
				ASToken:         "wa_as_6f1c0d2e9b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918",
				HSToken:         "wa_hs_0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f",
				SenderLocalpart: "Xq3kT9mZpL2vB7nR4cW8yH6jF1dS5aGe",
				Namespaces: Namespaces{Users: []Namespace{
					ns(`^@whatsappbot:example\.com$`, true),
					ns(`^@whatsapp_.*:example\.com$`, true),
				}},
				RateLimited:      ptr(false),
				ReceiveEphemeral: true,
				ReceiveToDevice:  true,
				MSC3202:          true,
				MSC4190:          true,
			},
		},
		{
			file: "appservice-irc.yaml",
			want: &Registration{
				ID:              "8d2b64a1c6f54e0a9f3b7c1e2d4a6b8c",
				URL:             "http://localhost:9999",
				ASToken:         "irc_as_1b3d5f7a9c2e4b6d8f0a2c4e6b8d0f1a",
				HSToken:         "irc_hs_4f8a2c6e0b9d1f3a5c7e9b2d4f6a8c0e",
				SenderLocalpart: "appservice-irc",
				Namespaces: Namespaces{
					Users:   []Namespace{ns(`@irc_.*:example\.org`, true)},
					Aliases: []Namespace{ns(`#irc_.*:example\.org`, true)},
				},
				RateLimited:      ptr(false),
				Protocols:        []string{"irc"},
				ReceiveEphemeral: true,
				ReceiveToDevice:  true,
			},
		},
		{
			file: "spec-example.yaml",
			want: &Registration{
				ID:              "IRC Bridge",
				URL:             "http://127.0.0.1:1234",
				ASToken:         "30c05ae90a248a4188e620216fa72e349803310ec83e2a77b34fe90be6081f46",
				HSToken:         "312df522183efd404ec1cd22d2ffa4bbc76a8c1ccf541dd692eef281356bb74e",
				SenderLocalpart: "_irc_bot",
				Namespaces: Namespaces{
					Users:   []Namespace{ns(`@_irc_bridge_.*`, true)},
					Aliases: []Namespace{ns(`#_irc_bridge_.*`, false)},
				},
			},
		},
		{
			file: "extra-keys.yaml",
			want: &Registration{
				ID:              "webhooks",
				URL:             "https://hooks.internal.example.com:8443/matrix",
				ASToken:         "hooks_as_secret",
				HSToken:         "hooks_hs_secret",
				SenderLocalpart: "webhooks",
				Namespaces: Namespaces{
					Users: []Namespace{ns(`@hook_[a-z0-9]+:example\.com`, false)},
					Rooms: []Namespace{ns(`!hooks[A-Za-z]+:example\.com`, false)},
				},
				ReceiveEphemeral: true,
				ReceiveToDevice:  true,
				IPRangeWhitelist: []netip.Prefix{
					netip.MustParsePrefix("10.0.0.0/8"),
					netip.MustParsePrefix("192.168.1.7/32"),
					netip.MustParsePrefix("fd00::/8"),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseRegistration(path, data)
			if err != nil {
				t.Fatalf("ParseRegistration: %v", err)
			}
			tt.want.File = path
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("ParseRegistration mismatch (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate of a parsed registration: %v", err)
			}
		})
	}
}

// minimal is a valid registration that error cases add to or break.
const minimal = `id: bridge
url: http://localhost:29318
as_token: as-secret
hs_token: hs-secret
sender_localpart: bridgebot
`

func TestParseRegistrationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string // the lines of the error, in order
	}{
		{
			name: "empty file",
			yaml: "",
			want: []string{"bridge.yaml: the file is empty"},
		},
		{
			name: "only a comment",
			yaml: "# nothing here\n",
			want: []string{"bridge.yaml: the file is empty"},
		},
		{
			name: "not YAML",
			yaml: "id: [bridge\n",
			want: []string{"bridge.yaml: yaml: line 1: did not find expected ',' or ']'"},
		},
		{
			name: "a list, not a mapping",
			yaml: "- id: bridge\n",
			want: []string{"bridge.yaml: must be a mapping of registration keys, got a list"},
		},
		{
			name: "every required field missing",
			yaml: "{}",
			want: []string{
				"bridge.yaml: id: missing (required)",
				"bridge.yaml: url: missing (required)",
				"bridge.yaml: as_token: missing (required)",
				"bridge.yaml: hs_token: missing (required)",
				"bridge.yaml: sender_localpart: missing (required)",
				"bridge.yaml: namespaces: missing (required)",
			},
		},
		{
			name: "url missing is not url null",
			yaml: strings.Replace(minimal, "url: http://localhost:29318\n", "", 1) + "namespaces: {}\n",
			want: []string{"bridge.yaml: url: missing (required)"},
		},
		{
			name: "null namespaces",
			yaml: minimal + "namespaces: null\n",
			want: []string{"bridge.yaml: namespaces: must be a mapping, got null"},
		},
		{
			name: "wrong types",
			yaml: `id: 123
url: [http://localhost]
as_token: true
hs_token: null
sender_localpart: bot
rate_limited: "false"
protocols: irc
receive_ephemeral: 1
namespaces:
  users: {regex: "@a_.*", exclusive: true}
  rooms:
    - regex: 42
      exclusive: "true"
`,
			want: []string{
				"bridge.yaml: id: must be a string, got the number 123 (quote it if it is meant as a string)",
				"bridge.yaml: url: must be a string, got a list",
				"bridge.yaml: as_token: must be a string, got the boolean true",
				"bridge.yaml: hs_token: must be a string, got null",
				`bridge.yaml: rate_limited: must be true or false, got the string "false"`,
				`bridge.yaml: protocols: must be a list of strings, got the string "irc"`,
				"bridge.yaml: receive_ephemeral: must be true or false, got the number 1 (quote it if it is meant as a string)",
				"bridge.yaml: namespaces.users: must be a list, got a mapping",
				`bridge.yaml: namespaces.rooms[0].exclusive: must be true or false, got the string "true"`,
				"bridge.yaml: namespaces.rooms[0].regex: must be a string, got the number 42 (quote it if it is meant as a string)",
			},
		},
		{
			name: "bad values",
			yaml: `id: ""
url: localhost:29318
as_token: ""
hs_token: "hs secret"
sender_localpart: "bot:example.com"
protocols: [""]
ip_range_whitelist: [10.0.0.0/33, not-an-ip]
namespaces: {}
`,
			want: []string{
				"bridge.yaml: id: must not be empty",
				`bridge.yaml: url: "localhost:29318" is not an http or https URL (use null for an application service that receives no pushes)`,
				"bridge.yaml: as_token: must not be empty",
				"bridge.yaml: hs_token: must not contain spaces or control characters",
				`bridge.yaml: sender_localpart: "bot:example.com" is not a valid user ID localpart`,
				"bridge.yaml: protocols[0]: must not be empty",
				`bridge.yaml: ip_range_whitelist[0]: netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`,
				`bridge.yaml: ip_range_whitelist[1]: ParseAddr("not-an-ip"): unable to parse IP`,
			},
		},
		{
			name: "bad regex",
			yaml: minimal + `namespaces:
  users:
    - regex: "@bridge_.*:example\\.com"
      exclusive: true
    - regex: "@bridge_[a-z:example\\.com"
      exclusive: true
`,
			want: []string{"bridge.yaml: namespaces.users[1].regex: error parsing regexp: missing closing ]: `[a-z:example\\.com`"},
		},
		{
			name: "empty regex",
			yaml: minimal + "namespaces:\n  rooms: [{regex: '', exclusive: false}]\n",
			want: []string{"bridge.yaml: namespaces.rooms[0].regex: must not be empty"},
		},
		{
			name: "lookahead",
			yaml: minimal + "namespaces:\n  users: [{regex: '@(?!admin).*:example\\.com', exclusive: true}]\n",
			want: []string{"bridge.yaml: namespaces.users[0].regex: error parsing regexp: invalid or unsupported Perl syntax: `(?!`: " +
				"lookahead assertions are not supported (Causeway uses Go's RE2 regexp syntax, which has no lookarounds, backreferences, atomic groups or possessive quantifiers)"},
		},
		{
			name: "namespace entry without its keys",
			yaml: minimal + "namespaces:\n  aliases:\n    - regex: '#a_.*'\n    - exclusive: true\n    - {}\n",
			want: []string{
				"bridge.yaml: namespaces.aliases[0].exclusive: missing (required)",
				"bridge.yaml: namespaces.aliases[1].regex: missing (required)",
				"bridge.yaml: namespaces.aliases[2].exclusive: missing (required)",
				"bridge.yaml: namespaces.aliases[2].regex: missing (required)",
			},
		},
		{
			name: "misspelt namespace kind",
			yaml: minimal + "namespaces:\n  user:\n    - {regex: '@a_.*', exclusive: true}\n",
			want: []string{"bridge.yaml: namespaces.user: unknown namespace (want users, aliases or rooms)"},
		},
		{
			name: "duplicate key",
			yaml: minimal + "namespaces: {}\nurl: null\n",
			want: []string{"bridge.yaml: url: appears more than once (line 7)"},
		},
		{
			name: "duplicate key in a namespace entry",
			yaml: minimal + "namespaces:\n  users:\n    - {regex: '@a_.*', exclusive: false, exclusive: true}\n",
			want: []string{"bridge.yaml: namespaces.users[0].exclusive: appears more than once (line 8)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, err := ParseRegistration("bridge.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseRegistration succeeded with %+v, want errors", reg)
			}
			if reg != nil {
				t.Errorf("ParseRegistration returned a registration along with its error")
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.File != "bridge.yaml" {
				t.Errorf("errors.As(*FieldError) = %v, %+v; want a FieldError naming bridge.yaml", err, fe)
			}
		})
	}
}

func TestParseRegistrationRegexErrorUnwraps(t *testing.T) {
	t.Parallel()
	_, err := ParseRegistration("bridge.yaml", []byte(minimal+"namespaces:\n  users: [{regex: '(a)\\1', exclusive: true}]\n"))
	var se *syntax.Error
	if !errors.As(err, &se) || se.Code != syntax.ErrInvalidEscape {
		t.Errorf("errors.As(%v, *syntax.Error) = %+v, want the regexp/syntax error", err, se)
	}
}

func TestParseRegistrationOptionalKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra string
		want  func(*Registration) any
		value any
	}{
		{"rate_limited absent defaults to true", "", func(r *Registration) any { return r.IsRateLimited() }, true},
		{"rate_limited null defaults to true", "rate_limited: null\n", func(r *Registration) any { return r.RateLimited == nil && r.IsRateLimited() }, true},
		{"rate_limited false", "rate_limited: false\n", func(r *Registration) any { return r.IsRateLimited() }, false},
		{"YAML 1.1 yes", "receive_ephemeral: yes\n", func(r *Registration) any { return r.ReceiveEphemeral }, true},
		{"YAML 1.1 on", "org.matrix.msc3202: on\n", func(r *Registration) any { return r.MSC3202 }, true},
		{"push_ephemeral alone", "push_ephemeral: true\n", func(r *Registration) any { return r.ReceiveEphemeral }, true},
		{"unstable key alone", "de.sorunome.msc2409.push_ephemeral: true\n", func(r *Registration) any { return r.ReceiveEphemeral }, true},
		{"any ephemeral key true wins", "receive_ephemeral: false\nde.sorunome.msc2409.push_ephemeral: true\n", func(r *Registration) any { return r.ReceiveEphemeral }, true},
		{"to-device follows ephemeral", "receive_ephemeral: true\n", func(r *Registration) any { return r.ReceiveToDevice }, true},
		{"no to-device without ephemeral", "org.matrix.msc3202: true\n", func(r *Registration) any { return r.ReceiveToDevice }, false},
		{"null flag is false", "io.element.msc4190: null\n", func(r *Registration) any { return r.MSC4190 }, false},
		{"url empty string means no pushes", "", func(r *Registration) any { return r.URL }, ""},
		{"null namespace list", "", func(r *Registration) any { return len(r.Namespaces.Users) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := strings.Replace(minimal, "url: http://localhost:29318", "url: ''", 1) + "namespaces:\n  users: null\n" + tt.extra
			reg, err := ParseRegistration("bridge.yaml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.value, tt.want(reg)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := func() *Registration {
		return &Registration{
			ID:              "slack",
			URL:             "http://causeway.internal/slack",
			ASToken:         "slack-as",
			HSToken:         "slack-hs",
			SenderLocalpart: "slackbot",
			Namespaces:      Namespaces{Users: []Namespace{ns(`@slack_.*:example\.com`, true)}},
		}
	}
	tests := []struct {
		name   string
		modify func(*Registration)
		want   string
	}{
		{name: "valid", modify: func(*Registration) {}},
		{
			name:   "regex not from NewNamespace",
			modify: func(r *Registration) { r.Namespaces.Users[0].Regex = regexp.MustCompile(`@slack_`) },
			want:   `registration "slack": namespaces.users[0].regex: not built with NewNamespace`,
		},
		{
			name: "several problems",
			modify: func(r *Registration) {
				r.File = "built-in slack"
				r.ID, r.URL, r.HSToken, r.SenderLocalpart = "", "unix:/run/slack.sock", "", "Slack Bot"
			},
			want: "built-in slack: id: must not be empty\n" +
				`built-in slack: url: "unix:/run/slack.sock" is not an http or https URL (use null for an application service that receives no pushes)` + "\n" +
				"built-in slack: hs_token: must not be empty\n" +
				`built-in slack: sender_localpart: "Slack Bot" is not a valid user ID localpart`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := good()
			tt.modify(reg)
			got := ""
			if err := reg.Validate(); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRegistrationNeverShowsTokens(t *testing.T) {
	t.Parallel()
	reg := &Registration{ID: "whatsapp", ASToken: "as-secret-value", HSToken: "hs-secret-value"}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("loaded", "appservice_id", reg)
	for _, s := range []string{fmt.Sprint(reg), fmt.Sprintf("%v %+v %s", reg, reg, reg), logged.String()} {
		if strings.Contains(s, "secret") {
			t.Errorf("output shows a token: %s", s)
		}
		if !strings.Contains(s, "whatsapp") {
			t.Errorf("output does not name the registration: %s", s)
		}
	}
}

func TestAllowsIP(t *testing.T) {
	t.Parallel()
	open := &Registration{}
	limited := &Registration{IPRangeWhitelist: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	tests := []struct {
		name string
		reg  *Registration
		addr string
		want bool
	}{
		{"no whitelist", open, "203.0.113.9", true},
		{"inside", limited, "10.1.2.3", true},
		{"v4-mapped v6 inside", limited, "::ffff:10.1.2.3", true},
		{"v6 loopback", limited, "::1", true},
		{"outside", limited, "203.0.113.9", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.reg.AllowsIP(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("AllowsIP(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}
