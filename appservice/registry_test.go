package appservice

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"
)

const serverName = "example.com"

// regFile is a registration file's content: id, tokens and sender, plus namespace YAML.
func regFile(regID, asToken, hsToken, sender, namespaces string) string {
	if namespaces == "" {
		namespaces = "{}"
	}
	return fmt.Sprintf("id: %s\nurl: http://localhost:29318\nas_token: %s\nhs_token: %s\nsender_localpart: %s\nnamespaces: %s\n",
		regID, asToken, hsToken, sender, namespaces)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(regs []*Registration) []string {
	out := []string{}
	for _, r := range regs {
		out = append(out, r.ID)
	}
	return out
}

// errLines splits a joined error into lines with dir removed from file names.
func errLines(err error, dir string) []string {
	if err == nil {
		return nil
	}
	return strings.Split(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), "\n")
}

func TestRegistryLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		files    map[string]string
		patterns []string // relative to the test's directory
		wantIDs  []string
		wantErr  []string
	}{
		{
			name: "glob expansion, sorted by id",
			files: map[string]string{
				"appservices/whatsapp.yaml": regFile("whatsapp", "wa-as", "wa-hs", "wabot", ""),
				"appservices/irc.yaml":      regFile("irc", "irc-as", "irc-hs", "ircbot", ""),
				"appservices/notes.txt":     "not a registration",
				"other/telegram.yaml":       regFile("telegram", "tg-as", "tg-hs", "tgbot", ""),
			},
			patterns: []string{"appservices/*.yaml", "other/telegram.yaml"},
			wantIDs:  []string{"irc", "telegram", "whatsapp"},
		},
		{
			name:     "a glob matching nothing in an existing directory",
			files:    map[string]string{"appservices/readme.md": "nothing"},
			patterns: []string{"appservices/*.yaml"},
			wantIDs:  []string{},
		},
		{
			name:     "a file named twice is read once",
			files:    map[string]string{"a.yaml": regFile("a", "a-as", "a-hs", "abot", "")},
			patterns: []string{"a.yaml", "*.yaml", "./a.yaml"},
			wantIDs:  []string{"a"},
		},
		{
			name:     "missing file",
			patterns: []string{"missing.yaml"},
			wantErr:  []string{"open missing.yaml: no such file or directory"},
		},
		{
			name:     "glob in a missing directory",
			patterns: []string{"appservicez/*.yaml"},
			wantErr:  []string{"appservicez/*.yaml: stat appservicez: no such file or directory"},
		},
		{
			name:     "bad glob",
			patterns: []string{"appservices/[.yaml"},
			wantErr:  []string{"appservices/[.yaml: syntax error in pattern"},
		},
		{
			name: "duplicate id and tokens across files",
			files: map[string]string{
				"a.yaml": regFile("bridge", "as-1", "hs-1", "abot", ""),
				"b.yaml": regFile("bridge", "as-1", "hs-1", "bbot", ""),
			},
			patterns: []string{"*.yaml"},
			wantErr: []string{
				`b.yaml: id: "bridge" is also the id of a.yaml`,
				"b.yaml: as_token: is also the as_token of a.yaml",
				"b.yaml: hs_token: is also the hs_token of a.yaml",
			},
		},
		{
			name: "as_token equal to another's hs_token",
			files: map[string]string{
				"a.yaml": regFile("a", "shared", "a-hs", "abot", ""),
				"b.yaml": regFile("b", "b-as", "shared", "bbot", ""),
			},
			patterns: []string{"*.yaml"},
			wantErr:  []string{"a.yaml: as_token: is the hs_token of b.yaml"},
		},
		{
			name:     "as_token equal to its own hs_token",
			files:    map[string]string{"a.yaml": regFile("a", "same", "same", "abot", "")},
			patterns: []string{"a.yaml"},
			wantErr:  []string{"a.yaml: as_token: is the same as its hs_token"},
		},
		{
			name: "sender clashes",
			files: map[string]string{
				"a.yaml": regFile("a", "a-as", "a-hs", "bot", ""),
				"b.yaml": regFile("b", "b-as", "b-hs", "bot", ""),
				"c.yaml": regFile("c", "c-as", "c-hs", "_a_c", ""),
				"d.yaml": regFile("d", "d-as", "d-hs", "dbot", "{users: [{regex: '@_a_.*:example\\.com', exclusive: true}]}"),
			},
			patterns: []string{"*.yaml"},
			wantErr: []string{
				"b.yaml: sender_localpart: @bot:example.com is also the sender of a.yaml",
				"c.yaml: sender_localpart: @_a_c:example.com is in an exclusive user namespace of d.yaml",
			},
		},
		{
			name: "identical exclusive namespaces",
			files: map[string]string{
				"a.yaml": regFile("a", "a-as", "a-hs", "abot", "{users: [{regex: '@irc_.*', exclusive: true}], aliases: [{regex: '#irc_.*', exclusive: false}]}"),
				"b.yaml": regFile("b", "b-as", "b-hs", "bbot", "{users: [{regex: '@irc_.*', exclusive: true}], aliases: [{regex: '#irc_.*', exclusive: false}]}"),
				"c.yaml": regFile("c", "c-as", "c-hs", "cbot", "{users: [{regex: '@irc_.*', exclusive: false}]}"),
			},
			patterns: []string{"*.yaml"},
			wantErr:  []string{`b.yaml: namespaces.users[0].regex: exclusive namespace "@irc_.*" is also claimed exclusively by a.yaml`},
		},
		{
			name: "every problem in every file at once",
			files: map[string]string{
				"a.yaml": regFile("a", "a-as", "a-hs", "abot", "{users: [{regex: '@(?!x).*', exclusive: true}]}"),
				"b.yaml": "id: b\n",
				"c.yaml": regFile("c", "c-as", "c-hs", "cbot", ""),
				"d.yaml": regFile("c", "d-as", "d-hs", "dbot", ""),
			},
			patterns: []string{"*.yaml", "missing.yaml"},
			wantErr: []string{
				"a.yaml: namespaces.users[0].regex: error parsing regexp: invalid or unsupported Perl syntax: `(?!`: lookahead assertions are not supported (Causeway uses Go's RE2 regexp syntax, which has no lookarounds, backreferences, atomic groups or possessive quantifiers)",
				"b.yaml: url: missing (required)",
				"b.yaml: as_token: missing (required)",
				"b.yaml: hs_token: missing (required)",
				"b.yaml: sender_localpart: missing (required)",
				"b.yaml: namespaces: missing (required)",
				"open missing.yaml: no such file or directory",
				`d.yaml: id: "c" is also the id of c.yaml`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			var patterns []string
			for _, p := range tt.patterns {
				patterns = append(patterns, filepath.Join(dir, p))
			}
			r := NewRegistry(serverName)
			err := r.Load(patterns)
			if diff := cmp.Diff(tt.wantErr, errLines(err, dir)); diff != "" {
				t.Errorf("Load error mismatch (-want +got):\n%s", diff)
			}
			wantIDs := tt.wantIDs
			if err != nil {
				wantIDs = []string{} // a failed Load leaves the empty set
			}
			if diff := cmp.Diff(wantIDs, ids(r.All())); diff != "" {
				t.Errorf("All mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRegistryReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.yaml": regFile("a", "a-as", "a-hs", "abot", ""),
		"b.yaml": regFile("b", "b-as", "b-hs", "bbot", ""),
	})
	r := NewRegistry(serverName)
	if err := r.Load([]string{filepath.Join(dir, "*.yaml")}); err != nil {
		t.Fatal(err)
	}
	slack := &Registration{ID: "slack", ASToken: "slack-as", HSToken: "slack-hs", SenderLocalpart: "slackbot",
		Namespaces: Namespaces{Users: []Namespace{ns(`@slack_.*:example\.com`, true)}}}
	if err := r.Register(slack); err != nil {
		t.Fatalf("Register: %v", err)
	}

	steps := []struct {
		name    string
		write   map[string]string
		remove  []string
		wantErr []string
		wantIDs []string
	}{
		{
			name:    "a file is added",
			write:   map[string]string{"c.yaml": regFile("c", "c-as", "c-hs", "cbot", "")},
			wantIDs: []string{"a", "b", "c", "slack"},
		},
		{
			name:    "a broken file keeps the old set",
			write:   map[string]string{"b.yaml": "id: b\nurl: null\n"},
			wantErr: []string{"b.yaml: as_token: missing (required)", "b.yaml: hs_token: missing (required)", "b.yaml: sender_localpart: missing (required)", "b.yaml: namespaces: missing (required)"},
			wantIDs: []string{"a", "b", "c", "slack"},
		},
		{
			name:    "a file that clashes with a programmatic registration keeps the old set",
			write:   map[string]string{"b.yaml": regFile("slack", "b-as", "b-hs", "bbot", "")},
			wantErr: []string{`registration "slack": id: "slack" is also the id of b.yaml`},
			wantIDs: []string{"a", "b", "c", "slack"},
		},
		{
			name:    "files removed, the programmatic registration stays",
			remove:  []string{"b.yaml", "c.yaml"},
			wantIDs: []string{"a", "slack"},
		},
	}
	for _, step := range steps {
		writeFiles(t, dir, step.write)
		for _, name := range step.remove {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		err := r.Reload()
		if diff := cmp.Diff(step.wantErr, errLines(err, dir)); diff != "" {
			t.Errorf("%s: Reload error mismatch (-want +got):\n%s", step.name, diff)
		}
		if diff := cmp.Diff(step.wantIDs, ids(r.All())); diff != "" {
			t.Errorf("%s: All mismatch (-want +got):\n%s", step.name, diff)
		}
	}
	if got, ok := r.ByASToken("slack-as"); !ok || got != slack {
		t.Errorf("ByASToken(slack-as) = %v, %v; want the registered pointer", got, ok)
	}
}

func TestRegistryRegister(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"discord.yaml": regFile("discord", "d-as", "d-hs", "discordbot",
		"{users: [{regex: '@discord_.*:example\\.com', exclusive: true}]}")})
	r := NewRegistry(serverName)
	if err := r.Load([]string{filepath.Join(dir, "discord.yaml")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		reg  *Registration
		want []string
	}{
		{
			name: "invalid on its own",
			reg:  &Registration{ID: "x", ASToken: "x-as", HSToken: "", SenderLocalpart: "xbot"},
			want: []string{`registration "x": hs_token: must not be empty`},
		},
		{
			name: "clashes with a file",
			reg: &Registration{ID: "discord", ASToken: "d-hs", HSToken: "y-hs", SenderLocalpart: "discord_bot",
				Namespaces: Namespaces{Users: []Namespace{ns(`@discord_.*:example\.com`, true)}}},
			want: []string{
				`registration "discord": id: "discord" is also the id of discord.yaml`,
				`registration "discord": namespaces.users[0].regex: exclusive namespace "@discord_.*:example\\.com" is also claimed exclusively by discord.yaml`,
				`registration "discord": as_token: is the hs_token of discord.yaml`,
				`registration "discord": sender_localpart: @discord_bot:example.com is in an exclusive user namespace of discord.yaml`,
			},
		},
		{
			name: "fits",
			reg:  &Registration{ID: "slack", ASToken: "s-as", HSToken: "s-hs", SenderLocalpart: "slackbot"},
		},
		{
			name: "cannot be registered twice",
			reg:  &Registration{ID: "slack", ASToken: "s2-as", HSToken: "s2-hs", SenderLocalpart: "slackbot2"},
			want: []string{`registration "slack": id: "slack" is also the id of registration "slack"`},
		},
	}
	for _, tt := range tests { // in order: each step sees the ones before
		err := r.Register(tt.reg)
		if diff := cmp.Diff(tt.want, errLines(err, dir)); diff != "" {
			t.Errorf("%s: Register error mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	if diff := cmp.Diff([]string{"discord", "slack"}, ids(r.All())); diff != "" {
		t.Errorf("All mismatch (-want +got):\n%s", diff)
	}
}

func TestRegistryLookups(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"whatsapp.yaml": regFile("whatsapp", "wa-as", "wa-hs", "wabot",
			`{users: [{regex: '@whatsapp_.*:example\.com', exclusive: true}], aliases: [{regex: '#whatsapp_.*:example\.com', exclusive: true}]}`),
		"logger.yaml": regFile("logger", "log-as", "log-hs", "logbot",
			`{users: [{regex: '@.*:example\.com', exclusive: false}], aliases: [{regex: '#.*', exclusive: false}], rooms: [{regex: '!.*', exclusive: false}]}`),
	})
	r := NewRegistry(serverName)
	if err := r.Load([]string{filepath.Join(dir, "*.yaml")}); err != nil {
		t.Fatal(err)
	}
	lookup := func(reg *Registration, ok bool) string {
		if !ok {
			return "<none>"
		}
		return reg.ID
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"by as_token", lookup(r.ByASToken("wa-as")), "whatsapp"},
		{"by hs_token is not by as_token", lookup(r.ByASToken("wa-hs")), "<none>"},
		{"by a token prefix", lookup(r.ByASToken("wa-a")), "<none>"},
		{"by empty token", lookup(r.ByASToken("")), "<none>"},
		{"by id", lookup(r.ByID("logger")), "logger"},
		{"by unknown id", lookup(r.ByID("telegram")), "<none>"},
		{"exclusive ghost", lookup(r.ExclusiveUserOwner("@whatsapp_123:example.com")), "whatsapp"},
		{"exclusive sender", lookup(r.ExclusiveUserOwner("@logbot:example.com")), "logger"},
		{"non-exclusive user has no owner", lookup(r.ExclusiveUserOwner("@alice:example.com")), "<none>"},
		{"remote user has no owner", lookup(r.ExclusiveUserOwner("@whatsapp_123:elsewhere.org")), "<none>"},
		{"exclusive alias", lookup(r.ExclusiveAliasOwner("#whatsapp_group:example.com")), "whatsapp"},
		{"non-exclusive alias", lookup(r.ExclusiveAliasOwner("#general:example.com")), "<none>"},
		{"interested in ghost", ids(r.InterestedInUser("@whatsapp_123:example.com")), []string{"logger", "whatsapp"}},
		{"interested in a local user", ids(r.InterestedInUser("@alice:example.com")), []string{"logger"}},
		{"nobody is interested in a remote user", ids(r.InterestedInUser("@whatsapp_1:elsewhere.org")), []string{}},
		{"interested in alias", ids(r.InterestedInAlias("#whatsapp_group:example.com")), []string{"logger", "whatsapp"}},
		{"interested in room", ids(r.InterestedInRoom(id.RoomID("!abc:example.com"))), []string{"logger"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRegistryConcurrentReload reads while another goroutine reloads, under -race. Each
// generation of files has tokens naming the generation, so a reader that saw a half-loaded
// set would find registrations from two generations at once.
func TestRegistryConcurrentReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(gen int) {
		writeFiles(t, dir, map[string]string{
			"a.yaml": regFile("a", fmt.Sprintf("a-as-%d", gen), fmt.Sprintf("a-hs-%d", gen), "abot", ""),
			"b.yaml": regFile("b", fmt.Sprintf("b-as-%d", gen), fmt.Sprintf("b-hs-%d", gen), "bbot", ""),
		})
	}
	write(0)
	r := NewRegistry(serverName)
	if err := r.Load([]string{filepath.Join(dir, "*.yaml")}); err != nil {
		t.Fatal(err)
	}

	var (
		done     atomic.Bool
		wg       sync.WaitGroup
		failures atomic.Int64
	)
	for range 4 {
		wg.Go(func() {
			for !done.Load() {
				all := r.All()
				if len(all) != 2 {
					failures.Add(1)
					continue
				}
				genA := strings.TrimPrefix(all[0].ASToken, "a-as-")
				genB := strings.TrimPrefix(all[1].ASToken, "b-as-")
				if genA != genB {
					failures.Add(1)
				}
				if got, ok := r.ByASToken(all[1].ASToken); ok && got.ID != "b" {
					failures.Add(1)
				}
				r.ExclusiveUserOwner("@abot:example.com")
			}
		})
	}
	for gen := 1; gen <= 50; gen++ {
		write(gen)
		if err := r.Reload(); err != nil {
			t.Errorf("Reload %d: %v", gen, err)
		}
		if gen%10 == 0 { // a failing reload in between changes nothing
			writeFiles(t, dir, map[string]string{"b.yaml": "id: b\n"})
			if err := r.Reload(); err == nil {
				t.Errorf("Reload of a broken file succeeded")
			}
		}
	}
	done.Store(true)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("readers saw %d inconsistent sets", n)
	}
	if got, ok := r.ByASToken("a-as-50"); !ok || got.ID != "a" {
		t.Errorf("after the last reload, ByASToken(a-as-50) = %v, %v", got, ok)
	}
}
