package fakeslack

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What Slack's clients send for what a person typed.
//
// When a person sends a message from Slack's composer, the client calls chat.postMessage
// with "text", the message as mrkdwn (https://docs.slack.dev/messaging/formatting-message-text),
// and one rich_text block (https://docs.slack.dev/reference/block-kit/blocks/rich-text-block)
// holding the same message structured. Post and Edit take the mrkdwn, as a test writes it,
// and build that block from it. The converter knows this subset of mrkdwn:
//
//	*bold*  _italic_  ~strike~  `code`   text elements with style bold, italic, strike, code;
//	                                     they nest (*_both_*) and never span lines
//	```pre```                            rich_text_preformatted, from a line's start to the
//	                                     closing fence, which may be on a later line
//	> quote  or  &gt; quote              rich_text_quote; consecutive lines make one quote
//	• item  or  - item                   rich_text_list, style bullet; consecutive lines make one
//	1. item                              rich_text_list, style ordered (offset from its first number)
//	<@U123>  <@U123|name>                {"type":"user","user_id":"U123"}
//	<#C123>  <#C123|name>                {"type":"channel","channel_id":"C123"}
//	<!here> <!channel> <!everyone>       {"type":"broadcast","range":"here"} and so on
//	<!subteam^S123>                      {"type":"usergroup","usergroup_id":"S123"}
//	<https://x|label>  <https://x>       {"type":"link","url":"https://x","text":"label"};
//	                                     "text" only when there is a label
//	:smile:  :wave::skin-tone-2:         {"type":"emoji","name":"smile","unicode":"1f604"};
//	                                     "unicode" only for the few standard emoji in
//	                                     emojiUnicode, "skin_tone" when one is given
//
// Everything else is text, with the mrkdwn escapes &amp; &lt; &gt; undone. As in what Slack's
// clients send, a section followed by a quote, list or preformatted block keeps its final
// line break, and the line break that ends a quote, list or preformatted block is part of
// that block; lists and preformatted blocks carry "indent" and "border" as 0. Nested lists,
// dates (<!date^…>) and a fence in the middle of a line are not recognised: they stay text.

// richText is the blocks a Slack client sends with text, a message typed as mrkdwn: one
// rich_text block. It is nil for an empty text, which no client sends.
func richText(text string) json.RawMessage {
	elements := richTextElements(text)
	if len(elements) == 0 {
		return nil
	}
	blocks, _ := json.Marshal([]obj{{"type": "rich_text", "block_id": newBlockID(), "elements": elements}})
	return blocks
}

// richTextElements splits text into the rich_text block's elements: sections, quotes,
// lists and preformatted blocks.
func richTextElements(text string) []obj {
	var out []obj
	var section strings.Builder // the raw text of the section being collected
	flush := func() {
		if section.Len() > 0 {
			out = append(out, obj{"type": "rich_text_section", "elements": inlineElements(section.String(), textStyle{})})
			section.Reset()
		}
	}
	for pos := 0; pos < len(text); {
		line, next := lineAt(text, pos)
		switch {
		case strings.HasPrefix(line, "```") && strings.Contains(text[pos+3:], "```"):
			flush()
			end := pos + 3 + strings.Index(text[pos+3:], "```")
			content := strings.TrimSuffix(strings.TrimPrefix(text[pos+3:end], "\n"), "\n")
			out = append(out, obj{"type": "rich_text_preformatted", "elements": preformattedElements(content), "border": 0})
			pos = end + 3
			if pos < len(text) && text[pos] == '\n' {
				pos++
			}
			continue
		case quoteLine(line) != nil:
			flush()
			var lines []string
			for pos < len(text) {
				line, next := lineAt(text, pos)
				content := quoteLine(line)
				if content == nil {
					break
				}
				lines = append(lines, *content)
				pos = next
			}
			out = append(out, obj{"type": "rich_text_quote", "elements": inlineElements(strings.Join(lines, "\n"), textStyle{})})
			continue
		case listItem(line) != nil:
			flush()
			first := listItem(line)
			var items []obj
			for pos < len(text) {
				line, next := lineAt(text, pos)
				item := listItem(line)
				if item == nil || item.style != first.style {
					break
				}
				items = append(items, obj{"type": "rich_text_section", "elements": inlineElements(item.text, textStyle{})})
				pos = next
			}
			list := obj{"type": "rich_text_list", "elements": items, "style": first.style, "indent": 0, "border": 0}
			if first.number > 1 {
				list["offset"] = first.number - 1
			}
			out = append(out, list)
			continue
		}
		section.WriteString(text[pos:next]) // with its line break, if any
		pos = next
	}
	flush()
	return out
}

