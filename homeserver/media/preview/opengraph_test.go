package preview

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestParseHTML(t *testing.T) {
	t.Parallel()
	pageURL, _ := url.Parse("https://example.org/blog/post.html?x=1")
	tests := []struct {
		name      string
		page      string
		charset   string // the Content-Type header's
		wantProps map[string]any
		wantImage string
	}{
		{
			name: "opengraph",
			page: `<!doctype html><html><head>
				<title>Ignored title</title>
				<meta property="og:title" content="  Matrix   Blog Post ">
				<meta property="og:description" content="This is a really cool blog post &amp; more">
				<meta property="og:image" content="/img/a.png">
				<meta property="og:image" content="/img/second.png">
				<meta property="og:image:width" content="48">
				<meta property="og:image:height" content="not a number">
				<meta property="og:image:type" content="image/png">
				<meta property="og:site_name" content="Example">
				<meta property="og:type" content="article">
				<meta property="og:url" content="//example.org/canonical">
				<meta property="og:video" content="javascript:alert(1)">
				<meta name="description" content="Ignored description">
				<meta property="article:author" content="not og">
				</head><body><img src="big.jpg" width="800" height="600"></body></html>`,
			wantProps: map[string]any{
				"og:title":       "Matrix Blog Post",
				"og:description": "This is a really cool blog post & more",
				"og:image:width": int64(48),
				"og:image:type":  "image/png",
				"og:site_name":   "Example",
				"og:type":        "article",
				"og:url":         "https://example.org/canonical",
			},
			wantImage: "https://example.org/img/a.png",
		},
		{
			name: "fallbacks",
			page: `<html><head><title>The &lt;title&gt;</title>
				<meta name="Description" content="From the description meta">
				<link rel="shortcut icon" href="/favicon.ico">
				</head><body>
				<img src="data:image/gif;base64,R0lGOD" width="500" height="500">
				<img src="pixel.gif" width="1" height="1">
				<img src="../pics/small.jpg" width="100" height="100">
				<img src="../pics/big.jpg" width="400" height="300">
				<img src="unsized.jpg">
				</body></html>`,
			wantProps: map[string]any{
				"og:title":       "The <title>",
				"og:description": "From the description meta",
			},
			wantImage: "https://example.org/pics/big.jpg",
		},
		{
			name: "twitter card",
			page: `<html><head><title>Plain title</title>
				<meta name="description" content="Plain description">
				<meta name="twitter:title" content="Twitter title">
				<meta name="twitter:description" content="Twitter description">
				<meta name="twitter:image" content="https://cdn.example.net/card.jpg">
				</head><body><img src="x.jpg" width="900" height="900"></body></html>`,
			wantProps: map[string]any{
				"og:title":       "Twitter title",
				"og:description": "Twitter description",
			},
			wantImage: "https://cdn.example.net/card.jpg",
		},
		{
			name: "h1, unsized img and base href",
			page: `<html><head><base href="https://static.example.com/assets/"></head>
				<body><h1>Heading <em>one</em></h1><h1>Heading two</h1>
				<img src="first.png"><img src="second.png"></body></html>`,
			wantProps: map[string]any{"og:title": "Heading one"},
			wantImage: "https://static.example.com/assets/first.png",
		},
		{
			name:      "apple touch icon before icon",
			page:      `<link rel="icon" href="/favicon.ico"><link rel="apple-touch-icon" href="/touch.png"><title>T</title>`,
			wantProps: map[string]any{"og:title": "T"},
			wantImage: "https://example.org/touch.png",
		},
		{
			name:      "icon",
			page:      `<link rel="icon" href="favicon.ico"><title>T</title>`,
			wantProps: map[string]any{"og:title": "T"},
			wantImage: "https://example.org/blog/favicon.ico",
		},
		{
			name:      "og:image that is not http is replaced by a fallback",
			page:      `<meta property="og:image" content="file:///etc/passwd"><link rel="icon" href="/i.ico">`,
			wantProps: map[string]any{},
			wantImage: "https://example.org/i.ico",
		},
		{
			name:      "empty",
			page:      ``,
			wantProps: map[string]any{},
		},
		{
			name:      "script content is not markup",
			page:      `<script>var s = '<meta property="og:title" content="no">';</script><title>yes</title>`,
			wantProps: map[string]any{"og:title": "yes"},
		},
		{
			name:      "latin-1 from the header",
			charset:   "ISO-8859-1",
			page:      "<title>Caf\xe9 cr\xe8me</title><meta property=\"og:description\" content=\"\x93quoted\x94 \x80\">",
			wantProps: map[string]any{"og:title": "Café crème", "og:description": "“quoted” €"},
		},
		{
			name:      "windows-1252 from meta charset",
			page:      "<html><head><meta charset=\"windows-1252\"><title>Gr\xfc\xdfe</title></head></html>",
			wantProps: map[string]any{"og:title": "Grüße"},
		},
		{
			name:      "latin-1 from meta http-equiv",
			page:      "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"><title>Espa\xf1a</title>",
			wantProps: map[string]any{"og:title": "España"},
		},
		{
			name:      "header wins over meta",
			charset:   "utf-8",
			page:      "<meta charset=\"iso-8859-1\"><title>Café</title>",
			wantProps: map[string]any{"og:title": "Café"},
		},
		{
			name:      "BOM wins over header",
			charset:   "iso-8859-1",
			page:      "\xef\xbb\xbf<title>Café</title>",
			wantProps: map[string]any{"og:title": "Café"},
		},
		{
			name:      "unknown charset is read as UTF-8",
			charset:   "shift_jis",
			page:      "<title>ok \x82\xa0</title>",
			wantProps: map[string]any{"og:title": "ok \ufffd"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			props, image, err := parseHTML(strings.NewReader(tt.page), tt.charset, pageURL)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantProps, props); diff != "" {
				t.Errorf("properties (-want +got):\n%s", diff)
			}
			if image != tt.wantImage {
				t.Errorf("image = %q, want %q", image, tt.wantImage)
			}
		})
	}
}

func TestParseHTMLTruncates(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 2000)
	page := `<meta property="og:description" content="` + long + `"><meta property="og:title" content="` + long + `">`
	props, _, err := parseHTML(strings.NewReader(page), "", &url.URL{Scheme: "https", Host: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"og:description": maxDescriptionRunes, "og:title": maxTextRunes} {
		got, _ := props[key].(string)
		if n := utf8.RuneCountInString(got); n != want || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
			t.Errorf("%s has %d runes (valid %v), want %d ending in an ellipsis", key, n, utf8.ValidString(got), want)
		}
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"  a \n\t b  ", 10, "a b"},
		{"abcdef", 6, "abcdef"},
		{"abcdefg", 6, "abcde…"},
		{"ab cdefg", 4, "ab…"},
		{"日本語のテキスト", 4, "日本語…"},
		{"bad \xff byte", 20, "bad \ufffd byte"},
	}
	for _, tt := range tests {
		if got := cleanText(tt.in, tt.max); got != tt.want {
			t.Errorf("cleanText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
