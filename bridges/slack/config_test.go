package slack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSecret(t *testing.T) {
	t.Setenv("TEST_SECRET_TOKEN", "xoxb-env")
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte("xoxb-file\n"), 0o600)
	for _, tc := range []struct {
		s          Secret
		value, err string
		shown      string
	}{
		{"env:TEST_SECRET_TOKEN", "xoxb-env", "", "env:TEST_SECRET_TOKEN"},
		{Secret("file:" + file), "xoxb-file", "", "file:" + file},
		{"xoxb-inline", "xoxb-inline", "", "(secret)"},
		{"env:TEST_SECRET_UNSET", "", "not set", "env:TEST_SECRET_UNSET"},
		{"file:/nonexistent/token", "", "read secret", "file:/nonexistent/token"},
		{"", "", "must be set", "(secret)"},
	} {
		v, err := tc.s.Value()
		if v != tc.value || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: Value() = %q, %v; want %q, %q", tc.s, v, err, tc.value, tc.err)
		}
		if got := fmt.Sprint(tc.s); got != tc.shown {
			t.Errorf("%q prints as %q, want %q", tc.s, got, tc.shown)
		}
	}
}

func TestWorkspaceDefaults(t *testing.T) {
	var c Config
	c.Defaults()
	if err := yaml.Unmarshal([]byte("workspaces:\n  - name: acme\n    app_token: xapp-1\n    bot_token: xoxb-1\n"), &c); err != nil {
		t.Fatal(err)
	}
	w := c.Workspaces[0]
	if w.APIURL != "https://slack.com/api/" || !w.AllChannels() || !w.Relay || c.UsernameTemplate != "slack_{workspace}_{user}" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if errs := c.Validate(); len(errs) != 0 {
		t.Errorf("Validate: %v", errs)
	}
	if err := yaml.Unmarshal([]byte("workspaces:\n  - name: b\n    channels: [general, C0123]\n  - name: c\n    channels: all\n"), &c); err != nil {
		t.Fatal(err)
	}
	if got := c.Workspaces[0].Channels; len(got) != 2 || got[1] != "C0123" || !c.Workspaces[1].AllChannels() {
		t.Errorf("channels: %v, %v", got, c.Workspaces[1].Channels)
	}
	c.Workspaces = []WorkspaceConfig{w, w}
	c.UsernameTemplate = "slack_{user}"
	if errs := c.Validate(); len(errs) != 2 {
		t.Errorf("two workspaces named alike without {workspace} in the template: %v, want 2 problems", errs)
	}
}

func TestWorkspaceEventSource(t *testing.T) {
	t.Setenv("TEST_SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5")
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"socket mode", "app_token: xapp-1\n", ""},
		{"events over HTTP", "signing_secret: env:TEST_SLACK_SIGNING_SECRET\n", ""},
		{"neither", "", "workspaces[0].app_token: must be set (Socket Mode), or signing_secret for the Events API over HTTP"},
		{"both", "app_token: xapp-1\n    signing_secret: s\n", "workspaces[0]: set app_token (Socket Mode) or signing_secret (Events API over HTTP), not both"},
		{"unset variable", "signing_secret: env:TEST_UNSET_SIGNING_SECRET\n", "workspaces[0].signing_secret: environment variable TEST_UNSET_SIGNING_SECRET is not set"},
	} {
		var c Config
		c.Defaults()
		if err := yaml.Unmarshal([]byte("workspaces:\n  - name: acme\n    bot_token: xoxb-1\n    "+tc.yaml), &c); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		errs := c.Validate()
		switch {
		case tc.want == "" && len(errs) != 0:
			t.Errorf("%s: %v, want no problem", tc.name, errs)
		case tc.want != "" && (len(errs) != 1 || errs[0].Error() != tc.want):
			t.Errorf("%s: %v, want %q", tc.name, errs, tc.want)
		}
	}
}
