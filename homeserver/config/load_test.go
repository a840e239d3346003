package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeConfig writes content to causeway.yaml in a new temporary directory
// and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "causeway.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	t.Parallel()
	const file = `server_name: file.example.com
listen: ":9000"
data_dir: /srv/file
database:
  url: postgres://file-db/causeway
registration:
  mode: closed
log:
  level: debug
`
	fromFile := Default()
	fromFile.ServerName = "file.example.com"
	fromFile.Listen = ":9000"
	fromFile.DataDir = "/srv/file"
	fromFile.Database.URL = "postgres://file-db/causeway"
	fromFile.Registration.Mode = RegistrationClosed
	fromFile.Log.Level = LogDebug

	fromEnv := fromFile
	fromEnv.ServerName = "env.example.com"
	fromEnv.Listen = "0.0.0.0:8448"
	fromEnv.DataDir = "/srv/env"
	fromEnv.Database.URL = "sqlite:///srv/env/causeway.db"
	fromEnv.Registration.Mode = RegistrationOpen

	allEnv := map[string]string{
		"CAUSEWAY_SERVER_NAME":  "env.example.com",
		"CAUSEWAY_LISTEN":       "0.0.0.0:8448",
		"CAUSEWAY_DATA_DIR":     "/srv/env",
		"CAUSEWAY_DATABASE_URL": "sqlite:///srv/env/causeway.db",
		"CAUSEWAY_REGISTRATION": "open",
	}
	envOnly := Default()
	envOnly.ServerName = "env.example.com"
	envOnly.Listen = "0.0.0.0:8448"
	envOnly.DataDir = "/srv/env"
	envOnly.Database.URL = "sqlite:///srv/env/causeway.db"
	envOnly.Registration.Mode = RegistrationOpen

	tests := []struct {
		name   string
		file   string // written to a temporary causeway.yaml
		getenv func(string) string
		want   Config
	}{
		{"file", file, nil, fromFile},
		{"empty environment", file, env(nil), fromFile},
		{"environment wins over file", file, env(allEnv), fromEnv},
		{"empty variable is unset", file, env(map[string]string{"CAUSEWAY_SERVER_NAME": ""}), fromFile},
		{"environment without file keys", "", env(allEnv), envOnly},
		{"empty file", "", nil, Default()},
		{"comments only", "# all defaults\n", nil, Default()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Load(writeConfig(t, tt.file), tt.getenv)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		getenv func(string) string
		want   []string
	}{
		{
			name: "unknown key names file and line",
			file: "listen: :8008\n\nserver_nmae: example.com\n",
			want: []string{`causeway.yaml:3: unknown key "server_nmae" (did you mean "server_name"?)`},
		},
		{
			name: "validation reports every problem",
			file: "server_name: \"bad name\"\nregistration:\n  mode: x\nrooms:\n  default_version: \"0\"\n",
			want: []string{
				`server_name: must be a hostname, IPv4 address or [IPv6] literal with an optional :port, like example.com or matrix.example.com:8448 (got "bad name")`,
				`registration.mode: must be one of closed, token, open (got "x")`,
				`rooms.default_version: must be a room version from "1" to "12" (got "0")`,
			},
		},
		{
			name:   "problem from the environment says so",
			file:   "registration:\n  mode: open\n",
			getenv: env(map[string]string{"CAUSEWAY_REGISTRATION": "x", "CAUSEWAY_LISTEN": "nope"}),
			want: []string{
				`listen: must be host:port, like "127.0.0.1:8008" or ":8008" (got "nope") (set by CAUSEWAY_LISTEN)`,
				`registration.mode: must be one of closed, token, open (got "x") (set by CAUSEWAY_REGISTRATION)`,
			},
		},
		{
			name:   "environment overrides before validation",
			file:   "registration:\n  mode: x\n",
			getenv: env(map[string]string{"CAUSEWAY_REGISTRATION": "open"}),
			want:   nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.file)
			got, err := Load(path, tt.getenv)
			var lines []string
			for _, l := range errLines(err) {
				lines = append(lines, strings.ReplaceAll(l, filepath.Dir(path)+string(filepath.Separator), ""))
			}
			if diff := cmp.Diff(tt.want, lines); diff != "" {
				t.Errorf("Load() errors mismatch (-want +got):\n%s", diff)
			}
			if err != nil {
				if diff := cmp.Diff(Config{}, got); diff != "" {
					t.Errorf("Load() returned a config with its error (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestLoadExplicitMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(%q) = %v, want an fs.ErrNotExist error", path, err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Load(%q) = %q, want the path in the message", path, err)
	}
}

// These change the working directory, so they cannot run in parallel.
func TestLoadDefaultPath(t *testing.T) {
	t.Run("absent gives defaults", func(t *testing.T) {
		t.Chdir(t.TempDir())
		got, err := Load("", nil)
		if err != nil {
			t.Fatalf("Load(\"\") = %v", err)
		}
		if diff := cmp.Diff(Default(), got); diff != "" {
			t.Errorf("Load(\"\") mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("absent with environment", func(t *testing.T) {
		t.Chdir(t.TempDir())
		got, err := Load("", env(map[string]string{"CAUSEWAY_SERVER_NAME": "example.org"}))
		if err != nil {
			t.Fatalf("Load(\"\") = %v", err)
		}
		want := Default()
		want.ServerName = "example.org"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Load(\"\") mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("present is read", func(t *testing.T) {
		t.Chdir(filepath.Dir(writeConfig(t, "server_name: example.net\n")))
		got, err := Load("", nil)
		if err != nil {
			t.Fatalf("Load(\"\") = %v", err)
		}
		want := Default()
		want.ServerName = "example.net"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Load(\"\") mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("present and wrong", func(t *testing.T) {
		t.Chdir(filepath.Dir(writeConfig(t, "sever_name: example.net\n")))
		_, err := Load("", nil)
		want := []string{`causeway.yaml:1: unknown key "sever_name" (did you mean "server_name"?)`}
		if diff := cmp.Diff(want, errLines(err)); diff != "" {
			t.Errorf("Load(\"\") errors mismatch (-want +got):\n%s", diff)
		}
	})
}
