package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// relationsPage is one answer of /relations or /threads.
type relationsPage struct {
	Chunk     []*event.Event `json:"chunk"`
	NextBatch string         `json:"next_batch"`
}

func eventIDs(evs []*event.Event) []id.EventID {
	var out []id.EventID
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

func TestRelationsAndThreads(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.UserID}})
		mustJoin(t, bob, string(roomID))
		send := func(cli *mautrix.Client, evType event.Type, content map[string]any) id.EventID {
			t.Helper()
			resp, err := cli.SendMessageEvent(ctx, roomID, evType, content)
			if err != nil {
				t.Fatal(err)
			}
			return resp.EventID
		}
		inThread := func(root id.EventID, body string) map[string]any {
			return map[string]any{"msgtype": "m.text", "body": body, "m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": root}}
		}
		root := mustSend(t, alice, roomID, "a question")
		r1 := send(bob, event.EventMessage, inThread(root, "first answer"))
		like := send(bob, event.EventReaction, map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": root, "key": "👍"}})
		mid := ts.sync(t, alice, url.Values{}).NextBatch
		other := mustSend(t, bob, roomID, "another question")
		send(alice, event.EventMessage, inThread(other, "an answer elsewhere"))
		r2 := send(alice, event.EventMessage, inThread(root, "second answer"))
		heart := send(alice, event.EventReaction, map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": root, "key": "❤️"}})
		edit := send(alice, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "* a better question",
			"m.new_content": map[string]any{"msgtype": "m.text", "body": "a better question"}, "m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": root}})
		send(bob, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "a reply, not a relation", "m.relates_to": map[string]any{"m.in_reply_to": map[string]any{"event_id": root}}})
		forged := send(bob, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "* bob's edit of alice's question",
			"m.new_content": map[string]any{"msgtype": "m.text", "body": "not alice's"}, "m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": root}})
		ref := send(bob, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "see above", "m.relates_to": map[string]any{"rel_type": "m.reference", "event_id": root}})
		checkBundle(t, alice, roomID, root, r2, edit, ref)
		// The same aggregations come with the event in /messages.
		msgs, err := alice.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range msgs.Chunk {
			if ev.ID == root && (ev.Unsigned.Relations == nil || ev.Unsigned.Relations.Thread == nil || ev.Unsigned.Relations.Thread.Count != 2) {
				t.Errorf("the root in /messages lacks its thread summary: %+v", ev.Unsigned.Relations)
			}
		}

		get := func(cli *mautrix.Client, path string, query url.Values) relationsPage {
			t.Helper()
			r := ts.do(t, http.MethodGet, "/_matrix/client/v1/rooms/"+url.PathEscape(string(roomID))+path+"?"+query.Encode(), cli.AccessToken, nil)
			wantOK(t, r)
			var p relationsPage
			r.decode(t, &p)
			return p
		}
		rel := "/relations/" + url.PathEscape(string(root))
		if got := eventIDs(get(alice, rel, nil).Chunk); !slices.Equal(got, []id.EventID{ref, forged, edit, heart, r2, like, r1}) {
			t.Errorf("all relations of the root = %v, want newest first: ref, forged, edit, heart, r2, like, r1", got)
		}
		if got := eventIDs(get(alice, rel+"/m.thread", url.Values{"dir": {"f"}}).Chunk); !slices.Equal(got, []id.EventID{r1, r2}) {
			t.Errorf("thread replies forwards = %v", got)
		}
		// A /sync token bounds the pages too: from it forwards, and back to it.
		if got := eventIDs(get(alice, rel, url.Values{"dir": {"f"}, "from": {mid}}).Chunk); !slices.Equal(got, []id.EventID{r2, heart, edit, forged, ref}) {
			t.Errorf("relations after a sync token = %v, want r2, heart, edit, forged, ref", got)
		}
		if got := eventIDs(get(alice, rel, url.Values{"to": {mid}}).Chunk); !slices.Equal(got, []id.EventID{ref, forged, edit, heart, r2}) {
			t.Errorf("relations back to a sync token = %v", got)
		}
		if got := eventIDs(get(alice, rel+"/m.annotation/m.reaction", nil).Chunk); !slices.Equal(got, []id.EventID{heart, like}) {
			t.Errorf("reactions = %v", got)
		}
		first := get(alice, rel, url.Values{"limit": {"4"}})
		second := get(alice, rel, url.Values{"limit": {"2"}, "from": {first.NextBatch}})
		if !slices.Equal(eventIDs(first.Chunk), []id.EventID{ref, forged, edit, heart}) || !slices.Equal(eventIDs(second.Chunk), []id.EventID{r2, like}) || second.NextBatch == "" {
			t.Errorf("pages of 2: %v then %v (next %q)", eventIDs(first.Chunk), eventIDs(second.Chunk), second.NextBatch)
		}
		if _, err := bob.RedactEvent(ctx, roomID, like); err != nil {
			t.Fatal(err)
		}
		if got := eventIDs(get(alice, rel+"/m.annotation", nil).Chunk); !slices.Equal(got, []id.EventID{heart}) {
			t.Errorf("reactions after bob redacted his = %v", got)
		}

		// Redacting the edit reverts the original; redacting the original drops its bundle.
		if _, err := alice.RedactEvent(ctx, roomID, edit); err != nil {
			t.Fatal(err)
		}
		if ev, err := alice.GetEvent(ctx, roomID, root); err != nil || ev.Unsigned.Relations.GetLatestEdit() != nil {
			t.Errorf("after the edit's redaction: m.replace = %+v, %v; want none (bob's edit is not valid)", ev.Unsigned.Relations.GetLatestEdit(), err)
		}

		// Threads, most recently active first; bob took part in both, carol in none.
		if got := eventIDs(get(alice, "/threads", nil).Chunk); !slices.Equal(got, []id.EventID{root, other}) {
			t.Errorf("threads = %v, want the root (latest reply r2) before the other (o1)", got)
		}
		send(bob, event.EventMessage, inThread(other, "bumped"))
		if got := eventIDs(get(alice, "/threads", url.Values{"limit": {"1"}}).Chunk); !slices.Equal(got, []id.EventID{other}) {
			t.Errorf("after a reply to the other thread: %v, want it first", got)
		}
		if got := eventIDs(get(alice, "/threads", url.Values{"include": {"participated"}}).Chunk); !slices.Equal(got, []id.EventID{other, root}) {
			t.Errorf("alice's threads = %v", got)
		}

		if _, err := alice.RedactEvent(ctx, roomID, root); err != nil {
			t.Fatal(err)
		}
		if ev, err := alice.GetEvent(ctx, roomID, root); err != nil || ev.Unsigned.Relations != nil {
			t.Errorf("the redacted root still bundles %+v, %v", ev.Unsigned.Relations, err)
		}

		for _, tc := range []struct {
			name, path string
			cli        *mautrix.Client
			status     int
			errcode    string
		}{
			{"relations of an event carol may not see", rel, carol, http.StatusNotFound, "M_NOT_FOUND"},
			{"relations of an unknown event", "/relations/$nothing", alice, http.StatusNotFound, "M_NOT_FOUND"},
			{"a made-up token", rel + "?from=garbage", alice, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"a bad direction", rel + "?dir=up", alice, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"threads of a room carol is not in", "/threads", carol, http.StatusForbidden, "M_FORBIDDEN"},
			{"a bad include", "/threads?include=mine", alice, http.StatusBadRequest, "M_INVALID_PARAM"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodGet, "/_matrix/client/v1/rooms/"+url.PathEscape(string(roomID))+tc.path, tc.cli.AccessToken, nil), tc.status, tc.errcode)
			})
		}
	})
}

