package slackfmt

import (
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func TestHTMLToSlack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "basic formatting", in: `<strong>bold</strong> <b>b</b> <em>it</em> <i>i</i> <del>del</del> <s>s</s> <strike>x</strike> <code>c</code>`,
			want: "*bold* *b* _it_ _i_ ~del~ ~s~ ~x~ `c`"},
		{name: "nested formatting", in: `<strong>bold <em>both</em></strong>`,
			want: "*bold _both_*"},
		{name: "same emphasis nested once", in: `<b>a <strong>b</strong></b>`,
			want: "*a b*"},
		{name: "spaces move outside markers", in: `a<b> bold </b>b`,
			want: "a *bold* b"},
		{name: "bold over lines", in: `<b>one<br>two</b>`,
			want: "*one*\n*two*"},
		{name: "escaping", in: `a &lt;script&gt; &amp; b &lt;!channel&gt;`,
			want: "a &lt;script&gt; &amp; b &lt;!channel&gt;"},
		{name: "code escapes", in: `<code>a &lt; b &amp;&amp; *c*</code>`,
			want: "`a &lt; b &amp;&amp; *c*`"},
		{name: "pre", in: "<pre><code class=\"language-go\">if a &lt; b {\n\treturn\n}\n</code></pre>",
			want: "```\nif a &lt; b {\n\treturn\n}\n```"},
		{name: "pre between text", in: "<p>before</p><pre><code>x</code></pre><p>after</p>",
			want: "before\n\n```\nx\n```\n\nafter"},
		{name: "br and newlines", in: "one<br />\ntwo<br>three",
			want: "one\ntwo\nthree"},
		{name: "paragraphs", in: "<p>one</p>\n<p>two</p>",
			want: "one\n\ntwo"},
		{name: "whitespace collapses", in: "a   b\n c",
			want: "a b c"},
		{name: "blockquote", in: "<blockquote>\n<p>q1<br>q2</p>\n</blockquote>\n<p>reply</p>",
			want: "> q1\n> q2\n\nreply"},
		{name: "unordered list", in: "<ul>\n<li>a</li>\n<li><strong>b</strong></li>\n</ul>",
			want: "• a\n• *b*"},
		{name: "ordered list with start", in: `<ol start="3"><li>c</li><li>d</li></ol>`,
			want: "3. c\n4. d"},
		{name: "nested lists", in: "<ul><li>a<ul><li>a1</li><li>a2<ol><li>deep</li></ol></li></ul></li><li>b</li></ul>",
			want: "• a\n    • a1\n    • a2\n        1. deep\n• b"},
		{name: "list after text", in: "intro<ul><li>x</li></ul>outro",
			want: "intro\n• x\noutro"},
		{name: "link with label", in: `<a href="https://example.com/?a=1&amp;b=2">Example</a>`,
			want: "<https://example.com/?a=1&amp;b=2|Example>"},
		{name: "link label is url", in: `<a href="https://example.com">https://example.com</a>`,
			want: "<https://example.com>"},
		{name: "link label with markup and specials", in: `<a href="https://e.com/a|b">a <b>&lt;x&gt;</b></a>`,
			want: "<https://e.com/a%7Cb|a &lt;x&gt;>"},
		{name: "mailto", in: `<a href="mailto:a@b.c">a@b.c</a>`,
			want: "<mailto:a@b.c>"},
		{name: "unsafe link is text", in: `<a href="javascript:alert(1)">click</a>`,
			want: "click"},
		{name: "ghost pill", in: `hi <a href="https://matrix.to/#/@slack_u1:example.org">Alice</a>!`,
			want: "hi <@U1>!"},
		{name: "matrix user pill", in: `hi <a href="https://matrix.to/#/@carol:example.com">Carol &lt;3</a>`,
			want: "hi Carol &lt;3"},
		{name: "matrix user pill without text", in: `<a href="https://matrix.to/#/@carol:example.com"></a>`,
			want: "@carol:example.com"},
		{name: "matrix: URI pill", in: `<a href="matrix:u/slack_u1:example.org">Alice</a>`,
			want: "<@U1>"},
		{name: "portal room pill", in: `<a href="https://matrix.to/#/!room1:example.org">#general</a> <a href="https://matrix.to/#/%23general:example.org">#general</a>`,
			want: "<#C1> <#C1>"},
		{name: "other room pill stays a link", in: `<a href="https://matrix.to/#/#other:example.org">#other</a>`,
			want: "<https://matrix.to/#/#other:example.org|#other>"},
		{name: "event permalink is a link", in: `<a href="https://matrix.to/#/!room1:example.org/$ev?via=example.org">this</a>`,
			want: "<https://matrix.to/#/!room1:example.org/$ev?via=example.org|this>"},
		{name: "room mention allowed", in: "@room look, not @roomy or me@room",
			want: "<!channel> look, not @roomy or me@room"},
		{name: "room mention not in code", in: "<code>@room</code>",
			want: "`@room`"},
		{name: "custom emoji", in: `<img data-mx-emoticon src="mxc://example.org/blob" alt=":blobcat:" title=":blobcat:" height="32"> yes`,
			want: ":blobcat: yes"},
		{name: "image uses alt", in: `<img src="mxc://example.org/x" alt="a <cat>">`,
			want: "a &lt;cat&gt;"},
		{name: "reply fallback stripped", in: `<mx-reply><blockquote><a href="https://matrix.to/#/!r:e/$e">In reply to</a> <a href="https://matrix.to/#/@slack_u1:example.org">Alice</a><br>original</blockquote></mx-reply>my answer`,
			want: "my answer"},
		{name: "spoiler kept as text", in: `look: <span data-mx-spoiler="plot">Snape kills Dumbledore</span>`,
			want: "look: Snape kills Dumbledore"},
		{name: "headings", in: "<h1>Title</h1><p>text</p>",
			want: "*Title*\n\ntext"},
		{name: "font and unknown tags", in: `<font color="red">red</font> <sup>1</sup> <u>under</u> <details><summary>s</summary>d</details>`,
			want: "red 1 under\ns\nd"},
		{name: "script and style dropped", in: `<style>p{}</style><script>alert(1)</script>ok`,
			want: "ok"},
		{name: "hr", in: "a<hr>b",
			want: "a\n──────────\nb"},
		{name: "table", in: "<table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td><b>1</b></td></tr></table>",
			want: "k | v\na | *1*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := HTMLToSlack(tt.in, fakeMatrix{}, SlackOptions{AllowRoomMention: true})
			if got != tt.want {
				t.Errorf("HTMLToSlack(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestToSlack(t *testing.T) {
	t.Parallel()
	reply := &event.RelatesTo{InReplyTo: &event.InReplyTo{EventID: "$orig"}}
	tests := []struct {
		name    string
		content *event.MessageEventContent
		opts    SlackOptions
		want    string
	}{
		{name: "plain body is escaped", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "a < b & c > d\n*not converted*"},
			want: "a &lt; b &amp; c &gt; d\n*not converted*"},
		{name: "html preferred", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "**x**", Format: event.FormatHTML, FormattedBody: "<strong>x</strong>"},
			want: "*x*"},
		{name: "other format uses body", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "x", Format: "org.example.other", FormattedBody: "<b>y</b>"},
			want: "x"},
		{name: "room mention allowed", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "@room hi"},
			opts: SlackOptions{AllowRoomMention: true}, want: "<!channel> hi"},
		{name: "room mention not allowed", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "@room hi"},
			want: "@room hi"},
		{name: "room mention allowed but not intended", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "@room hi", Mentions: &event.Mentions{}},
			opts: SlackOptions{AllowRoomMention: true}, want: "@room hi"},
		{name: "room mention intended", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "@room hi", Format: event.FormatHTML, FormattedBody: "@room <em>hi</em>", Mentions: &event.Mentions{Room: true}},
			opts: SlackOptions{AllowRoomMention: true}, want: "<!channel> _hi_"},
		{name: "plain reply fallback stripped", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "> <@alice:example.org> original\n> more\n\nmy answer", RelatesTo: reply},
			want: "my answer"},
		{name: "quote without reply kept", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "> <@alice:example.org> original\n\nmy answer"},
			want: "&gt; &lt;@alice:example.org&gt; original\n\nmy answer"},
		{name: "html reply fallback stripped", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "> <@a:b> x\n\ny", Format: event.FormatHTML,
			FormattedBody: "<mx-reply><blockquote>x</blockquote></mx-reply>y <b>z</b>", RelatesTo: reply},
			want: "y *z*"},
		{name: "emote", content: &event.MessageEventContent{MsgType: event.MsgEmote, Body: "waves", Format: event.FormatHTML, FormattedBody: "waves <em>wildly</em>"},
			want: "waves _wildly_"},
		{name: "nil content", content: nil, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ToSlack(tt.content, fakeMatrix{}, tt.opts); got != tt.want {
				t.Errorf("ToSlack()\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestToSlackNilResolver(t *testing.T) {
	t.Parallel()
	got := HTMLToSlack(`<a href="https://matrix.to/#/@slack_u1:example.org">Alice</a> <a href="https://matrix.to/#/!room1:example.org">#general</a>`, nil, SlackOptions{})
	want := "Alice <https://matrix.to/#/!room1:example.org|#general>"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEmoteItalic(t *testing.T) {
	t.Parallel()
	tests := []struct{ sender, text, want string }{
		{"", "waves", "_waves_"},
		{"Alice <3", "waves", "_Alice &lt;3 waves_"},
		{"Bob", "jumps\n\nand lands", "_Bob jumps_\n\n_and lands_"},
	}
	for _, tt := range tests {
		if got := EmoteItalic(tt.sender, tt.text); got != tt.want {
			t.Errorf("EmoteItalic(%q, %q) = %q, want %q", tt.sender, tt.text, got, tt.want)
		}
	}
}

// Compile-time checks that the test fakes satisfy the interfaces.
var (
	_ SlackResolver  = fakeSlack{}
	_ MatrixResolver = fakeMatrix{}
)

// fakeMatrix is a MatrixResolver over fixed maps.
type fakeMatrix struct{}

func (fakeMatrix) SlackUserID(u id.UserID) (string, bool) {
	if u == "@slack_u1:example.org" {
		return "U1", true
	}
	return "", false
}

func (fakeMatrix) SlackChannelID(room id.RoomID, alias id.RoomAlias) (string, bool) {
	if room == "!room1:example.org" || alias == "#general:example.org" {
		return "C1", true
	}
	return "", false
}
