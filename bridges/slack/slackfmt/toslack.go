package slackfmt

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// MatrixResolver looks up the Matrix objects a Matrix message refers to, for
// Matrix → Slack conversion.
//
// Methods are called synchronously during conversion and must answer from
// memory or a local database, not the network. ok == false selects the
// documented fallback; it is not an error.
type MatrixResolver interface {
	// SlackUserID returns the Slack user behind a Matrix user: the user a
	// ghost stands for, or the Slack account a Matrix user has logged in
	// with. On ok == false a pill to the user becomes its label (the
	// display name) as plain text.
	SlackUserID(mxid id.UserID) (slackUserID string, ok bool)
	// SlackChannelID returns the Slack channel bridged to a Matrix room,
	// given by ID or, when only an alias is known, by alias (exactly one of
	// room and alias is set). On ok == false a room pill stays a link.
	SlackChannelID(room id.RoomID, alias id.RoomAlias) (slackChannelID string, ok bool)
}

// SlackOptions tunes Matrix → Slack conversion.
type SlackOptions struct {
	// AllowRoomMention turns "@room" into <!channel>, which notifies the
	// whole Slack channel. The bridge sets it only when the sender may
	// notify the room (power level "notifications.room").
	AllowRoomMention bool
}

// ToSlack converts a Matrix m.room.message (m.text, m.notice or m.emote;
// for an edit, pass m.new_content) to Slack mrkdwn. It uses formatted_body
// when the format is org.matrix.custom.html and body otherwise, and drops
// reply fallbacks either way. An @room mention is converted only when
// opts.AllowRoomMention is set and the content does not opt out through an
// m.mentions without room. r may be nil, in which case no pill becomes a
// Slack mention.
//
// For m.emote the result is the action text: the bridge posts it with
// chat.meMessage, or wraps it with EmoteItalic where it cannot.
func ToSlack(content *event.MessageEventContent, r MatrixResolver, opts SlackOptions) string {
	if content == nil {
		return ""
	}
	if content.Mentions != nil && !content.Mentions.Room {
		// Intentional mentions (client-server-api "User and room
		// mentions"): without m.mentions.room, "@room" is just text.
		opts.AllowRoomMention = false
	}
	if content.Format == event.FormatHTML && content.FormattedBody != "" {
		return HTMLToSlack(content.FormattedBody, r, opts)
	}
	body := content.Body
	if content.RelatesTo.GetReplyTo() != "" {
		body = event.TrimReplyFallbackText(body)
	}
	return PlainToSlack(body, opts)
}

// PlainToSlack converts a plain-text Matrix body to Slack mrkdwn: it escapes
// &, < and > and, if allowed, turns @room into <!channel>.
func PlainToSlack(body string, opts SlackOptions) string {
	return slackText(body, opts.AllowRoomMention)
}

// HTMLToSlack converts a Matrix org.matrix.custom.html body to Slack
// mrkdwn. See ToSlack.
func HTMLToSlack(formattedBody string, r MatrixResolver, opts SlackOptions) string {
	nodes, err := html.ParseFragment(strings.NewReader(formattedBody), &html.Node{
		Type: html.ElementNode, Data: "body", DataAtom: atom.Body,
	})
	if err != nil {
		// The tokenizer only fails on read errors, which a strings.Reader
		// does not have; fall back to the text anyway.
		return slackText(formattedBody, false)
	}
	if r == nil {
		r = noMatrixResolver{}
	}
	w := &slackWriter{r: r, allowRoom: opts.AllowRoomMention}
	root := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	for _, n := range nodes {
		root.AppendChild(n)
	}
	return strings.TrimSpace(w.children(root, wctx{}))
}

// EmoteItalic is the fallback for an m.emote where chat.meMessage cannot be
// used (for example when relaying): it puts text, already converted by
// ToSlack, in italics line by line, prefixed by the sender's name if given.
// The name is escaped here.
func EmoteItalic(senderName, text string) string {
	if senderName != "" {
		text = slackText(senderName, false) + " " + text
	}
	return wrapLines(text, "_")
}

// slackEscaper escapes the three characters Slack reserves
// (https://api.slack.com/reference/surfaces/formatting#escaping).
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackText escapes text for Slack and converts @room.
func slackText(s string, allowRoom bool) string {
	s = slackEscaper.Replace(s)
	if allowRoom {
		s = replaceRoomMention(s)
	}
	return s
}

// replaceRoomMention replaces each "@room" that stands as a word with
// <!channel>.
func replaceRoomMention(s string) string {
	const mention = "@room"
	var b strings.Builder
	for {
		i := strings.Index(s, mention)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(mention)
		if wordBefore(s, i) || wordAt(s, end) {
			b.WriteString(s[:end])
		} else {
			b.WriteString(s[:i])
			b.WriteString("<!channel>")
		}
		s = s[end:]
	}
}

