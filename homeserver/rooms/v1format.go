package rooms

import (
	"encoding/json/v2"
	"fmt"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix/federation/pdu"
	"maunium.net/go/mautrix/id"
)

// Rooms v1 and v2 use the original event format (content/rooms/v1.md): the sending server
// picks the event ID, and prev_events/auth_events reference events as [ID, hashes] pairs.
// Causeway keeps such events exactly in that format on disk and on the wire, and converts them
// to the newer PDU shape in memory, which is what the auth rules and the rest of the server read.

func init() {
	// Our converted v1 PDUs carry their server-chosen ID in InternalMeta; the auth rules ask
	// GetEventID for the create event's ID (rule 5.3.1), which must return it. Every PDU this
	// package parses or builds sets InternalMeta.EventID to the event's true ID, so the switch is
	// safe for all versions.
	pdu.UseInternalMetaForGetEventID = true
}

// usesV1Format reports whether a room version uses the original event format.
func usesV1Format(v id.RoomVersion) bool { return v.EventIDFormat() == id.EventIDFormatCustom }

// toV1 returns the v1-format form of a built PDU, with a fresh server-chosen event ID and
// references carrying the referenced events' content hashes.
func toV1(p *pdu.PDU, eventID id.EventID, refs map[id.EventID]*pdu.PDU) (*pdu.RoomV1PDU, error) {
	ref := func(ids []id.EventID) ([]pdu.V1EventReference, error) {
		out := make([]pdu.V1EventReference, 0, len(ids))
		for _, evID := range ids {
			r := refs[evID]
			if r == nil || r.Hashes == nil {
				return nil, fmt.Errorf("no hashes for referenced event %s", evID)
			}
			out = append(out, pdu.V1EventReference{ID: evID, Hashes: *r.Hashes})
		}
		return out, nil
	}
	prev, err := ref(p.PrevEvents)
	if err != nil {
		return nil, err
	}
	auth, err := ref(p.AuthEvents)
	if err != nil {
		return nil, err
	}
	return &pdu.RoomV1PDU{
		AuthEvents: auth, Content: p.Content, Depth: p.Depth, EventID: eventID, OriginServerTS: p.OriginServerTS,
		PrevEvents: prev, Redacts: p.Redacts, RoomID: p.RoomID, Sender: p.Sender, StateKey: p.StateKey, Type: p.Type,
	}, nil
}

// fromV1 converts a v1-format event to the PDU shape the rest of the server reads.
func fromV1(v1 *pdu.RoomV1PDU) *pdu.PDU {
	ids := func(refs []pdu.V1EventReference) []id.EventID {
		out := make([]id.EventID, len(refs))
		for i, r := range refs {
			out[i] = r.ID
		}
		return out
	}
	p := &pdu.PDU{
		AuthEvents: ids(v1.AuthEvents), Content: v1.Content, Depth: v1.Depth, Hashes: v1.Hashes,
		OriginServerTS: v1.OriginServerTS, PrevEvents: ids(v1.PrevEvents), Redacts: v1.Redacts, RoomID: v1.RoomID,
		Sender: v1.Sender, Signatures: v1.Signatures, StateKey: v1.StateKey, Type: v1.Type, Unsigned: v1.Unsigned,
	}
	p.InternalMeta.EventID = v1.EventID
	return p
}

// parseAnyFormat decodes stored PDU JSON of either format; only the v1 format has event_id.
func parseAnyFormat(raw []byte) (*pdu.PDU, error) {
	if gjson.GetBytes(raw, "event_id").Exists() {
		var v1 pdu.RoomV1PDU
		if err := json.Unmarshal(raw, &v1); err != nil {
			return nil, err
		}
		return fromV1(&v1), nil
	}
	var p pdu.PDU
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
