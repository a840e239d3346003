package slackfmt

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file parses Slack mrkdwn, the markup of a message's text field
// (https://api.slack.com/reference/surfaces/formatting). Slack escapes &, <
// and > in text as &amp; &lt; &gt;, so a literal "<" always starts a control
// sequence (<@U123>, <#C123|name>, <!here>, <https://url|label>) and a quote
// marker arrives as "&gt;". Emphasis never spans lines, opens only after a
// non-word character and closes only before one, which is what keeps
// snake_case_words and 2*3*4 plain.

var entityDecoder = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// decodeEntities undoes Slack's escaping of &, < and >. Other entities are
// left alone: Slack never produces them, so "&quot;" was typed as is.
func decodeEntities(s string) string { return entityDecoder.Replace(s) }

const fence = "```"

// quotePrefix returns the length of the quote marker (">", or ">>>" when
// long is set) at the start of s, or 0. Slack sends the marker escaped as
// "&gt;", but a raw ">" (which Slack accepts when posting, and which
// ToSlack produces) counts too.
func quotePrefix(s string, long bool) int {
	count := 1
	if long {
		count = 3
	}
	n := 0
	for range count {
		switch {
		case strings.HasPrefix(s[n:], "&gt;"):
			n += len("&gt;")
		case strings.HasPrefix(s[n:], ">"):
			n++
		default:
			return 0
		}
	}
	return n
}

// mrkdwnDoc parses a whole message. Quotes are parsed only at the top level:
// Slack has no nested quotes.
func (c *converter) mrkdwnDoc(s string) []block {
	return c.mrkdwnBlocks(strings.ReplaceAll(s, "\r\n", "\n"), true)
}

func (c *converter) mrkdwnBlocks(s string, quotes bool) []block {
	var (
		doc        []block
		cur        []inline // the paragraph being built
		quoteLines []string // consecutive "> " lines not yet emitted
	)
	flushPara := func() {
		if len(cur) > 0 {
			doc = append(doc, para{inl: cur})
			cur = nil
		}
	}
	flushQuote := func() {
		if quoteLines != nil {
			doc = append(doc, quote{blocks: c.mrkdwnBlocks(strings.Join(quoteLines, "\n"), false)})
			quoteLines = nil
		}
	}
	lineStart := true
	for i := 0; i < len(s); {
		lineEnd := strings.IndexByte(s[i:], '\n')
		if lineEnd < 0 {
			lineEnd = len(s)
		} else {
			lineEnd += i
		}
		if lineStart && quotes {
			if n := quotePrefix(s[i:], true); n > 0 {
				// ">>>" quotes everything after it, code blocks included.
				flushPara()
				flushQuote()
				rest := strings.TrimPrefix(s[i+n:], " ")
				rest = strings.TrimPrefix(rest, "\n")
				return append(doc, quote{blocks: c.mrkdwnBlocks(rest, false)})
			}
			if n := quotePrefix(s[i:], false); n > 0 {
				flushPara()
				quoteLines = append(quoteLines, strings.TrimPrefix(s[i+n:lineEnd], " "))
				i = lineEnd + 1
				continue
			}
			flushQuote()
		}
		// A code block may start anywhere on the line and run over lines.
		if f := strings.Index(s[i:lineEnd], fence); f >= 0 {
			open := i + f
			if end := strings.Index(s[open+len(fence):], fence); end > 0 {
				closeAt := open + len(fence) + end
				cur = append(cur, c.inlineMrkdwn(strings.TrimRight(s[i:open], " \t"), 0)...)
				flushPara()
				doc = append(doc, pre{text: c.codeText(trimCodeBlock(s[open+len(fence) : closeAt]))})
				i = closeAt + len(fence)
				for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
					i++
				}
				// The block ends the line; a newline right after it is not
				// another line break.
				lineStart = false
				if strings.HasPrefix(s[i:], "\n") {
					i++
					lineStart = true
				}
				continue
			}
		}
		cur = append(cur, c.inlineMrkdwn(s[i:lineEnd], 0)...)
		if lineEnd < len(s) {
			cur = append(cur, lineBreak{})
		}
		i = lineEnd + 1
		lineStart = true
	}
	flushQuote()
	flushPara()
	return doc
}

// trimCodeBlock drops one newline after the opening fence and one before the
// closing fence, which Slack does not show.
func trimCodeBlock(s string) string {
	s = strings.TrimPrefix(s, "\n")
	return strings.TrimSuffix(s, "\n")
}

// codeText is the text of code: entities decoded and control sequences shown
// as the text Slack shows for them. No formatting applies inside code.
func (c *converter) codeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '<' {
			if end := strings.IndexByte(s[i+1:], '>'); end >= 0 {
				b.WriteString(c.tokenText(s[i+1 : i+1+end]))
				i += end + 2
				continue
			}
		}
		next := strings.IndexByte(s[i+1:], '<')
		if next < 0 {
			next = len(s)
		} else {
			next += i + 1
		}
		b.WriteString(decodeEntities(s[i:next]))
		i = next
	}
	return b.String()
}