// wctx is the formatting context of an HTML node.
type wctx struct {
	pre                  bool // inside <pre>: keep whitespace
	bold, italic, strike bool // already inside that emphasis
}

// pieceKind says how a converted node joins its neighbours.
type pieceKind int

const (
	inlinePiece pieceKind = iota
	blockPiece            // on its own line(s)
	paraPiece             // on its own line(s), with a blank line around
)

type slackWriter struct {
	r         MatrixResolver
	allowRoom bool
}

// children converts the children of n and joins them, putting block pieces
// on their own lines.
func (w *slackWriter) children(n *html.Node, ctx wctx) string {
	var b strings.Builder
	prev := inlinePiece
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		s, kind := w.node(c, ctx)
		if s == "" {
			continue
		}
		if kind == inlinePiece && prev != inlinePiece && strings.TrimSpace(s) == "" {
			continue // whitespace between blocks
		}
		if b.Len() > 0 {
			want := 0
			switch {
			case kind == paraPiece || prev == paraPiece:
				want = 2
			case kind == blockPiece || prev == blockPiece:
				want = 1
			}
			if want > 0 {
				trimmed := strings.TrimRight(b.String(), " \t")
				b.Reset()
				b.WriteString(trimmed)
				if kind == inlinePiece {
					s = strings.TrimLeft(s, " \t")
				}
			}
			for trailingNewlines(b.String()) < want {
				b.WriteByte('\n')
			}
		}
		b.WriteString(s)
		prev = kind
	}
	return b.String()
}

func trailingNewlines(s string) int {
	return len(s) - len(strings.TrimRight(s, "\n"))
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// textContent is the text of n and its descendants, without markup.
func textContent(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Br:
				b.WriteByte('\n')
				return
			case atom.Script, atom.Style:
				return
			}
			if n.Data == "mx-reply" {
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// collapseSpace applies HTML whitespace rules outside <pre>: newlines are
// formatting, and runs of spaces show as one.
func collapseSpace(s string) string {
	s = strings.ReplaceAll(s, "\n", "")
	s = strings.ReplaceAll(s, "\t", " ")
	for strings.Contains(s, "  ") {
		s = strings.ReplaceAll(s, "  ", " ")
	}
	return s
}

func (w *slackWriter) node(n *html.Node, ctx wctx) (string, pieceKind) {
	switch n.Type {
	case html.TextNode:
		if ctx.pre {
			return slackEscaper.Replace(n.Data), inlinePiece
		}
		return slackText(collapseSpace(n.Data), w.allowRoom), inlinePiece
	case html.ElementNode:
	default:
		return "", inlinePiece
	}
	switch n.DataAtom {
	case atom.Br:
		return "\n", inlinePiece
	case atom.P:
		return strings.TrimSpace(w.children(n, ctx)), paraPiece
	case atom.Div, atom.Summary, atom.Details:
		return strings.TrimSpace(w.children(n, ctx)), blockPiece
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		bold := ctx
		bold.bold = true
		inner := strings.TrimSpace(w.children(n, bold))
		if !ctx.bold {
			inner = wrapLines(inner, "*")
		}
		return inner, paraPiece
	case atom.Strong, atom.B:
		if ctx.bold {
			return w.children(n, ctx), inlinePiece
		}
		ctx.bold = true
		return wrapLines(w.children(n, ctx), "*"), inlinePiece
	case atom.Em, atom.I:
		if ctx.italic {
			return w.children(n, ctx), inlinePiece
		}
		ctx.italic = true
		return wrapLines(w.children(n, ctx), "_"), inlinePiece
	case atom.Del, atom.S, atom.Strike:
		if ctx.strike {
			return w.children(n, ctx), inlinePiece
		}
		ctx.strike = true
		return wrapLines(w.children(n, ctx), "~"), inlinePiece
	case atom.Code, atom.Tt, atom.Samp, atom.Kbd:
		if ctx.pre {
			return w.children(n, ctx), inlinePiece
		}
		code := collapseSpace(textContent(n))
		if strings.TrimSpace(code) == "" {
			return code, inlinePiece
		}
		return "`" + slackEscaper.Replace(code) + "`", inlinePiece
	case atom.Pre:
		code := strings.TrimSuffix(textContent(n), "\n")
		return "```\n" + slackEscaper.Replace(code) + "\n```", blockPiece
	case atom.Blockquote:
		inner := strings.TrimSpace(w.children(n, ctx))
		return prefixLines(inner, "> ", "> "), blockPiece
	case atom.Ul, atom.Ol:
		return w.list(n, ctx), blockPiece
	case atom.A:
		return w.link(n, ctx), inlinePiece
	case atom.Img:
		return imgText(n), inlinePiece
	case atom.Hr:
		return "──────────", blockPiece
	case atom.Table:
		return w.table(n, ctx), blockPiece
	case atom.Script, atom.Style, atom.Head, atom.Title:
		return "", inlinePiece
	}
	if n.Data == "mx-reply" {
		// The rich reply fallback (client-server-api "Fallbacks for rich
		// replies"): the bridge threads or quotes natively instead.
		return "", inlinePiece
	}
	// span (spoilers keep their text, maths their fallback), font, sup, sub,
	// u and anything unknown: the text without the markup.
	return w.children(n, ctx), inlinePiece
}

// wrapLines puts marker around each non-blank line of s: Slack emphasis does
// not span lines, and must hug the text, so surrounding spaces go outside.
func wrapLines(s, marker string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		core := strings.TrimSpace(l)
		if core == "" {
			continue
		}
		start := strings.Index(l, core)
		lines[i] = l[:start] + marker + core + marker + l[start+len(core):]
	}
	return strings.Join(lines, "\n")
}

func (w *slackWriter) list(n *html.Node, ctx wctx) string {
	ordered := n.DataAtom == atom.Ol
	num := 1
	if s, ok := attr(n, "start"); ok {
		if v, err := strconv.Atoi(s); err == nil {
			num = v
		}
	}
	var items []string
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode || c.DataAtom != atom.Li {
			continue
		}
		item := strings.TrimSpace(w.children(c, ctx))
		marker := "• "
		if ordered {
			marker = strconv.Itoa(num) + ". "
			num++
		}
		items = append(items, prefixLines(item, marker, strings.Repeat(" ", 4)))
	}
	return strings.Join(items, "\n")
}

