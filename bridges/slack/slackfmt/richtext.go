package slackfmt

import (
	"strconv"
	"strings"

	"github.com/slack-go/slack"
)

// This file converts Slack rich_text blocks
// (https://api.slack.com/reference/block-kit/blocks#rich_text) into the
// document tree of render.go. Unlike mrkdwn, text in rich_text is not
// entity-escaped and styles are explicit, so no parsing is needed.

// richTextDoc converts the rich_text blocks among blocks. ok is false when
// there are none.
func (c *converter) richTextDoc(blocks []slack.Block) (doc []block, ok bool) {
	for _, b := range blocks {
		var rt *slack.RichTextBlock
		switch b := b.(type) {
		case *slack.RichTextBlock:
			rt = b
		case slack.RichTextBlock:
			rt = &b
		default:
			continue
		}
		if rt == nil {
			continue
		}
		ok = true
		doc = append(doc, c.richTextElements(rt.Elements)...)
	}
	return doc, ok
}

// richTextElements converts the top-level elements of a rich_text block (or
// of a list item). Slack sends nested lists flat, as consecutive
// rich_text_list elements with growing indent; they are nested back here.
func (c *converter) richTextElements(elems []slack.RichTextElement) []block {
	var doc []block
	for i := 0; i < len(elems); i++ {
		switch e := derefElement(elems[i]).(type) {
		case *slack.RichTextSection:
			doc = append(doc, para{inl: c.richTextInline(e.Elements)})
		case *slack.RichTextQuote:
			doc = append(doc, quote{blocks: []block{para{inl: c.richTextInline(e.Elements)}}})
		case *slack.RichTextPreformatted:
			doc = append(doc, pre{text: c.preText(e.Elements), lang: e.Language})
		case *slack.RichTextList:
			j := i
			var run []*slack.RichTextList
			for ; j < len(elems); j++ {
				l, ok := derefElement(elems[j]).(*slack.RichTextList)
				if !ok {
					break
				}
				run = append(run, l)
			}
			doc = append(doc, c.nestLists(run)...)
			i = j - 1
		}
	}
	return doc
}

// derefElement returns e as a pointer type: slack-go decodes JSON into
// pointers, but callers building blocks by hand may use values (quote and
// preformatted elements only exist as pointers).
func derefElement(e slack.RichTextElement) slack.RichTextElement {
	switch e := e.(type) {
	case slack.RichTextSection:
		return &e
	case slack.RichTextList:
		return &e
	}
	return e
}

// nestLists rebuilds the tree of a run of consecutive rich_text_list
// elements. A list with a greater indent than the one before is nested in that
// list's last item; one with the same indent and style continues it.
func (c *converter) nestLists(run []*slack.RichTextList) []block {
	type open struct {
		indent int
		l      *list
	}
	var (
		top   []block
		stack []open
	)
	for _, rl := range run {
		for len(stack) > 0 && stack[len(stack)-1].indent > rl.Indent {
			stack = stack[:len(stack)-1]
		}
		ordered := rl.Style == slack.RTEListOrdered
		var cur *list
		if n := len(stack); n > 0 && stack[n-1].indent == rl.Indent && stack[n-1].l.ordered == ordered {
			cur = stack[n-1].l
		} else {
			if n > 0 && stack[n-1].indent == rl.Indent {
				stack = stack[:n-1] // same level, other style: a new sibling list
			}
			cur = &list{ordered: ordered, start: rl.Offset + 1}
			if n := len(stack); n > 0 && len(stack[n-1].l.items) > 0 {
				parent := stack[n-1].l
				last := len(parent.items) - 1
				parent.items[last] = append(parent.items[last], cur)
			} else {
				top = append(top, cur)
			}
			stack = append(stack, open{indent: rl.Indent, l: cur})
		}
		for _, item := range rl.Elements {
			cur.items = append(cur.items, c.richTextElements([]slack.RichTextElement{item}))
		}
	}
	return top
}

// richTextInline converts the elements of a section, quote or list item.
func (c *converter) richTextInline(elems []slack.RichTextSectionElement) []inline {
	var out []inline
	for _, e := range elems {
		node, style := c.richTextElement(e)
		out = append(out, applyStyle(node, style)...)
	}
	return mergeStyles(out)
}

// applyStyle wraps nodes in the elements for a rich_text style, outermost
// first, so that mergeStyles can join neighbours.
func applyStyle(nodes []inline, st *slack.RichTextSectionTextStyle) []inline {
	if st == nil || len(nodes) == 0 {
		return nodes
	}
	wrap := func(on bool, tag string) {
		if on {
			nodes = []inline{&styled{tag: tag, kids: nodes}}
		}
	}
	// Innermost first.
	wrap(st.Code, "code")
	wrap(st.Strike, "del")
	wrap(st.Underline, "u")
	wrap(st.Italic, "em")
	wrap(st.Bold, "strong")
	return nodes
}

