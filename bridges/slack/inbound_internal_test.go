package slack

import (
	"testing"

	slackapi "github.com/slack-go/slack"
)

func TestMessageParts(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    slackapi.Msg
		want int
	}{
		{"text", slackapi.Msg{Text: "hi"}, 1},
		{"files without text", slackapi.Msg{Files: []slackapi.File{{ID: "F1"}, {ID: "F2"}}}, 2},
		{"text and a file", slackapi.Msg{Text: "look", Files: []slackapi.File{{ID: "F1"}}}, 2},
		{"thread broadcast", slackapi.Msg{Text: "to all", SubType: "thread_broadcast"}, 2},
		{"nothing", slackapi.Msg{}, 0},
	} {
		if got := messageParts(&tc.m); got != tc.want {
			t.Errorf("%s: %d parts, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSlackMicros(t *testing.T) {
	for ts, want := range map[string]int64{
		"1700000000.000100": 1_700_000_000_000_100,
		"1700000000.1":      1_700_000_000_100_000,
		"1700000000":        1_700_000_000_000_000,
		"garbage":           0,
	} {
		if got := slackMicros(ts); got != want {
			t.Errorf("slackMicros(%q) = %d, want %d", ts, got, want)
		}
	}
}
