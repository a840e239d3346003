package rooms

import (
	"context"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// FormatEvents renders stored events for a client, in the given order: redacted content is
// stripped and unsigned carries age, transaction_id (for the sender's own device),
// prev_content/replaces_state and redacted_because.
func (s *Service) FormatEvents(ctx context.Context, evs []*storage.Event, opts FormatOptions) ([]*ClientEvent, error) {
	if opts.Now.IsZero() {
		opts.Now = s.now()
	}
	var related []id.EventID
	for _, ev := range evs {
		if ev.RedactedBy != "" {
			related = append(related, ev.RedactedBy)
		}
		if ev.ReplacesState != "" {
			related = append(related, ev.ReplacesState)
		}
	}
	relatedEvents, err := s.db.EventsByIDs(ctx, related)
	if err != nil {
		return nil, err
	}
	byID := make(map[id.EventID]*storage.Event, len(relatedEvents))
	for _, ev := range relatedEvents {
		byID[ev.ID] = ev
	}
	out := make([]*ClientEvent, 0, len(evs))
	for _, ev := range evs {
		ce, err := s.formatOne(ctx, ev, byID, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, ce)
	}
	if !opts.NoAggregations {
		if err := s.bundleAggregations(ctx, evs, out, opts); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) formatOne(ctx context.Context, ev *storage.Event, related map[id.EventID]*storage.Event, opts FormatOptions) (*ClientEvent, error) {
	version, err := s.RoomVersion(ctx, ev.RoomID)
	if err != nil {
		return nil, err
	}
	p, err := ParsePDU(ev)
	if err != nil {
		return nil, err
	}
	var because *ClientEvent
	if r := related[ev.RedactedBy]; r != nil {
		rp, err := ParsePDU(r)
		if err != nil {
			return nil, err
		}
		because = clientEvent(r, rp, version, opts, nil, nil)
	}
	var prevContent []byte
	if r := related[ev.ReplacesState]; r != nil && because == nil {
		rp, err := ParsePDU(r)
		if err != nil {
			return nil, err
		}
		prevContent = rp.Content
		if r.RedactedBy != "" {
			prevContent = nil
		}
	}
	return clientEvent(ev, p, version, opts, because, prevContent), nil
}

// FormatEvent renders one stored event; see FormatEvents.
func (s *Service) FormatEvent(ctx context.Context, ev *storage.Event, opts FormatOptions) (*ClientEvent, error) {
	out, err := s.FormatEvents(ctx, []*storage.Event{ev}, opts)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}
