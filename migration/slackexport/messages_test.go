package slackexport

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{
			"https://files.slack.com/files-pri/T1-F1/download/a.png?t=xoxe-1234-5678",
			"https://files.slack.com/files-pri/T1-F1/download/a.png",
		},
		{
			"https://files.slack.com/files-pri/T1-F1/a.png?origin_team=T1&t=xoxe-1234",
			"https://files.slack.com/files-pri/T1-F1/a.png?origin_team=T1",
		},
		{"https://example.com/x?token=abc", "https://example.com/x"},
		{"https://example.com/x?auth=xoxp-123", "https://example.com/x"},
		{"https://example.com/x", "https://example.com/x"},
		{"https://example.com/x?a=1", "https://example.com/x?a=1"},
		{"::not a url?t=xoxe-1", "::not a url"},
	} {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	m := Message{
		TS: "1614610000.000400", User: "U1", Text: "the secret plan",
		Files: []File{{ID: "F1", URLPrivate: "https://files.slack.com/a?t=xoxe-1"}},
		Raw:   []byte(`{"text":"the secret plan","url_private":"https://files.slack.com/a?t=xoxe-1"}`),
		File:  "general/2021-03-01.json", Offset: 12,
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("importing", "message", m, "file", m.Files[0])
	out := buf.String()
	for _, secret := range []string{"secret plan", "xoxe", "url_private"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line %q contains %q", out, secret)
		}
	}
	for _, want := range []string{"message.ts=1614610000.000400", "file.file_id=F1", "general/2021-03-01.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("log line %q lacks %q", out, want)
		}
	}
}
