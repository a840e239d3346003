package slack_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/appservice"
	"causeway/bridges/bridge"
	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/accounts"
	"causeway/homeserver/server"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
)

// env is the whole stack of an end-to-end test: a fake Slack workspace, the homeserver with
// the bridge wired in process as cmd wires it, and Matrix users over real HTTP.
type env struct {
	slack   *fakeslack.Server
	stack   *slackstack.Stack
	srv     *server.Server
	hsURL   string
	store   *bridge.Store
	bridge  *slackbridge.Bridge
	alice   fakeslack.User    // a Slack user
	general fakeslack.Channel // a channel the bot is in

	extraWorkspaces []slackbridge.WorkspaceConfig // configured after the fake's, before startServer
	overHTTP        bool                          // the fake's app sends its events over HTTP, not Socket Mode

	transport *appservice.InProcessTransport // carries the homeserver's requests to the bridge
	hsToken   string                         // what the homeserver presents to the bridge
}

// startEnv starts the stack on a fresh database of driver, with the fake's workspace and any
// extra ones configured.
func startEnv(t *testing.T, driver, dsn string, extra ...slackbridge.WorkspaceConfig) *env {
	t.Helper()
	return startEnvWith(t, dsn, &env{extraWorkspaces: extra}, fakeslack.Options{PingInterval: time.Second})
}

// startEnvWith starts e, as startEnv does, on a fake Slack made with opts.
func startEnvWith(t *testing.T, dsn string, e *env, opts fakeslack.Options) *env {
	t.Helper()
	fake := fakeslack.New(opts)
	t.Cleanup(fake.Close)
	e.slack = fake
	e.alice = fake.AddUser(fakeslack.UserSpec{Name: "alice", RealName: "Alice Liddell"})
	general, err := fake.AddChannel(fakeslack.ChannelSpec{Name: "general", Members: []string{e.alice.ID}, BotMember: true, Topic: "Everything", General: true})
	if err != nil {
		t.Fatal(err)
	}
	e.general = general
	e.startServer(t, dsn)
	return e
}

// startServer boots the homeserver and the bridge on dsn. When the fake's app sends its
// events over HTTP, its Request URL is set to the new server, as an admin does.
func (e *env) startServer(t *testing.T, dsn string) {
	t.Helper()
	ws := slackbridge.WorkspaceConfig{
		Name: "test", AppToken: slackbridge.Secret(e.slack.AppToken()), BotToken: slackbridge.Secret(e.slack.BotToken()),
		APIURL: e.slack.APIURL(), Channels: slackbridge.ChannelList{"all"}, Relay: true,
	}
	if e.overHTTP {
		ws.AppToken, ws.SigningSecret = "", slackbridge.Secret(e.slack.SigningSecret())
	}
	st := slackstack.Start(t, slackstack.Options{DSN: dsn, Workspaces: append([]slackbridge.WorkspaceConfig{ws}, e.extraWorkspaces...)})
	e.stack, e.srv, e.hsURL, e.store, e.bridge = st, st.Server, st.URL, st.Store, st.Bridge
	e.transport, e.hsToken = st.Transport, st.HSToken
	if e.overHTTP {
		if err := e.slack.UseEventsAPI(context.Background(), e.hsURL+slackbridge.EventsPath+"test"); err != nil {
			t.Fatalf("Slack refused the Request URL: %v", err)
		}
	}
}

// stop shuts the bridge and the homeserver down; startServer starts them again.
func (e *env) stop() { e.stack.Stop() }

// down stops the stack as stop does and waits until Slack has noticed the app is gone, so
// that what Slack users post from now on waits for a new connection.
func (e *env) down(t *testing.T) {
	t.Helper()
	e.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.slack.WaitDisconnected(ctx); err != nil {
		t.Fatalf("the bridge's Socket Mode connection is still open after stopping: %v", err)
	}
}

// portal waits for the portal of a Slack channel and returns its room.
func (e *env) portal(t *testing.T, channelID string) id.RoomID {
	t.Helper()
	var roomID id.RoomID
	slackstack.WaitFor(t, "the portal of "+channelID, func() bool {
		p, err := e.store.Portal(context.Background(), bridge.Key{Network: "slack", Workspace: e.slack.TeamID()}, channelID)
		roomID = p.RoomID
		return err == nil
	})
	return roomID
}

// user registers a Matrix user.
func (e *env) user(t *testing.T, localpart string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(e.hsURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.RegisterDummy(context.Background(), &mautrix.ReqRegister[any]{Username: localpart, Password: "a long password"})
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	cli.SetCredentials(resp.UserID, resp.AccessToken)
	return cli
}

// joinGeneral registers a Matrix user who joins the portal of #general, and returns them with
// the portal's room.
func (e *env) joinGeneral(t *testing.T, localpart string) (*mautrix.Client, id.RoomID) {
	t.Helper()
	roomID := e.portal(t, e.general.ID)
	cli := e.user(t, localpart)
	if _, err := cli.JoinRoomByID(context.Background(), roomID); err != nil {
		t.Fatalf("%s joins the portal of #general: %v", localpart, err)
	}
	return cli, roomID
}

// ghost is the Matrix user of a Slack user.
func (e *env) ghost(slackUserID string) id.UserID {
	return id.UserID("@slack_" + strings.ToLower(e.slack.TeamID()) + "_" + strings.ToLower(slackUserID) + ":localhost")
}

// roomEvents returns a room's timeline as cli sees it, oldest first.
func roomEvents(t *testing.T, cli *mautrix.Client, roomID id.RoomID) []*event.Event {
	t.Helper()
	resp, err := cli.Messages(context.Background(), roomID, "", "", mautrix.DirectionBackward, nil, 1000)
	if err != nil {
		t.Fatalf("messages of %s: %v", roomID, err)
	}
	out := make([]*event.Event, 0, len(resp.Chunk))
	for i := len(resp.Chunk) - 1; i >= 0; i-- {
		ev := resp.Chunk[i]
		_ = ev.Content.ParseRaw(ev.Type)
		out = append(out, ev)
	}
	return out
}

// waitEvent waits until cli sees an event in the room that match accepts, and returns it.
func waitEvent(t *testing.T, cli *mautrix.Client, roomID id.RoomID, what string, match func(*event.Event) bool) *event.Event {
	t.Helper()
	var found *event.Event
	slackstack.WaitFor(t, what, func() bool {
		for _, ev := range roomEvents(t, cli, roomID) {
			if match(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// waitSlack waits until a channel holds a message that match accepts, and returns it.
func waitSlack(t *testing.T, fake *fakeslack.Server, channelID, what string, match func(fakeslack.Message) bool) fakeslack.Message {
	t.Helper()
	var found fakeslack.Message
	slackstack.WaitFor(t, what, func() bool {
		msgs, err := fake.Messages(channelID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// admin registers a server admin.
func (e *env) admin(t *testing.T) *mautrix.Client {
	t.Helper()
	ctx := context.Background()
	_, err := e.srv.Accounts.Register(ctx, accounts.RegisterParams{Localpart: "root", Password: "a long password", Admin: true, InhibitLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := mautrix.NewClient(e.hsURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "root"}, Password: "a long password", StoreCredentials: true})
	if err != nil || resp.AccessToken == "" {
		t.Fatalf("admin login: %v", err)
	}
	return cli
}
