package storage_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

// related is an event of the relations tests: its type and, unless relType is "", the event it
// relates to and how.
type related struct {
	id      id.EventID
	room    id.RoomID
	evType  string
	relType string
	to      id.EventID
}

// insertRelated stores the events in order, at stream positions 1, 2, …
func insertRelated(t *testing.T, db *storage.DB, evs []related) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *storage.Tx) error {
		for _, room := range []id.RoomID{"!r:hs", "!other:hs"} {
			if err := tx.InsertRoom(ctx, storage.Room{ID: room, Version: "11", Creator: "@a:hs"}); err != nil {
				return err
			}
		}
		for i, e := range evs {
			content := map[string]any{}
			if e.relType != "" {
				content["m.relates_to"] = map[string]any{"rel_type": e.relType, "event_id": e.to}
			}
			pdu, err := json.Marshal(map[string]any{"type": e.evType, "content": content})
			if err != nil {
				return err
			}
			ev := &storage.Event{ID: e.id, RoomID: e.room, StreamPos: int64(i + 1), Depth: int64(i + 1), Type: e.evType, Sender: "@a:hs", PDU: pdu}
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

func relatedIDs(t *testing.T, db *storage.DB, q storage.RelationsQuery) []id.EventID {
	t.Helper()
	evs, err := db.Relations(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var out []id.EventID
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

func TestRelationsRecursive(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const room, other id.RoomID = "!r:hs", "!other:hs"
		const msg, reaction, vote = "m.room.message", "m.reaction", "org.example.vote"
		insertRelated(t, db, []related{
			{"$root", room, msg, "", ""},
			{"$t1", room, msg, "m.thread", "$root"},
			{"$like", room, reaction, "m.annotation", "$root"},
			{"$t1like", room, reaction, "m.annotation", "$t1"},
			{"$t1edit", room, msg, "m.replace", "$t1"},
			{"$editlike", room, reaction, "m.annotation", "$t1edit"},
			{"$vote", room, vote, "m.annotation", "$like"},
			{"$votelike", room, reaction, "m.annotation", "$vote"},
			{"$gone", room, msg, "m.thread", "$root"}, // redacted below
			{"$gonelike", room, reaction, "m.annotation", "$gone"},
			{"$elsewhere", other, reaction, "m.annotation", "$root"},
			{"$c1", room, msg, "m.reference", "$root"},
			{"$c2", room, msg, "m.reference", "$c1"},
			{"$c3", room, msg, "m.reference", "$c2"},
			{"$c4", room, msg, "m.reference", "$c3"},
			{"$c5", room, msg, "m.reference", "$c4"}, // four steps past the direct $c1
			{"$t2", room, msg, "m.thread", "$root"},
			{"$ping", room, msg, "m.reference", "$pong"}, // a cycle, as room v1 IDs could make
			{"$pong", room, msg, "m.reference", "$ping"},
		})
		if err := db.MarkRedacted(context.Background(), "$gone", "$redaction"); err != nil {
			t.Fatal(err)
		}
		all := []id.EventID{"$t2", "$c4", "$c3", "$c2", "$c1", "$votelike", "$vote", "$editlike", "$t1edit", "$t1like", "$like", "$t1"}
		for _, tc := range []struct {
			name string
			q    storage.RelationsQuery
			want []id.EventID
		}{
			{"direct only", storage.RelationsQuery{}, []id.EventID{"$t2", "$c1", "$like", "$t1"}},
			{"three steps further", storage.RelationsQuery{Depth: 3}, all},
			{"one step further", storage.RelationsQuery{Depth: 1}, []id.EventID{"$t2", "$c2", "$c1", "$vote", "$t1edit", "$t1like", "$like", "$t1"}},
			// The filter holds at every level: $t1like is an annotation, but of a thread reply.
			{"annotations through annotations", storage.RelationsQuery{Depth: 3, RelType: "m.annotation"}, []id.EventID{"$votelike", "$vote", "$like"}},
			{"reactions through reactions", storage.RelationsQuery{Depth: 3, RelType: "m.annotation", Type: reaction}, []id.EventID{"$like"}},
			{"thread replies", storage.RelationsQuery{Depth: 3, RelType: "m.thread"}, []id.EventID{"$t2", "$t1"}},
			{"a cycle ends at the event", storage.RelationsQuery{RelatesTo: "$ping", Depth: 3}, []id.EventID{"$pong"}},
			{"after a position", storage.RelationsQuery{Depth: 3, After: 6}, []id.EventID{"$vote", "$votelike", "$c1", "$c2", "$c3", "$c4", "$t2"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := tc.q
				q.RoomID, q.Limit = room, 100
				if q.RelatesTo == "" {
					q.RelatesTo = "$root"
				}
				q.Backward = q.After == 0
				if diff := cmp.Diff(tc.want, relatedIDs(t, db, q)); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}

		t.Run("pages", func(t *testing.T) {
			for _, backward := range []bool{true, false} {
				want := slices.Clone(all)
				if !backward {
					slices.Reverse(want)
				}
				var got []id.EventID
				q := storage.RelationsQuery{RoomID: room, RelatesTo: "$root", Depth: 3, Backward: backward, Limit: 5}
				for range len(all) {
					evs, err := db.Relations(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					for _, ev := range evs {
						got = append(got, ev.ID)
					}
					if len(evs) < q.Limit {
						break
					}
					q.Before, q.After = evs[len(evs)-1].StreamPos, evs[len(evs)-1].StreamPos
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("backward %v, pages of 5 (-want +got):\n%s", backward, diff)
				}
			}
		})
	})
}