// maxEmphasisDepth bounds the nesting of emphasis, so that a hostile
// message cannot make parsing quadratic through deep nesting. Deeper markers
// stay literal; Slack only has three kinds anyway.
const maxEmphasisDepth = 8

// inlineMrkdwn parses one line (or part of one) of mrkdwn. depth is the
// number of emphasis spans around s.
func (c *converter) inlineMrkdwn(s string, depth int) []inline {
	var (
		out   []inline
		plain strings.Builder // raw text not yet emitted
	)
	// lastCloser[m] is the last position that could close marker m: an
	// opener after it fails at once instead of scanning the rest of the line
	// again, which keeps lines full of unclosed markers linear.
	lastCloser := map[byte]int{}
	if depth < maxEmphasisDepth {
		for j := 1; j < len(s); j++ {
			if _, ok := emphasisTags[s[j]]; ok && isCloser(s, j) {
				lastCloser[s[j]] = j
			}
		}
	}
	flush := func() {
		if plain.Len() > 0 {
			out = append(out, c.textRun(plain.String())...)
			plain.Reset()
		}
	}
	for i := 0; i < len(s); {
		if end, ok := atomEnd(s, i); ok {
			flush()
			switch s[i] {
			case '<':
				out = append(out, c.token(s[i+1:end-1]))
			case '`':
				out = append(out, &styled{tag: "code", kids: []inline{text(c.codeText(s[i+1 : end-1]))}})
			default: // a bare URL: no emphasis or emoji inside it
				out = append(out, text(decodeEntities(s[i:end])))
			}
			i = end
			continue
		}
		if tag, ok := emphasisTags[s[i]]; ok && lastCloser[s[i]] > i+1 {
			if end, ok := emphasisEnd(s, i, lastCloser[s[i]]); ok {
				flush()
				out = append(out, &styled{tag: tag, kids: c.inlineMrkdwn(s[i+1:end], depth+1)})
				i = end + 1
				continue
			}
		}
		plain.WriteByte(s[i])
		i++
	}
	flush()
	return out
}

var emphasisTags = map[byte]string{'*': "strong", '_': "em", '~': "del"}

// atomEnd reports whether an indivisible unit starts at s[i] and where it
// ends (exclusive): a control sequence <…>, an inline code span `…`, or a bare
// URL. Emphasis markers inside an atom do not count.
func atomEnd(s string, i int) (int, bool) {
	switch s[i] {
	case '<':
		if end := strings.IndexByte(s[i+1:], '>'); end >= 0 {
			return i + end + 2, true
		}
	case '`':
		if end := strings.IndexByte(s[i+1:], '`'); end > 0 {
			return i + end + 2, true
		}
	case 'h':
		if (strings.HasPrefix(s[i:], "http://") || strings.HasPrefix(s[i:], "https://")) && !wordBefore(s, i) {
			end := i
			for end < len(s) && s[end] != ' ' && s[end] != '\t' && s[end] != '<' {
				end++
			}
			return end, true
		}
	}
	return 0, false
}

// emphasisEnd finds the marker closing the one at s[i], following Slack's
// rules: the opener follows a non-word character and precedes a non-space, the
// closer follows a non-space and precedes a non-word character.
// The search stops after last, the last possible closer.
func emphasisEnd(s string, i, last int) (int, bool) {
	m := s[i]
	if wordBefore(s, i) || i+1 >= len(s) || s[i+1] == m {
		return 0, false
	}
	if r, _ := utf8.DecodeRuneInString(s[i+1:]); unicode.IsSpace(r) {
		return 0, false
	}
	for j := i + 1; j <= last && j < len(s); {
		if end, ok := atomEnd(s, j); ok {
			j = end
			continue
		}
		if s[j] == m && j > i+1 && isCloser(s, j) {
			return j, true
		}
		j++
	}
	return 0, false
}

// isCloser reports whether the marker at s[j] may close emphasis: it follows
// a non-space and precedes a non-word character.
func isCloser(s string, j int) bool {
	prev, _ := utf8.DecodeLastRuneInString(s[:j])
	return !unicode.IsSpace(prev) && !wordAt(s, j+1)
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// wordBefore reports whether the character before s[i] is a letter or digit.
func wordBefore(s string, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isWordRune(r)
}

// wordAt reports whether s[i] starts a letter or digit.
func wordAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isWordRune(r)
}