// richTextElement converts one inline element and returns its style.
func (c *converter) richTextElement(e slack.RichTextSectionElement) ([]inline, *slack.RichTextSectionTextStyle) {
	switch e := e.(type) {
	case *slack.RichTextSectionTextElement:
		return textWithBreaks(e.Text), e.Style
	case *slack.RichTextSectionLinkElement:
		if e.Text == "" {
			return []inline{&link{href: e.URL}}, e.Style
		}
		return []inline{&link{href: e.URL, kids: textWithBreaks(e.Text)}}, e.Style
	case *slack.RichTextSectionUserElement:
		return []inline{c.user(e.UserID, "")}, e.Style
	case *slack.RichTextSectionChannelElement:
		return []inline{c.channel(e.ChannelID, "")}, e.Style
	case *slack.RichTextSectionUserGroupElement:
		return []inline{c.usergroup(e.UsergroupID, "")}, e.Style
	case *slack.RichTextSectionBroadcastElement:
		return []inline{c.broadcast()}, e.Style
	case *slack.RichTextSectionEmojiElement:
		return []inline{c.richTextEmoji(e)}, e.Style
	case *slack.RichTextSectionDateElement:
		shown := ""
		if e.Fallback != nil {
			shown = *e.Fallback
		} else {
			shown = formatSlackDate(int64(e.Timestamp), e.Format)
		}
		if e.URL != nil && *e.URL != "" {
			return []inline{&link{href: *e.URL, kids: []inline{text(shown)}}}, e.Style
		}
		return []inline{text(shown)}, e.Style
	case *slack.RichTextSectionColorElement:
		return []inline{text(e.Value)}, e.Style
	case *slack.RichTextSectionTeamElement:
		return []inline{text("@" + e.TeamID)}, e.Style
	case *slack.RichTextSectionTagElement:
		return []inline{text(e.Text)}, e.Style
	case *slack.RichTextSectionCanvasUserMentionElement:
		return []inline{c.user(e.UserID, "")}, e.Style
	case *slack.RichTextSectionMessageMentionElement:
		return labelledLink(e.URL, e.Text), e.Style
	case *slack.RichTextSectionAttachmentMentionElement:
		return labelledLink(e.URL, e.Text), e.Style
	case *slack.RichTextSectionWorkObjectMentionElement:
		return labelledLink(e.URL, e.Text), e.Style
	case *slack.RichTextSectionWorkflowMentionElement:
		return labelledLink(e.URL, e.Text), e.Style
	case *slack.RichTextSectionCanvasElement:
		return labelledLink(e.URL, e.Text), e.Style
	case *slack.RichTextSectionFileElement:
		return labelledLink(e.URL, e.Text), e.Style
	case *slack.RichTextSectionListRecordElement:
		return labelledLink(e.URL, e.Text), e.Style
	}
	// Value forms, for callers that build elements by hand.
	switch e := e.(type) {
	case slack.RichTextSectionTextElement:
		return c.richTextElement(&e)
	case slack.RichTextSectionLinkElement:
		return c.richTextElement(&e)
	case slack.RichTextSectionUserElement:
		return c.richTextElement(&e)
	case slack.RichTextSectionChannelElement:
		return c.richTextElement(&e)
	case slack.RichTextSectionUserGroupElement:
		return c.richTextElement(&e)
	case slack.RichTextSectionBroadcastElement:
		return c.richTextElement(&e)
	case slack.RichTextSectionEmojiElement:
		return c.richTextElement(&e)
	case slack.RichTextSectionDateElement:
		return c.richTextElement(&e)
	case slack.RichTextSectionColorElement:
		return c.richTextElement(&e)
	}
	// Unknown element types carry no text we could show.
	return nil, nil
}

// labelledLink is a link to url labelled text, or whichever of them exists.
func labelledLink(url, label string) []inline {
	switch {
	case url == "" && label == "":
		return nil
	case url == "":
		return []inline{text(label)}
	case label == "":
		return []inline{&link{href: url}}
	}
	return []inline{&link{href: url, kids: []inline{text(label)}}}
}

// richTextEmoji converts an emoji element: a standard emoji by name and skin
// tone, else by the code points Slack sent, else a custom emoji.
func (c *converter) richTextEmoji(e *slack.RichTextSectionEmojiElement) inline {
	code := e.Name
	if e.SkinTone >= 2 && e.SkinTone <= 6 {
		code += "::skin-tone-" + strconv.Itoa(e.SkinTone)
	}
	if node, ok := c.emoji(code); ok {
		return node
	}
	if u, ok := decodeUnified(e.Unicode); ok {
		return text(u)
	}
	return text(":" + e.Name + ":")
}

// decodeUnified turns Slack's "1f44d-1f3fb" into the emoji it names.
func decodeUnified(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	var b strings.Builder
	for part := range strings.SplitSeq(s, "-") {
		r, err := strconv.ParseUint(part, 16, 32)
		if err != nil || r > 0x10FFFF || r >= 0xD800 && r <= 0xDFFF || r < 0x20 {
			return "", false
		}
		b.WriteRune(rune(r))
	}
	return b.String(), true
}

// preText is the text of a rich_text_preformatted element: code shows
// mentions and links as text.
func (c *converter) preText(elems []slack.RichTextSectionElement) string {
	var b strings.Builder
	for _, e := range elems {
		switch e := e.(type) {
		case *slack.RichTextSectionLinkElement:
			if e.Text != "" {
				b.WriteString(e.Text)
			} else {
				b.WriteString(e.URL)
			}
			continue
		case *slack.RichTextSectionUserElement:
			b.WriteString(c.tokenText("@" + e.UserID))
			continue
		case *slack.RichTextSectionChannelElement:
			b.WriteString(c.tokenText("#" + e.ChannelID))
			continue
		case *slack.RichTextSectionBroadcastElement:
			b.WriteString("@" + e.Range) // code notifies nobody
			continue
		}
		node, _ := c.richTextElement(e)
		b.WriteString(plainText(node))
	}
	return strings.TrimSuffix(b.String(), "\n")
}
