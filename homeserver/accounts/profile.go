package accounts

import (
	"context"
	"errors"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Profile is a user's global profile (data/api/client-server/profile.yaml).
type Profile struct {
	DisplayName string              `json:"displayname,omitempty"`
	AvatarURL   id.ContentURIString `json:"avatar_url,omitempty"`
}

// maxDisplayNameBytes bounds a display name; it travels in every member event of the user.
const maxDisplayNameBytes = 256

// Profile returns a local user's profile; M_NOT_FOUND for an unknown or deactivated user.
func (s *Service) Profile(ctx context.Context, userID id.UserID) (Profile, error) {
	u, err := s.db.UserByID(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Deactivated {
		return Profile{}, mxerr.NotFound.WithMessage("no profile for %s", userID)
	} else if err != nil {
		return Profile{}, err
	}
	return Profile{DisplayName: u.DisplayName, AvatarURL: u.AvatarURL}, nil
}

// SetDisplayName sets ("" clears) the user's display name.
func (s *Service) SetDisplayName(ctx context.Context, userID id.UserID, name string) error {
	if len(name) > maxDisplayNameBytes {
		return mxerr.TooLarge.WithMessage("display name is longer than %d bytes", maxDisplayNameBytes).WithStatus(400)
	}
	return s.db.UpdateDisplayName(ctx, userID, name)
}

// SetAvatarURL sets ("" clears) the user's avatar, which must be an mxc:// URI.
func (s *Service) SetAvatarURL(ctx context.Context, userID id.UserID, url id.ContentURIString) error {
	if url != "" {
		if _, err := url.Parse(); err != nil {
			return mxerr.InvalidParam.WithMessage("avatar_url must be an mxc:// URI")
		}
	}
	return s.db.UpdateAvatarURL(ctx, userID, url)
}
