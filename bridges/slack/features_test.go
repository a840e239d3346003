package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	slackgo "github.com/slack-go/slack"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
)

var (
	stateBridge      = event.Type{Type: "m.bridge", Class: event.StateEventType}
	stateHalfShot    = event.Type{Type: "uk.half-shot.bridge", Class: event.StateEventType}
	stateSpaceChild  = event.Type{Type: "m.space.child", Class: event.StateEventType}
	stateSpaceParent = event.Type{Type: "m.space.parent", Class: event.StateEventType}
)

// testPNG is a small PNG of w×h pixels.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{R: uint8(40 * x), G: uint8(60 * y), B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// joinedEnv starts the stack with bob, a Matrix user, in the portal of #general.
func joinedEnv(t *testing.T, driver, dsn string) (*env, *mautrix.Client, id.RoomID) {
	t.Helper()
	e := startEnv(t, driver, dsn)
	roomID := e.portal(t, e.general.ID)
	bob := e.user(t, "bob")
	if _, err := bob.JoinRoomByID(context.Background(), roomID); err != nil {
		t.Fatalf("bob joins the portal of a public channel: %v", err)
	}
	return e, bob, roomID
}

// messageFrom waits for a message from sender whose body is body.
func messageFrom(t *testing.T, cli *mautrix.Client, roomID id.RoomID, sender id.UserID, body string) *event.Event {
	t.Helper()
	return waitEvent(t, cli, roomID, fmt.Sprintf("%q from %s", body, sender), func(ev *event.Event) bool {
		return ev.Type == event.EventMessage && ev.Sender == sender && ev.Content.AsMessage().Body == body
	})
}

// waitMembership waits until userID's membership of the room is want.
func waitMembership(t *testing.T, cli *mautrix.Client, roomID id.RoomID, userID id.UserID, want event.Membership) event.MemberEventContent {
	t.Helper()
	var member event.MemberEventContent
	slackstack.WaitFor(t, fmt.Sprintf("%s to %s %s", userID, want, roomID), func() bool {
		member = event.MemberEventContent{}
		err := cli.StateEvent(context.Background(), roomID, event.StateMember, userID.String(), &member)
		return err == nil && member.Membership == want
	})
	return member
}

func TestPortalRoomState(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e, bob, roomID := joinedEnv(t, driver, dsn)
		team := e.slack.TeamID()

		t.Run("bridge info", func(t *testing.T) {
			stateKey := "net.causeway.slack://" + team + "/" + e.general.ID
			for _, typ := range []event.Type{stateBridge, stateHalfShot} {
				var info struct {
					BridgeBot id.UserID `json:"bridgebot"`
					Protocol  struct {
						ID string `json:"id"`
					} `json:"protocol"`
					Network struct {
						ID string `json:"id"`
					} `json:"network"`
					Channel struct {
						ID          string `json:"id"`
						DisplayName string `json:"displayname"`
					} `json:"channel"`
				}
				if err := bob.StateEvent(ctx, roomID, typ, stateKey, &info); err != nil {
					t.Errorf("%s %q: %v", typ.Type, stateKey, err)
					continue
				}
				if info.BridgeBot != botID || info.Protocol.ID != "slack" || info.Network.ID != team ||
					info.Channel.ID != e.general.ID || info.Channel.DisplayName != "general" {
					t.Errorf("%s content %+v", typ.Type, info)
				}
			}
		})
		t.Run("name and topic", func(t *testing.T) {
			var name event.RoomNameEventContent
			if err := bob.StateEvent(ctx, roomID, event.StateRoomName, "", &name); err != nil || name.Name != "#general" {
				t.Errorf("room name %q (%v), want #general", name.Name, err)
			}
			var topic map[string]any
			if err := bob.StateEvent(ctx, roomID, event.StateTopic, "", &topic); err != nil || topic["topic"] != "Everything" {
				t.Errorf("topic %v (%v), want Slack's Everything", topic["topic"], err)
			}
		})
		t.Run("topic parses", func(t *testing.T) {
			// m.topic is an object holding m.text (data/event-schemas/schema/m.room.topic.yaml,
			// Matrix 1.15); clients such as mautrix cannot read another shape.
			var topic event.TopicEventContent
			if err := bob.StateEvent(ctx, roomID, event.StateTopic, "", &topic); err != nil || topic.Topic != "Everything" {
				t.Errorf("topic %q: %v", topic.Topic, err)
			}
		})
		t.Run("in the workspace's space", func(t *testing.T) {
			space, err := e.store.Space(ctx, bridge.Key{Network: "slack", Workspace: team})
			if err != nil {
				t.Fatal(err)
			}
			var parent map[string]any
			if err := bob.StateEvent(ctx, roomID, stateSpaceParent, space.String(), &parent); err != nil {
				t.Errorf("the portal's m.space.parent %s: %v", space, err)
			}
			if _, err := bob.JoinRoomByID(ctx, space); err != nil {
				t.Fatalf("bob joins the space: %v", err)
			}
			var child struct {
				Via []string `json:"via"`
			}
			if err := bob.StateEvent(ctx, space, stateSpaceChild, roomID.String(), &child); err != nil || len(child.Via) == 0 {
				t.Errorf("the space's m.space.child for the portal: %+v, %v", child, err)
			}
			var name event.RoomNameEventContent
			if err := bob.StateEvent(ctx, space, event.StateRoomName, "", &name); err != nil || name.Name != "Slack: Causeway Test" {
				t.Errorf("space name %q (%v)", name.Name, err)
			}
			var create event.CreateEventContent
			if err := bob.StateEvent(ctx, space, event.StateCreate, "", &create); err != nil || create.Type != event.RoomTypeSpace {
				t.Errorf("space's room type %q (%v)", create.Type, err)
			}
		})
		t.Run("in the room directory", func(t *testing.T) {
			resp, err := bob.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(resp.Chunk, func(r *mautrix.PublicRoomInfo) bool { return r.RoomID == roomID }) {
				t.Errorf("the portal of a public channel is not in /publicRooms: %+v", resp.Chunk)
			}
		})
	})
}

