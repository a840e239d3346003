package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// searchAnswer is the body of POST /search as a client reads it.
type searchAnswer struct {
	SearchCategories struct {
		RoomEvents struct {
			Count      int      `json:"count"`
			Highlights []string `json:"highlights"`
			Results    []struct {
				Rank    float64      `json:"rank"`
				Result  *event.Event `json:"result"`
				Context *struct {
					Start       string `json:"start"`
					End         string `json:"end"`
					ProfileInfo map[id.UserID]struct {
						DisplayName string `json:"displayname"`
					} `json:"profile_info"`
					EventsBefore []*event.Event `json:"events_before"`
					EventsAfter  []*event.Event `json:"events_after"`
				} `json:"context"`
			} `json:"results"`
			State  map[id.RoomID][]*event.Event `json:"state"`
			Groups map[string]map[string]struct {
				NextBatch string       `json:"next_batch"`
				Order     int          `json:"order"`
				Results   []id.EventID `json:"results"`
			} `json:"groups"`
			NextBatch string `json:"next_batch"`
		} `json:"room_events"`
	} `json:"search_categories"`
}

// ids lists the event IDs of the results, in order.
func (a searchAnswer) ids() []id.EventID {
	out := []id.EventID{}
	for _, r := range a.SearchCategories.RoomEvents.Results {
		out = append(out, r.Result.ID)
	}
	return out
}

// search runs POST /search through mautrix's client (which has no method for it) with the
// criteria of room_events and, unless "", a next_batch.
func search(t *testing.T, cli *mautrix.Client, criteria map[string]any, nextBatch string) searchAnswer {
	t.Helper()
	query := map[string]string{}
	if nextBatch != "" {
		query["next_batch"] = nextBatch
	}
	var a searchAnswer
	body := map[string]any{"search_categories": map[string]any{"room_events": criteria}}
	if _, err := cli.MakeRequest(context.Background(), http.MethodPost, cli.BuildURLWithQuery(mautrix.ClientURLPath{"v3", "search"}, query), body, &a); err != nil {
		t.Fatalf("search %v: %v", criteria, err)
	}
	return a
}

// searchAll follows next_batch from the first page to the last and returns every result in
// the order received, and the ranks.
func searchAll(t *testing.T, cli *mautrix.Client, criteria map[string]any) ([]id.EventID, []float64) {
	t.Helper()
	var ids []id.EventID
	var ranks []float64
	next := ""
	for range 20 {
		a := search(t, cli, criteria, next)
		ids = append(ids, a.ids()...)
		for _, r := range a.SearchCategories.RoomEvents.Results {
			ranks = append(ranks, r.Rank)
		}
		if next = a.SearchCategories.RoomEvents.NextBatch; next == "" {
			return ids, ranks
		}
	}
	t.Fatalf("search %v: still a next_batch after 20 pages", criteria)
	return nil, nil
}

