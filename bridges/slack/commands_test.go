package slack_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
)

const botID = id.UserID("@slackbot:localhost")

// command sends a command in a room and returns the bot's answer to it.
func command(t *testing.T, cli *mautrix.Client, roomID id.RoomID, text string) string {
	t.Helper()
	resp, err := cli.SendText(context.Background(), roomID, text)
	if err != nil {
		t.Fatal(err)
	}
	answer := waitEvent(t, cli, roomID, "the answer to "+text, func(ev *event.Event) bool {
		return ev.Sender == botID && ev.Type == event.EventMessage && ev.Content.AsMessage().RelatesTo.GetReplyTo() == resp.EventID
	})
	return answer.Content.AsMessage().Body
}

// dmWithBot opens a DM between cli and the bridge bot.
func dmWithBot(t *testing.T, cli *mautrix.Client) id.RoomID {
	t.Helper()
	room, err := cli.CreateRoom(context.Background(), &mautrix.ReqCreateRoom{Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{botID}})
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, cli, room.RoomID, "the bot joining", func(ev *event.Event) bool {
		return ev.Type == event.StateMember && ev.GetStateKey() == botID.String() && ev.Content.AsMember().Membership == event.MembershipJoin
	})
	return room.RoomID
}

func TestBotCommands(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		general := e.portal(t, e.general.ID)
		bob := e.user(t, "bob")
		dm := dmWithBot(t, bob)

		if got := command(t, bob, dm, "help"); !strings.Contains(got, "Slack bridge commands") {
			t.Errorf("help: %q", got)
		}
		if got := command(t, bob, dm, "status"); !strings.Contains(got, "test ("+e.slack.TeamID()+"): connected, 1 channels bridged") {
			t.Errorf("status: %q", got)
		}
		if got := command(t, bob, dm, "frobnicate"); !strings.HasPrefix(got, "Error: unknown command") {
			t.Errorf("unknown command: %q", got)
		}

		t.Run("login posts as yourself", func(t *testing.T) {
			if got := command(t, bob, dm, "login not-a-token"); !strings.Contains(got, "not a Slack user token") {
				t.Errorf("bad token: %q", got)
			}
			token, err := e.slack.IssueUserToken(e.alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := command(t, bob, dm, "login "+token); !strings.HasPrefix(got, "Logged in to test as alice") {
				t.Fatalf("login: %q", got)
			}
			for _, ev := range roomEvents(t, bob, dm) {
				if ev.Type == event.EventMessage && strings.Contains(ev.Content.AsMessage().Body, token) {
					t.Error("the token stays in the room: the login command was not redacted")
				}
			}
			if _, err := bob.JoinRoomByID(ctx, general); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.SendText(ctx, general, "as myself"); err != nil {
				t.Fatal(err)
			}
			m := waitSlack(t, e.slack, e.general.ID, "bob's post", func(m fakeslack.Message) bool { return m.Text == "as myself" })
			if m.User != e.alice.ID || m.BotID != "" || m.Username != "" {
				t.Errorf("posted by user %q bot %q username %q, want alice herself", m.User, m.BotID, m.Username)
			}
			// What alice says in Slack now appears as bob's own Matrix account, not her ghost,
			// and does not come back to Slack.
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, "typed in Slack"); err != nil {
				t.Fatal(err)
			}
			ev := waitEvent(t, bob, general, "alice's Slack message in Matrix", func(ev *event.Event) bool {
				return ev.Type == event.EventMessage && ev.Content.AsMessage().Body == "typed in Slack"
			})
			if ev.Sender != bob.UserID {
				t.Errorf("sent by %s, want bob himself (double puppeting)", ev.Sender)
			}
			// The bridge handles Matrix events in order: once a later one reached Slack, an
			// echo of the earlier one would be there.
			if _, err := bob.SendText(ctx, general, "a marker after it"); err != nil {
				t.Fatal(err)
			}
			waitSlack(t, e.slack, e.general.ID, "the marker", func(m fakeslack.Message) bool { return m.Text == "a marker after it" })
			msgs, _ := e.slack.Messages(e.general.ID)
			n := 0
			for _, m := range msgs {
				if m.Text == "typed in Slack" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("Slack holds %d copies of alice's message, want 1 (an echo came back)", n)
			}
			if got := command(t, bob, dm, "logout"); !strings.HasPrefix(got, "Logged out") {
				t.Errorf("logout: %q", got)
			}
			// The grant went with the login: the bridge may no longer act as bob.
			if grants, err := e.srv.DB.AppserviceGrantsOfUser(ctx, bob.UserID); err != nil || len(grants) != 0 {
				t.Errorf("grants after logout: %v, %v", grants, err)
			}
		})

		t.Run("bridge a channel into a new portal", func(t *testing.T) {
			random, err := e.slack.AddChannel(fakeslack.ChannelSpec{Name: "random", Members: []string{e.alice.ID}})
			if err != nil {
				t.Fatal(err)
			}
			if got := command(t, bob, dm, "bridge #random"); !strings.HasPrefix(got, "#random is bridged to") {
				t.Fatalf("bridge: %q", got)
			}
			roomID := e.portal(t, random.ID)
			if _, err := e.slack.Post(e.alice.ID, random.ID, "now bridged"); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.JoinRoomByID(ctx, roomID); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, bob, roomID, "a message of #random", func(ev *event.Event) bool {
				return ev.Type == event.EventMessage && ev.Content.AsMessage().Body == "now bridged"
			})
		})

		t.Run("bridge into an existing room, then unbridge", func(t *testing.T) {
			other, err := e.slack.AddChannel(fakeslack.ChannelSpec{Name: "other", Members: []string{e.alice.ID}, BotMember: true})
			if err != nil {
				t.Fatal(err)
			}
			room, err := bob.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Our room", Invite: []id.UserID{botID},
				PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{bob.UserID: 100, botID: 50}}})
			if err != nil {
				t.Fatal(err)
			}
			waitEvent(t, bob, room.RoomID, "the bot joining", func(ev *event.Event) bool {
				return ev.Type == event.StateMember && ev.GetStateKey() == botID.String()
			})
			if got := command(t, bob, room.RoomID, "bridge other here"); !strings.HasPrefix(got, "#other is bridged to") {
				t.Fatalf("bridge into a room: %q", got)
			}
			p, err := e.store.PortalByRoom(ctx, room.RoomID)
			if err != nil || p.ChannelID != other.ID {
				t.Fatalf("portal of the room: %+v, %v", p, err)
			}
			if _, err := e.slack.Post(e.alice.ID, other.ID, "into your room"); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, bob, room.RoomID, "a message of #other", func(ev *event.Event) bool {
				return ev.Type == event.EventMessage && ev.Content.AsMessage().Body == "into your room"
			})
			if got := command(t, bob, room.RoomID, "!slack unbridge"); !strings.Contains(got, "no longer bridged") {
				t.Fatalf("unbridge: %q", got)
			}
			if _, err := e.store.PortalByRoom(ctx, room.RoomID); !bridge.IsNotFound(err) {
				t.Errorf("the portal stayed: %v", err)
			}
		})

		t.Run("only room admins unbridge", func(t *testing.T) {
			if got := command(t, bob, general, "!slack unbridge"); !strings.Contains(got, "only an admin") {
				t.Errorf("unbridge by a member: %q", got)
			}
		})
	})
}

