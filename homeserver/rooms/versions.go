package rooms

import (
	"slices"

	"maunium.net/go/mautrix/id"
)

// CreatableVersions lists the room versions this server creates rooms in, oldest first.
var CreatableVersions = []id.RoomVersion{id.RoomV1, id.RoomV2, id.RoomV3, id.RoomV4, id.RoomV5, id.RoomV6, id.RoomV7, id.RoomV8, id.RoomV9, id.RoomV10, id.RoomV11, id.RoomV12}

// CanCreate reports whether rooms of version v can be created here.
func CanCreate(v id.RoomVersion) bool { return slices.Contains(CreatableVersions, v) }
