package appservice

import (
	"cmp"
	"context"
	"slices"
	"time"

	"causeway/homeserver/admin"
)

// AppserviceStatus is where delivery to one application service stands, for operators.
type AppserviceStatus struct {
	ID string
	// LastSuccess is when the cursor last moved: a transaction was delivered, or events of no
	// interest to the appservice were passed over. Zero if never.
	LastSuccess time.Time
	// LastError is the last failed delivery attempt's error and LastErrorAt its time. They
	// stay after the appservice recovers; compare LastErrorAt with LastSuccess.
	LastError   string
	LastErrorAt time.Time
	// QueueDepth counts the stream positions between the cursor and the head of the event
	// stream. It is an upper bound on the events still to be delivered: it includes events
	// that do not interest the appservice and have not been passed over yet.
	QueueDepth int64
	// OldestQueuedAge is how long the transaction in flight has waited since it was created
	// or, with none in flight, the age (by origin_server_ts) of the oldest event after the
	// cursor; zero when the queue is empty. That event may turn out to be of no interest, and
	// an appservice's massaged timestamp can make it look older than it is.
	OldestQueuedAge time.Duration
	// InFlightTxnID is the transaction being sent, or retried; "" if none.
	InFlightTxnID string
	// RetryAt is when the next attempt after a failure is due; zero when not backing off.
	RetryAt time.Time
}

// Status reports on every appservice the running sender delivers to, sorted by ID.
// Registrations whose worker has not loaded its state yet are left out.
func (s *Sender) Status(ctx context.Context) ([]AppserviceStatus, error) {
	head, err := s.db.Counter(ctx, "events")
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	s.mu.Lock()
	var states []workerState
	for _, w := range s.workers {
		w.mu.Lock()
		if w.st.started {
			states = append(states, w.st)
		}
		w.mu.Unlock()
	}
	s.mu.Unlock()
	slices.SortFunc(states, func(a, b workerState) int { return cmp.Compare(a.stream.AppserviceID, b.stream.AppserviceID) })

	out := make([]AppserviceStatus, 0, len(states))
	for _, st := range states {
		as := AppserviceStatus{
			ID:          st.stream.AppserviceID,
			LastSuccess: fromMS(st.stream.LastSuccessTS),
			LastError:   st.stream.LastError,
			LastErrorAt: fromMS(st.stream.LastErrorTS),
			QueueDepth:  max(head-st.stream.DeliveredPos, 0),
			RetryAt:     st.retryAt,
		}
		switch {
		case st.inflight != nil:
			as.InFlightTxnID = txnIDString(st.inflight.TxnID)
			as.OldestQueuedAge = max(now.Sub(time.UnixMilli(st.inflight.CreatedTS)), 0)
		case as.QueueDepth > 0:
			evs, err := s.db.EventsInRange(ctx, st.stream.DeliveredPos, head, 1)
			if err != nil {
				return nil, err
			}
			if len(evs) > 0 {
				as.OldestQueuedAge = max(now.Sub(time.UnixMilli(evs[0].OriginServerTS)), 0)
			}
		}
		out = append(out, as)
	}
	return out, nil
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// AppserviceStatuses implements admin.AppserviceStatuses with Status.
func (s *Sender) AppserviceStatuses(ctx context.Context) ([]admin.AppserviceStatus, error) {
	statuses, err := s.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.AppserviceStatus, len(statuses))
	for i, st := range statuses {
		out[i] = admin.AppserviceStatus{
			ID:                st.ID,
			LastSuccessTS:     unixMS(st.LastSuccess),
			LastError:         st.LastError,
			LastErrorTS:       unixMS(st.LastErrorAt),
			QueueDepth:        st.QueueDepth,
			OldestQueuedAgeMS: st.OldestQueuedAge.Milliseconds(),
			InFlightTxnID:     st.InFlightTxnID,
			RetryAtTS:         unixMS(st.RetryAt),
		}
	}
	return out, nil
}

// unixMS is t in Unix milliseconds, 0 for the zero time.
func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
