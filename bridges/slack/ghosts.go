package slack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
)

const (
	// profileTTL is how long a ghost's profile is trusted before Slack is asked again;
	// user_change events refresh it sooner.
	profileTTL = 6 * time.Hour
	// maxAvatarBytes bounds an avatar download.
	maxAvatarBytes = 5 << 20
)

// ghostID is the Matrix user standing for a Slack user or bot of this workspace.
func (w *workspace) ghostID(slackID string) id.UserID {
	local := strings.NewReplacer("{workspace}", w.key.Workspace, "{user}", slackID).Replace(w.b.cfg.UsernameTemplate)
	return id.NewUserID(strings.ToLower(local), w.b.serverName)
}

// profile is what a ghost shows.
type profile struct {
	name      string
	avatarURL string // Slack's URL of the avatar image, "" for none
	isBot     bool
}

// userProfile reads a Slack user's profile.
func userProfile(u *slackapi.User) profile {
	name := u.Profile.DisplayName
	if name == "" {
		name = u.RealName
	}
	if name == "" {
		name = u.Name
	}
	avatar := u.Profile.Image512
	if avatar == "" {
		avatar = u.Profile.Image192
	}
	return profile{name: name, avatarURL: avatar, isBot: u.IsBot}
}

// userGhost returns the intent of a Slack user's ghost, registered and with its profile current.
func (w *workspace) userGhost(ctx context.Context, userID string) (*appservice.IntentAPI, error) {
	return w.ghost(ctx, userID, func() (profile, error) {
		u, err := w.src.User(ctx, userID)
		if err != nil {
			return profile{}, err
		}
		return userProfile(u), nil
	})
}

// botGhost returns the intent of a Slack bot's ghost (a message with a bot_id and no user).
func (w *workspace) botGhost(ctx context.Context, botID string) (*appservice.IntentAPI, error) {
	return w.ghost(ctx, botID, func() (profile, error) {
		bot, err := w.src.Bot(ctx, botID)
		if err != nil {
			return profile{}, err
		}
		return profile{name: bot.Name, avatarURL: bot.Icons.Image72, isBot: true}, nil
	})
}

// ghost registers the ghost of a Slack ID and brings its profile up to date when the stored
// one is older than profileTTL (lookup fetches the current one).
func (w *workspace) ghost(ctx context.Context, slackID string, lookup func() (profile, error)) (*appservice.IntentAPI, error) {
	unlock := w.lockGhost(slackID)
	defer unlock()
	intent := w.b.as.Intent(w.ghostID(slackID))
	stored, err := w.b.store.Ghost(ctx, w.key, slackID)
	if err == nil && time.Since(time.UnixMilli(stored.UpdatedTS)) < profileTTL {
		return intent, nil
	} else if err != nil && !bridge.IsNotFound(err) {
		return nil, err
	}
	p, err := lookup()
	if err != nil {
		return nil, fmt.Errorf("profile of %s: %w", slackID, err)
	}
	if err := w.updateGhost(ctx, intent, slackID, p, stored); err != nil {
		return nil, err
	}
	return intent, nil
}

// refreshGhost applies a profile Slack announced (user_change).
func (w *workspace) refreshGhost(ctx context.Context, u *slackapi.User) error {
	unlock := w.lockGhost(u.ID)
	defer unlock()
	stored, err := w.b.store.Ghost(ctx, w.key, u.ID)
	if err != nil && !bridge.IsNotFound(err) {
		return err
	}
	return w.updateGhost(ctx, w.b.as.Intent(w.ghostID(u.ID)), u.ID, userProfile(u), stored)
}

// updateGhost registers the ghost and sets what changed of its name and avatar.
func (w *workspace) updateGhost(ctx context.Context, intent *appservice.IntentAPI, slackID string, p profile, stored bridge.Ghost) error {
	if err := intent.EnsureRegistered(ctx); err != nil {
		return fmt.Errorf("register ghost %s: %w", intent.UserID, err)
	}
	if p.name != stored.Name || stored.UserID == "" {
		if err := intent.SetDisplayName(ctx, p.name); err != nil {
			return fmt.Errorf("name ghost %s: %w", intent.UserID, err)
		}
	}
	avatar := stored.AvatarMXC
	if p.avatarURL != stored.AvatarSource {
		uri, err := w.copyAvatar(ctx, intent, p.avatarURL)
		if err != nil {
			// A missing picture is not worth failing a message for; try again next time.
			w.log.WarnContext(ctx, "cannot copy a Slack avatar", "user", slackID, "error", err)
			p.avatarURL = stored.AvatarSource
		} else {
			avatar = uri.CUString()
			if err := intent.SetAvatarURL(ctx, uri); err != nil {
				return fmt.Errorf("set avatar of %s: %w", intent.UserID, err)
			}
		}
	}
	return w.b.store.PutGhost(ctx, bridge.Ghost{
		Key: w.key, RemoteID: slackID, UserID: intent.UserID, Name: p.name, AvatarSource: p.avatarURL,
		AvatarMXC: avatar, IsBot: p.isBot, UpdatedTS: time.Now().UnixMilli(),
	})
}

// copyAvatar downloads a Slack avatar into the media repository; "" clears it.
func (w *workspace) copyAvatar(ctx context.Context, intent *appservice.IntentAPI, url string) (id.ContentURI, error) {
	if url == "" {
		return id.ContentURI{}, nil
	}
	return w.copyImage(ctx, intent, url, "avatar", maxAvatarBytes)
}

// copyImage downloads a public Slack image (an avatar, a custom emoji) of at most limit bytes
// and uploads it to the media repository as intent.
func (w *workspace) copyImage(ctx context.Context, intent *appservice.IntentAPI, url, name string, limit int) (id.ContentURI, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return id.ContentURI{}, err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return id.ContentURI{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return id.ContentURI{}, fmt.Errorf("%s %s: %s", name, url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return id.ContentURI{}, err
	}
	if len(data) > limit {
		return id.ContentURI{}, fmt.Errorf("%s %s is larger than %d bytes", name, url, limit)
	}
	up, err := intent.UploadMedia(ctx, mautrix.ReqUploadMedia{ContentBytes: data, ContentType: resp.Header.Get("Content-Type"), FileName: name})
	if err != nil {
		return id.ContentURI{}, err
	}
	return up.ContentURI, nil
}
