package fakeslack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
)

// UserSpec describes a workspace member for AddUser and UpdateUser.
type UserSpec struct {
	Name        string // the handle, like "alice"
	RealName    string
	DisplayName string // may be empty, as in Slack, where clients then show RealName
	Email       string
	Avatar      []byte // the avatar image; the fake serves it under its own host
	IsBot       bool   // a bot user, such as another app's
	Deleted     bool   // a deactivated account
}

// User is a member as AddUser reports it.
type User struct {
	ID        string
	Name      string
	AvatarURL string // image_192 in the profile
}

// user is a member's stored state.
type user struct {
	id         string
	spec       UserSpec
	avatarHash string // changes with the avatar, as Slack's avatar_hash does
	updated    int64
	botID      string // the bot ID of the app's bot user; "" for everyone else
	appID      string
}

// slackbotID is the ID of Slackbot, which every workspace has and users.list includes.
const slackbotID = "USLACKBOT"

func (w *workspace) addSlackbot() {
	w.putUser(&user{id: slackbotID, spec: UserSpec{Name: "slackbot", RealName: "Slackbot"}})
}

func (w *workspace) addUser(spec UserSpec) *user {
	u := &user{id: w.ids.next("U")}
	w.setSpec(u, spec)
	w.putUser(u)
	return u
}

func (w *workspace) putUser(u *user) {
	u.updated = w.clock.unix()
	w.users[u.id] = u
	w.userIDs = append(w.userIDs, u.id)
}

// setSpec applies spec to u and publishes its avatar.
func (w *workspace) setSpec(u *user, spec UserSpec) {
	u.spec = spec
	u.updated = w.clock.unix()
	u.avatarHash = ""
	if len(spec.Avatar) > 0 {
		sum := sha256.Sum256(spec.Avatar)
		u.avatarHash = hex.EncodeToString(sum[:6])
		w.avatars[u.id+"_"+u.avatarHash+".img"] = spec.Avatar
	}
}

func (w *workspace) user(id string) (*user, error) {
	u, ok := w.users[id]
	if !ok {
		return nil, errUserNotFound
	}
	return u, nil
}

// avatarURL is the user's avatar at a size. Slack serves avatars from a public CDN in
// several sizes; the fake serves the one image at every size, without authentication, as
// the CDN does. A user without an avatar gets a default picture, as in Slack.
func (w *workspace) avatarURL(u *user, size string) string {
	if u.avatarHash == "" {
		return w.baseURL + "/avatars/" + defaultAvatarName + "?s=" + size
	}
	return w.baseURL + "/avatars/" + u.id + "_" + u.avatarHash + ".img?s=" + size
}

// defaultAvatarName is the file name of the picture of users without an avatar.
const defaultAvatarName = "default.png"

// defaultAvatar is a one-pixel grey PNG.
func defaultAvatar() []byte {
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	img.SetGray(0, 0, color.Gray{Y: 0x99})
	var buf bytes.Buffer
	_ = png.Encode(&buf, img) // encoding to memory does not fail
	return buf.Bytes()
}

// userObject is the user as users.info, users.list and user_change carry it.
func (w *workspace) userObject(u *user) obj {
	spec := u.spec
	profile := obj{
		"title":                   "",
		"phone":                   "",
		"skype":                   "",
		"real_name":               spec.RealName,
		"real_name_normalized":    spec.RealName,
		"display_name":            spec.DisplayName,
		"display_name_normalized": spec.DisplayName,
		"status_text":             "",
		"status_emoji":            "",
		"status_expiration":       0,
		"avatar_hash":             u.avatarHash,
		"first_name":              firstName(spec.RealName),
		"last_name":               lastName(spec.RealName),
		"team":                    w.team.id,
	}
	for _, size := range []string{"24", "32", "48", "72", "192", "512"} {
		profile["image_"+size] = w.avatarURL(u, size)
	}
	if u.avatarHash != "" {
		profile["image_original"] = w.avatarURL(u, "original")
		profile["is_custom_image"] = true
	}
	if spec.Email != "" {
		profile["email"] = spec.Email
	}
	if u.botID != "" {
		profile["bot_id"] = u.botID
		profile["api_app_id"] = u.appID
		profile["always_active"] = true
	}
	return obj{
		"id":                  u.id,
		"team_id":             w.team.id,
		"name":                spec.Name,
		"deleted":             spec.Deleted,
		"color":               "9f69e7",
		"real_name":           spec.RealName,
		"tz":                  "Europe/Amsterdam",
		"tz_label":            "Central European Time",
		"tz_offset":           3600,
		"profile":             profile,
		"is_admin":            false,
		"is_owner":            false,
		"is_primary_owner":    false,
		"is_restricted":       false,
		"is_ultra_restricted": false,
		"is_bot":              spec.IsBot,
		"is_app_user":         false,
		"updated":             u.updated,
		"is_email_confirmed":  spec.Email != "",
	}
}

