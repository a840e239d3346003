package slackfmt

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"maunium.net/go/mautrix/id"
)

func TestMrkdwnToMatrix(t *testing.T) {
	t.Parallel()
	const (
		alicePill = `<a href="https://matrix.to/#/@slack_u1:example.org">Alice</a>`
		roomLink  = `<a href="https://matrix.to/#/%21room1:example.org">#general</a>`
		parrot    = `<img data-mx-emoticon src="mxc://example.org/parrot" alt=":partyparrot:" title=":partyparrot:" height="32">`
	)
	alice := []id.UserID{"@slack_u1:example.org"}
	tests := []struct {
		name string
		in   string
		want Message
	}{
		{name: "plain text has no formatted body", in: "hello world",
			want: Message{Body: "hello world"}},
		{name: "multi-line plain text", in: "one\ntwo\n\nthree",
			want: Message{Body: "one\ntwo\n\nthree"}},
		{name: "bold italic strike code", in: "*bold* _it_ ~gone~ `co*de*`",
			want: Message{Body: "bold it gone co*de*", FormattedBody: "<strong>bold</strong> <em>it</em> <del>gone</del> <code>co*de*</code>"}},
		{name: "nested emphasis", in: "*bold _and italic_*",
			want: Message{Body: "bold and italic", FormattedBody: "<strong>bold <em>and italic</em></strong>"}},
		{name: "emphasis at punctuation", in: "(*yes*), _x_.",
			want: Message{Body: "(yes), x.", FormattedBody: "(<strong>yes</strong>), <em>x</em>."}},
		{name: "unclosed bold stays literal", in: "*not bold",
			want: Message{Body: "*not bold"}},
		{name: "bold does not span lines", in: "*one\ntwo*",
			want: Message{Body: "*one\ntwo*"}},
		{name: "snake case is not italic", in: "snake_case_word and foo_bar_",
			want: Message{Body: "snake_case_word and foo_bar_"}},
		{name: "arithmetic is not bold", in: "2*3*4",
			want: Message{Body: "2*3*4"}},
		{name: "marker followed by space is not emphasis", in: "* item and * more *",
			want: Message{Body: "* item and * more *"}},
		{name: "underscores in link URL are not italic", in: "<https://ex.com/a_b_c/_d_|see _this_>",
			want: Message{Body: "see _this_ (https://ex.com/a_b_c/_d_)", FormattedBody: `<a href="https://ex.com/a_b_c/_d_">see _this_</a>`}},
		{name: "underscores in bare URL are not italic", in: "go to https://ex.com/_x_ now",
			want: Message{Body: "go to https://ex.com/_x_ now"}},
		{name: "code span protects contents", in: "`*not* _fmt_ :smile: <@U1>`",
			want: Message{Body: "*not* _fmt_ :smile: @Alice", FormattedBody: "<code>*not* _fmt_ :smile: @Alice</code>"}},
		{name: "emphasis around code span", in: "*see `a*b`*",
			want: Message{Body: "see a*b", FormattedBody: "<strong>see <code>a*b</code></strong>"}},
		{name: "code block", in: "```\nfunc main() {\n\t*x* &lt;- 1\n}\n```",
			want: Message{Body: "```\nfunc main() {\n\t*x* <- 1\n}\n```", FormattedBody: "<pre><code>func main() {\n\t*x* &lt;- 1\n}</code></pre>"}},
		{name: "code block mid-line", in: "before ```code``` after",
			want: Message{Body: "before\n```\ncode\n```\nafter", FormattedBody: "before<pre><code>code</code></pre>after"}},
		{name: "unclosed fence is literal", in: "```not code",
			want: Message{Body: "```not code"}},
		{name: "quote lines", in: "&gt; quoted\n&gt; *more*\nafter",
			want: Message{Body: "> quoted\n> more\nafter", FormattedBody: "<blockquote>quoted<br><strong>more</strong></blockquote>after"}},
		{name: "quote marker without space", in: "&gt;tight",
			want: Message{Body: "> tight", FormattedBody: "<blockquote>tight</blockquote>"}},
		{name: "raw quote marker as ToSlack writes it", in: "> a\n>>> b\nc",
			want: Message{Body: "> a\n> b\n> c", FormattedBody: "<blockquote>a</blockquote><blockquote>b<br>c</blockquote>"}},
		{name: "long quote takes the rest", in: "intro\n&gt;&gt;&gt; all\nof this",
			want: Message{Body: "intro\n> all\n> of this", FormattedBody: "intro<blockquote>all<br>of this</blockquote>"}},
		{name: "greater-than mid-line is not a quote", in: "a &gt; b",
			want: Message{Body: "a > b"}},
		{name: "entities decoded and HTML re-escaped", in: "a &lt;script&gt;alert(1)&lt;/script&gt; &amp;amp;",
			want: Message{Body: "a <script>alert(1)</script> &amp;"}},
		{name: "script inside bold is escaped", in: "*&lt;img src=x onerror=alert(1)&gt;*",
			want: Message{Body: "<img src=x onerror=alert(1)>", FormattedBody: "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>"}},
		{name: "other entities stay literal", in: "&quot;hi&quot;",
			want: Message{Body: "&quot;hi&quot;"}},
		{name: "link with label", in: "<https://example.com/?a=1&amp;b=2|Example>",
			want: Message{Body: "Example (https://example.com/?a=1&b=2)", FormattedBody: `<a href="https://example.com/?a=1&amp;b=2">Example</a>`}},
		{name: "bare link", in: "<https://example.com>",
			want: Message{Body: "https://example.com", FormattedBody: `<a href="https://example.com">https://example.com</a>`}},
		{name: "quote in link href is escaped", in: `<https://e.com/"onmouseover="x|y>`,
			want: Message{Body: `y (https://e.com/"onmouseover="x)`, FormattedBody: `<a href="https://e.com/&#34;onmouseover=&#34;x">y</a>`}},
		{name: "mailto", in: "<mailto:a@b.c|a@b.c>",
			want: Message{Body: "a@b.c", FormattedBody: `<a href="mailto:a@b.c">a@b.c</a>`}},
		{name: "unsafe scheme is text", in: "<javascript:alert(1)|click>",
			want: Message{Body: "click"}},
		{name: "known user", in: "hi <@U1>!",
			want: Message{Body: "hi Alice!", FormattedBody: "hi " + alicePill + "!", UserIDs: alice}},
		{name: "user mentioned twice", in: "<@U1> <@U1|alice>",
			want: Message{Body: "Alice Alice", FormattedBody: alicePill + " " + alicePill, UserIDs: alice}},
		{name: "display name is escaped", in: "<@U2>",
			want: Message{Body: "Bob <b>", FormattedBody: `<a href="https://matrix.to/#/@slack_u2:example.org">Bob &lt;b&gt;</a>`, UserIDs: []id.UserID{"@slack_u2:example.org"}}},
		{name: "unknown user with name", in: "<@U9|carol>",
			want: Message{Body: "@carol"}},
		{name: "unknown user without name", in: "<@U9>",
			want: Message{Body: "@U9"}},
		{name: "known channel", in: "see <#C1>",
			want: Message{Body: "see #general", FormattedBody: "see " + roomLink}},
		{name: "unknown channel", in: "<#C9|random> <#C8>",
			want: Message{Body: "#random #C8"}},
		{name: "here", in: "<!here> look",
			want: Message{Body: "@room look", MentionsRoom: true}},
		{name: "channel and everyone", in: "<!channel> <!everyone|everyone>",
			want: Message{Body: "@room @room", MentionsRoom: true}},
		{name: "usergroup", in: "<!subteam^S1|@devs-team> <!subteam^S9|@ops> <!subteam^S8>",
			want: Message{Body: "@devs @ops @S8"}},
		{name: "date fallback", in: "<!date^1392734382^{date} at {time}|Feb 18, 2014 at 6:39 AM PST>",
			want: Message{Body: "Feb 18, 2014 at 6:39 AM PST"}},
		{name: "date without fallback", in: "<!date^1392734382^{date_num} {time}>",
			want: Message{Body: "2014-02-18 14:39 UTC"}},
		{name: "date with link", in: "<!date^1392734382^{date}^https://example.com/|then>",
			want: Message{Body: "then (https://example.com/)", FormattedBody: `<a href="https://example.com/">then</a>`}},
		{name: "emoji", in: ":smile: :thumbsup: :heart:",
			want: Message{Body: "😄 👍 ❤️"}},
		{name: "emoji skin tone", in: ":+1::skin-tone-2: :wave::skin-tone-6:",
			want: Message{Body: "👍🏻 👋🏿"}},
		{name: "skin tone on an emoji without tones", in: ":smile::skin-tone-3:",
			want: Message{Body: "😄🏼"}},
		{name: "custom emoji", in: "party :partyparrot:",
			want: Message{Body: "party :partyparrot:", FormattedBody: "party " + parrot}},
		{name: "unknown emoji and times", in: ":nope: at 10:30:45 :smile:",
			want: Message{Body: ":nope: at 10:30:45 😄"}},
		{name: "emoji inside bold", in: "*yay :tada:*",
			want: Message{Body: "yay 🎉", FormattedBody: "<strong>yay 🎉</strong>"}},
		{name: "windows newlines", in: "a\r\nb",
			want: Message{Body: "a\nb"}},
		{name: "nil resolver", in: "<@U1> :partyparrot:",
			want: Message{Body: "@U1 :partyparrot:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r SlackResolver = fakeSlack{}
			if tt.name == "nil resolver" {
				r = nil
			}
			got := MrkdwnToMatrix(tt.in, r)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("MrkdwnToMatrix(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