func TestSlackToMatrixFeatures(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e, bob, roomID := joinedEnv(t, driver, dsn)
		alice := e.ghost(e.alice.ID)
		carol := e.slack.AddUser(fakeslack.UserSpec{Name: "carol", RealName: "Carol Danvers"})

		t.Run("image", func(t *testing.T) {
			data := testPNG(t, 3, 2)
			if _, _, err := e.slack.UploadFile(e.alice.ID, e.general.ID, fakeslack.FileSpec{Name: "dots.png", Data: data}); err != nil {
				t.Fatal(err)
			}
			ev := waitEvent(t, bob, roomID, "the image", func(ev *event.Event) bool {
				return ev.Sender == alice && ev.Type == event.EventMessage && ev.Content.AsMessage().MsgType == event.MsgImage
			})
			content := ev.Content.AsMessage()
			if content.Info == nil {
				t.Fatalf("m.image without info: %+v", content)
			}
			if got := *content.Info; got.MimeType != "image/png" || got.Size != len(data) || got.Width != 3 || got.Height != 2 {
				t.Errorf("info %+v, want image/png of %d bytes, 3×2", got, len(data))
			}
			if content.Body != "dots.png" {
				t.Errorf("body %q", content.Body)
			}
			uri, err := content.URL.Parse()
			if err != nil {
				t.Fatalf("url %q: %v", content.URL, err)
			}
			got, err := bob.DownloadBytes(ctx, uri)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("downloaded %d bytes that differ from Slack's %d", len(got), len(data))
			}
		})
		t.Run("file", func(t *testing.T) {
			data := []byte("minutes of the meeting\n")
			if _, _, err := e.slack.UploadFile(e.alice.ID, e.general.ID, fakeslack.FileSpec{Name: "minutes.txt", Data: data}); err != nil {
				t.Fatal(err)
			}
			ev := messageFrom(t, bob, roomID, alice, "minutes.txt")
			content := ev.Content.AsMessage()
			if content.MsgType != event.MsgFile || content.Info == nil || content.Info.MimeType != "text/plain" || content.Info.Size != len(data) {
				t.Errorf("file arrived as %s with info %+v", content.MsgType, content.Info)
			}
			uri, _ := content.URL.Parse()
			if got, err := bob.DownloadBytes(ctx, uri); err != nil || !bytes.Equal(got, data) {
				t.Errorf("downloaded %q (%v), want %q", got, err, data)
			}
		})
		t.Run("me message", func(t *testing.T) {
			if _, err := e.slack.MeMessage(e.alice.ID, e.general.ID, "waves"); err != nil {
				t.Fatal(err)
			}
			if ev := messageFrom(t, bob, roomID, alice, "waves"); ev.Content.AsMessage().MsgType != event.MsgEmote {
				t.Errorf("/me arrived as %s, want m.emote", ev.Content.AsMessage().MsgType)
			}
		})
		t.Run("bot message", func(t *testing.T) {
			// The fake models another app's bot as a bot user (is_bot) posting with its own token.
			deploy := e.slack.AddUser(fakeslack.UserSpec{Name: "deploybot", RealName: "Deploy Bot", IsBot: true})
			if err := e.slack.Join(deploy.ID, e.general.ID); err != nil {
				t.Fatal(err)
			}
			token, err := e.slack.IssueUserToken(deploy.ID)
			if err != nil {
				t.Fatal(err)
			}
			api := slackgo.New(token, slackgo.OptionAPIURL(e.slack.APIURL()))
			if _, _, err := api.PostMessageContext(ctx, e.general.ID, slackgo.MsgOptionText("deployed v1.2.3", false)); err != nil {
				t.Fatal(err)
			}
			ghost := e.ghost(deploy.ID)
			ev := messageFrom(t, bob, roomID, ghost, "deployed v1.2.3")
			if got := ev.Content.AsMessage().MsgType; got != event.MsgNotice {
				t.Errorf("a bot's message arrived as %s, want m.notice", got)
			}
			g, err := e.store.Ghost(ctx, bridge.Key{Network: "slack", Workspace: e.slack.TeamID()}, deploy.ID)
			if err != nil || !g.IsBot {
				t.Errorf("the bot's ghost %+v (%v), want one marked as a bot", g, err)
			}
		})
		t.Run("thread broadcast", func(t *testing.T) {
			root, err := e.slack.Post(e.alice.ID, e.general.ID, "broadcast root")
			if err != nil {
				t.Fatal(err)
			}
			rootEv := messageFrom(t, bob, roomID, alice, "broadcast root")
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, "also in the channel", fakeslack.InThread(root), fakeslack.Broadcast()); err != nil {
				t.Fatal(err)
			}
			var copies []*event.Event
			slackstack.WaitFor(t, "the broadcast twice", func() bool {
				copies = copies[:0]
				for _, ev := range roomEvents(t, bob, roomID) {
					if ev.Type == event.EventMessage && ev.Sender == alice && ev.Content.AsMessage().Body == "also in the channel" {
						copies = append(copies, ev)
					}
				}
				return len(copies) >= 2
			})
			inThread, inTimeline := 0, 0
			for _, ev := range copies {
				switch ev.Content.AsMessage().RelatesTo.GetThreadParent() {
				case rootEv.ID:
					inThread++
				case "":
					inTimeline++
				}
			}
			if inThread != 1 || inTimeline != 1 || len(copies) != 2 {
				t.Errorf("%d copies: %d in the thread of %s, %d in the main timeline; want one of each", len(copies), inThread, rootEv.ID, inTimeline)
			}
		})
		t.Run("user mention", func(t *testing.T) {
			// As a Slack client sends a mention: <@U…> in the text and a user element in the block.
			text := fmt.Sprintf("thanks <@%s>!", carol.ID)
			blocks := fmt.Sprintf(`[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[
				{"type":"text","text":"thanks "},{"type":"user","user_id":%q},{"type":"text","text":"!"}]}]}]`, carol.ID)
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, text, fakeslack.WithBlocks(json.RawMessage(blocks))); err != nil {
				t.Fatal(err)
			}
			ev := waitEvent(t, bob, roomID, "the mention", func(ev *event.Event) bool {
				return ev.Sender == alice && ev.Type == event.EventMessage && strings.HasPrefix(ev.Content.AsMessage().Body, "thanks ")
			})
			content := ev.Content.AsMessage()
			ghost := e.ghost(carol.ID)
			if want := `href="https://matrix.to/#/` + ghost.String() + `"`; !strings.Contains(content.FormattedBody, want) {
				t.Errorf("formatted_body %q has no pill %s", content.FormattedBody, want)
			}
			if content.Mentions == nil || !slices.Contains(content.Mentions.UserIDs, ghost) {
				t.Errorf("m.mentions %+v, want %s", content.Mentions, ghost)
			}
		})
		t.Run("here", func(t *testing.T) {
			blocks := `[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[
				{"type":"broadcast","range":"here"},{"type":"text","text":" lunch is ready"}]}]}]`
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, "<!here> lunch is ready", fakeslack.WithBlocks(json.RawMessage(blocks))); err != nil {
				t.Fatal(err)
			}
			ev := waitEvent(t, bob, roomID, "the @here", func(ev *event.Event) bool {
				return ev.Sender == alice && ev.Type == event.EventMessage && strings.Contains(ev.Content.AsMessage().Body, "lunch is ready")
			})
			content := ev.Content.AsMessage()
			if !strings.Contains(content.Body, "@room") {
				t.Errorf("body %q, want @room", content.Body)
			}
			if content.Mentions == nil || !content.Mentions.Room {
				t.Errorf("m.mentions %+v, want room", content.Mentions)
			}
		})
		t.Run("join and leave", func(t *testing.T) {
			ghost := e.ghost(carol.ID)
			if err := e.slack.Join(carol.ID, e.general.ID); err != nil {
				t.Fatal(err)
			}
			member := waitMembership(t, bob, roomID, ghost, event.MembershipJoin)
			if member.Displayname != "Carol Danvers" {
				t.Errorf("carol's ghost joined as %q", member.Displayname)
			}
			if err := e.slack.Leave(carol.ID, e.general.ID); err != nil {
				t.Fatal(err)
			}
			waitMembership(t, bob, roomID, ghost, event.MembershipLeave)
		})
		t.Run("display name change", func(t *testing.T) {
			waitMembership(t, bob, roomID, alice, event.MembershipJoin) // she has spoken above
			if _, err := e.slack.UpdateUser(e.alice.ID, func(s *fakeslack.UserSpec) { s.DisplayName = "Ally" }); err != nil {
				t.Fatal(err)
			}
			slackstack.WaitFor(t, "alice's ghost renamed in the portal", func() bool {
				var member event.MemberEventContent
				err := bob.StateEvent(ctx, roomID, event.StateMember, alice.String(), &member)
				return err == nil && member.Displayname == "Ally"
			})
		})
		// Topic and name changes from Slack are in TestPinsAndChannelInfoBothWays.
	})
}

