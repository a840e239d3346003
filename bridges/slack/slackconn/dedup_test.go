package slackconn

import (
	"fmt"
	"testing"
)

func TestSeenEventsForgetsOldest(t *testing.T) {
	t.Parallel()
	s := newSeenEvents(3)
	for i := range 4 {
		s.add(fmt.Sprintf("Ev%d", i))
	}
	s.add("Ev1") // seen again: now the most recent
	s.add("Ev4") // pushes out Ev2, the oldest
	for id, want := range map[string]bool{"Ev0": false, "Ev1": true, "Ev2": false, "Ev3": true, "Ev4": true, "Ev5": false} {
		if got := s.seen(id); got != want {
			t.Errorf("seen(%s) = %v, want %v", id, got, want)
		}
	}
	if s.order.Len() != 3 || len(s.index) != 3 {
		t.Errorf("holds %d/%d IDs, want 3", s.order.Len(), len(s.index))
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := backoff{min: 100, max: 1000}
	for i, ceiling := range []int64{100, 200, 400, 800, 1000, 1000, 1000} {
		d := int64(b.next())
		if d < ceiling/2 || d > ceiling {
			t.Errorf("attempt %d waits %d, want %d..%d", i, d, ceiling/2, ceiling)
		}
	}
	b.reset()
	if d := b.next(); d < 50 || d > 100 {
		t.Errorf("after reset waits %d, want 50..100", d)
	}
}
