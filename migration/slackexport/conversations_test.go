package slackexport

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConversations(t *testing.T) {
	t.Parallel()
	e := openFixture(t)
	want := []Conversation{
		{
			ID: "C01GENERAL", Name: "general", Kind: KindChannel,
			Members: []string{"U01ALICE", "U02BOB", "U03CAROL", "U05GITHUB"},
			Topic:   "Company-wide announcements", Purpose: "This channel is for workspace-wide communication.",
			Created: time.Unix(1600000000, 0).UTC(), Creator: "U01ALICE", General: true,
			Folder: "general", Source: "channels.json",
		},
		{
			ID: "C02RANDOM", Name: "random", Kind: KindChannel,
			Members: []string{"U01ALICE", "U02BOB"}, Purpose: "Non-work banter",
			Created: time.Unix(1600000001, 0).UTC(), Creator: "U02BOB", Archived: true,
			Folder: "random", Source: "channels.json",
		},
		{
			ID: "G01SECRET", Name: "secret-plans", Kind: KindPrivate,
			Members: []string{"U01ALICE", "U03CAROL"}, Topic: "Shh",
			Created: time.Unix(1605000000, 0).UTC(), Creator: "U01ALICE",
			Folder: "secret-plans", Source: "groups.json",
		},
		{
			ID: "G02MPIM", Name: "mpdm-alice--bob--carol-1", Kind: KindGroupDM,
			Members: []string{"U01ALICE", "U02BOB", "U03CAROL"},
			Topic:   "Group messaging", Purpose: "Group messaging with: @alice @bob @carol",
			Created: time.Unix(1607000000, 0).UTC(), Creator: "U01ALICE",
			Folder: "mpdm-alice--bob--carol-1", Source: "mpims.json",
		},
		{
			ID: "D01ALICEBOB", Kind: KindDM, Members: []string{"U01ALICE", "U02BOB"},
			Created: time.Unix(1606000000, 0).UTC(),
			Folder:  "D01ALICEBOB", Source: "dms.json",
		},
	}
	if diff := cmp.Diff(want, e.Conversations()); diff != "" {
		t.Errorf("Conversations (-want +got):\n%s", diff)
	}

	ids := func(cs []Conversation) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		got  []Conversation
		want []string
	}{
		{"Channels", e.Channels(), []string{"C01GENERAL", "C02RANDOM"}},
		{"Groups", e.Groups(), []string{"G01SECRET"}},
		{"MPIMs", e.MPIMs(), []string{"G02MPIM"}},
		{"DMs", e.DMs(), []string{"D01ALICEBOB"}},
	} {
		if diff := cmp.Diff(tt.want, ids(tt.got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if c, ok := e.Conversation("D01ALICEBOB"); !ok || c.Kind != KindDM {
		t.Errorf("Conversation(D01ALICEBOB) = %+v, %v", c, ok)
	}
}

func TestConversationKindsAndFolders(t *testing.T) {
	t.Parallel()
	e := mustExport(t, []entry{
		{name: "users.json", body: `[{"id":"U1"},{"id":"U2"}]`},
		// A private channel listed in channels.json, and a channel listed twice.
		{name: "channels.json", body: `[{"id":"C1","name":"pub"},{"id":"C2","name":"priv","is_private":true},{"id":"C1","name":"dup"}]`},
		// Old exports list group DMs in groups.json too.
		{name: "groups.json", body: `[{"id":"G1","name":"mpdm-a--b-1","is_mpim":true,"members":["U1","U2"]}]`},
		{name: "mpims.json", body: `[{"id":"G1","name":"mpdm-a--b-1","members":["U1","U2"]}]`},
		// A third-party export naming the folder by ID.
		{name: "C1/2021-01-01.json", body: `[{"type":"message","ts":"1609459200.000100","user":"U1","text":"hi"}]`},
	}, Limits{})
	got := map[string]Conversation{}
	for _, c := range e.Conversations() {
		got[c.ID] = c
	}
	if len(got) != 3 || len(e.Conversations()) != 3 {
		t.Fatalf("Conversations = %+v, want C1, C2, G1 once each", e.Conversations())
	}
	if got["C1"].Name != "pub" || got["C1"].Folder != "C1" {
		t.Errorf("C1 = %+v, want name pub (first entry wins) and folder C1 (ID fallback)", got["C1"])
	}
	if got["C2"].Kind != KindPrivate || got["C2"].Folder != "priv" {
		t.Errorf("C2 = %+v, want private with folder priv", got["C2"])
	}
	if got["G1"].Kind != KindGroupDM || got["G1"].Source != "groups.json" {
		t.Errorf("G1 = %+v, want a group DM from groups.json", got["G1"])
	}
}

func TestOrgUsers(t *testing.T) {
	t.Parallel()
	e := mustExport(t, []entry{
		{name: "channels.json", body: `[]`},
		{name: "org_users.json", body: `[{"id":"W1","name":"grid-user","team_id":"T1"}]`},
	}, Limits{})
	if u, ok := e.User("W1"); !ok || u.Name != "grid-user" {
		t.Errorf("User(W1) = %+v, %v; want it from org_users.json", u, ok)
	}

	both := mustExport(t, []entry{
		{name: "channels.json", body: `[]`},
		{name: "users.json", body: `[{"id":"U1","name":"from-users"}]`},
		{name: "org_users.json", body: `[{"id":"U1","name":"from-org"},{"id":"W2","name":"org-only"}]`},
	}, Limits{})
	var names []string
	for _, u := range both.Users() {
		names = append(names, u.Name)
	}
	if diff := cmp.Diff([]string{"from-users", "org-only"}, names); diff != "" {
		t.Errorf("Users with both files (-want +got):\n%s", diff)
	}
}
