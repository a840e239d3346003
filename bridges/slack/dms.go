package slack

import (
	"context"
	"fmt"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/bridges/slack/slackconn"
)

// DMs and group DMs are bridged for the people who logged in with their Slack account: the
// bot is in no DM, so Slack delivers their DM events to the app on their behalf (the
// manifest's user events message.im and message.mpim, with the user in the event's
// authorizations), and the bridge reads and writes those conversations with their token. A DM's
// portal is a private room to which the bot invites that person's Matrix account; the other
// members are ghosts.

// isDirect reports whether a Slack conversation ID or event channel type is a DM or group DM.
func isDirect(channelType string) bool { return channelType == "im" || channelType == "mpim" }

// authorizedUser returns the Slack user an event was delivered for, when it was delivered
// on a user's behalf rather than the bot's.
func authorizedUser(ev slackevents.EventsAPIEvent) string {
	var auths []slackapi.EventAuthorization
	switch cb := ev.Data.(type) {
	case *slackevents.EventsAPICallbackEvent:
		auths = cb.Authorizations
	case slackevents.EventsAPICallbackEvent:
		auths = cb.Authorizations
	}
	for _, a := range auths {
		if !a.IsBot {
			return a.UserID
		}
	}
	return ""
}

// ensureDMPortal makes sure a DM delivered on behalf of a Slack user has its portal, when that
// user logged in; it reports false when the DM is not to be bridged.
func (w *workspace) ensureDMPortal(ctx context.Context, channelID, slackUserID string) (bool, error) {
	if _, err := w.b.store.Portal(ctx, w.key, channelID); err == nil {
		return true, nil
	}
	login, err := w.b.store.LoginByRemote(ctx, w.key, slackUserID)
	if bridge.IsNotFound(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	unlock := w.lockChannel(channelID)
	defer unlock()
	api := w.conn.UserAPI(login.Token)
	var ch *slackapi.Channel
	err = api.Do(ctx, "conversations.info", func(ctx context.Context) (err error) {
		ch, err = api.Client().GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: channelID})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("DM %s: %w", channelID, err)
	}
	members, err := w.dmMembers(ctx, api, ch)
	if err != nil {
		return false, err
	}
	_, err = w.createDMPortal(ctx, ch, login.UserID, slices.DeleteFunc(members, func(m string) bool { return m == login.RemoteID }))
	return err == nil, err
}

// dmMembers lists the members of a DM (its user, for a one-to-one DM) or group DM.
func (w *workspace) dmMembers(ctx context.Context, api *slackconn.API, ch *slackapi.Channel) ([]string, error) {
	if ch.IsIM {
		return []string{ch.User}, nil
	}
	var members []string
	err := api.Do(ctx, "conversations.members", func(ctx context.Context) (err error) {
		members, _, err = api.Client().GetUsersInConversationContext(ctx, &slackapi.GetUsersInConversationParameters{ChannelID: ch.ID, Limit: 100})
		return err
	})
	return members, err
}

// createDMPortal makes the private room of a DM: the Matrix user is invited, the other members'
// ghosts join, and the room is named after them as clients name DMs.
func (w *workspace) createDMPortal(ctx context.Context, ch *slackapi.Channel, owner id.UserID, others []string) (bridge.Portal, error) {
	p, err := w.createPortalRoom(ctx, ch, []id.UserID{owner})
	if err != nil {
		return bridge.Portal{}, err
	}
	var names []string
	for _, slackID := range others {
		intent, err := w.userGhost(ctx, slackID)
		if err == nil {
			err = intent.EnsureJoined(ctx, p.RoomID)
		}
		if err != nil {
			w.log.WarnContext(ctx, "a DM member's ghost cannot join its portal", "user", slackID, "error", err)
			continue
		}
		if g, err := w.b.store.Ghost(ctx, w.key, slackID); err == nil {
			names = append(names, g.Name)
		}
	}
	p.Name = strings.Join(names, ", ")
	return p, w.b.store.UpdatePortalInfo(ctx, p)
}

// isDMKind reports whether a portal kind is a DM or group DM, which stay out of the space.
func isDMKind(kind string) bool { return kind == bridge.KindDM || kind == bridge.KindGroupDM }
