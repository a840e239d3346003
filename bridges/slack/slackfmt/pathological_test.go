package slackfmt

import (
	"strings"
	"testing"
	"time"
)

// TestPathologicalInput: messages built to defeat the parser (Slack allows
// 40,000 characters) still convert quickly.
func TestPathologicalInput(t *testing.T) {
	t.Parallel()
	const n = 40000
	inputs := map[string]string{
		"unclosed bold":     strings.Repeat("*a ", n/3),
		"unclosed mixed":    strings.Repeat("*_~a ", n/5),
		"nested markers":    strings.Repeat("*_~", n/6) + "x" + strings.Repeat("~_*", n/6),
		"unclosed angle":    strings.Repeat("<a ", n/3),
		"unclosed backtick": "`" + strings.Repeat("a ", n/2),
		"colons":            strings.Repeat(":a", n/2),
		"fences":            strings.Repeat("```", n/3),
		"quote lines":       strings.Repeat("&gt; *x*\n", n/9),
		"closer at end":     strings.Repeat("*a ", n/3) + "b*",
	}
	for name, in := range inputs {
		start := time.Now()
		_ = MrkdwnToMatrix(in, fakeSlack{})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: MrkdwnToMatrix took %v", name, d)
		}
	}
	htmlInputs := map[string]string{
		"deep nesting": strings.Repeat("<b><i><ul><li>", 2000) + "x",
		"many links":   strings.Repeat(`<a href="https://e.com">x</a>`, 2000),
	}
	for name, in := range htmlInputs {
		start := time.Now()
		_ = HTMLToSlack(in, fakeMatrix{}, SlackOptions{})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: HTMLToSlack took %v", name, d)
		}
	}
}