func firstName(realName string) string {
	first, _, _ := strings.Cut(realName, " ")
	return first
}

func lastName(realName string) string {
	_, last, _ := strings.Cut(realName, " ")
	return last
}

// handleUserInfo serves users.info: one user by "user", or several by "users".
func (w *workspace) handleUserInfo(c *call) (obj, error) {
	if c.has("users") {
		var users []obj
		for _, id := range strings.Split(c.param("users"), ",") {
			u, err := w.user(id)
			if err != nil {
				return nil, err
			}
			users = append(users, w.userObject(u))
		}
		return obj{"users": users}, nil
	}
	u, err := w.user(c.param("user"))
	if err != nil {
		return nil, err
	}
	return obj{"user": w.userObject(u)}, nil
}

// handleListUsers serves users.list with cursor pagination.
func (w *workspace) handleListUsers(c *call) (obj, error) {
	page, next, err := paginate(c, w.userIDs)
	if err != nil {
		return nil, err
	}
	members := []obj{}
	for _, id := range page {
		members = append(members, w.userObject(w.users[id]))
	}
	return obj{
		"members":           members,
		"cache_ts":          w.clock.unix(),
		"response_metadata": obj{"next_cursor": next},
	}, nil
}

// handleBotInfo serves bots.info for the app's bot.
func (w *workspace) handleBotInfo(c *call) (obj, error) {
	if c.param("bot") != w.app.botID {
		return nil, errBotNotFound
	}
	bot := w.users[w.app.botUserID]
	return obj{"bot": obj{
		"id":      w.app.botID,
		"deleted": false,
		"name":    bot.spec.Name,
		"updated": bot.updated,
		"app_id":  w.app.appID,
		"user_id": bot.id,
		"icons": obj{
			"image_36": w.avatarURL(bot, "36"),
			"image_48": w.avatarURL(bot, "48"),
			"image_72": w.avatarURL(bot, "72"),
		},
	}}, nil
}

// serveAvatar serves GET /avatars/{name}: avatar images, without authentication.
func (s *Server) serveAvatar(rw http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	image, ok := s.ws.avatars[r.PathValue("name")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", http.DetectContentType(image))
	_, _ = rw.Write(image)
}

// AddUser adds a member to the workspace.
func (s *Server) AddUser(spec UserSpec) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ws.publicUser(s.ws.addUser(spec))
}

// UpdateUser changes a member's profile with change, which edits a copy of the current
// spec, and sends user_change, as Slack does for any profile change.
func (s *Server) UpdateUser(userID string, change func(*UserSpec)) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.ws.user(userID)
	if err != nil {
		return User{}, err
	}
	spec := u.spec
	change(&spec)
	s.ws.setSpec(u, spec)
	s.ws.emit(nil, obj{
		"type":     "user_change",
		"user":     s.ws.userObject(u),
		"cache_ts": u.updated,
		"event_ts": s.ws.clock.nextTS(),
	})
	return s.ws.publicUser(u), nil
}

func (w *workspace) publicUser(u *user) User {
	return User{ID: u.id, Name: u.spec.Name, AvatarURL: w.avatarURL(u, "192")}
}
