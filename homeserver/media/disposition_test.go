package media

import "testing"

func TestContentDisposition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, contentType, fileName, want string
	}{
		{"image inline", "image/png", "cat.png", "inline; filename=cat.png"},
		{"parameters ignored", "text/plain; charset=utf-8", "a.txt", "inline; filename=a.txt"},
		{"html attachment", "text/html", "x.html", "attachment; filename=x.html"},
		{"svg attachment", "image/svg+xml", "x.svg", "attachment; filename=x.svg"},
		{"unparsable type", "???", "x", "attachment; filename=x"},
		{"no name", "application/pdf", "", "attachment"},
		{"spaces quoted", "image/jpeg", "my photo.jpg", `inline; filename="my photo.jpg"`},
		{"quotes escaped", "image/jpeg", `a"b.jpg`, `inline; filename="a\"b.jpg"`},
		{"non-ASCII RFC 5987", "image/jpeg", "été.jpg", "inline; filename*=utf-8''%C3%A9t%C3%A9.jpg"},
		{"control characters encoded", "image/jpeg", "a\r\nB", "inline; filename*=utf-8''a%0D%0AB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := contentDisposition(tc.contentType, tc.fileName); got != tc.want {
				t.Errorf("contentDisposition(%q, %q) = %q, want %q", tc.contentType, tc.fileName, got, tc.want)
			}
		})
	}
}