func TestSearch(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		var found []id.EventID // the walrus messages bob may find, oldest first

		// Shared history: what alice wrote before bob joined is his to find.
		main := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.UserID}})
		early := mustSend(t, alice, main, "The walrus and the carpenter")
		mustJoin(t, bob, string(main))
		triple := mustSend(t, bob, main, "walrus walrus walrus")
		tools := mustSend(t, alice, main, "a carpenter's tools")
		large := mustSend(t, alice, main, "Walruses are large")
		found = append(found, early, triple, large)

		// Joined-only history: not what came before he joined.
		joinedOnly := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat",
			InitialState: []*event.Event{{Type: event.StateHistoryVisibility, StateKey: new(string), Content: event.Content{Raw: map[string]any{"history_visibility": "joined"}}}}})
		mustSend(t, alice, joinedOnly, "walrus before bob joined")
		mustJoin(t, bob, string(joinedOnly))
		found = append(found, mustSend(t, alice, joinedOnly, "walrus after bob joined"))

		// A room he left: what came before he left, and nothing after.
		left := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(left))
		beforeLeave := mustSend(t, alice, left, "walrus before bob left")
		found = append(found, beforeLeave)
		if _, err := bob.LeaveRoom(ctx, left); err != nil {
			t.Fatal(err)
		}
		mustSend(t, alice, left, "walrus after bob left")

		// A world-readable room he never joined is not his to search.
		never := mustCreateRoom(t, carol, &mautrix.ReqCreateRoom{Preset: "public_chat",
			InitialState: []*event.Event{{Type: event.StateHistoryVisibility, StateKey: new(string), Content: event.Content{Raw: map[string]any{"history_visibility": "world_readable"}}}}})
		mustSend(t, carol, never, "walrus nobody showed bob")

		newestFirst := slices.Clone(found)
		slices.Reverse(newestFirst)
		recent := search(t, bob, map[string]any{"search_term": "walrus", "order_by": "recent"}, "")
		if diff := cmp.Diff(newestFirst, recent.ids()); diff != "" {
			t.Errorf("bob's walrus search, newest first (-want +got):\n%s", diff)
		}
		if got := recent.SearchCategories.RoomEvents; got.Count < len(found) || !slices.Equal(got.Highlights, []string{"walrus", "walruses"}) {
			t.Errorf("count %d, highlights %q; want at least %d and [walrus walruses]", got.Count, got.Highlights, len(found))
		}

		byRank := search(t, bob, map[string]any{"search_term": "walrus"}, "")
		results := byRank.SearchCategories.RoomEvents.Results
		if len(results) != len(found) || results[0].Result.ID != triple {
			t.Fatalf("by rank (the default): %v, want %d results with %s (walrus thrice) first", byRank.ids(), len(found), triple)
		}
		for i := 1; i < len(results); i++ {
			if results[i].Rank > results[i-1].Rank {
				t.Errorf("rank %d (%g) is above rank %d (%g)", i, results[i].Rank, i-1, results[i-1].Rank)
			}
		}
		if got := byRank.ids(); !cmp.Equal(sorted(got), sorted(found)) {
			t.Errorf("by rank found %v, want %v in some order", got, found)
		}

		// Every page of two, in either order, until next_batch runs out: each result once.
		for _, order := range []string{"recent", "rank"} {
			got, ranks := searchAll(t, bob, map[string]any{"search_term": "walrus", "order_by": order, "filter": map[string]any{"limit": 2}})
			want := newestFirst
			if order == "rank" {
				want = byRank.ids()
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pages of two by %s (-want +got):\n%s", order, diff)
			}
			for i := 1; order == "rank" && i < len(ranks); i++ {
				if ranks[i] > ranks[i-1] {
					t.Errorf("ranks across pages %v are not descending", ranks)
				}
			}
		}

		// Context, profiles, prefixes and case.
		ctxAnswer := search(t, bob, map[string]any{"search_term": "CARPENT", "order_by": "recent",
			"event_context": map[string]any{"before_limit": 1, "after_limit": 1, "include_profile": true}}, "")
		if diff := cmp.Diff([]id.EventID{tools, early}, ctxAnswer.ids()); diff != "" {
			t.Fatalf("carpenter search (-want +got):\n%s", diff)
		}
		if got := ctxAnswer.SearchCategories.RoomEvents.Highlights; !slices.Equal(got, []string{"carpenter"}) {
			t.Errorf("highlights = %q, want [carpenter]", got)
		}
		c := ctxAnswer.SearchCategories.RoomEvents.Results[0].Context
		if c == nil || len(c.EventsBefore) != 1 || c.EventsBefore[0].ID != triple || len(c.EventsAfter) != 1 || c.EventsAfter[0].ID != large || c.Start == "" || c.End == "" {
			t.Fatalf("context of %s = %+v; want %s before and %s after, with tokens", tools, c, triple, large)
		}
		if _, ok := c.ProfileInfo[alice.UserID]; !ok || len(c.ProfileInfo) != 2 {
			t.Errorf("profile_info = %+v, want alice's and bob's", c.ProfileInfo)
		}
		// The context's start token pages /messages back from there: bob's join, then early.
		if msgs := ts.messages(t, bob, main, url.Values{"from": {c.Start}, "dir": {"b"}, "limit": {"2"}}); len(msgs.Chunk) != 2 || msgs.Chunk[1].ID != early {
			t.Errorf("/messages from the context's start = %v, want bob's join and %s", eventIDs(msgs.Chunk), early)
		}

		// State, groups and filters.
		grouped := search(t, bob, map[string]any{"search_term": "walrus", "order_by": "recent", "include_state": true,
			"groupings": map[string]any{"group_by": []any{map[string]any{"key": "room_id"}, map[string]any{"key": "sender"}}},
			"filter":    map[string]any{"limit": 3}}, "")
		re := grouped.SearchCategories.RoomEvents
		if create := re.State[joinedOnly]; len(re.State) != 3 || !slices.ContainsFunc(create, func(e *event.Event) bool { return e.Type == event.StateCreate }) {
			t.Errorf("state of %d rooms; want the three rooms of the results, with their create events", len(re.State))
		}
		if g := re.Groups["room_id"][string(left)]; g.Order != 1 || !slices.Equal(g.Results, []id.EventID{beforeLeave}) || g.NextBatch == "" {
			t.Errorf("the left room's group = %+v, want first, with %s and a next_batch", g, beforeLeave)
		}
		if g := re.Groups["sender"][string(bob.UserID)]; g.Order != 0 || g.Results != nil {
			t.Errorf("bob has a sender group %+v in the three newest, which alice sent", g)
		}
		inMain := search(t, bob, map[string]any{"search_term": "walrus", "order_by": "recent"}, re.Groups["room_id"][string(main)].NextBatch)
		if diff := cmp.Diff([]id.EventID{triple, early}, inMain.ids()); diff != "" {
			t.Errorf("the main room's group next_batch (-want +got):\n%s", diff)
		}
		for name, tc := range map[string]struct {
			criteria map[string]any
			want     []id.EventID
		}{
			"senders":     {map[string]any{"filter": map[string]any{"senders": []id.UserID{bob.UserID}}}, []id.EventID{triple}},
			"rooms":       {map[string]any{"filter": map[string]any{"rooms": []id.RoomID{left, never}}}, []id.EventID{beforeLeave}},
			"not rooms":   {map[string]any{"filter": map[string]any{"not_rooms": []id.RoomID{main, left}}}, found[3:4]},
			"type glob":   {map[string]any{"filter": map[string]any{"types": []string{"m.room.*"}, "senders": []id.UserID{bob.UserID}}}, []id.EventID{triple}},
			"not a topic": {map[string]any{"keys": []string{"content.topic"}}, []id.EventID{}},
		} {
			tc.criteria["search_term"] = "walrus"
			tc.criteria["order_by"] = "recent"
			if diff := cmp.Diff(tc.want, search(t, bob, tc.criteria, "").ids()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		}
		nameEvent, err := alice.SendStateEvent(ctx, main, event.StateRoomName, "", map[string]any{"name": "Pinniped club"})
		if err != nil {
			t.Fatal(err)
		}
		if got := search(t, bob, map[string]any{"search_term": "pinniped", "keys": []string{"content.name"}}, "").ids(); !slices.Equal(got, []id.EventID{nameEvent.EventID}) {
			t.Errorf("a search of room names = %v, want %s", got, nameEvent.EventID)
		}
		if got := search(t, bob, map[string]any{"search_term": "pinniped", "keys": []string{"content.body"}}, "").ids(); len(got) != 0 {
			t.Errorf("a search of bodies found the name: %v", got)
		}

		// Full-text query syntax in the term is only punctuation between words.
		for term, want := range map[string][]id.EventID{
			`walrus" OR "*`:       {}, // OR is a word, and no walrus message has one starting so
			`walrus" AND "*`:      {early},
			`"walrus*"`:           newestFirst,
			`walrus & !carpenter`: {early},
			`NEAR(walrus tools)`:  {},
			`'":*()^-+|&!<>`:      {},
			``:                    {},
			`walrus:* | large`:    {large},
		} {
			if got := search(t, bob, map[string]any{"search_term": term, "order_by": "recent"}, "").ids(); !cmp.Equal(want, got) {
				t.Errorf("term %q found %v, want %v", term, got, want)
			}
		}

		// A redacted event is found no more.
		if _, err := bob.RedactEvent(ctx, main, triple); err != nil {
			t.Fatal(err)
		}
		if got := search(t, bob, map[string]any{"search_term": "walrus"}, "").ids(); slices.Contains(got, triple) || len(got) != len(found)-1 {
			t.Errorf("after the redaction of %s: %v", triple, got)
		}
		// Carol finds only her own room's.
		if got := search(t, carol, map[string]any{"search_term": "walrus"}, "").ids(); len(got) != 1 {
			t.Errorf("carol found %v, want the one message of her room", got)
		}

		path := "/_matrix/client/v3/search"
		roomEvents := func(criteria map[string]any) map[string]any {
			return map[string]any{"search_categories": map[string]any{"room_events": criteria}}
		}
		for _, tc := range []struct {
			name    string
			query   string
			body    any
			errcode string
		}{
			{"not JSON", "", rawBody("{"), "M_NOT_JSON"},
			{"not an object", "", rawBody("[]"), "M_BAD_JSON"},
			{"no categories", "", map[string]any{}, "M_MISSING_PARAM"},
			{"categories not an object", "", map[string]any{"search_categories": "room_events"}, "M_BAD_JSON"},
			{"an unknown category", "", map[string]any{"search_categories": map[string]any{"room_messages": map[string]any{"search_term": "x"}}}, "M_INVALID_PARAM"},
			{"room_events not an object", "", map[string]any{"search_categories": map[string]any{"room_events": []any{}}}, "M_BAD_JSON"},
			{"no search term", "", roomEvents(map[string]any{}), "M_MISSING_PARAM"},
			{"a search term not a string", "", roomEvents(map[string]any{"search_term": 5}), "M_BAD_JSON"},
			{"an unknown key", "", roomEvents(map[string]any{"search_term": "x", "keys": []string{"content.url"}}), "M_INVALID_PARAM"},
			{"an unknown order", "", roomEvents(map[string]any{"search_term": "x", "order_by": "oldest"}), "M_INVALID_PARAM"},
			{"an unknown grouping", "", roomEvents(map[string]any{"search_term": "x", "groupings": map[string]any{"group_by": []any{map[string]any{"key": "type"}}}}), "M_INVALID_PARAM"},
			{"a negative context", "", roomEvents(map[string]any{"search_term": "x", "event_context": map[string]any{"before_limit": -1}}), "M_INVALID_PARAM"},
			{"a bad filter", "", roomEvents(map[string]any{"search_term": "x", "filter": map[string]any{"senders": []string{"bob"}}}), "M_INVALID_PARAM"},
			{"a made-up next_batch", "?next_batch=garbage", roomEvents(map[string]any{"search_term": "x"}), "M_INVALID_PARAM"},
			{"a next_batch of the other order", "?next_batch=" + url.QueryEscape(re.NextBatch), roomEvents(map[string]any{"search_term": "walrus"}), "M_INVALID_PARAM"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodPost, path+tc.query, bob.AccessToken, tc.body), http.StatusBadRequest, tc.errcode)
			})
		}
	})
}

func sorted(ids []id.EventID) []id.EventID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