// textRun turns plain mrkdwn text into nodes: entities decoded and emoji
// shortcodes (:smile:, :+1::skin-tone-2:, :custom:) replaced.
func (c *converter) textRun(s string) []inline {
	var out []inline
	start := 0
	emit := func(end int) {
		if end > start {
			out = append(out, text(decodeEntities(s[start:end])))
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		j := i + 1
		for j < len(s) && isShortcodeByte(s[j]) {
			j++
		}
		if j == i+1 || j >= len(s) || s[j] != ':' {
			continue
		}
		code, end := s[i+1:j], j+1
		// ":+1::skin-tone-2:" is one emoji.
		const tone = ":skin-tone-"
		if strings.HasPrefix(s[end:], tone) && len(s) > end+len(tone)+1 && s[end+len(tone)+1] == ':' {
			code += ":" + s[end:end+len(tone)+1]
			end += len(tone) + 2
		}
		node, ok := c.emoji(code)
		if !ok {
			continue
		}
		emit(i)
		out = append(out, node)
		start = end
		i = end - 1
	}
	emit(len(s))
	return out
}

func isShortcodeByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '_' || b == '+' || b == '-' || b == '\'' || b == '.'
}

// token converts the inside of a control sequence <…>.
func (c *converter) token(tok string) inline {
	target, label, _ := strings.Cut(tok, "|")
	label = decodeEntities(label)
	switch {
	case strings.HasPrefix(target, "@"):
		return c.user(target[1:], label)
	case strings.HasPrefix(target, "#"):
		return c.channel(target[1:], label)
	case strings.HasPrefix(target, "!"):
		return c.special(target[1:], label)
	}
	href := decodeEntities(target)
	if label == "" {
		return &link{href: href}
	}
	return &link{href: href, kids: c.textRun(label)}
}

// special converts <!here>, <!subteam^S123|@team>, <!date^…|fallback> and
// their kin.
func (c *converter) special(target, label string) inline {
	switch {
	case target == "here" || target == "channel" || target == "everyone":
		return c.broadcast()
	case strings.HasPrefix(target, "subteam^"):
		return c.usergroup(strings.TrimPrefix(target, "subteam^"), label)
	case strings.HasPrefix(target, "date^"):
		// <!date^1392734382^{date} at {time}^https://link|fallback>
		parts := strings.SplitN(target, "^", 4)
		shown := label
		if shown == "" && len(parts) >= 3 {
			if ts, err := strconv.ParseInt(parts[1], 10, 64); err == nil {
				shown = formatSlackDate(ts, decodeEntities(parts[2]))
			}
		}
		if len(parts) == 4 {
			return &link{href: decodeEntities(parts[3]), kids: []inline{text(shown)}}
		}
		return text(shown)
	}
	if label != "" {
		return text(label)
	}
	return text("@" + target)
}

// tokenText is the plain text Slack shows for a control sequence, used inside
// code where nothing is a link or mention.
func (c *converter) tokenText(tok string) string {
	target, label, _ := strings.Cut(tok, "|")
	label = decodeEntities(label)
	switch {
	case strings.HasPrefix(target, "@"):
		if _, name, ok := c.r.User(target[1:]); ok && name != "" {
			return "@" + name
		}
		if label != "" {
			return "@" + label
		}
		return target
	case strings.HasPrefix(target, "#"):
		if _, name, ok := c.r.Channel(target[1:]); ok && name != "" {
			return "#" + name
		}
		if label != "" {
			return "#" + label
		}
		return target
	case strings.HasPrefix(target, "!"):
		name := target[1:]
		if label != "" {
			return label
		}
		if name == "here" || name == "channel" || name == "everyone" {
			return "@" + name
		}
		if before, _, ok := strings.Cut(name, "^"); ok {
			return "@" + before
		}
		return "@" + name
	}
	if label != "" {
		return label
	}
	return decodeEntities(target)
}

// formatSlackDate renders a Slack date token format
// (https://api.slack.com/reference/surfaces/formatting#date-formatting) in
// UTC. It is only used when Slack sent no fallback text: the viewer's time
// zone is unknown here.
func formatSlackDate(ts int64, format string) string {
	t := time.Unix(ts, 0).UTC()
	r := strings.NewReplacer(
		"{date_num}", t.Format("2006-01-02"),
		"{date_slash}", t.Format("01/02/2006"),
		"{date_long_pretty}", t.Format("Monday, January 2, 2006"),
		"{date_long_full}", t.Format("Monday, January 2, 2006"),
		"{date_long}", t.Format("Monday, January 2, 2006"),
		"{date_pretty}", t.Format("January 2, 2006"),
		"{date_short_pretty}", t.Format("Jan 2, 2006"),
		"{date_short}", t.Format("Jan 2, 2006"),
		"{date}", t.Format("January 2, 2006"),
		"{day_divider_pretty}", t.Format("Monday, January 2"),
		"{time_secs}", t.Format("15:04:05 UTC"),
		"{time}", t.Format("15:04 UTC"),
		"{ago}", t.Format("2006-01-02 15:04 UTC"),
	)
	return r.Replace(format)
}
