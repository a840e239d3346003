package slack_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
	"causeway/internal/slackstack"
)

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCustomEmoji(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		image := pngBytes(t)
		e.slack.AddEmoji("partyparrot", image)
		e.slack.AddEmojiAlias("parrotwave", "partyparrot")
		bob, roomID := e.joinGeneral(t, "bob")
		ts, err := e.slack.Post(e.alice.ID, e.general.ID, "party :parrotwave:")
		if err != nil {
			t.Fatal(err)
		}
		msg := waitEvent(t, bob, roomID, "the message", func(ev *event.Event) bool { return ev.Type == event.EventMessage })
		html := msg.Content.AsMessage().FormattedBody
		start := strings.Index(html, `src="mxc://`)
		if !strings.Contains(html, "data-mx-emoticon") || start < 0 {
			t.Fatalf("custom emoji not an inline image: %q", html)
		}
		uri, err := id.ParseContentURI(html[start+5 : start+5+strings.Index(html[start+5:], `"`)])
		if err != nil {
			t.Fatal(err)
		}
		if got, err := bob.DownloadBytes(ctx, uri); err != nil || !bytes.Equal(got, image) {
			t.Errorf("the inline image is not the emoji's (%v)", err)
		}

		if err := e.slack.React(e.alice.ID, e.general.ID, ts, "partyparrot"); err != nil {
			t.Fatal(err)
		}
		r := waitEvent(t, bob, roomID, "the custom reaction", func(ev *event.Event) bool { return ev.Type == event.EventReaction })
		if key := r.Content.AsReaction().RelatesTo.Key; key != uri.String() || r.Content.Raw["com.beeper.reaction.shortcode"] != ":partyparrot:" {
			t.Errorf("reaction key %q, shortcode %v; want the emoji's image %s", key, r.Content.Raw["com.beeper.reaction.shortcode"], uri)
		}

		// bob reacts with the same custom emoji from Matrix: Slack gets it by its name.
		_, err = bob.SendMessageEvent(ctx, roomID, event.EventReaction, map[string]any{
			"m.relates_to":                  map[string]any{"rel_type": "m.annotation", "event_id": msg.ID, "key": uri.String()},
			"com.beeper.reaction.shortcode": ":partyparrot:",
		})
		if err != nil {
			t.Fatal(err)
		}
		waitSlack(t, e.slack, e.general.ID, "bob's custom reaction", func(m fakeslack.Message) bool {
			for _, r := range m.Reactions {
				if r.Name == "partyparrot" && len(r.Users) == 2 {
					return true
				}
			}
			return false
		})
	})
}

func TestInvitedToPrivateChannel(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		e.portal(t, e.general.ID)
		carol := e.slack.AddUser(fakeslack.UserSpec{Name: "carol", RealName: "Carol"})
		secret, err := e.slack.AddChannel(fakeslack.ChannelSpec{Name: "secret", Private: true, Members: []string{e.alice.ID, carol.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.slack.Join(e.slack.BotUserID(), secret.ID); err != nil {
			t.Fatal(err)
		}
		roomID := e.portal(t, secret.ID)
		// The members' ghosts are in the new portal, and the room is not public.
		slackstack.WaitFor(t, "the members' ghosts", func() bool {
			a, err1 := e.srv.Rooms.Membership(ctx, roomID, e.ghost(e.alice.ID))
			c, err2 := e.srv.Rooms.Membership(ctx, roomID, e.ghost(carol.ID))
			return err1 == nil && err2 == nil && a == "join" && c == "join"
		})
		if _, err := e.user(t, "mallory").JoinRoomByID(ctx, roomID); err == nil {
			t.Error("anyone may join the portal of a private channel")
		}
	})
}

// TestRelayedAvatar: a relayed message carries the Matrix user's avatar as a public URL that
// Slack can fetch without a token, signed so that no other media can be fetched through it.
func TestRelayedAvatar(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		e := startEnv(t, driver, dsn)
		roomID := e.portal(t, e.general.ID)
		bob := e.user(t, "bob")
		avatar := pngBytes(t)
		up, err := bob.UploadBytes(ctx, avatar, "image/png")
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.SetAvatarURL(ctx, up.ContentURI); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.JoinRoomByID(ctx, roomID); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.SendText(ctx, roomID, "with my face"); err != nil {
			t.Fatal(err)
		}
		m := waitSlack(t, e.slack, e.general.ID, "the relayed message", func(m fakeslack.Message) bool { return m.Text == "with my face" })
		icon := m.Icons["image_48"]
		if !strings.HasPrefix(icon, e.hsURL+"/_causeway/bridges/slack/avatar/") {
			t.Fatalf("icon %q, want the bridge's public avatar URL", icon)
		}
		get := func(url string) (int, []byte) {
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, body
		}
		if status, body := get(icon); status != http.StatusOK || !bytes.Equal(body, avatar) {
			t.Errorf("fetching the icon: %d, %d bytes; want the avatar", status, len(body))
		}
		// Another media item under the same signature is refused.
		other, err := bob.UploadBytes(ctx, pngBytes(t), "image/png")
		if err != nil {
			t.Fatal(err)
		}
		forged := icon[:strings.LastIndex(icon, "/")+1] + other.ContentURI.FileID
		if status, _ := get(forged); status != http.StatusNotFound {
			t.Errorf("a forged avatar URL answered %d, want 404", status)
		}
	})
}

func TestUsergroupMention(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		e := startEnv(t, driver, dsn)
		group, err := e.slack.AddUserGroup(fakeslack.UserGroupSpec{Name: "Engineers", Handle: "eng", Users: []string{e.alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		bob, roomID := e.joinGeneral(t, "bob")
		if _, err := e.slack.Post(e.alice.ID, e.general.ID, "ping <!subteam^"+group+">"); err != nil {
			t.Fatal(err)
		}
		msg := waitEvent(t, bob, roomID, "the mention", func(ev *event.Event) bool { return ev.Type == event.EventMessage })
		if body := msg.Content.AsMessage().Body; body != "ping @eng" {
			t.Errorf("body %q, want the group's handle", body)
		}
	})
}