// checkBundle checks the bundled aggregations of the root as alice fetches it: the thread's
// latest reply and count, her edit (not bob's) and bob's reference.
func checkBundle(t *testing.T, alice *mautrix.Client, roomID id.RoomID, root, latest, edit, ref id.EventID) {
	t.Helper()
	ev, err := alice.GetEvent(context.Background(), roomID, root)
	if err != nil {
		t.Fatal(err)
	}
	rels := ev.Unsigned.Relations
	if rels == nil || rels.Thread == nil || rels.LatestEdit == nil || rels.References == nil {
		t.Fatalf("the root's bundled aggregations = %+v", rels)
	}
	if rels.Thread.Count != 2 || !rels.Thread.CurrentUserParticipated || rels.Thread.LatestEvent == nil || rels.Thread.LatestEvent.ID != latest {
		t.Errorf("m.thread = %+v, want 2 replies, alice took part, latest %s", rels.Thread, latest)
	}
	if rels.LatestEdit.ID != edit {
		t.Errorf("m.replace = %s, want alice's own edit %s", rels.LatestEdit.ID, edit)
	}
	if len(rels.References.Chunk) != 1 || rels.References.Chunk[0].EventID != ref {
		t.Errorf("m.reference = %+v, want %s", rels.References.Chunk, ref)
	}
}