// settle makes sure the bridge has handled everything Slack sent before now: a message alice
// posts afterwards has arrived, and the bridge keeps each channel's events in order.
func settle(t *testing.T, e *env, cli *mautrix.Client, roomID id.RoomID) {
	t.Helper()
	text := fmt.Sprintf("sentinel %d", settleCount.Add(1))
	if _, err := e.slack.Post(e.alice.ID, e.general.ID, text); err != nil {
		t.Fatal(err)
	}
	messageFrom(t, cli, roomID, e.ghost(e.alice.ID), text)
}

// settleCount numbers the sentinels.
var settleCount atomic.Int64

// noEcho fails when anyone but cli's user posted a message in Matrix whose body holds one of
// texts, or an m.image or m.file: the bridge's own Slack posts must not come back.
func noEcho(t *testing.T, cli *mautrix.Client, roomID id.RoomID, texts ...string) {
	t.Helper()
	for _, ev := range roomEvents(t, cli, roomID) {
		if ev.Type != event.EventMessage || ev.Sender == cli.UserID {
			continue
		}
		content := ev.Content.AsMessage()
		if content.MsgType == event.MsgImage || content.MsgType == event.MsgFile {
			t.Errorf("echo: %s sent the file %q", ev.Sender, content.Body)
		}
		for _, text := range texts {
			if strings.Contains(content.Body, text) {
				t.Errorf("echo: %s sent %q", ev.Sender, content.Body)
			}
		}
	}
}

