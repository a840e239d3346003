package rooms

import (
	"encoding/json/jsontext"
	"encoding/json/v2"
	"fmt"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/federation/pdu"
	"maunium.net/go/mautrix/id"
)

// PowerLevels interprets a room's m.room.power_levels content (nil when the room has none) the
// way the auth rules do: without the event the creator has 100, and from room v12 on the
// creators outrank everyone (content/rooms/v12.md).
func PowerLevels(version id.RoomVersion, content jsontext.Value, create *pdu.PDU, createContent jsontext.Value) (*event.PowerLevelsEventContent, error) {
	pl := &event.PowerLevelsEventContent{}
	if content != nil {
		if err := json.Unmarshal(content, pl); err != nil {
			return nil, fmt.Errorf("parse power levels: %w", err)
		}
	}
	if version.PrivilegedRoomCreators() && create != nil {
		ce, err := create.ToClientEvent(version)
		if err != nil {
			return nil, err
		}
		if err := ce.Content.ParseRaw(ce.Type); err != nil {
			return nil, err
		}
		pl.CreateEvent = ce
	} else if content == nil && create != nil {
		creator := create.Sender
		if version.CreatorInContent() {
			var c struct {
				Creator id.UserID `json:"creator"`
			}
			json.Unmarshal(createContent, &c)
			creator = c.Creator
		}
		pl.Users = map[id.UserID]int{creator: 100}
	}
	return pl, nil
}