// TestRelationsRecurse asks for the relations of a thread root with and without recurse: its
// replies, reactions to them and an edit of one, with a reaction to the edit.
func TestRelationsRecurse(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		carol := ts.register(t, "carol")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.UserID}})
		mustJoin(t, bob, string(roomID))
		send := func(cli *mautrix.Client, evType event.Type, content map[string]any) id.EventID {
			t.Helper()
			resp, err := cli.SendMessageEvent(ctx, roomID, evType, content)
			if err != nil {
				t.Fatal(err)
			}
			return resp.EventID
		}
		relatesTo := func(relType string, target id.EventID, content map[string]any) map[string]any {
			rel := map[string]any{"rel_type": relType, "event_id": target}
			if relType == "m.annotation" {
				rel["key"] = "👍"
			}
			content["m.relates_to"] = rel
			return content
		}
		text := func(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }
		root := mustSend(t, alice, roomID, "a question")
		r1 := send(bob, event.EventMessage, relatesTo("m.thread", root, text("first answer")))
		r1Like := send(alice, event.EventReaction, relatesTo("m.annotation", r1, map[string]any{}))
		r2 := send(alice, event.EventMessage, relatesTo("m.thread", root, text("second answer")))
		r2Edit := send(alice, event.EventMessage, relatesTo("m.replace", r2, map[string]any{"msgtype": "m.text", "body": "* second answer, better",
			"m.new_content": text("second answer, better")}))
		rootLike := send(bob, event.EventReaction, relatesTo("m.annotation", root, map[string]any{}))
		editLike := send(bob, event.EventReaction, relatesTo("m.annotation", r2Edit, map[string]any{}))
		r3 := send(bob, event.EventMessage, relatesTo("m.thread", root, text("third answer")))
		all := []id.EventID{r3, editLike, rootLike, r2Edit, r2, r1Like, r1}

		// raw asks for the relations with recurse as given ("": none) and returns the body.
		raw := func(cli *mautrix.Client, suffix mautrix.ClientURLPath, recurse string) map[string]any {
			t.Helper()
			query := map[string]string{}
			if recurse != "" {
				query["recurse"] = recurse
			}
			path := append(mautrix.ClientURLPath{"v1", "rooms", roomID, "relations", root}, suffix...)
			var body map[string]any
			if _, err := cli.MakeRequest(ctx, http.MethodGet, cli.BuildURLWithQuery(path, query), nil, &body); err != nil {
				t.Fatal(err)
			}
			return body
		}
		chunkIDs := func(body map[string]any) []id.EventID {
			var out []id.EventID
			for _, ev := range body["chunk"].([]any) {
				out = append(out, id.EventID(ev.(map[string]any)["event_id"].(string)))
			}
			return out
		}
		for _, tc := range []struct {
			name      string
			suffix    mautrix.ClientURLPath
			recurse   string
			want      []id.EventID
			wantDepth any // nil: recursion_depth absent
		}{
			{"without recurse, direct relations", nil, "", []id.EventID{r3, rootLike, r2, r1}, nil},
			{"recurse=false, direct relations", nil, "false", []id.EventID{r3, rootLike, r2, r1}, 0.0},
			{"recurse=true, nested too", nil, "true", all, 3.0},
			// The filter holds at every level: reactions to replies relate through an m.thread.
			{"threads, recursing", mautrix.ClientURLPath{"m.thread"}, "true", []id.EventID{r3, r2, r1}, 3.0},
			{"annotations, recursing", mautrix.ClientURLPath{"m.annotation"}, "true", []id.EventID{rootLike}, 3.0},
			{"reactions, recursing", mautrix.ClientURLPath{"m.annotation", "m.reaction"}, "true", []id.EventID{rootLike}, 3.0},
			{"edits, recursing", mautrix.ClientURLPath{"m.replace"}, "true", nil, 3.0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := raw(alice, tc.suffix, tc.recurse)
				if got := chunkIDs(body); !slices.Equal(got, tc.want) {
					t.Errorf("chunk = %v, want %v", got, tc.want)
				}
				if depth, ok := body["recursion_depth"]; depth != tc.wantDepth || ok != (tc.wantDepth != nil) {
					t.Errorf("recursion_depth = %v (present: %v), want %v", depth, ok, tc.wantDepth)
				}
			})
		}

		// Pages of two, either way, reach every event once.
		for _, dir := range []mautrix.Direction{mautrix.DirectionBackward, mautrix.DirectionForward} {
			want := slices.Clone(all)
			if dir == mautrix.DirectionForward {
				slices.Reverse(want)
			}
			var got []id.EventID
			req := &mautrix.ReqGetRelations{Dir: dir, Limit: 2, Recurse: true}
			for range all {
				page, err := alice.GetRelations(ctx, roomID, root, req)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, eventIDs(page.Chunk)...)
				if page.RecursionDepth != 3 {
					t.Errorf("a page has recursion_depth %d", page.RecursionDepth)
				}
				if req.From = page.NextBatch; req.From == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages of 2 going %c = %v, want %v", dir, got, want)
			}
		}

		// Redacting a reply breaks its relation, and with it its reaction's way to the root.
		if _, err := bob.RedactEvent(ctx, roomID, r1); err != nil {
			t.Fatal(err)
		}
		if got := chunkIDs(raw(alice, nil, "true")); !slices.Equal(got, []id.EventID{r3, editLike, rootLike, r2Edit, r2}) {
			t.Errorf("after the redaction of r1: %v", got)
		}

		for _, tc := range []struct {
			name, query string
			cli         *mautrix.Client
			status      int
			errcode     string
		}{
			{"recurse=yes", "?recurse=yes", alice, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"recurse=1", "?recurse=1", alice, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"an empty recurse", "?recurse=", alice, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"recursing into a room carol is not in", "?recurse=true", carol, http.StatusNotFound, "M_NOT_FOUND"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				path := "/_matrix/client/v1/rooms/" + url.PathEscape(string(roomID)) + "/relations/" + url.PathEscape(string(root)) + tc.query
				wantError(t, ts.do(t, http.MethodGet, path, tc.cli.AccessToken, nil), tc.status, tc.errcode)
			})
		}
	})
}
