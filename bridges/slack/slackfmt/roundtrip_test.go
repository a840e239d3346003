package slackfmt

import (
	"testing"

	"maunium.net/go/mautrix/event"
)

// TestRoundTripMatrixSlackMatrix: simple formatting survives Matrix → Slack →
// Matrix unchanged (the tag names are the ones this package emits).
func TestRoundTripMatrixSlackMatrix(t *testing.T) {
	t.Parallel()
	tests := []string{
		`<strong>bold</strong>`,
		`<em>italic</em> and <del>strike</del>`,
		`some <code>code *with* _markers_</code> here`,
		`<a href="https://example.com/a_b?x=1&amp;y=2">a link</a>`,
		`<strong>bold <em>and italic</em></strong>, <a href="https://example.com">https://example.com</a>`,
		`x &lt; y &amp;&amp; y &gt; z <strong>&lt;b&gt;</strong>`,
		`line one<br><em>line two</em>`,
		`<a href="https://matrix.to/#/@slack_u1:example.org">Alice</a> said <code>hi</code>`,
		`<blockquote>quoted <strong>text</strong></blockquote>reply`,
		`<pre><code>if a &lt; b {
	*x*
}</code></pre>`,
	}
	for _, in := range tests {
		mrkdwn := HTMLToSlack(in, fakeMatrix{}, SlackOptions{})
		back := MrkdwnToMatrix(mrkdwn, fakeSlack{})
		got := back.FormattedBody
		if got == "" {
			got = plainToHTML(back.Body)
		}
		if got != in {
			t.Errorf("round trip of %q via %q\n got %q", in, mrkdwn, got)
		}
	}
}

// TestRoundTripPlain: plain text with Slack's reserved characters survives
// Matrix → Slack → Matrix, in particular a literal "&lt;".
func TestRoundTripPlain(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"a < b & c > d",
		"literally &lt; and &amp;amp;",
		"<@U1> <!channel> are not mentions here",
		"multi\nline\n\ntext",
	} {
		mrkdwn := ToSlack(&event.MessageEventContent{MsgType: event.MsgText, Body: body}, fakeMatrix{}, SlackOptions{AllowRoomMention: true})
		back := MrkdwnToMatrix(mrkdwn, fakeSlack{})
		if back.Body != body || back.FormattedBody != "" || len(back.UserIDs) != 0 || back.MentionsRoom {
			t.Errorf("round trip of %q via %q = %+v", body, mrkdwn, back)
		}
	}
}

// TestRoundTripSlackMatrixSlack: Slack mrkdwn survives Slack → Matrix →
// Slack for the constructs both sides have.
func TestRoundTripSlackMatrixSlack(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"*bold* _italic_ ~strike~ `code`",
		"<https://example.com/?a=1&amp;b=2|label> and <https://example.com>",
		"hi <@U1>, see <#C1>",
		"a &lt; b &amp;&amp; c &gt; d",
		"&gt; quoted\nreply",
		"```\ncode &lt;here&gt;\n```",
		":+1::skin-tone-2: done",
	} {
		m := MrkdwnToMatrix(in, fakeSlack{})
		content := m.Content(event.MsgText)
		got := ToSlack(content, fakeMatrix{}, SlackOptions{})
		want := in
		switch in {
		case ":+1::skin-tone-2: done":
			want = "👍🏻 done" // emoji arrive on Matrix as Unicode and stay Unicode
		case "&gt; quoted\nreply":
			want = "> quoted\nreply" // Slack escapes the marker it sends, not the one it receives
		}
		if got != want {
			t.Errorf("round trip of %q via %q\n got %q", in, m.FormattedBody, got)
		}
	}
}
