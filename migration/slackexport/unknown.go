package slackexport

import (
	"slices"
	"strings"
	"sync"
)

// UnknownUser is a user ID that messages refer to (as author, editor,
// reactor or thread participant) but that users.json does not list.
type UnknownUser struct {
	ID string
	// References counts the references seen, over every message streamed.
	References int
	// FirstSeen is the day file of the first reference.
	FirstSeen string
	// Profile is the profile embedded in a message the user wrote, if any
	// was seen: the only name the importer can give such a user.
	Profile *MessageUserProfile
}

// unknownUsers collects UnknownUser values while messages stream.
type unknownUsers struct {
	mu   sync.Mutex
	byID map[string]*UnknownUser
}

// note records the references of m to users that known rejects.
func (u *unknownUsers) note(m *Message, known func(string) bool) {
	m.userRefs(func(id string) {
		if known(id) {
			return
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.byID == nil {
			u.byID = make(map[string]*UnknownUser)
		}
		uu := u.byID[id]
		if uu == nil {
			uu = &UnknownUser{ID: id, FirstSeen: m.File}
			u.byID[id] = uu
		}
		uu.References++
		if uu.Profile == nil && m.User == id && m.UserProfile != nil {
			p := *m.UserProfile
			uu.Profile = &p
		}
	})
}

// list returns the collected users sorted by ID.
func (u *unknownUsers) list() []UnknownUser {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]UnknownUser, 0, len(u.byID))
	for _, uu := range u.byID {
		out = append(out, *uu)
	}
	slices.SortFunc(out, func(a, b UnknownUser) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// UnknownUsers returns the users that the messages streamed so far by
// Messages refer to without users.json listing them, sorted by ID. Slack
// exports contain such references legitimately (members of other
// organizations in shared channels, some deleted integrations), so they are
// reported rather than treated as errors; the importer decides what to do
// with them, typically a ghost named after Profile.
func (e *Export) UnknownUsers() []UnknownUser { return e.unknown.list() }
