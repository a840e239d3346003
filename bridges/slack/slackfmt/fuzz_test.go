package slackfmt

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// allowedOutput lists the elements and attributes MrkdwnToMatrix and
// RichTextToMatrix may emit. Anything else in formatted_body came from the
// input unescaped.
var allowedOutput = map[string][]string{
	"strong": nil, "em": nil, "u": nil, "del": nil, "code": {"class"}, "pre": nil,
	"br": nil, "blockquote": nil, "ul": nil, "ol": {"start"}, "li": nil,
	"a":   {"href"},
	"img": {"data-mx-emoticon", "src", "alt", "title", "height"},
	// html.Parse adds these around a fragment.
	"html": nil, "head": nil, "body": nil,
}

func checkFormattedBody(t *testing.T, in, formatted string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(formatted))
	if err != nil {
		t.Fatalf("parse %q: %v", formatted, err)
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attrs, ok := allowedOutput[n.Data]
			if !ok {
				t.Fatalf("input %q produced element <%s> in %q", in, n.Data, formatted)
			}
			for _, a := range n.Attr {
				if !strings.Contains(strings.Join(attrs, " "), a.Key) {
					t.Fatalf("input %q produced attribute %s on <%s> in %q", in, a.Key, n.Data, formatted)
				}
				if a.Key == "href" && !safeHref(a.Val) {
					t.Fatalf("input %q produced href %q", in, a.Val)
				}
				if a.Key == "src" && !strings.HasPrefix(a.Val, "mxc://") {
					t.Fatalf("input %q produced src %q", in, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}

func FuzzMrkdwnToMatrix(f *testing.F) {
	for _, seed := range []string{
		"*bold* _it_ ~s~ `c` ```pre```",
		"<https://e.com|x> <@U1> <#C1|c> <!here> <!subteam^S1|@g> <!date^1^{date}^https://e.com|d>",
		"&gt; q\n&gt;&gt;&gt; rest",
		"&lt;script&gt;alert(1)&lt;/script&gt; <javascript:x|y> <https://e.com/\"><img src=x>|z>",
		":+1::skin-tone-2: :partyparrot: :x:",
		"<img src=x onerror=alert(1)> \"' &",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m := MrkdwnToMatrix(in, fakeSlack{})
		checkFormattedBody(t, in, m.FormattedBody)
	})
}

func FuzzHTMLToSlack(f *testing.F) {
	for _, seed := range []string{
		"<b>x</b><i>y</i><code>z</code><pre>p</pre><blockquote>q</blockquote>",
		`<a href="https://matrix.to/#/@slack_u1:example.org">A</a> <a href="javascript:x">j</a>`,
		"<ul><li>a<ol><li>b</li></ol></li></ul><mx-reply>r</mx-reply>@room",
		"<table><tr><td>x</td></tr></table><img data-mx-emoticon alt=':a:'>",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := HTMLToSlack(in, fakeMatrix{}, SlackOptions{})
		// Every "<" in the output must start one of our own sequences.
		for i := 0; i < len(out); i++ {
			if out[i] != '<' {
				continue
			}
			rest := out[i+1:]
			if !strings.HasPrefix(rest, "@U1>") && !strings.HasPrefix(rest, "#C1>") && !safeHref(rest) {
				t.Fatalf("HTMLToSlack(%q) = %q: stray < at %d", in, out, i)
			}
		}
	})
}
