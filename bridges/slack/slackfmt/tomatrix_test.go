package slackfmt

import (
	"testing"

	"maunium.net/go/mautrix/id"
)

// fakeSlack is a SlackResolver over fixed maps.
type fakeSlack struct{}

func (fakeSlack) User(u string) (id.UserID, string, bool) {
	switch u {
	case "U1":
		return "@slack_u1:example.org", "Alice", true
	case "U2":
		return "@slack_u2:example.org", "Bob <b>", true
	}
	return "", "", false
}

func (fakeSlack) Channel(c string) (string, string, bool) {
	if c == "C1" {
		return "https://matrix.to/#/%21room1:example.org", "general", true
	}
	return "", "", false
}

func (fakeSlack) Usergroup(g string) (string, bool) {
	if g == "S1" {
		return "devs", true
	}
	return "", false
}

func (fakeSlack) CustomEmoji(name string) (id.ContentURI, bool) {
	if name == "partyparrot" {
		return id.ContentURI{Homeserver: "example.org", FileID: "parrot"}, true
	}
	return id.ContentURI{}, false
}

func TestToMatrixPrefersRichText(t *testing.T) {
	t.Parallel()
	blocks := parseBlocks(t, richText(section(`{"type":"text","text":"from blocks","style":{"bold":true}}`)))
	got := ToMatrix("*from text*", blocks, fakeSlack{})
	if got.Body != "from blocks" {
		t.Errorf("with rich_text: Body = %q, want the blocks' text", got.Body)
	}
	other := parseBlocks(t, `[{"type":"section","text":{"type":"mrkdwn","text":"ignored"}}]`)
	got = ToMatrix("*from text*", other, fakeSlack{})
	if got.FormattedBody != "<strong>from text</strong>" {
		t.Errorf("without rich_text: FormattedBody = %q, want the text's mrkdwn", got.FormattedBody)
	}
	empty := parseBlocks(t, richText(section(``)))
	got = ToMatrix("from _text_", empty, fakeSlack{})
	if got.FormattedBody != "from <em>text</em>" {
		t.Errorf("empty rich_text: FormattedBody = %q, want the text's mrkdwn", got.FormattedBody)
	}
	got = ToMatrix("plain", nil, nil)
	if got.Body != "plain" || got.FormattedBody != "" {
		t.Errorf("no blocks: got %+v", got)
	}
}

func TestMessageContent(t *testing.T) {
	t.Parallel()
	m := MrkdwnToMatrix("<!here> *hi* <@U1>", fakeSlack{})
	c := m.Content("m.text")
	if c.Format != "org.matrix.custom.html" || c.FormattedBody != m.FormattedBody || c.Body != m.Body {
		t.Errorf("Content() = %+v, want the message's bodies with format set", c)
	}
	if !c.Mentions.Room || len(c.Mentions.UserIDs) != 1 || c.Mentions.UserIDs[0] != "@slack_u1:example.org" {
		t.Errorf("Content().Mentions = %+v", c.Mentions)
	}
	plain := MrkdwnToMatrix("plain", nil).Content("m.notice")
	if plain.Format != "" || plain.FormattedBody != "" || plain.Mentions == nil {
		t.Errorf("plain Content() = %+v, want no format and empty (non-nil) mentions", plain)
	}
}
