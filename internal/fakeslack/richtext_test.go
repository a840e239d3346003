package fakeslack_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	slackgo "github.com/slack-go/slack"

	"causeway/internal/fakeslack"
)

// section, text and the other helpers build the expected elements of a rich_text block.
func section(elements ...any) map[string]any {
	return map[string]any{"type": "rich_text_section", "elements": elements}
}

func text(s string, styles ...string) map[string]any {
	return styled(map[string]any{"type": "text", "text": s}, styles...)
}

func styled(el map[string]any, styles ...string) map[string]any {
	if len(styles) > 0 {
		style := map[string]any{}
		for _, s := range styles {
			style[s] = true
		}
		el["style"] = style
	}
	return el
}

func list(style string, items ...any) map[string]any {
	return map[string]any{"type": "rich_text_list", "style": style, "indent": 0.0, "border": 0.0, "elements": items}
}

func TestTypedRichText(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	for _, tc := range []struct {
		name string
		text string
		want []any // the elements of the one rich_text block
	}{{
		name: "plain",
		text: "hello world",
		want: []any{section(text("hello world"))},
	}, {
		name: "styles",
		text: "*bold* _italic_ ~strike~ `co*de*`",
		want: []any{section(text("bold", "bold"), text(" "), text("italic", "italic"), text(" "), text("strike", "strike"),
			text(" "), text("co*de*", "code"))},
	}, {
		name: "nested styles",
		text: "*_both_* then",
		want: []any{section(text("both", "bold", "italic"), text(" then"))},
	}, {
		name: "not markers",
		text: "snake_case_name, 2 * 3 and a*b*c, ** and *unclosed",
		want: []any{section(text("snake_case_name, 2 * 3 and a*b*c, ** and *unclosed"))},
	}, {
		name: "mentions",
		text: "hi <@U123> in <#C456|general>, <!here> <!channel> <!everyone> <!subteam^S789>",
		want: []any{section(text("hi "), map[string]any{"type": "user", "user_id": "U123"}, text(" in "),
			map[string]any{"type": "channel", "channel_id": "C456"}, text(", "),
			map[string]any{"type": "broadcast", "range": "here"}, text(" "),
			map[string]any{"type": "broadcast", "range": "channel"}, text(" "),
			map[string]any{"type": "broadcast", "range": "everyone"}, text(" "),
			map[string]any{"type": "usergroup", "usergroup_id": "S789"})},
	}, {
		name: "styled mention",
		text: "*ping <@U1>*",
		want: []any{section(text("ping ", "bold"), styled(map[string]any{"type": "user", "user_id": "U1"}, "bold"))},
	}, {
		name: "links",
		text: "see <https://example.org/a_b_c|the _docs_> or <https://x.test/?a=1&amp;b=2> <mailto:a@b.test|mail>",
		want: []any{section(text("see "), map[string]any{"type": "link", "url": "https://example.org/a_b_c", "text": "the _docs_"},
			text(" or "), map[string]any{"type": "link", "url": "https://x.test/?a=1&b=2"}, text(" "),
			map[string]any{"type": "link", "url": "mailto:a@b.test", "text": "mail"})},
	}, {
		name: "link in italics",
		text: "_read <https://example.org/a_b>_",
		want: []any{section(text("read ", "italic"), styled(map[string]any{"type": "link", "url": "https://example.org/a_b"}, "italic"))},
	}, {
		name: "emoji",
		text: ":smile: :partyparrot: :wave::skin-tone-3: at 10:30:00",
		want: []any{section(map[string]any{"type": "emoji", "name": "smile", "unicode": "1f604"}, text(" "),
			map[string]any{"type": "emoji", "name": "partyparrot"}, text(" "),
			map[string]any{"type": "emoji", "name": "wave", "skin_tone": 3.0, "unicode": "1f44b-1f3fc"}, text(" at 10:30:00"))},
	}, {
		name: "escapes",
		text: "a &lt; b &amp;&amp; c &gt; d <not a link>",
		want: []any{section(text("a < b && c > d <not a link>"))},
	}, {
		name: "lines",
		text: "one\ntwo *three*",
		want: []any{section(text("one\ntwo "), text("three", "bold"))},
	}, {
		name: "quote",
		text: "before\n> quoted *text*\n&gt; more\nafter",
		want: []any{section(text("before\n")),
			map[string]any{"type": "rich_text_quote", "elements": []any{text("quoted "), text("text", "bold"), text("\nmore")}},
			section(text("after"))},
	}, {
		name: "preformatted",
		text: "look:\n```if a &lt; b {}\n<https://go.dev>```\ndone",
		want: []any{section(text("look:\n")),
			map[string]any{"type": "rich_text_preformatted", "border": 0.0, "elements": []any{
				text("if a < b {}\n"), map[string]any{"type": "link", "url": "https://go.dev"}}},
			section(text("done"))},
	}, {
		name: "preformatted alone",
		text: "```*not bold*```",
		want: []any{map[string]any{"type": "rich_text_preformatted", "border": 0.0, "elements": []any{text("*not bold*")}}},
	}, {
		name: "lists",
		text: "list:\n• one\n- *two*\n1. first\n2. second\nend",
		want: []any{section(text("list:\n")),
			list("bullet", section(text("one")), section(text("two", "bold"))),
			list("ordered", section(text("first")), section(text("second"))),
			section(text("end"))},
	}, {
		name: "ordered from three",
		text: "3. three\n4. four",
		want: []any{func() map[string]any {
			l := list("ordered", section(text("three")), section(text("four")))
			l["offset"] = 2.0
			return l
		}()},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := f.post(t, f.alice.ID, tc.text)
			m, err := f.srv.Message(f.general.ID, ts)
			if err != nil {
				t.Fatal(err)
			}
			if m.Text != tc.text {
				t.Errorf("text = %q, want the mrkdwn as typed", m.Text)
			}
			if diff := cmp.Diff(tc.want, richTextElements(t, m.Blocks)); diff != "" {
				t.Errorf("rich_text elements (-want +got):\n%s", diff)
			}
			checkSlackGoParses(t, m.Blocks)
		})
	}
}

