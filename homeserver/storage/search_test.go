package storage_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
	"causeway/migrations"
)

// searchFixture is one event of the search tests: its type, state key (nil for a message),
// sender and content.
type searchFixture struct {
	id       id.EventID
	room     id.RoomID
	typ      string
	stateKey *string
	sender   id.UserID
	content  map[string]any
}

func searchFixtures() []searchFixture {
	empty := ""
	msg := func(evID id.EventID, room id.RoomID, sender id.UserID, body any) searchFixture {
		return searchFixture{evID, room, "m.room.message", nil, sender, map[string]any{"msgtype": "m.text", "body": body}}
	}
	return []searchFixture{
		msg("$fox", "!a:hs", "@alice:hs", "The quick brown fox jumps over the lazy dog"),
		msg("$dog", "!a:hs", "@bob:hs", "a lazy dog; quick!"),
		{"$name", "!a:hs", "m.room.name", &empty, "@alice:hs", map[string]any{"name": "Quick thinkers"}},
		{"$topic", "!a:hs", "m.room.topic", &empty, "@alice:hs", map[string]any{"topic": "Foxes and hounds",
			"m.topic": map[string]any{"m.text": []any{map[string]any{"body": "<b>Foxes</b>", "mimetype": "text/html"}, map[string]any{"body": "Füchse"}}}}},
		msg("$number", "!a:hs", "@alice:hs", 42),
		msg("$triple", "!a:hs", "@bob:hs", "quick quick quick"),
		{"$notname", "!a:hs", "m.room.name", strPtr("x"), "@alice:hs", map[string]any{"name": "quick with a state key"}},
		msg("$elsewhere", "!b:hs", "@alice:hs", "quick in another room"),
	}
}

func strPtr(s string) *string { return &s }

// insertSearchFixtures stores the fixtures in their order, as stream positions 1, 2, ...
func insertSearchFixtures(t *testing.T, db *storage.DB) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *storage.Tx) error {
		for _, room := range []id.RoomID{"!a:hs", "!b:hs"} {
			if err := tx.InsertRoom(ctx, storage.Room{ID: room, Version: "11", Creator: "@alice:hs"}); err != nil {
				return err
			}
		}
		for i, f := range searchFixtures() {
			pdu, err := json.Marshal(map[string]any{"type": f.typ, "sender": f.sender, "room_id": f.room, "content": f.content, "state_key": f.stateKey})
			if err != nil {
				return err
			}
			ev := &storage.Event{ID: f.id, RoomID: f.room, StreamPos: int64(i + 1), Depth: int64(i + 1), Type: f.typ,
				StateKey: f.stateKey, Sender: f.sender, PDU: pdu}
			if err := tx.InsertEvent(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func hitIDs(hits []storage.SearchHit) []id.EventID {
	out := []id.EventID{}
	for _, h := range hits {
		out = append(out, h.Event.ID)
	}
	return out
}

func TestSearchEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		insertSearchFixtures(t, db)
		search := func(q storage.SearchQuery) []id.EventID {
			t.Helper()
			if q.RoomIDs == nil {
				q.RoomIDs = []id.RoomID{"!a:hs"}
			}
			if q.Limit == 0 {
				q.Limit = 10
			}
			hits, err := db.SearchEvents(ctx, q)
			if err != nil {
				t.Fatalf("search %+v: %v", q, err)
			}
			return hitIDs(hits)
		}
		terms := storage.SearchTokens
		for _, tc := range []struct {
			name string
			q    storage.SearchQuery
			want []id.EventID
		}{
			{"newest first", storage.SearchQuery{Terms: terms("quick")}, []id.EventID{"$triple", "$name", "$dog", "$fox"}},
			{"every term, as a prefix", storage.SearchQuery{Terms: terms("QUI fox")}, []id.EventID{"$fox"}},
			{"the topic and its plain m.topic", storage.SearchQuery{Terms: terms("füchse hounds")}, []id.EventID{"$topic"}},
			{"not its html", storage.SearchQuery{Terms: terms("b")}, []id.EventID{"$fox"}},
			{"one key", storage.SearchQuery{Terms: terms("quick"), Keys: []string{storage.SearchKeyName}}, []id.EventID{"$name"}},
			{"senders", storage.SearchQuery{Terms: terms("quick"), Senders: []id.UserID{"@bob:hs"}}, []id.EventID{"$triple", "$dog"}},
			{"not senders", storage.SearchQuery{Terms: terms("quick"), NotSenders: []id.UserID{"@bob:hs"}}, []id.EventID{"$name", "$fox"}},
			{"types", storage.SearchQuery{Terms: terms("quick"), Types: []string{"m.room.name"}}, []id.EventID{"$name"}},
			{"not types", storage.SearchQuery{Terms: terms("quick"), NotTypes: []string{"m.room.message"}}, []id.EventID{"$name"}},
			{"two rooms", storage.SearchQuery{Terms: terms("another"), RoomIDs: []id.RoomID{"!a:hs", "!b:hs"}}, []id.EventID{"$elsewhere"}},
			{"after a position", storage.SearchQuery{Terms: terms("quick"), After: &storage.SearchPosition{StreamPos: 3}}, []id.EventID{"$dog", "$fox"}},
			{"a page", storage.SearchQuery{Terms: terms("quick"), Limit: 2}, []id.EventID{"$triple", "$name"}},
			{"query syntax is only words", storage.SearchQuery{Terms: terms(`"quick" OR fox* AND (NOT dog) NEAR/2 ^x:y -z 'a`)}, []id.EventID{}},
			{"operator words are words", storage.SearchQuery{Terms: terms("AND")}, []id.EventID{"$topic"}},
			{"punctuation only", storage.SearchQuery{Terms: terms(`"*^:()'&|!<->`)}, []id.EventID{}},
			{"no rooms", storage.SearchQuery{Terms: terms("quick"), RoomIDs: []id.RoomID{}}, []id.EventID{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if diff := cmp.Diff(tc.want, search(tc.q)); diff != "" {
					t.Errorf("results (-want +got):\n%s", diff)
				}
			})
		}

		q := storage.SearchQuery{Terms: terms("quick"), RoomIDs: []id.RoomID{"!a:hs"}, ByRank: true, Limit: 10}
		hits, err := db.SearchEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 4 || hits[0].Event.ID != "$triple" || hits[0].Rank <= hits[3].Rank {
			t.Errorf("by rank: %v, ranks %v; want four, the thrice-quick one first with a higher rank", hitIDs(hits), ranks(hits))
		}
		from := hits[0].Position()
		q.After, q.Limit = &from, 2
		if page, err := db.SearchEvents(ctx, q); err != nil || !cmp.Equal(hitIDs(page), hitIDs(hits)[1:3]) {
			t.Errorf("by rank, after the first: %v, %v; want %v", hitIDs(page), err, hitIDs(hits)[1:3])
		}
		from = hits[2].Position()
		if page, err := db.SearchEvents(ctx, q); err != nil || !cmp.Equal(hitIDs(page), hitIDs(hits)[3:]) {
			t.Errorf("by rank, after the third: %v, %v; want %v", hitIDs(page), err, hitIDs(hits)[3:])
		}
		if n, err := db.CountSearchHits(ctx, q); err != nil || n != 4 {
			t.Errorf("count = %d, %v; want 4 whatever the page", n, err)
		}

		if err := db.InTx(ctx, func(tx *storage.Tx) error { return tx.MarkRedacted(ctx, "$dog", "$redaction") }); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]id.EventID{"$triple", "$name", "$fox"}, search(storage.SearchQuery{Terms: terms("quick")})); diff != "" {
			t.Errorf("after redacting $dog (-want +got):\n%s", diff)
		}
	})
}

