package clientapi

import (
	"encoding/json"
	"net/http"
	"regexp"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// handleGetProfile serves GET /_matrix/client/v3/profile/{userId} (data/api/client-server/profile.yaml).
func (a *API) handleGetProfile(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	a.provisionUser(r, userID)
	p, err := a.accounts.Profile(r.Context(), userID)
	if err != nil {
		return err
	}
	return ok(w, p)
}

// handleGetProfileField serves GET /_matrix/client/v3/profile/{userId}/{keyName} for displayname
// and avatar_url (data/api/client-server/profile.yaml).
func (a *API) handleGetProfileField(w http.ResponseWriter, r *http.Request) error {
	userID, err := web.PathUserID(r, "userId")
	if err != nil {
		return err
	}
	field, err := web.PathParam(r, "field")
	if err != nil {
		return err
	}
	p, err := a.accounts.Profile(r.Context(), userID)
	if err != nil {
		return err
	}
	switch field {
	case "displayname":
		if p.DisplayName == "" {
			return mxerr.NotFound.WithMessage("%s has no display name", userID)
		}
		return ok(w, map[string]any{"displayname": p.DisplayName})
	case "avatar_url":
		if p.AvatarURL == "" {
			return mxerr.NotFound.WithMessage("%s has no avatar", userID)
		}
		return ok(w, map[string]any{"avatar_url": p.AvatarURL})
	default:
		return mxerr.NotFound.WithMessage("%s has no profile field %q", userID, field)
	}
}

// handleSetProfileField serves PUT /_matrix/client/v3/profile/{userId}/{keyName} for displayname
// and avatar_url (data/api/client-server/profile.yaml). The new profile is sent into every room
// the user is joined to.
func (a *API) handleSetProfileField(w http.ResponseWriter, r *http.Request) error {
	userID, err := a.pathSelf(r)
	if err != nil {
		return err
	}
	field, err := web.PathParam(r, "field")
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	var value string
	if raw, present := body[field]; !present {
		return mxerr.MissingParam.WithMessage("%s is required", field)
	} else if err := json.Unmarshal(raw, &value); err != nil && string(raw) != "null" {
		return mxerr.BadJSON.WithMessage("%s must be a string", field)
	}
	return a.setProfileField(w, r, userID, field, value)
}

// profileKey is what a profile field's name may be (data/api/client-server/profile.yaml).
var profileKey = regexp.MustCompile(`^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$`)

// handleDeleteProfileField serves DELETE /_matrix/client/v3/profile/{userId}/{keyName}
// (data/api/client-server/profile.yaml): displayname and avatar_url are cleared, in every room
// the user is joined to too; other fields do not exist here, so they are gone already.
func (a *API) handleDeleteProfileField(w http.ResponseWriter, r *http.Request) error {
	userID, err := a.pathSelf(r)
	if err != nil {
		return err
	}
	field, err := web.PathParam(r, "field")
	if err != nil {
		return err
	}
	switch {
	case !profileKey.MatchString(field):
		return mxerr.InvalidParam.WithMessage("%q is not a profile field name", field)
	case field == "displayname" || field == "avatar_url":
		return a.setProfileField(w, r, userID, field, "")
	}
	return ok(w, nil)
}

// setProfileField sets (or clears, with "") a profile field and sends the new profile into
// the user's rooms. Only displayname and avatar_url exist.
func (a *API) setProfileField(w http.ResponseWriter, r *http.Request, userID id.UserID, field, value string) error {
	if err := requester(r).CheckNotSuspended("change your profile"); err != nil {
		return err
	}
	var err error
	switch field {
	case "displayname":
		err = a.accounts.SetDisplayName(r.Context(), userID, value)
	case "avatar_url":
		err = a.accounts.SetAvatarURL(r.Context(), userID, id.ContentURIString(value))
	default:
		return mxerr.Forbidden.WithMessage("profile field %q cannot be set here", field)
	}
	if err != nil {
		return err
	}
	if err := a.rooms.UpdateProfile(r.Context(), userID); err != nil {
		return err
	}
	return ok(w, nil)
}
