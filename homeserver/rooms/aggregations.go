package rooms

import (
	"cmp"
	"context"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// Bundled aggregations (content/client-server-api/_index.md, "Aggregations of child events"):
// FormatEvents puts under unsigned.m.relations of each event that is not state and not
// redacted
//
//   - m.thread: the thread's latest reply (itself with its aggregations), its number of
//     replies and whether the viewer took part (threading.md);
//   - m.replace: the latest valid edit, in full (event_replacements.md);
//   - m.reference: the events referring to it (reference_relations.md).
//
// Redacted children are left out. Annotations are not bundled; clients fetch them with
// /relations.

// The relation types.
const (
	relThread    = "m.thread"
	relReplace   = "m.replace"
	relReference = "m.reference"
)

// bundleAggregations adds the bundled aggregations of evs to out, their rendered forms.
func (s *Service) bundleAggregations(ctx context.Context, evs []*storage.Event, out []*ClientEvent, opts FormatOptions) error {
	var parents []id.EventID
	for _, ev := range evs {
		if ev.StateKey == nil && ev.RedactedBy == "" {
			parents = append(parents, ev.ID)
		}
	}
	if len(parents) == 0 {
		return nil
	}
	threads, err := s.db.ThreadSummaries(ctx, parents, opts.Viewer)
	if err != nil {
		return err
	}
	children, err := s.db.ChildRelations(ctx, parents, []string{relReplace, relReference})
	if err != nil {
		return err
	}
	latest, err := s.latestThreadEvents(ctx, threads, opts)
	if err != nil {
		return err
	}
	edits, err := s.latestEdits(ctx, evs, children, opts)
	if err != nil {
		return err
	}
	for i, ev := range evs {
		rels := map[string]any{}
		if t, ok := threads[ev.ID]; ok && latest[ev.ID] != nil {
			rels[relThread] = map[string]any{"latest_event": latest[ev.ID], "count": t.Count,
				"current_user_participated": t.Participated || ev.Sender == opts.Viewer}
		}
		if e := edits[ev.ID]; e != nil {
			rels[relReplace] = e
		}
		if refs := referencesTo(ev.ID, children); len(refs) > 0 {
			rels[relReference] = map[string]any{"chunk": refs}
		}
		if len(rels) > 0 {
			if out[i].Unsigned == nil {
				out[i].Unsigned = &Unsigned{}
			}
			out[i].Unsigned.Relations = rels
		}
	}
	return nil
}

// latestThreadEvents renders the latest reply of each thread, with its own aggregations.
func (s *Service) latestThreadEvents(ctx context.Context, threads map[id.EventID]storage.ThreadSummary, opts FormatOptions) (map[id.EventID]*ClientEvent, error) {
	out := map[id.EventID]*ClientEvent{}
	if len(threads) == 0 {
		return out, nil
	}
	var positions []int64
	for _, t := range threads {
		positions = append(positions, t.LatestPos)
	}
	ids, err := s.db.EventIDsAtStream(ctx, positions)
	if err != nil {
		return nil, err
	}
	var want []id.EventID
	for _, evID := range ids {
		want = append(want, evID)
	}
	evs, err := s.db.EventsByIDs(ctx, want)
	if err != nil {
		return nil, err
	}
	rendered, err := s.FormatEvents(ctx, evs, opts) // one level down: replies are never thread roots
	if err != nil {
		return nil, err
	}
	byID := map[id.EventID]*ClientEvent{}
	for _, ce := range rendered {
		byID[ce.EventID] = ce
	}
	for root, t := range threads {
		if ce := byID[ids[t.LatestPos]]; ce != nil {
			out[root] = ce
		}
	}
	return out, nil
}

// latestEdits renders, for each event, its latest valid replacement: one from the same sender,
// of the same type, with m.new_content, neither being state, the original not itself an
// edit; the latest by origin_server_ts, then by event ID.
func (s *Service) latestEdits(ctx context.Context, evs []*storage.Event, children []storage.ChildRelation, opts FormatOptions) (map[id.EventID]*ClientEvent, error) {
	var ids []id.EventID
	for _, c := range children {
		if c.RelType == relReplace {
			ids = append(ids, c.EventID)
		}
	}
	out := map[id.EventID]*ClientEvent{}
	if len(ids) == 0 {
		return out, nil
	}
	candidates, err := s.db.EventsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	originals := map[id.EventID]*storage.Event{}
	for _, ev := range evs {
		originals[ev.ID] = ev
	}
	best := map[id.EventID]*storage.Event{}
	for _, edit := range candidates {
		rel, _ := storage.RelationOf(edit.PDU)
		orig := originals[rel.RelatesTo]
		if orig == nil || !validEdit(orig, edit) {
			continue
		}
		if b := best[orig.ID]; b == nil || cmp.Or(cmp.Compare(edit.OriginServerTS, b.OriginServerTS), cmp.Compare(edit.ID, b.ID)) > 0 {
			best[orig.ID] = edit
		}
	}
	for origID, edit := range best {
		ce, err := s.FormatEvents(ctx, []*storage.Event{edit}, FormatOptions{Viewer: opts.Viewer, Device: opts.Device, Now: opts.Now, NoRoomID: opts.NoRoomID, NoAggregations: true})
		if err != nil {
			return nil, err
		}
		out[origID] = ce[0]
	}
	return out, nil
}

// validEdit reports whether edit may replace orig (event_replacements.md, "Validity of
// replacement events").
func validEdit(orig, edit *storage.Event) bool {
	if orig.Sender != edit.Sender || orig.Type != edit.Type || orig.StateKey != nil || edit.StateKey != nil {
		return false
	}
	if rel, ok := storage.RelationOf(orig.PDU); ok && rel.RelType == relReplace {
		return false
	}
	return gjson.GetBytes(edit.PDU, `content.m\.new_content`).IsObject()
}

// referencesTo lists the events referring to parent, as the m.reference aggregation has them.
func referencesTo(parent id.EventID, children []storage.ChildRelation) []map[string]id.EventID {
	var out []map[string]id.EventID
	for _, c := range children {
		if c.RelType == relReference && c.RelatesTo == parent {
			out = append(out, map[string]id.EventID{"event_id": c.EventID})
		}
	}
	return out
}