// lineAt returns the line that starts at pos, without its line break, and where the next
// line starts.
func lineAt(text string, pos int) (line string, next int) {
	end := strings.IndexByte(text[pos:], '\n')
	if end < 0 {
		return text[pos:], len(text)
	}
	return text[pos : pos+end], pos + end + 1
}

// quoteLine returns the content of a quoted line ("> a" or, escaped as clients send it,
// "&gt; a"), or nil when line is not quoted.
func quoteLine(line string) *string {
	for _, marker := range []string{"&gt;", ">"} {
		if rest, ok := strings.CutPrefix(line, marker); ok && (rest == "" || rest[0] == ' ') {
			content := strings.TrimPrefix(rest, " ")
			return &content
		}
	}
	return nil
}

// listLine is a line that is an item of a list.
type listLine struct {
	style  string // "bullet" or "ordered"
	number int    // an ordered item's number
	text   string
}

// listItem parses "• a", "- a" and "1. a", or returns nil when line is not a list item.
func listItem(line string) *listLine {
	for _, bullet := range []string{"• ", "- "} {
		if rest, ok := strings.CutPrefix(line, bullet); ok {
			return &listLine{style: "bullet", text: rest}
		}
	}
	digits := len(line) - len(strings.TrimLeft(line, "0123456789"))
	if digits > 0 && digits < 10 && strings.HasPrefix(line[digits:], ". ") {
		n, _ := strconv.Atoi(line[:digits])
		return &listLine{style: "ordered", number: n, text: line[digits+2:]}
	}
	return nil
}

// preformattedElements is the content of a preformatted block: text, and links.
func preformattedElements(content string) []obj {
	var out []obj
	start := 0
	for i := 0; i < len(content); i++ {
		if content[i] != '<' {
			continue
		}
		end := strings.IndexByte(content[i:], '>')
		if end < 0 {
			break
		}
		if link := linkElement(content[i+1:i+end], textStyle{}); link != nil {
			if start < i {
				out = append(out, textElement(content[start:i], textStyle{}))
			}
			out = append(out, link)
			start = i + end + 1
			i += end
		}
	}
	if start < len(content) {
		out = append(out, textElement(content[start:], textStyle{}))
	}
	return out
}

// textStyle is the style of a rich text element.
type textStyle struct {
	bold, italic, strike, code bool
}

// with adds the style of a mrkdwn marker.
func (s textStyle) with(marker byte) textStyle {
	switch marker {
	case '*':
		s.bold = true
	case '_':
		s.italic = true
	case '~':
		s.strike = true
	case '`':
		s.code = true
	}
	return s
}

// addTo sets el's "style", unless s is plain.
func (s textStyle) addTo(el obj) obj {
	style := obj{}
	for name, on := range map[string]bool{"bold": s.bold, "italic": s.italic, "strike": s.strike, "code": s.code} {
		if on {
			style[name] = true
		}
	}
	if len(style) > 0 {
		el["style"] = style
	}
	return el
}

// mrkdwnUnescaper undoes the three escapes of mrkdwn text.
var mrkdwnUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func textElement(raw string, s textStyle) obj {
	return s.addTo(obj{"type": "text", "text": mrkdwnUnescaper.Replace(raw)})
}

// inlineElements turns a run of mrkdwn without block structure into text, mention, link
// and emoji elements, each with style s and the styles of the markers around it.
func inlineElements(raw string, s textStyle) []obj {
	var out []obj
	start := 0 // of the pending text
	flush := func(end int) {
		if start < end {
			out = append(out, textElement(raw[start:end], s))
		}
	}
	for i := 0; i < len(raw); {
		var el []obj
		n := 0
		switch c := raw[i]; c {
		case '<':
			if end := strings.IndexByte(raw[i:], '>'); end > 0 {
				if e := entityElement(raw[i+1:i+end], s); e != nil {
					el, n = []obj{e}, end+1
				}
			}
		case ':':
			if e, length := emojiElement(raw, i, s); e != nil {
				el, n = []obj{e}, length
			}
		case '*', '_', '~', '`':
			if end := closingMarker(raw, i); end > 0 {
				if c == '`' {
					el = []obj{textElement(raw[i+1:end], s.with(c))}
				} else {
					el = inlineElements(raw[i+1:end], s.with(c))
				}
				n = end + 1 - i
			}
		}
		if n == 0 {
			i++
			continue
		}
		flush(i)
		out = append(out, el...)
		i += n
		start = i
	}
	flush(len(raw))
	return out
}

