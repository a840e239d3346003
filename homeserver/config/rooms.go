package config

import "maunium.net/go/mautrix/id"

// Rooms is the rooms: section.
type Rooms struct {
	// DefaultVersion is the room version of rooms created without an
	// explicit room_version.
	DefaultVersion id.RoomVersion `yaml:"default_version"`
}

// Defaults sets r to create room version 11 rooms.
func (r *Rooms) Defaults() {
	*r = Rooms{DefaultVersion: id.RoomV11}
}

// Validate reports every problem in r, keyed relative to the section.
func (r Rooms) Validate() []error {
	// id.RoomVersion.IsKnown also accepts "" (pre-versioning rooms), which
	// is no choice for a new room.
	if r.DefaultVersion == "" || !r.DefaultVersion.IsKnown() {
		return []error{keyErrorf("default_version", "must be a room version from \"1\" to \"12\" (got %q)", string(r.DefaultVersion))}
	}
	return nil
}