func TestAdminBridgeAPI(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		e.portal(t, e.general.ID)
		random, err := e.slack.AddChannel(fakeslack.ChannelSpec{Name: "random", Members: []string{e.alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		root := e.admin(t)
		base := e.hsURL + "/_causeway/admin/v1/bridges/slack/test/channels/"
		var created struct {
			RoomID id.RoomID `json:"room_id"`
		}
		if _, err := root.MakeRequest(ctx, "PUT", base+"random", struct{}{}, &created); err != nil {
			t.Fatalf("bridge #random: %v", err)
		}
		if got := e.portal(t, random.ID); got != created.RoomID {
			t.Errorf("portal %s, the API said %s", got, created.RoomID)
		}
		if _, err := root.MakeRequest(ctx, "POST", base+"random/resync", struct{}{}, nil); err != nil {
			t.Errorf("resync: %v", err)
		}
		for _, tc := range []struct {
			method, url, code string
		}{
			{"PUT", e.hsURL + "/_causeway/admin/v1/bridges/slack/nope/channels/random", "M_NOT_FOUND"},
			{"PUT", e.hsURL + "/_causeway/admin/v1/bridges/discord/x/channels/random", "M_NOT_FOUND"},
			{"PUT", base + "no-such-channel", "M_NOT_FOUND"},
			{"PUT", base + "random", "M_UNKNOWN"}, // bridged already
		} {
			_, err := root.MakeRequest(ctx, tc.method, tc.url, struct{}{}, nil)
			if errCode(err) != tc.code {
				t.Errorf("%s %s: %v, want %s", tc.method, tc.url, err, tc.code)
			}
		}
		bob := e.user(t, "bob")
		if _, err := bob.MakeRequest(ctx, "DELETE", base+"random", nil, nil); errCode(err) != "M_FORBIDDEN" {
			t.Errorf("unbridge by a non-admin: %v", err)
		}
		if _, err := root.MakeRequest(ctx, "DELETE", base+"random", nil, nil); err != nil {
			t.Fatalf("unbridge: %v", err)
		}
		if _, err := e.store.PortalByRoom(ctx, created.RoomID); !bridge.IsNotFound(err) {
			t.Errorf("portal after unbridge: %v", err)
		}
	})
}

func errCode(err error) string {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.RespError != nil {
		return httpErr.RespError.ErrCode
	}
	return ""
}

// TestDirectMessages bridges the DMs of someone who logged in: a Slack user's DM to them
// arrives in a private room they are invited to, and their answer goes back as themselves.
func TestDirectMessages(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		e.portal(t, e.general.ID)
		bob := e.user(t, "bob")
		dm := dmWithBot(t, bob)
		token, err := e.slack.IssueUserToken(e.alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := command(t, bob, dm, "login "+token); !strings.HasPrefix(got, "Logged in") {
			t.Fatalf("login: %q", got)
		}
		carol := e.slack.AddUser(fakeslack.UserSpec{Name: "carol", RealName: "Carol Ann"})
		direct, err := e.slack.OpenDM(e.alice.ID, carol.ID)
		if err != nil {
			t.Fatal(err)
		}
		carolTS, err := e.slack.Post(carol.ID, direct.ID, "psst, alice")
		if err != nil {
			t.Fatal(err)
		}
		roomID := e.portal(t, direct.ID)
		slackstack.WaitFor(t, "bob's invitation", func() bool {
			m, err := e.srv.Rooms.Membership(ctx, roomID, bob.UserID)
			return err == nil && m == "invite"
		})
		if _, err := bob.JoinRoomByID(ctx, roomID); err != nil {
			t.Fatal(err)
		}
		ev := waitEvent(t, bob, roomID, "carol's DM", func(ev *event.Event) bool {
			return ev.Type == event.EventMessage && ev.Content.AsMessage().Body == "psst, alice"
		})
		if ev.Sender != e.ghost(carol.ID) {
			t.Errorf("DM from %s, want carol's ghost", ev.Sender)
		}
		if _, err := e.user(t, "mallory").JoinRoomByID(ctx, roomID); err == nil {
			t.Error("anyone may join a DM's portal")
		}
		dmTS := carolTS
		if err := e.slack.React(carol.ID, direct.ID, dmTS, "wave"); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, bob, roomID, "carol's reaction in the DM", func(r *event.Event) bool {
			return r.Type == event.EventReaction && r.Content.AsReaction().RelatesTo.EventID == ev.ID
		})
		if _, err := bob.SendText(ctx, roomID, "hi carol"); err != nil {
			t.Fatal(err)
		}
		m := waitSlack(t, e.slack, direct.ID, "bob's answer in the DM", func(m fakeslack.Message) bool { return m.Text == "hi carol" })
		if m.User != e.alice.ID || m.BotID != "" {
			t.Errorf("answer posted by %q (bot %q), want alice herself", m.User, m.BotID)
		}

		// What carol writes while Causeway is down, and Slack never delivers, is caught up
		// from the DM's history with alice's token.
		e.down(t)
		if _, err := e.slack.Post(carol.ID, direct.ID, "while you were away"); err != nil {
			t.Fatal(err)
		}
		e.slack.DiscardUndelivered()
		e.startServer(t, dsn)
		bob.HomeserverURL = mustParseURL(t, e.hsURL)
		waitEvent(t, bob, roomID, "the DM sent during the downtime", func(ev *event.Event) bool {
			return ev.Type == event.EventMessage && ev.Content.AsMessage().Body == "while you were away"
		})
	})
}