func TestTypedRichTextEditAndBlocks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ts := f.post(t, f.alice.ID, "plain")
	if err := f.srv.Edit(f.alice.ID, f.general.ID, ts, "now *bold* <@"+f.bob.ID+">"); err != nil {
		t.Fatal(err)
	}
	m, _ := f.srv.Message(f.general.ID, ts)
	want := []any{section(text("now "), text("bold", "bold"), text(" "), map[string]any{"type": "user", "user_id": f.bob.ID})}
	if diff := cmp.Diff(want, richTextElements(t, m.Blocks)); diff != "" {
		t.Errorf("edited rich_text elements (-want +got):\n%s", diff)
	}
	if err := f.srv.Edit(f.alice.ID, f.general.ID, ts, ""); err == nil || err.Error() != "no_text" {
		t.Errorf("editing to an empty text: %v, want no_text", err)
	}

	// Explicit blocks win over the converter.
	own := `[{"type":"rich_text","block_id":"mine","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"as given"}]}]}]`
	ts = f.post(t, f.alice.ID, "*typed*", fakeslack.WithBlocks(json.RawMessage(own)))
	m, _ = f.srv.Message(f.general.ID, ts)
	if diff := cmp.Diff([]any{section(text("as given"))}, richTextElements(t, m.Blocks)); diff != "" {
		t.Errorf("WithBlocks (-want +got):\n%s", diff)
	}
}

// richTextElements decodes blocks, which must be one rich_text block, and returns its elements.
func richTextElements(t *testing.T, blocks json.RawMessage) []any {
	t.Helper()
	var decoded []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []any  `json:"elements"`
	}
	if err := json.Unmarshal(blocks, &decoded); err != nil {
		t.Fatalf("blocks %s: %v", blocks, err)
	}
	if len(decoded) != 1 || decoded[0].Type != "rich_text" || decoded[0].BlockID == "" {
		t.Fatalf("blocks = %s, want one rich_text block with a block_id", blocks)
	}
	return decoded[0].Elements
}

// checkSlackGoParses checks that slack-go knows every element of the rich_text blocks.
func checkSlackGoParses(t *testing.T, raw json.RawMessage) {
	t.Helper()
	var blocks slackgo.Blocks
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatalf("slack-go cannot parse the blocks: %v", err)
	}
	checkSection := func(elements []slackgo.RichTextSectionElement) {
		for _, el := range elements {
			if unknown, ok := el.(*slackgo.RichTextSectionUnknownElement); ok {
				t.Errorf("slack-go does not know the element %s", unknown.Raw)
			}
		}
	}
	for _, block := range blocks.BlockSet {
		rich, ok := block.(*slackgo.RichTextBlock)
		if !ok {
			t.Fatalf("block is %T, want *slack.RichTextBlock", block)
		}
		for _, el := range rich.Elements {
			switch el := el.(type) {
			case *slackgo.RichTextSection:
				checkSection(el.Elements)
			case *slackgo.RichTextQuote:
				checkSection(el.Elements)
			case *slackgo.RichTextPreformatted:
				checkSection(el.Elements)
			case *slackgo.RichTextList:
				for _, item := range el.Elements {
					if s, ok := item.(*slackgo.RichTextSection); !ok {
						t.Errorf("list item is %T, want a section", item)
					} else {
						checkSection(s.Elements)
					}
				}
			default:
				t.Errorf("slack-go does not know the rich text element %T %+v", el, el)
			}
		}
	}
}
