package slackexport

import (
	"encoding/json"
	"fmt"
	"slices"
)

// SlackbotID is the user ID of Slackbot. Slack writes messages from it but
// never lists it in users.json, so the reader treats it as known.
const SlackbotID = "USLACKBOT"

// User is one member from users.json (org_users.json on Enterprise Grid), as
// returned by the Web API's users.list. Only the fields the importer needs
// are decoded.
type User struct {
	ID                string      `json:"id"`
	TeamID            string      `json:"team_id"`
	Name              string      `json:"name"`
	RealName          string      `json:"real_name"`
	Deleted           bool        `json:"deleted"`
	IsBot             bool        `json:"is_bot"`
	IsAppUser         bool        `json:"is_app_user"`
	IsAdmin           bool        `json:"is_admin"`
	IsOwner           bool        `json:"is_owner"`
	IsPrimaryOwner    bool        `json:"is_primary_owner"`
	IsRestricted      bool        `json:"is_restricted"`
	IsUltraRestricted bool        `json:"is_ultra_restricted"`
	TZ                string      `json:"tz"`
	Profile           UserProfile `json:"profile"`
}

// UserProfile is the "profile" object of a [User].
type UserProfile struct {
	RealName      string `json:"real_name"`
	DisplayName   string `json:"display_name"`
	FirstName     string `json:"first_name"`
	LastName      string `json:"last_name"`
	Email         string `json:"email"`
	Title         string `json:"title"`
	BotID         string `json:"bot_id"`
	APIAppID      string `json:"api_app_id"`
	AvatarHash    string `json:"avatar_hash"`
	Image72       string `json:"image_72"`
	Image512      string `json:"image_512"`
	ImageOriginal string `json:"image_original"`
}

// Users returns the export's members in file order: users.json, then those
// of org_users.json not already listed.
func (e *Export) Users() []User { return slices.Clone(e.users) }

// User returns the member with the given ID.
func (e *Export) User(id string) (User, bool) {
	i, ok := e.userByID[id]
	if !ok {
		return User{}, false
	}
	return e.users[i], true
}

// knownUser reports whether id is listed, or is Slackbot.
func (e *Export) knownUser(id string) bool {
	if id == SlackbotID {
		return true
	}
	_, ok := e.userByID[id]
	return ok
}

// loadUsers decodes users.json and org_users.json; at least one is required.
// Both appear in some Enterprise Grid workspace exports; an ID listed twice
// keeps its first entry.
func (e *Export) loadUsers() error {
	e.userByID = make(map[string]int)
	found := false
	for _, name := range []string{usersFile, orgUsersFile} {
		f, ok := e.entries[name]
		if !ok {
			continue
		}
		found = true
		err := e.forEachElement(f, func(raw json.RawMessage, off int64) error {
			var u User
			if err := json.Unmarshal(raw, &u); err != nil {
				return elementError(off, err)
			}
			if u.ID == "" {
				return &FormatError{Offset: off, Err: fmt.Errorf("%w: user without \"id\"", ErrMalformed)}
			}
			if _, dup := e.userByID[u.ID]; dup {
				return nil
			}
			e.userByID[u.ID] = len(e.users)
			e.users = append(e.users, u)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !found {
		return &FormatError{Offset: -1, Err: ErrNoUsers}
	}
	return nil
}
