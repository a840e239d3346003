package slackfmt

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/slack-go/slack"
	"maunium.net/go/mautrix/id"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// parseBlocks decodes a message's "blocks" JSON as slack-go does for events.
func parseBlocks(t *testing.T, js string) []slack.Block {
	t.Helper()
	var b slack.Blocks
	if err := json.Unmarshal([]byte(js), &b); err != nil {
		t.Fatalf("unmarshal blocks: %v", err)
	}
	return b.BlockSet
}

// richText wraps rich_text elements JSON in one rich_text block.
func richText(elements string) string {
	return `[{"type":"rich_text","block_id":"b1","elements":[` + elements + `]}]`
}

func section(elements string) string {
	return `{"type":"rich_text_section","elements":[` + elements + `]}`
}

func TestRichTextToMatrix(t *testing.T) {
	t.Parallel()
	alice := []id.UserID{"@slack_u1:example.org"}
	tests := []struct {
		name   string
		blocks string
		want   Message
	}{
		{name: "plain section", blocks: richText(section(`{"type":"text","text":"hello <world> & co"}`)),
			want: Message{Body: "hello <world> & co"}},
		{name: "styles", blocks: richText(section(`
			{"type":"text","text":"b","style":{"bold":true}},{"type":"text","text":" "},
			{"type":"text","text":"i","style":{"italic":true}},{"type":"text","text":" "},
			{"type":"text","text":"s","style":{"strike":true}},{"type":"text","text":" "},
			{"type":"text","text":"c","style":{"code":true}},{"type":"text","text":" "},
			{"type":"text","text":"all","style":{"bold":true,"italic":true,"strike":true,"code":true}}`)),
			want: Message{Body: "b i s c all", FormattedBody: "<strong>b</strong> <em>i</em> <del>s</del> <code>c</code> <strong><em><del><code>all</code></del></em></strong>"}},
		{name: "adjacent bold elements merge", blocks: richText(section(`
			{"type":"text","text":"see ","style":{"bold":true}},
			{"type":"link","url":"https://example.com","text":"here","style":{"bold":true}},
			{"type":"text","text":" now","style":{"bold":true,"italic":true}}`)),
			want: Message{Body: "see here (https://example.com) now", FormattedBody: `<strong>see <a href="https://example.com">here</a><em> now</em></strong>`}},
		{name: "script in text is escaped", blocks: richText(section(`{"type":"text","text":"<script>alert(1)</script>","style":{"bold":true}}`)),
			want: Message{Body: "<script>alert(1)</script>", FormattedBody: "<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>"}},
		{name: "newlines", blocks: richText(section(`{"type":"text","text":"a\nb","style":{"italic":true}}`)),
			want: Message{Body: "a\nb", FormattedBody: "<em>a<br>b</em>"}},
		{name: "links", blocks: richText(section(`{"type":"link","url":"https://example.com/a_b"},{"type":"text","text":" "},{"type":"link","url":"javascript:alert(1)","text":"x"}`)),
			want: Message{Body: "https://example.com/a_b x", FormattedBody: `<a href="https://example.com/a_b">https://example.com/a_b</a> x`}},
		{name: "mentions", blocks: richText(section(`
			{"type":"user","user_id":"U1"},{"type":"text","text":" "},
			{"type":"user","user_id":"U9"},{"type":"text","text":" "},
			{"type":"channel","channel_id":"C1"},{"type":"text","text":" "},
			{"type":"usergroup","usergroup_id":"S1"},{"type":"text","text":" "},
			{"type":"broadcast","range":"here"}`)),
			want: Message{
				Body:          "Alice @U9 #general @devs @room",
				FormattedBody: `<a href="https://matrix.to/#/@slack_u1:example.org">Alice</a> @U9 <a href="https://matrix.to/#/%21room1:example.org">#general</a> @devs @room`,
				UserIDs:       alice, MentionsRoom: true,
			}},
		{name: "emoji", blocks: richText(section(`
			{"type":"emoji","name":"+1","unicode":"1f44d"},
			{"type":"emoji","name":"wave","unicode":"1f44b-1f3fd","skin_tone":4},
			{"type":"emoji","name":"brand-new-one","unicode":"1fae9"},
			{"type":"emoji","name":"partyparrot"},
			{"type":"emoji","name":"unknown_custom"}`)),
			want: Message{
				Body:          "👍👋🏽\U0001FAE9:partyparrot::unknown_custom:",
				FormattedBody: `👍👋🏽` + "\U0001FAE9" + `<img data-mx-emoticon src="mxc://example.org/parrot" alt=":partyparrot:" title=":partyparrot:" height="32">:unknown_custom:`,
			}},
		{name: "date and color", blocks: richText(section(`
			{"type":"date","timestamp":1392734382,"format":"{date_short}","fallback":"Feb 18"},{"type":"text","text":" "},
			{"type":"date","timestamp":1392734382,"format":"{date_num}"},{"type":"text","text":" "},
			{"type":"color","value":"#FF0000"}`)),
			want: Message{Body: "Feb 18 2014-02-18 #FF0000"}},
		{name: "bullet list", blocks: richText(`
			{"type":"rich_text_section","elements":[{"type":"text","text":"Items:\n"}]},
			{"type":"rich_text_list","style":"bullet","indent":0,"elements":[` + section(`{"type":"text","text":"one"}`) + `,` + section(`{"type":"text","text":"two","style":{"bold":true}}`) + `]}`),
			want: Message{Body: "Items:\n• one\n• two", FormattedBody: "Items:<ul><li>one</li><li><strong>two</strong></li></ul>"}},
		{name: "nested lists", blocks: richText(`
			{"type":"rich_text_list","style":"ordered","indent":0,"elements":[` + section(`{"type":"text","text":"first"}`) + `]},
			{"type":"rich_text_list","style":"bullet","indent":1,"elements":[` + section(`{"type":"text","text":"sub a"}`) + `,` + section(`{"type":"text","text":"sub b"}`) + `]},
			{"type":"rich_text_list","style":"bullet","indent":2,"elements":[` + section(`{"type":"text","text":"deep"}`) + `]},
			{"type":"rich_text_list","style":"ordered","indent":0,"offset":1,"elements":[` + section(`{"type":"text","text":"second"}`) + `]},
			{"type":"rich_text_section","elements":[{"type":"text","text":"after"}]}`),
			want: Message{
				Body:          "1. first\n   • sub a\n   • sub b\n     • deep\n2. second\nafter",
				FormattedBody: "<ol><li>first<ul><li>sub a</li><li>sub b<ul><li>deep</li></ul></li></ul></li><li>second</li></ol>after",
			}},
		{name: "ordered list with offset", blocks: richText(`{"type":"rich_text_list","style":"ordered","indent":0,"offset":4,"elements":[` + section(`{"type":"text","text":"five"}`) + `]}`),
			want: Message{Body: "5. five", FormattedBody: `<ol start="5"><li>five</li></ol>`}},
		{name: "preformatted", blocks: richText(`{"type":"rich_text_preformatted","elements":[
			{"type":"text","text":"if a < b {\n  *x*\n}"},{"type":"text","text":"\n"},{"type":"link","url":"https://e.com"},{"type":"text","text":" "},{"type":"user","user_id":"U1"},
			{"type":"text","text":" "},{"type":"broadcast","range":"here"}]}`),
			want: Message{Body: "```\nif a < b {\n  *x*\n}\nhttps://e.com @Alice @here\n```", FormattedBody: "<pre><code>if a &lt; b {\n  *x*\n}\nhttps://e.com @Alice @here</code></pre>"}},
		{name: "preformatted with language", blocks: richText(`{"type":"rich_text_preformatted","language":"go","elements":[{"type":"text","text":"x := 1"}]}`),
			want: Message{Body: "```\nx := 1\n```", FormattedBody: `<pre><code class="language-go">x := 1</code></pre>`}},
		{name: "quote", blocks: richText(`
			{"type":"rich_text_quote","elements":[{"type":"text","text":"said this\nand "},{"type":"text","text":"that","style":{"italic":true}}]},
			{"type":"rich_text_section","elements":[{"type":"text","text":"reply"}]}`),
			want: Message{Body: "> said this\n> and that\nreply", FormattedBody: "<blockquote>said this<br>and <em>that</em></blockquote>reply"}},
		{name: "two sections", blocks: richText(section(`{"type":"text","text":"a"}`) + `,` + section(`{"type":"text","text":"b","style":{"bold":true}}`)),
			want: Message{Body: "a\nb", FormattedBody: "a<br><strong>b</strong>"}},
		{name: "unknown elements are skipped", blocks: richText(section(`{"type":"text","text":"x"},{"type":"future_thing","foo":1}`) + `,{"type":"rich_text_future"}`),
			want: Message{Body: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := RichTextToMatrix(parseBlocks(t, tt.blocks), fakeSlack{})
			if !ok {
				t.Fatal("RichTextToMatrix: ok = false, want true")
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("RichTextToMatrix mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRichTextValueElements(t *testing.T) {
	t.Parallel()
	// Blocks built in Go, with value (not pointer) elements.
	blocks := []slack.Block{slack.RichTextBlock{Type: slack.MBTRichText, Elements: []slack.RichTextElement{
		slack.RichTextSection{Type: slack.RTESection, Elements: []slack.RichTextSectionElement{
			slack.RichTextSectionTextElement{Type: slack.RTSEText, Text: "hi ", Style: &slack.RichTextSectionTextStyle{Bold: true}},
			slack.RichTextSectionUserElement{Type: slack.RTSEUser, UserID: "U1"},
		}},
	}}}
	got, ok := RichTextToMatrix(blocks, fakeSlack{})
	want := Message{
		Body:          "hi Alice",
		FormattedBody: `<strong>hi </strong><a href="https://matrix.to/#/@slack_u1:example.org">Alice</a>`,
		UserIDs:       []id.UserID{"@slack_u1:example.org"},
	}
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("RichTextToMatrix (ok=%v) mismatch (-want +got):\n%s", ok, diff)
	}
}

// TestRichTextGolden converts whole Slack messages (testdata/richtext/*.json,
// as the Events API delivers them) and compares with the .golden files. Run
// with -update to rewrite them.
func TestRichTextGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "richtext", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var msg slack.Msg
			if err := json.Unmarshal(data, &msg); err != nil {
				t.Fatalf("unmarshal %s: %v", file, err)
			}
			m := ToMatrix(msg.Text, msg.Blocks.BlockSet, fakeSlack{})
			var users []string
			for _, u := range m.UserIDs {
				users = append(users, string(u))
			}
			got := "-- body --\n" + m.Body + "\n-- formatted_body --\n" + m.FormattedBody +
				"\n-- user_ids --\n" + strings.Join(users, "\n") + "\n-- room --\n" + boolText(m.MentionsRoom) + "\n"
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
