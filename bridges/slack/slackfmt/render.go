package slackfmt

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"maunium.net/go/mautrix/id"
)

// Slack → Matrix conversion happens in two steps: the mrkdwn parser
// (mrkdwn.go) and the rich_text converter (richtext.go) both build the small
// document tree below, and render turns that tree into the plain-text body and
// the HTML formatted_body at once. Keeping one renderer means both inputs
// escape, nest and fall back in exactly the same way.

// block is a block-level node: para, quote, pre or list.
type block interface{ isBlock() }

// para is a run of inline nodes. Line breaks inside it are lineBreak nodes.
type para struct{ inl []inline }

// quote is a blockquote.
type quote struct{ blocks []block }

// pre is a code block. Its text is shown verbatim.
type pre struct {
	text string
	lang string
}

// list is a bullet or ordered list. Each item is a sequence of blocks, so
// items can hold nested lists.
type list struct {
	ordered bool
	start   int // first number of an ordered list
	items   [][]block
}

func (para) isBlock()  {}
func (quote) isBlock() {}
func (pre) isBlock()   {}
func (*list) isBlock() {}

// inline is an inline node: text, lineBreak, *styled, *link, pill or emoticon.
type inline any

// text is literal text. It never holds a newline (see lineBreak).
type text string

type lineBreak struct{}

// styled wraps its children in an HTML formatting element.
type styled struct {
	tag  string // strong, em, u, del or code
	kids []inline
}

// link is a hyperlink. With no children the URL itself is the label.
type link struct {
	href string
	kids []inline
}

// pill is a mention rendered as a matrix.to link, as Matrix clients expect
// (client-server-api "User, room, and group mentions").
type pill struct {
	href string
	name string
}

// emoticon is a custom emoji shown as an inline image (MSC2545 style, which
// Element and others render).
type emoticon struct {
	src  id.ContentURI
	name string // without colons
}

// allowedSchemes are the link schemes a Matrix client may render as links
// (client-server-api "m.room.message msgtypes", HTML tag and attribute list).
// A link with any other scheme is kept as text.
var allowedSchemes = []string{"https:", "http:", "ftp:", "mailto:", "magnet:"}

func safeHref(href string) bool {
	lower := strings.ToLower(href)
	for _, s := range allowedSchemes {
		if strings.HasPrefix(lower, s) {
			return true
		}
	}
	return false
}

// renderer writes the plain body and the HTML body side by side.
type renderer struct {
	body strings.Builder
	html strings.Builder
}

// render returns the plain body and the HTML of a document. The HTML is empty
// when it would say nothing that the escaped body does not: Matrix bridges send
// formatted_body only for formatted messages.
func render(doc []block) (body, formatted string) {
	var r renderer
	r.blocks(doc)
	body = r.body.String()
	formatted = r.html.String()
	if formatted == plainToHTML(body) {
		formatted = ""
	}
	return body, formatted
}

// plainToHTML is the HTML a plain body would have without any formatting.
func plainToHTML(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}

func (r *renderer) blocks(bs []block) {
	bs = tidyBlocks(bs)
	for i, b := range bs {
		if i > 0 {
			r.body.WriteByte('\n')
			if _, ok := bs[i-1].(para); ok {
				if _, ok := b.(para); ok {
					// Two paragraphs in a row need an explicit break; every
					// other block starts on its own line anyway.
					r.html.WriteString("<br>")
				}
			}
		}
		r.block(b)
	}
}

// tidyBlocks drops the line breaks that end a paragraph (the block boundary
// already breaks the line there) and paragraphs left empty by that.
func tidyBlocks(bs []block) []block {
	out := make([]block, 0, len(bs))
	for _, b := range bs {
		if p, ok := b.(para); ok {
			inl := p.inl
			for len(inl) > 0 {
				if _, ok := inl[len(inl)-1].(lineBreak); !ok {
					break
				}
				inl = inl[:len(inl)-1]
			}
			if len(inl) == 0 {
				continue
			}
			b = para{inl: inl}
		}
		out = append(out, b)
	}
	return out
}

