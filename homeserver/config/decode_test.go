package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeStrictErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "unknown top-level key",
			yaml: "listen: :8008\nserver_nmae: example.com\n",
			want: []string{`causeway.yaml:2: unknown key "server_nmae" (did you mean "server_name"?)`},
		},
		{
			name: "unknown nested key",
			yaml: "client_api:\n  legacy_r0_prefix: false\n  rate_limit:\n    enabled: true\n    brust: 5\n",
			want: []string{`causeway.yaml:5: unknown key "client_api.rate_limit.brust" (did you mean "burst"?)`},
		},
		{
			name: "unknown key without a near miss",
			yaml: "database:\n  password: secret\n",
			want: []string{`causeway.yaml:2: unknown key "database.password"`},
		},
		{
			name: "every unknown key is reported",
			yaml: "server_nmae: example.com\nlisten: :8008\nlog:\n  levle: debug\n  colour: true\nbridges: {}\n",
			want: []string{
				`causeway.yaml:1: unknown key "server_nmae" (did you mean "server_name"?)`,
				`causeway.yaml:4: unknown key "log.levle" (did you mean "level"?)`,
				`causeway.yaml:5: unknown key "log.colour"`,
				`causeway.yaml:6: unknown key "bridges"`,
			},
		},
		{
			name: "type errors name key and line, together with unknown keys",
			yaml: "database:\n  max_open_conns: lots\nclient_api:\n  legacy_r0_prefix: maybe\n  cors_allowed_origins: \"*\"\n  typo: 1\n",
			want: []string{
				"causeway.yaml:2: database.max_open_conns: cannot unmarshal !!str `lots` into int",
				"causeway.yaml:4: client_api.legacy_r0_prefix: cannot unmarshal !!str `maybe` into bool",
				"causeway.yaml:5: client_api.cors_allowed_origins: cannot unmarshal !!str `*` into []string",
				`causeway.yaml:6: unknown key "client_api.typo"`,
			},
		},
		{
			name: "section given a scalar",
			yaml: "database: postgres://db/causeway\n",
			want: []string{"causeway.yaml:1: database: cannot unmarshal !!str `postgre...` into config.Database"},
		},
		{
			name: "top level not a mapping",
			yaml: "- server_name\n",
			want: []string{"causeway.yaml:1: top level: cannot unmarshal !!seq into config.Config"},
		},
		{
			name: "syntax error",
			yaml: "server_name: example.com\nlisten: [\n",
			want: []string{`causeway.yaml:2: did not find expected node content`},
		},
		{
			name: "duplicate key",
			yaml: "listen: :1\nlog:\n  level: debug\n  level: info\nlisten: :2\n",
			want: []string{
				`causeway.yaml:4: key "log.level" appears again (first at line 3)`,
				`causeway.yaml:5: key "listen" appears again (first at line 1)`,
			},
		},
		{
			name: "second document",
			yaml: "listen: :1\n---\nlisten: :2\n",
			want: []string{`causeway.yaml:2: a second YAML document (after ---) is not allowed`},
		},
		{
			name: "unknown key inside a merged mapping",
			yaml: "x: &rl\n  enabled: true\n  burts: 5\nclient_api:\n  rate_limit:\n    <<: *rl\n",
			want: []string{
				`causeway.yaml:1: unknown key "x"`,
				`causeway.yaml:3: unknown key "client_api.rate_limit.burts" (did you mean "burst"?)`,
			},
		},
		{
			name: "keys may override merged keys",
			yaml: "client_api:\n  rate_limit:\n    <<: {enabled: true, burst: 5}\n    burst: 6\n    enabled: maybe\n",
			want: []string{"causeway.yaml:5: client_api.rate_limit.enabled: cannot unmarshal !!str `maybe` into bool"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			err := DecodeStrict("causeway.yaml", []byte(tt.yaml), &c)
			if diff := cmp.Diff(tt.want, errLines(err)); diff != "" {
				t.Errorf("DecodeStrict errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeStrictNothingToDecode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, yaml string }{
		{"empty", ""},
		{"blank lines", "\n\n"},
		{"comments only", "# nothing here yet\n"},
		{"null", "~\n"},
		{"empty document", "---\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			if err := DecodeStrict("causeway.yaml", []byte(tt.yaml), &c); err != nil {
				t.Fatalf("DecodeStrict(%q) = %v, want nil", tt.yaml, err)
			}
			if diff := cmp.Diff(Default(), c); diff != "" {
				t.Errorf("config changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeStrictKeepsDefaults(t *testing.T) {
	t.Parallel()
	c := Default()
	in := "server_name: example.com\nclient_api:\n  rate_limit:\n    burst: 7\ndatabase:\n"
	if err := DecodeStrict("causeway.yaml", []byte(in), &c); err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.ServerName = "example.com"
	want.ClientAPI.RateLimit.Burst = 7
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("decoded config mismatch (-want +got):\n%s", diff)
	}
}

// composed is how cmd/causeway adds other packages' sections to the file.
type composed struct {
	Config  `yaml:",inline"`
	Bridges struct {
		Slack struct {
			Token string `yaml:"token"`
		} `yaml:"slack"`
	} `yaml:"bridges"`
	Extra map[string]struct {
		Port int `yaml:"port"`
	} `yaml:"extra"`
	Jobs []struct {
		Name string `yaml:"name"`
	} `yaml:"jobs"`
}

func TestDecodeStrictComposed(t *testing.T) {
	t.Parallel()
	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		in := "server_name: example.com\nbridges:\n  slack:\n    token: xoxb\nextra:\n  a:\n    port: 1\njobs:\n  - name: retention\n"
		got := composed{Config: Default()}
		if err := DecodeStrict("causeway.yaml", []byte(in), &got); err != nil {
			t.Fatal(err)
		}
		if got.ServerName != "example.com" || got.Bridges.Slack.Token != "xoxb" || got.Extra["a"].Port != 1 ||
			len(got.Jobs) != 1 || got.Jobs[0].Name != "retention" || got.Listen != "127.0.0.1:8008" {
			t.Errorf("decoded %+v", got)
		}
	})
	t.Run("unknown keys", func(t *testing.T) {
		t.Parallel()
		in := "server_name: example.com\nbridges:\n  slack:\n    tokn: xoxb\n  discrod: {}\nextra:\n  a:\n    prot: 1\njobs:\n  - name: retention\n  - nmae: prune\nlog:\n  level: [debug]\n"
		got := composed{Config: Default()}
		err := DecodeStrict("causeway.yaml", []byte(in), &got)
		want := []string{
			`causeway.yaml:4: unknown key "bridges.slack.tokn" (did you mean "token"?)`,
			`causeway.yaml:5: unknown key "bridges.discrod"`,
			`causeway.yaml:8: unknown key "extra.a.prot" (did you mean "port"?)`,
			`causeway.yaml:11: unknown key "jobs[1].nmae" (did you mean "name"?)`,
			"causeway.yaml:13: log.level: cannot unmarshal !!seq into config.LogLevel",
		}
		if diff := cmp.Diff(want, errLines(err)); diff != "" {
			t.Errorf("DecodeStrict errors mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestDecodeStrictNeedsPointer(t *testing.T) {
	t.Parallel()
	err := DecodeStrict("causeway.yaml", []byte("listen: :1\n"), Default())
	if err == nil || !strings.Contains(err.Error(), "non-nil pointer") {
		t.Errorf("DecodeStrict into a value = %v, want a non-nil pointer error", err)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	names := []string{"server_name", "listen", "public_baseurl", "data_dir"}
	tests := []struct{ key, want string }{
		{"server_nmae", "server_name"},
		{"servername", "server_name"},
		{"lisen", "listen"},
		{"datadir", "data_dir"},
		{"port", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			if got := suggest(tt.key, names); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}
