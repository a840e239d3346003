package slackconn

import "container/list"

// seenEvents remembers the IDs of the most recent events handled, so that an envelope Slack
// delivers again (because its acknowledgement was lost with a dropped connection, or came
// too late) is acknowledged without reaching the handler a second time. It is bounded: the
// oldest ID is forgotten when a new one would exceed the size. Slack retries within minutes,
// so 10,000 IDs cover far more than a retry window at any realistic event rate.
//
// It is used by Run's goroutine only and has no lock.
type seenEvents struct {
	size  int
	order *list.List               // event IDs, most recent at the front
	index map[string]*list.Element // event ID to its element in order
}

func newSeenEvents(size int) *seenEvents {
	return &seenEvents{size: size, order: list.New(), index: make(map[string]*list.Element, size)}
}

// seen reports whether id was added and is still remembered.
func (s *seenEvents) seen(id string) bool {
	_, ok := s.index[id]
	return ok
}

// add remembers id as the most recent event, forgetting the oldest when full.
func (s *seenEvents) add(id string) {
	if e, ok := s.index[id]; ok {
		s.order.MoveToFront(e)
		return
	}
	s.index[id] = s.order.PushFront(id)
	if s.order.Len() > s.size {
		oldest := s.order.Back()
		s.order.Remove(oldest)
		delete(s.index, oldest.Value.(string))
	}
}
