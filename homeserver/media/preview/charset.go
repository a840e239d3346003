package preview

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// The package decodes only UTF-8 and windows-1252, which together cover ASCII, ISO-8859-1 and
// the great majority of the web, without golang.org/x/net/html/charset and the
// golang.org/x/text encodings it needs. Any other declared charset is read as UTF-8, and bytes
// that are not UTF-8 become U+FFFD (see cleanText), so such a page still gives a preview,
// if one with some garbled text.

type encoding int

const (
	encUTF8 encoding = iota
	encWindows1252
)

// charsetLabels maps the WHATWG Encoding Standard's labels of the encodings we decode. As in
// browsers, every ISO-8859-1 and ASCII label means windows-1252, a superset of both.
var charsetLabels = map[string]encoding{
	"unicode-1-1-utf-8": encUTF8, "unicode11utf8": encUTF8, "unicode20utf8": encUTF8,
	"utf-8": encUTF8, "utf8": encUTF8, "x-unicode20utf8": encUTF8,

	"ansi_x3.4-1968": encWindows1252, "ascii": encWindows1252, "cp1252": encWindows1252,
	"cp819": encWindows1252, "csisolatin1": encWindows1252, "ibm819": encWindows1252,
	"iso-8859-1": encWindows1252, "iso-ir-100": encWindows1252, "iso8859-1": encWindows1252,
	"iso88591": encWindows1252, "iso_8859-1": encWindows1252, "iso_8859-1:1987": encWindows1252,
	"l1": encWindows1252, "latin1": encWindows1252, "us-ascii": encWindows1252,
	"windows-1252": encWindows1252, "x-cp1252": encWindows1252,
}

// prescanBytes is how much of a page is searched for a <meta> charset declaration, as in the
// HTML standard's prescan.
const prescanBytes = 1024

// lookupCharset returns the encoding a label names, and whether we know it.
func lookupCharset(label string) (encoding, bool) {
	enc, ok := charsetLabels[strings.ToLower(strings.TrimSpace(label))]
	return enc, ok
}

// detectEncoding picks a page's encoding the way the HTML standard orders it: a byte order
// mark, then the Content-Type header's charset, then a <meta> declaration in head (the page's
// first bytes). It returns the encoding and how many bytes of BOM to skip.
func detectEncoding(head []byte, headerCharset string) (encoding, int) {
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		return encUTF8, 3
	}
	if enc, ok := lookupCharset(headerCharset); ok {
		return enc, 0
	}
	if enc, ok := lookupCharset(metaCharset(head)); ok {
		return enc, 0
	}
	return encUTF8, 0
}

// metaCharset returns the charset declared by the first <meta charset> or
// <meta http-equiv="content-type" content="…; charset=…"> in head, or "".
func metaCharset(head []byte) string {
	z := html.NewTokenizer(bytes.NewReader(head))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if string(name) != "meta" || !hasAttr {
				continue
			}
			attrs := tagAttrs(z)
			if cs := attrs["charset"]; cs != "" {
				return cs
			}
			if strings.EqualFold(attrs["http-equiv"], "content-type") {
				if _, params, err := mime.ParseMediaType(attrs["content"]); err == nil && params["charset"] != "" {
					return params["charset"]
				}
			}
		}
	}
}

// windows1252 maps bytes 0x80 to 0x9F; every other byte is the code point of the same value.
// Bytes the encoding leaves undefined map to the C1 controls, as the WHATWG index does.
var windows1252 = [32]rune{
	'\u20ac', '\u0081', '\u201a', '\u0192', '\u201e', '\u2026', '\u2020', '\u2021',
	'\u02c6', '\u2030', '\u0160', '\u2039', '\u0152', '\u008d', '\u017d', '\u008f',
	'\u0090', '\u2018', '\u2019', '\u201c', '\u201d', '\u2022', '\u2013', '\u2014',
	'\u02dc', '\u2122', '\u0161', '\u203a', '\u0153', '\u009d', '\u017e', '\u0178',
}

// windows1252Reader decodes windows-1252 into UTF-8.
type windows1252Reader struct {
	r   io.Reader
	in  [512]byte
	buf []byte // decoded bytes, backing out
	out []byte // decoded bytes not yet returned
	err error  // from r, returned once out is drained
}

func (d *windows1252Reader) Read(p []byte) (int, error) {
	if len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		n, err := d.r.Read(d.in[:])
		d.err = err
		d.buf = d.buf[:0]
		for _, c := range d.in[:n] {
			r := rune(c)
			if c >= 0x80 && c < 0xa0 {
				r = windows1252[c-0x80]
			}
			d.buf = utf8.AppendRune(d.buf, r)
		}
		d.out = d.buf
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}
