package slackexport

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestStats(t *testing.T) {
	t.Parallel()
	e := openFixture(t)
	s, err := e.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Stats.Err = %v", err)
	}
	type counts struct {
		ID                                           string
		DayFiles                                     int
		Messages, Replies, Threads, Files, Reactions int64
	}
	var got []counts
	for _, c := range s.Conversations {
		got = append(got, counts{c.Conversation.ID, c.DayFiles, c.Messages, c.Replies, c.Threads, c.Files, c.Reactions})
	}
	want := []counts{
		{"C01GENERAL", 3, 10, 3, 1, 1, 4},
		{"C02RANDOM", 1, 2, 0, 0, 0, 0},
		{"G01SECRET", 1, 1, 0, 0, 0, 0},
		{"G02MPIM", 1, 1, 0, 0, 1, 0},
		{"D01ALICEBOB", 1, 2, 0, 0, 0, 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per-conversation counts (-want +got):\n%s", diff)
	}
	general := s.Conversations[0]
	if !general.First.Equal(time.Unix(1614556800, 100_000)) || !general.Last.Equal(time.Unix(1614729600, 500_000)) {
		t.Errorf("general spans %v to %v", general.First, general.Last)
	}
	if s.Users != 5 || s.Bots != 1 || s.DeletedUsers != 1 || s.Messages != 16 || s.Threads != 1 || s.Replies != 3 || s.Files != 2 {
		t.Errorf("totals = %+v", s)
	}
	if !s.First.Equal(time.Unix(1613347200, 100_000)) || !s.Last.Equal(time.Unix(1614988800, 100_000)) {
		t.Errorf("export spans %v to %v", s.First, s.Last)
	}
	var unknown []string
	for _, u := range s.UnknownUsers {
		unknown = append(unknown, u.ID)
	}
	if diff := cmp.Diff([]string{"U98GHOST", "U99EXTERNAL"}, unknown); diff != "" {
		t.Errorf("UnknownUsers (-want +got):\n%s", diff)
	}
	if len(e.UnknownUsers()) != 0 {
		t.Error("Stats changed Export.UnknownUsers")
	}
	if s.Size != e.Size() || len(s.UnlistedFolders) != 0 {
		t.Errorf("Size = %d, UnlistedFolders = %v", s.Size, s.UnlistedFolders)
	}
}

func TestStatsReportsEveryProblem(t *testing.T) {
	t.Parallel()
	e := mustExport(t, []entry{
		{name: "users.json", body: `[{"id":"U1"}]`},
		{name: "channels.json", body: `[{"id":"C1","name":"bad"},{"id":"C2","name":"good"}]`},
		{name: "bad/2021-01-01.json", body: `[{"ts":"1609459200.000100"},{"ts":`},
		{name: "good/2021-01-01.json", body: dayBody("1609459200.000100")},
		{name: "orphan/2021-01-01.json", body: dayBody("1609459200.000100")},
	}, Limits{})
	s, err := e.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(s.Conversations[0].Err, ErrMalformed) || s.Conversations[1].Err != nil || s.Conversations[1].Messages != 1 {
		t.Errorf("Conversations = %+v", s.Conversations)
	}
	if !errors.Is(s.Err(), ErrMalformed) {
		t.Errorf("Stats.Err = %v", s.Err())
	}
	if diff := cmp.Diff([]string{"orphan"}, s.UnlistedFolders, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("UnlistedFolders (-want +got):\n%s", diff)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.Stats(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stats(cancelled) = %v", err)
	}
}
