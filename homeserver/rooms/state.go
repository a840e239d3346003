package rooms

import (
	"container/list"
	"context"
	"fmt"
	"maps"
	"sync"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// State is a room's full state: the event ID for each (type, state_key).
type State map[storage.StateKey]id.EventID

// snapshotReader is what reading snapshots needs; *storage.DB and *storage.Tx both provide it.
type snapshotReader interface {
	SnapshotChain(ctx context.Context, snapID storage.SnapshotID) ([]storage.Snapshot, error)
	SnapshotDeltas(ctx context.Context, ids []storage.SnapshotID) (map[storage.SnapshotID][]storage.StateEntry, error)
}

// snapshotWriter adds writing snapshots; only *storage.Tx provides it.
type snapshotWriter interface {
	snapshotReader
	NextSnapshotID(ctx context.Context) (storage.SnapshotID, error)
	InsertSnapshot(ctx context.Context, s storage.Snapshot, delta []storage.StateEntry, createdTS int64) error
}

// stateStore reads and writes room state snapshots. Snapshots never change once written, so
// full states are cached by ID without invalidation.
type stateStore struct {
	mu    sync.Mutex
	cache map[storage.SnapshotID]*list.Element
	order *list.List // of cachedState, most recently used first
	limit int
}

type cachedState struct {
	id    storage.SnapshotID
	state State
}

func newStateStore(limit int) *stateStore {
	return &stateStore{cache: map[storage.SnapshotID]*list.Element{}, order: list.New(), limit: limit}
}

// StateAt returns the full state of a snapshot. The caller must not modify the result.
func (s *stateStore) StateAt(ctx context.Context, db snapshotReader, snapID storage.SnapshotID) (State, error) {
	if snapID == 0 {
		return State{}, nil
	}
	if st, ok := s.cached(snapID); ok {
		return st, nil
	}
	chain, err := db.SnapshotChain(ctx, snapID)
	if err != nil {
		return nil, err
	}
	st, err := applyChain(ctx, db, chain)
	if err != nil {
		return nil, err
	}
	s.store(snapID, st)
	return st, nil
}

// applyChain rebuilds a state from a chain of snapshots given newest first.
func applyChain(ctx context.Context, db snapshotReader, chain []storage.Snapshot) (State, error) {
	ids := make([]storage.SnapshotID, len(chain))
	for i, sn := range chain {
		ids[i] = sn.ID
	}
	deltas, err := db.SnapshotDeltas(ctx, ids)
	if err != nil {
		return nil, err
	}
	st := State{}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, e := range deltas[chain[i].ID] {
			if e.EventID == "" {
				delete(st, e.StateKey)
			} else {
				st[e.StateKey] = e.EventID
			}
		}
	}
	return st, nil
}

// Derive stores a new snapshot: the parent's state with changes applied. The new snapshot's
// delta is taken against the ancestor whose position along the parent chain is the new
// position with its lowest set bit cleared (a skip delta), so it holds the changes made since
// that ancestor: the deltas of the parent's chain above it, plus changes.
func (s *stateStore) Derive(ctx context.Context, tx snapshotWriter, roomID id.RoomID, parent storage.SnapshotID, changes []storage.StateEntry, nowTS int64) (storage.SnapshotID, error) {
	chain, err := tx.SnapshotChain(ctx, parent)
	if err != nil {
		return 0, err
	}
	var parentSeq int64
	if len(chain) > 0 {
		parentSeq = chain[0].Seq
	}
	seq := parentSeq + 1
	baseSeq := seq & (seq - 1)
	var above []storage.Snapshot
	var base storage.SnapshotID
	for _, sn := range chain {
		if sn.Seq == baseSeq {
			base = sn.ID
			break
		}
		above = append(above, sn)
	}
	sinceBase, err := applyChainDelta(ctx, tx, above)
	if err != nil {
		return 0, err
	}
	for _, c := range changes {
		sinceBase[c.StateKey] = c.EventID
	}
	delta := make([]storage.StateEntry, 0, len(sinceBase))
	for k, ev := range sinceBase {
		delta = append(delta, storage.StateEntry{StateKey: k, EventID: ev})
	}
	nid, err := tx.NextSnapshotID(ctx)
	if err != nil {
		return 0, err
	}
	snap := storage.Snapshot{ID: nid, RoomID: roomID, ParentID: parent, BaseID: base, Seq: seq}
	if err := tx.InsertSnapshot(ctx, snap, delta, nowTS); err != nil {
		return 0, fmt.Errorf("derive snapshot: %w", err)
	}
	return snap.ID, nil
}

// applyChainDelta merges the deltas of a chain segment (newest first) into one delta that keeps
// removals, later entries overriding earlier ones.
func applyChainDelta(ctx context.Context, db snapshotReader, segment []storage.Snapshot) (map[storage.StateKey]id.EventID, error) {
	out := map[storage.StateKey]id.EventID{}
	if len(segment) == 0 {
		return out, nil
	}
	ids := make([]storage.SnapshotID, len(segment))
	for i, sn := range segment {
		ids[i] = sn.ID
	}
	deltas, err := db.SnapshotDeltas(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := len(segment) - 1; i >= 0; i-- {
		for _, e := range deltas[segment[i].ID] {
			out[e.StateKey] = e.EventID
		}
	}
	return out, nil
}

func (s *stateStore) cached(snapID storage.SnapshotID) (State, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.cache[snapID]
	if !ok {
		return nil, false
	}
	s.order.MoveToFront(el)
	return el.Value.(cachedState).state, true
}

func (s *stateStore) store(snapID storage.SnapshotID, st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cache[snapID]; ok {
		return
	}
	s.cache[snapID] = s.order.PushFront(cachedState{id: snapID, state: maps.Clone(st)})
	for s.order.Len() > s.limit {
		last := s.order.Back()
		s.order.Remove(last)
		delete(s.cache, last.Value.(cachedState).id)
	}
}
