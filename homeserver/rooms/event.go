package rooms

import (
	"encoding/json/jsontext"
	"encoding/json/v2"
	"fmt"
	"time"

	"maunium.net/go/mautrix/federation/pdu"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// ClientEvent is an event in the client-server API's format (ClientEvent in
// data/api/client-server/definitions/client_event.yaml).
type ClientEvent struct {
	Content        jsontext.Value `json:"content"`
	EventID        id.EventID     `json:"event_id"`
	OriginServerTS int64          `json:"origin_server_ts"`
	RoomID         id.RoomID      `json:"room_id,omitzero"`
	Sender         id.UserID      `json:"sender"`
	StateKey       *string        `json:"state_key,omitzero"`
	Type           string         `json:"type"`
	// Redacts is kept at the top level for clients older than room v11, which moved it into content.
	Redacts  id.EventID `json:"redacts,omitzero"`
	Unsigned *Unsigned  `json:"unsigned,omitzero"`
}

// Unsigned is the server-computed part of a client event.
type Unsigned struct {
	Age             int64          `json:"age,omitzero"`
	TransactionID   string         `json:"transaction_id,omitzero"`
	PrevContent     jsontext.Value `json:"prev_content,omitzero"`
	ReplacesState   id.EventID     `json:"replaces_state,omitzero"`
	RedactedBecause *ClientEvent   `json:"redacted_because,omitzero"`
	Membership      string         `json:"membership,omitzero"`
	// Relations is the bundled aggregation of the event's children, by rel_type (aggregations.go).
	Relations map[string]any `json:"m.relations,omitempty"`
}

// ParsePDU decodes a stored event's PDU.
func ParsePDU(ev *storage.Event) (*pdu.PDU, error) {
	p, err := parseAnyFormat(ev.PDU)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", ev.ID, err)
	}
	p.InternalMeta.EventID = ev.ID
	return p, nil
}

// FormatOptions says how to render events for one reader.
type FormatOptions struct {
	Viewer   id.UserID
	Device   id.DeviceID
	Now      time.Time
	NoRoomID bool // sync timelines and state omit room_id
	// NoAggregations leaves out the bundled aggregations (aggregations.go): for the events
	// inside an aggregation, and for appservice transactions, which carry events as they
	// happened.
	NoAggregations bool
}

// Rendering needs the room version (for redaction), the redaction event when redacted and the
// replaced event's content for prev_content; Formatter gathers those.

// clientEvent renders a stored event. redactedBecause and prevContent are given when known.
func clientEvent(ev *storage.Event, p *pdu.PDU, version id.RoomVersion, opts FormatOptions, redactedBecause *ClientEvent, prevContent jsontext.Value) *ClientEvent {
	ce := &ClientEvent{
		Content:        p.Content,
		EventID:        ev.ID,
		OriginServerTS: p.OriginServerTS,
		Sender:         p.Sender,
		StateKey:       p.StateKey,
		Type:           p.Type,
	}
	if !opts.NoRoomID {
		ce.RoomID = ev.RoomID
	}
	if p.Redacts != nil {
		ce.Redacts = *p.Redacts
	} else if p.Type == "m.room.redaction" {
		var c struct {
			Redacts id.EventID `json:"redacts"`
		}
		json.Unmarshal(p.Content, &c)
		ce.Redacts = c.Redacts
	}
	u := &Unsigned{Age: max(opts.Now.UnixMilli()-p.OriginServerTS, 0), ReplacesState: ev.ReplacesState, PrevContent: prevContent}
	if ev.TxnID != "" && opts.Viewer == ev.Sender && opts.Device == ev.TxnDevice {
		u.TransactionID = ev.TxnID
	}
	if redactedBecause != nil {
		ce.Content = pdu.RedactContent(p.Type, p.Content, version)
		u.RedactedBecause = redactedBecause
		u.PrevContent = nil
	}
	ce.Unsigned = u
	return ce
}
