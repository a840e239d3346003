package clientapi

import (
	"encoding/json"
	"net/http"

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
