package appservice

import (
	"context"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// The end-to-end encryption data MSC3202 adds to the transactions of an appservice that asked
// for it: which users of interest changed their devices, and the one-time-key counts and unused
// fallback key types of the devices of the users it registered, so that it can track devices
// and replenish keys as a client does from /sync. left is not computed: an appservice learns
// that it stopped sharing rooms from the membership events it receives.

// deviceLists is the device_lists of a transaction.
type deviceLists struct {
	Changed []id.UserID `json:"changed"`
	Left    []id.UserID `json:"left"`
}

// DeviceListChanged implements the device-list notifier: a user's devices or keys changed, which
// may interest an appservice that asked for MSC3202. It never blocks.
func (s *Sender) DeviceListChanged(context.Context, id.UserID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		if w.reg.MSC3202 {
			w.nudge()
		}
	}
}

// takeDeviceLists reads the device-list changes after those delivered and keeps the users of
// interest (held by the appservice or sharing a joined room with it), with how far they reach.
// When none interests it, its cursor moves past them for good.
func (w *worker) takeDeviceLists(ctx context.Context) (*deviceLists, int64, error) {
	after := w.st.stream.DeviceListsPos
	if !w.reg.MSC3202 {
		return nil, after, nil
	}
	head, err := w.s.db.Counter(ctx, "device_lists")
	if err != nil || head <= after {
		return nil, after, err
	}
	users, err := w.s.db.DeviceListChangesInRange(ctx, after, head)
	if err != nil {
		return nil, after, err
	}
	var changed []id.UserID
	for _, u := range users {
		ok, err := w.s.interest.interestedInPresence(ctx, w.reg, u)
		if err != nil {
			return nil, after, err
		}
		if ok {
			changed = append(changed, u)
		}
	}
	if len(changed) == 0 {
		if err := w.s.db.AdvanceAppserviceDeviceLists(ctx, w.reg.ID, head); err != nil {
			return nil, after, err
		}
		w.update(func(st *workerState) { st.stream.DeviceListsPos = head })
		return nil, head, nil
	}
	return &deviceLists{Changed: changed, Left: []id.UserID{}}, head, nil
}

// keyCountsOf reads the key counts of the devices with keys of the users the appservice
// registered; nil unless it asked for MSC3202 or when there are none.
func (w *worker) keyCountsOf(ctx context.Context) (*storage.KeyCounts, error) {
	if !w.reg.MSC3202 {
		return nil, nil
	}
	kc, err := w.s.db.AppserviceKeyCounts(ctx, w.reg.ID)
	if err != nil || len(kc.OneTimeKeys) == 0 {
		return nil, err
	}
	return &kc, nil
}