func (w *slackWriter) table(n *html.Node, ctx wctx) string {
	var rows []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			if c.DataAtom == atom.Tr {
				var cells []string
				for cell := c.FirstChild; cell != nil; cell = cell.NextSibling {
					if cell.Type == html.ElementNode && (cell.DataAtom == atom.Td || cell.DataAtom == atom.Th) {
						cells = append(cells, strings.TrimSpace(strings.ReplaceAll(w.children(cell, ctx), "\n", " ")))
					}
				}
				rows = append(rows, strings.Join(cells, " | "))
				continue
			}
			walk(c)
		}
	}
	walk(n)
	return strings.Join(rows, "\n")
}

// imgText is what Slack shows for an image: a custom emoji by its shortcode
// (which resolves if the workspace has an emoji of that name), anything else
// by its alt text.
func imgText(n *html.Node) string {
	alt, _ := attr(n, "alt")
	if _, ok := attr(n, "data-mx-emoticon"); ok {
		name := alt
		if name == "" {
			name, _ = attr(n, "title")
		}
		name = strings.Trim(strings.TrimSpace(name), ":")
		if name != "" && !strings.ContainsAny(name, " <>&:") {
			return ":" + name + ":"
		}
	}
	return slackEscaper.Replace(collapseSpace(alt))
}

// link converts an <a>: pills to Slack mentions where the resolver knows
// the user or room, other links to <url|label>.
func (w *slackWriter) link(n *html.Node, ctx wctx) string {
	href, _ := attr(n, "href")
	label := strings.TrimSpace(collapseSpace(textContent(n)))
	if uri, err := id.ParseMatrixURIOrMatrixToURL(href); err == nil && uri != nil && uri.Sigil2 == 0 {
		switch uri.Sigil1 {
		case '@':
			if slackID, ok := w.r.SlackUserID(uri.UserID()); ok && slackID != "" {
				return "<@" + slackID + ">"
			}
			if label == "" {
				label = string(uri.UserID())
			}
			return slackEscaper.Replace(label)
		case '!':
			if ch, ok := w.r.SlackChannelID(uri.RoomID(), ""); ok && ch != "" {
				return "<#" + ch + ">"
			}
		case '#':
			if ch, ok := w.r.SlackChannelID("", uri.RoomAlias()); ok && ch != "" {
				return "<#" + ch + ">"
			}
		}
	}
	shown := slackEscaper.Replace(label)
	if !safeHref(href) {
		return shown
	}
	target := slackURL(href)
	if label == "" || label == href || "mailto:"+label == href {
		return "<" + target + ">"
	}
	return "<" + target + "|" + shown + ">"
}

// slackURL makes href safe inside <…|…>: the reserved characters are
// escaped and "|", which would end the URL, is percent-encoded.
var slackURL = strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C").Replace

// noMatrixResolver resolves nothing. It stands in for a nil MatrixResolver.
type noMatrixResolver struct{}

func (noMatrixResolver) SlackUserID(id.UserID) (string, bool)                  { return "", false }
func (noMatrixResolver) SlackChannelID(id.RoomID, id.RoomAlias) (string, bool) { return "", false }
