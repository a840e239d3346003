package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestWriteExampleLoadsAsDefaults(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteExample(&buf); err != nil {
		t.Fatalf("WriteExample() = %v", err)
	}
	path := filepath.Join(t.TempDir(), "causeway.yaml")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load(example) = %v\n%s", err, buf.String())
	}
	if diff := cmp.Diff(Default(), got); diff != "" {
		t.Errorf("Load(example) mismatch (-want +got):\n%s", diff)
	}
}

// keyPaths lists the dotted path of every key in the YAML form of v.
func keyPaths(t *testing.T, v any) []string {
	t.Helper()
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(path, n.Content[i].Value)
			paths = append(paths, p)
			walk(n.Content[i+1], p)
		}
	}
	walk(&n, "")
	return paths
}

func TestEveryKeyDocumented(t *testing.T) {
	t.Parallel()
	paths := keyPaths(t, Default())
	for _, p := range paths {
		if strings.TrimSpace(keyDocs[p]) == "" {
			t.Errorf("key %q has no entry in keyDocs", p)
		}
	}
	for p := range keyDocs {
		if !slices.Contains(paths, p) {
			t.Errorf("keyDocs documents %q, which is not a key", p)
		}
	}
	for _, o := range envOverrides {
		if !slices.Contains(paths, o.key) {
			t.Errorf("%s overrides %q, which is not a key", o.name, o.key)
		}
	}
}

func TestWriteExampleComments(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteExample(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	// Every key line is directly below a comment line.
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "- ") {
			continue
		}
		if i == 0 || !strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#") {
			t.Errorf("line %d %q has no comment above it", i+1, l)
		}
	}
	for _, o := range envOverrides {
		if !strings.Contains(buf.String(), "# Environment variable "+o.name+" overrides it.") {
			t.Errorf("example does not mention %s", o.name)
		}
	}
}

func TestWriteCommented(t *testing.T) {
	t.Parallel()
	type section struct {
		Token string `yaml:"token"`
		Port  int    `yaml:"port"`
	}
	v := struct {
		Slack   section `yaml:"slack"`
		Discord section `yaml:"discord"`
	}{Slack: section{Port: 1}}
	var buf bytes.Buffer
	err := WriteCommented(&buf, v, map[string]string{
		"slack":       "The Slack bridge.",
		"slack.token": "Bot token.\nKeep it secret.",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# The Slack bridge.
slack:
  # Bot token.
  # Keep it secret.
  token: ""
  port: 1

discord:
  token: ""
  port: 0
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("WriteCommented mismatch (-want +got):\n%s", diff)
	}
}