func (r *renderer) block(b block) {
	switch b := b.(type) {
	case para:
		r.inlines(b.inl)
	case quote:
		var sub renderer
		sub.blocks(b.blocks)
		r.html.WriteString("<blockquote>")
		r.html.WriteString(sub.html.String())
		r.html.WriteString("</blockquote>")
		r.body.WriteString(prefixLines(sub.body.String(), "> ", "> "))
	case pre:
		r.html.WriteString("<pre><code")
		if b.lang != "" {
			r.html.WriteString(` class="language-`)
			r.html.WriteString(html.EscapeString(b.lang))
			r.html.WriteString(`"`)
		}
		r.html.WriteString(">")
		r.html.WriteString(html.EscapeString(b.text))
		r.html.WriteString("</code></pre>")
		r.body.WriteString("```\n")
		r.body.WriteString(b.text)
		r.body.WriteString("\n```")
	case *list:
		if b.ordered {
			r.html.WriteString("<ol")
			if b.start > 1 {
				r.html.WriteString(` start="` + strconv.Itoa(b.start) + `"`)
			}
			r.html.WriteString(">")
		} else {
			r.html.WriteString("<ul>")
		}
		for i, item := range b.items {
			var sub renderer
			sub.blocks(item)
			r.html.WriteString("<li>")
			r.html.WriteString(sub.html.String())
			r.html.WriteString("</li>")
			marker := "• "
			if b.ordered {
				marker = strconv.Itoa(b.start+i) + ". "
			}
			if i > 0 {
				r.body.WriteByte('\n')
			}
			r.body.WriteString(prefixLines(sub.body.String(), marker, strings.Repeat(" ", len([]rune(marker)))))
		}
		if b.ordered {
			r.html.WriteString("</ol>")
		} else {
			r.html.WriteString("</ul>")
		}
	}
}

// prefixLines puts first before the first line of s and rest before the others.
func prefixLines(s, first, rest string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		p := rest
		if i == 0 {
			p = first
		}
		if lines[i] == "" {
			p = strings.TrimRight(p, " ")
		}
		lines[i] = p + lines[i]
	}
	return strings.Join(lines, "\n")
}

func (r *renderer) inlines(ns []inline) {
	for _, n := range ns {
		r.inline(n)
	}
}

func (r *renderer) inline(n inline) {
	switch n := n.(type) {
	case text:
		r.body.WriteString(string(n))
		r.html.WriteString(html.EscapeString(string(n)))
	case lineBreak:
		r.body.WriteByte('\n')
		r.html.WriteString("<br>")
	case *styled:
		r.html.WriteString("<" + n.tag + ">")
		r.inlines(n.kids)
		r.html.WriteString("</" + n.tag + ">")
	case *link:
		if !safeHref(n.href) {
			if len(n.kids) == 0 {
				r.inline(text(n.href))
			} else {
				r.inlines(n.kids)
			}
			return
		}
		r.html.WriteString(`<a href="` + html.EscapeString(n.href) + `">`)
		if len(n.kids) == 0 {
			r.html.WriteString(html.EscapeString(n.href))
			r.body.WriteString(n.href)
			r.html.WriteString("</a>")
			return
		}
		var sub renderer
		sub.inlines(n.kids)
		r.html.WriteString(sub.html.String())
		r.html.WriteString("</a>")
		label := sub.body.String()
		r.body.WriteString(label)
		if label != n.href && "mailto:"+label != n.href {
			r.body.WriteString(" (" + n.href + ")")
		}
	case pill:
		r.body.WriteString(n.name)
		r.html.WriteString(`<a href="` + html.EscapeString(n.href) + `">` + html.EscapeString(n.name) + "</a>")
	case emoticon:
		code := ":" + n.name + ":"
		r.body.WriteString(code)
		r.html.WriteString(`<img data-mx-emoticon src="` + html.EscapeString(n.src.String()) +
			`" alt="` + html.EscapeString(code) + `" title="` + html.EscapeString(code) + `" height="32">`)
	}
}

// mergeStyles joins neighbouring styled nodes with the same tag, so that
// rich_text elements split by Slack (bold text, then a bold link) render as
// one <strong> instead of several.
func mergeStyles(ns []inline) []inline {
	out := make([]inline, 0, len(ns))
	for _, n := range ns {
		if s, ok := n.(*styled); ok && len(out) > 0 {
			if prev, ok := out[len(out)-1].(*styled); ok && prev.tag == s.tag {
				prev.kids = append(prev.kids, s.kids...)
				continue
			}
			s = &styled{tag: s.tag, kids: append([]inline(nil), s.kids...)}
			out = append(out, s)
			continue
		}
		out = append(out, n)
	}
	for _, n := range out {
		if s, ok := n.(*styled); ok {
			s.kids = mergeStyles(s.kids)
		}
	}
	return out
}

// plainText flattens inline nodes to the text a reader sees, for places that
// take no markup (code blocks).
func plainText(ns []inline) string {
	var r renderer
	r.inlines(ns)
	return r.body.String()
}

// textWithBreaks turns s into text and lineBreak nodes.
func textWithBreaks(s string) []inline {
	var out []inline
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			out = append(out, lineBreak{})
		}
		if line != "" {
			out = append(out, text(line))
		}
	}
	return out
}