func TestMatrixToSlackFeatures(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e, bob, roomID := joinedEnv(t, driver, dsn)

		t.Run("image", func(t *testing.T) {
			data := testPNG(t, 4, 5)
			up, err := bob.UploadBytes(ctx, data, "image/png")
			if err != nil {
				t.Fatal(err)
			}
			_, err = bob.SendMessageEvent(ctx, roomID, event.EventMessage, &event.MessageEventContent{
				MsgType: event.MsgImage, Body: "square.png", URL: up.ContentURI.CUString(),
				Info: &event.FileInfo{MimeType: "image/png", Size: len(data), Width: 4, Height: 5},
			})
			if err != nil {
				t.Fatal(err)
			}
			m := waitSlack(t, e.slack, e.general.ID, "the image in Slack", func(m fakeslack.Message) bool { return len(m.Files) > 0 })
			f, got, err := e.slack.FileContent(m.Files[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) || f.Name != "square.png" || f.Mimetype != "image/png" {
				t.Errorf("Slack has %s (%s, %d bytes), want square.png with bob's %d bytes", f.Name, f.Mimetype, len(got), len(data))
			}
			if !strings.Contains(m.Text, "bob") {
				t.Errorf("the share says %q, not who sent it", m.Text)
			}
			settle(t, e, bob, roomID)
			noEcho(t, bob, roomID, "square.png")
		})
		t.Run("image deleted from Matrix", func(t *testing.T) {
			// The bridge must know which Slack message shared the file to delete it.
			data := testPNG(t, 2, 2)
			up, err := bob.UploadBytes(ctx, data, "image/png")
			if err != nil {
				t.Fatal(err)
			}
			sent, err := bob.SendMessageEvent(ctx, roomID, event.EventMessage, &event.MessageEventContent{
				MsgType: event.MsgImage, Body: "doomed.png", URL: up.ContentURI.CUString(),
			})
			if err != nil {
				t.Fatal(err)
			}
			m := waitSlack(t, e.slack, e.general.ID, "the image in Slack", func(m fakeslack.Message) bool {
				return len(m.Files) > 0 && m.Files[0].Name == "doomed.png"
			})
			if _, err := bob.RedactEvent(ctx, roomID, sent.EventID); err != nil {
				t.Fatal(err)
			}
			slackstack.WaitFor(t, "the file share deleted in Slack", func() bool {
				_, err := e.slack.Message(e.general.ID, m.TS)
				return err != nil
			})
		})
		t.Run("emote", func(t *testing.T) {
			if _, err := bob.SendMessageEvent(ctx, roomID, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgEmote, Body: "waves hello"}); err != nil {
				t.Fatal(err)
			}
			m := waitSlack(t, e.slack, e.general.ID, "the emote in Slack", func(m fakeslack.Message) bool { return strings.Contains(m.Text, "waves hello") })
			if m.Text != "_bob waves hello_" {
				t.Errorf("relayed emote %q, want _bob waves hello_", m.Text)
			}
			settle(t, e, bob, roomID)
			noEcho(t, bob, roomID, "waves hello")
		})
		t.Run("notice", func(t *testing.T) {
			if _, err := bob.SendNotice(ctx, roomID, "build passed"); err != nil {
				t.Fatal(err)
			}
			m := waitSlack(t, e.slack, e.general.ID, "the notice in Slack", func(m fakeslack.Message) bool { return strings.Contains(m.Text, "build passed") })
			if m.Text != "build passed" || m.Username != "bob" || m.BotID != e.slack.BotID() {
				t.Errorf("relayed notice %q by %q (bot %q)", m.Text, m.Username, m.BotID)
			}
			settle(t, e, bob, roomID)
			noEcho(t, bob, roomID, "build passed")
		})
		t.Run("thread", func(t *testing.T) {
			rootTS, err := e.slack.Post(e.alice.ID, e.general.ID, "a thread root from Slack")
			if err != nil {
				t.Fatal(err)
			}
			root := messageFrom(t, bob, roomID, e.ghost(e.alice.ID), "a thread root from Slack")
			_, err = bob.SendMessageEvent(ctx, roomID, event.EventMessage, &event.MessageEventContent{
				MsgType: event.MsgText, Body: "replying in the thread", RelatesTo: (&event.RelatesTo{}).SetThread(root.ID, root.ID),
			})
			if err != nil {
				t.Fatal(err)
			}
			m := waitSlack(t, e.slack, e.general.ID, "the thread reply in Slack", func(m fakeslack.Message) bool { return m.Text == "replying in the thread" })
			if m.ThreadTS != rootTS {
				t.Errorf("reply has thread_ts %q, want the root's %q", m.ThreadTS, rootTS)
			}
			settle(t, e, bob, roomID)
			noEcho(t, bob, roomID, "replying in the thread")
		})
	})
}