// closingMarker finds the marker that closes the one at raw[open], or returns -1. As in
// Slack, a marker opens only at the start of a word and closes only at the end of one, the
// content may neither be empty nor start or end with a space, and it stays on one line. A
// <…> entity inside the content is skipped whole, so that a URL's underscores are no markers.
func closingMarker(raw string, open int) int {
	marker := raw[open]
	if before, _ := utf8.DecodeLastRuneInString(raw[:open]); open > 0 && isWordRune(before) {
		return -1
	}
	if open+1 >= len(raw) || raw[open+1] == ' ' || raw[open+1] == marker || raw[open+1] == '\n' {
		return -1
	}
	for j := open + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\n':
			return -1
		case '<':
			if marker != '`' {
				if end := strings.IndexByte(raw[j:], '>'); end > 0 {
					j += end
				}
			}
		case marker:
			after, _ := utf8.DecodeRuneInString(raw[j+1:])
			if j > open+1 && raw[j-1] != ' ' && (j+1 == len(raw) || !isWordRune(after)) {
				return j
			}
		}
	}
	return -1
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// entityElement turns the inside of a <…> entity into its element: a user or channel
// mention, a broadcast, a user group or a link. It returns nil for anything else, which
// stays text.
func entityElement(inner string, s textStyle) obj {
	target, _, _ := strings.Cut(inner, "|")
	switch {
	case strings.HasPrefix(target, "@") && len(target) > 1:
		return s.addTo(obj{"type": "user", "user_id": target[1:]})
	case strings.HasPrefix(target, "#") && len(target) > 1:
		return s.addTo(obj{"type": "channel", "channel_id": target[1:]})
	case target == "!here" || target == "!channel" || target == "!everyone":
		return s.addTo(obj{"type": "broadcast", "range": target[1:]})
	case strings.HasPrefix(target, "!subteam^") && len(target) > len("!subteam^"):
		return s.addTo(obj{"type": "usergroup", "usergroup_id": strings.TrimPrefix(target, "!subteam^")})
	}
	return linkElement(inner, s)
}

// linkElement turns "url" or "url|label" into a link element, or returns nil when url has
// no scheme.
func linkElement(inner string, s textStyle) obj {
	target, label, labelled := strings.Cut(inner, "|")
	scheme, _, ok := strings.Cut(target, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, " /@#!") {
		return nil
	}
	link := obj{"type": "link", "url": mrkdwnUnescaper.Replace(target)}
	if labelled && label != "" {
		link["text"] = mrkdwnUnescaper.Replace(label)
	}
	return s.addTo(link)
}

// emojiElement parses the emoji code at raw[i], ":name:" with an optional
// ":skin-tone-N:" after it, and returns its element and length, or nil. The colon must
// start a word, so that "10:30:00" stays text.
func emojiElement(raw string, i int, s textStyle) (obj, int) {
	if before, _ := utf8.DecodeLastRuneInString(raw[:i]); i > 0 && isWordRune(before) {
		return nil, 0
	}
	name, ok := emojiName(raw[i:])
	if !ok {
		return nil, 0
	}
	n := len(name) + 2
	el := obj{"type": "emoji", "name": name}
	unicodeHex := emojiUnicode[name]
	if tone, ok := emojiName(raw[i+n:]); ok && strings.HasPrefix(tone, "skin-tone-") {
		if t, err := strconv.Atoi(strings.TrimPrefix(tone, "skin-tone-")); err == nil && t >= 2 && t <= 6 {
			el["skin_tone"] = t
			n += len(tone) + 2
			if unicodeHex != "" {
				unicodeHex += "-" + strconv.FormatInt(0x1f3fb+int64(t-2), 16)
			}
		}
	}
	if unicodeHex != "" {
		el["unicode"] = unicodeHex
	}
	return s.addTo(el), n
}

// emojiName reads ":name:" at the start of raw. Emoji names are lower-case letters,
// digits and - _ + '.
func emojiName(raw string) (string, bool) {
	if len(raw) < 3 || raw[0] != ':' {
		return "", false
	}
	end := strings.IndexByte(raw[1:], ':')
	if end <= 0 {
		return "", false
	}
	name := raw[1 : 1+end]
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-_+'", r)) {
			return "", false
		}
	}
	return name, true
}

// emojiUnicode is the "unicode" Slack's clients give some standard emoji: code points in
// hex, joined by "-". Standard emoji not listed here go without it; custom emoji never
// have one.
var emojiUnicode = map[string]string{
	"+1": "1f44d", "thumbsup": "1f44d", "-1": "1f44e", "thumbsdown": "1f44e",
	"100": "1f4af", "clap": "1f44f", "eyes": "1f440", "fire": "1f525", "grinning": "1f600",
	"heart": "2764-fe0f", "joy": "1f602", "ok_hand": "1f44c", "pray": "1f64f", "rocket": "1f680",
	"slightly_smiling_face": "1f642", "smile": "1f604", "sob": "1f62d", "tada": "1f389",
	"thinking_face": "1f914", "wave": "1f44b", "white_check_mark": "2705",
}
