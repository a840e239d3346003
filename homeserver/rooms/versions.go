package rooms

import (
	"slices"

	"maunium.net/go/mautrix/id"
)

// CreatableVersions lists the room versions this server creates rooms in, oldest first. Rooms
// v1 and v2 use a different event format (server-chosen event IDs); they are understood by the
// auth rules but not yet created here.
var CreatableVersions = []id.RoomVersion{id.RoomV3, id.RoomV4, id.RoomV5, id.RoomV6, id.RoomV7, id.RoomV8, id.RoomV9, id.RoomV10, id.RoomV11, id.RoomV12}

// CanCreate reports whether rooms of version v can be created here.
func CanCreate(v id.RoomVersion) bool { return slices.Contains(CreatableVersions, v) }