func ranks(hits []storage.SearchHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, strconv.FormatFloat(h.Rank, 'g', 4, 64))
	}
	return out
}

// TestSearchBackfill indexes events stored before migration 0018 as that migration runs: on a
// database holding the fixtures it drops the index and runs the migration's file again.
func TestSearchBackfill(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			dsn := storagetest.SQLitePath(t)
			if driver == "postgres" {
				dsn = storagetest.PostgresURL(t)
			}
			db, err := storage.Open(ctx, driver, dsn, 2, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			insertSearchFixtures(t, db)
			if err := db.InTx(ctx, func(tx *storage.Tx) error { return tx.MarkRedacted(ctx, "$dog", "$redaction") }); err != nil {
				t.Fatal(err)
			}
			undo := `DROP TABLE event_search`
			if driver == "sqlite" {
				undo = `DROP TABLE event_search_text; ` + undo
			}
			migration, err := migrations.FS.ReadFile("homeserver/0018_search." + driver + ".sql")
			if err != nil {
				t.Fatal(err)
			}
			for _, stmt := range []string{undo, string(migration)} {
				if _, err := db.SQL().Exec(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
			defer db.Close()
			for _, tc := range []struct {
				term string
				want []id.EventID
			}{
				{"quick", []id.EventID{"$triple", "$name", "$fox"}},
				{"füchse hounds", []id.EventID{"$topic"}},
				{"b", []id.EventID{"$fox"}},
				{"42", []id.EventID{}},
			} {
				hits, err := db.SearchEvents(ctx, storage.SearchQuery{Terms: storage.SearchTokens(tc.term), RoomIDs: []id.RoomID{"!a:hs"}, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, hitIDs(hits)); diff != "" {
					t.Errorf("%q after the backfill (-want +got):\n%s", tc.term, diff)
				}
			}
		})
	}
}
