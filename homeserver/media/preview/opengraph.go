package preview

import (
	"bufio"
	"cmp"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Bounds on what a page can put into a preview, which the caller caches and sends to clients.
const (
	maxDescriptionRunes = 500  // og:description, as other servers do
	maxTextRunes        = 1000 // any other text value
	maxURLBytes         = 4096 // a longer URL is dropped, since a cut one is useless
	maxProperties       = 64   // og:* properties kept from one page
	maxKeyBytes         = 128  // a longer property name is ignored
)

// urlProperties are the properties whose values are URLs: they are resolved against the page's
// base URL and dropped unless they are http or https.
var urlProperties = map[string]bool{
	"og:url":   true,
	"og:image": true, "og:image:url": true, "og:image:secure_url": true,
	"og:video": true, "og:video:url": true, "og:video:secure_url": true,
	"og:audio": true, "og:audio:url": true, "og:audio:secure_url": true,
}

// imageProperties name the page's image, best first. They never reach Properties: the image is
// returned as an absolute URL for the caller to store, and og:image becomes its mxc:// URI.
var imageProperties = []string{"og:image", "og:image:secure_url", "og:image:url"}

// minImageSide is the smallest declared width or height of an <img> worth a preview; smaller
// ones are usually icons, spacers and tracking pixels.
const minImageSide = 32

// pageScan collects what one pass over a page finds.
type pageScan struct {
	base *url.URL // the response URL, replaced by the first <base href>

	og              map[string]string // <meta property="og:…">, first value of each
	twitter         map[string]string // <meta name="twitter:…">, first value of each
	metaDescription string            // <meta name="description">
	title           string            // <title>
	h1              strings.Builder   // text of the first <h1>
	inH1, h1Done    bool
	baseSeen        bool

	imageSrc  string // <link rel="image_src">
	bestImg   string // the <img> with the largest declared area
	bestArea  int
	firstImg  string // the first <img> with no declared size
	touchIcon string // <link rel="apple-touch-icon">
	icon      string // <link rel="icon">
}

// parseHTML reads an HTML page from r, which must end at the fetch's byte limit, and returns
// its OpenGraph properties and the absolute URL of its image ("" if none). pageURL is where
// the page was found, after redirects; headerCharset is the Content-Type header's charset.
//
// Properties come from <meta property="og:*"> (or name="og:*"); the first of repeated ones wins.
// When absent, og:title falls back to twitter:title, <title>, then the first <h1>;
// og:description to twitter:description, then <meta name="description">; and the image to
// twitter:image, <link rel="image_src">, the largest <img> with a declared size of at least
// 32×32 (or else the first <img> without one), <link rel="apple-touch-icon">, then
// <link rel="icon">. Reading stops at the end of <head> when it already gave a title, a
// description and an image, and otherwise at the end of the page or the limit.
//
// A read error after some properties were found is not reported, so that a page cut short by
// the deadline still previews.
func parseHTML(r io.Reader, headerCharset string, pageURL *url.URL) (map[string]any, string, error) {
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(prescanBytes) // an error here comes back from the next Read
	enc, bom := detectEncoding(head, headerCharset)
	_, _ = br.Discard(bom)
	var src io.Reader = br
	if enc == encWindows1252 {
		src = &windows1252Reader{r: br}
	}

	s := &pageScan{base: pageURL, og: map[string]string{}, twitter: map[string]string{}}
	z := html.NewTokenizer(src)
scan:
	for {
		switch z.Next() {
		case html.ErrorToken:
			break scan
		case html.StartTagToken, html.SelfClosingTagToken:
			if s.startTag(z) {
				break scan
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.H1:
				if s.inH1 {
					s.inH1, s.h1Done = false, true
				}
			case atom.Head:
				if s.complete() {
					break scan
				}
			}
		case html.TextToken:
			if s.inH1 && s.h1.Len() < maxTextRunes*utf8.UTFMax {
				s.h1.Write(z.Text())
			}
		}
	}
	if err := z.Err(); err != nil && err != io.EOF && len(s.og) == 0 && s.title == "" {
		return nil, "", err
	}
	props, image := s.result()
	return props, image, nil
}

// startTag handles a start tag and reports whether the scan is done.
func (s *pageScan) startTag(z *html.Tokenizer) bool {
	name, hasAttr := z.TagName()
	switch atom.Lookup(name) {
	case atom.Body:
		return s.complete()
	case atom.Title:
		// <title> holds only text, which the tokenizer returns as one token.
		if s.title == "" && z.Next() == html.TextToken {
			s.title = cleanText(string(z.Text()), maxTextRunes)
		}
	case atom.H1:
		if !s.h1Done {
			s.inH1 = true
		}
	case atom.Meta:
		if hasAttr {
			s.meta(tagAttrs(z))
		}
	case atom.Base:
		if hasAttr && !s.baseSeen {
			s.baseSeen = true
			if u := s.resolve(tagAttrs(z)["href"]); u != "" {
				s.base, _ = url.Parse(u)
			}
		}
	case atom.Link:
		if hasAttr {
			s.link(tagAttrs(z))
		}
	case atom.Img:
		if hasAttr {
			s.img(tagAttrs(z))
		}
	}
	return false
}

// complete reports whether the page has given everything the body could otherwise supply.
func (s *pageScan) complete() bool {
	return s.og["og:title"] != "" && s.og["og:description"] != "" && s.og["og:image"] != ""
}

func (s *pageScan) meta(attrs map[string]string) {
	key := attrs["property"]
	if key == "" {
		key = attrs["name"]
	}
	key = strings.ToLower(strings.TrimSpace(key))
	content := strings.TrimSpace(attrs["content"])
	if content == "" || len(key) > maxKeyBytes {
		return
	}
	switch {
	case strings.HasPrefix(key, "og:"):
		if _, seen := s.og[key]; !seen && len(s.og) < maxProperties {
			s.og[key] = content
		}
	case strings.HasPrefix(key, "twitter:"):
		if _, seen := s.twitter[key]; !seen {
			s.twitter[key] = content
		}
	case key == "description":
		if s.metaDescription == "" {
			s.metaDescription = content
		}
	}
}

func (s *pageScan) link(attrs map[string]string) {
	href := strings.TrimSpace(attrs["href"])
	if href == "" {
		return
	}
	for rel := range strings.FieldsSeq(strings.ToLower(attrs["rel"])) {
		switch rel {
		case "image_src":
			s.imageSrc = cmp.Or(s.imageSrc, href)
		case "apple-touch-icon", "apple-touch-icon-precomposed":
			s.touchIcon = cmp.Or(s.touchIcon, href)
		case "icon":
			s.icon = cmp.Or(s.icon, href)
		}
	}
}

func (s *pageScan) img(attrs map[string]string) {
	src := strings.TrimSpace(attrs["src"])
	if src == "" || strings.HasPrefix(strings.ToLower(src), "data:") {
		return
	}
	w, werr := strconv.Atoi(strings.TrimSpace(attrs["width"]))
	h, herr := strconv.Atoi(strings.TrimSpace(attrs["height"]))
	switch {
	case werr != nil && herr != nil:
		s.firstImg = cmp.Or(s.firstImg, src)
	case werr == nil && herr == nil && w >= minImageSide && h >= minImageSide:
		if area := w * h; area > s.bestArea {
			s.bestImg, s.bestArea = src, area
		}
	}
}

// result builds the properties and the image URL.
func (s *pageScan) result() (map[string]any, string) {
	props := make(map[string]any, len(s.og)+2)
	for key, value := range s.og {
		if v, ok := s.property(key, value); ok {
			props[key] = v
		}
	}
	fallback := func(key string, candidates ...string) {
		if _, ok := props[key]; ok {
			return
		}
		for _, c := range candidates {
			if v, ok := s.property(key, c); ok {
				props[key] = v
				return
			}
		}
	}
	fallback("og:title", s.twitter["twitter:title"], s.title, s.h1.String())
	fallback("og:description", s.twitter["twitter:description"], s.metaDescription)

	var image string
	for _, key := range imageProperties {
		if image == "" {
			image = s.resolve(s.og[key])
		}
		delete(props, key)
	}
	for _, c := range []string{
		s.twitter["twitter:image"], s.twitter["twitter:image:src"], s.imageSrc,
		s.bestImg, s.firstImg, s.touchIcon, s.icon,
	} {
		if image == "" {
			image = s.resolve(c)
		}
	}
	return props, image
}

// property cleans one value for key, reporting false when nothing usable is left.
func (s *pageScan) property(key, value string) (any, bool) {
	switch {
	case urlProperties[key]:
		v := s.resolve(value)
		return v, v != ""
	case strings.HasSuffix(key, ":width"), strings.HasSuffix(key, ":height"):
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		return n, err == nil && n > 0
	case key == "og:description":
		v := cleanText(value, maxDescriptionRunes)
		return v, v != ""
	default:
		v := cleanText(value, maxTextRunes)
		return v, v != ""
	}
}

// resolve returns ref as an absolute http or https URL against the page's base URL, or "".
func (s *pageScan) resolve(ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" || len(ref) > maxURLBytes {
		return ""
	}
	u, err := s.base.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	abs := u.String()
	if len(abs) > maxURLBytes || !utf8.ValidString(abs) {
		return ""
	}
	return abs
}

// tagAttrs returns the current tag's attributes, keys lower-cased, first occurrence winning.
func tagAttrs(z *html.Tokenizer) map[string]string {
	attrs := map[string]string{}
	for {
		key, val, more := z.TagAttr()
		k := strings.ToLower(string(key))
		if _, seen := attrs[k]; !seen {
			attrs[k] = string(val)
		}
		if !more {
			return attrs
		}
	}
}

// cleanText makes s fit for a preview: valid UTF-8, runs of white space collapsed to one
// space, and at most max runes, cut on a rune boundary and marked with "…".
func cleanText(s string, max int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	i, n := 0, 0
	for i = range s {
		if n == max-1 {
			break
		}
		n++
	}
	return strings.TrimRight(s[:i], " ") + "…"
}
