package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix/id"
)

// allowLoopback is the configuration under which the tests' servers on 127.0.0.1 are reachable.
func allowLoopback() Config {
	return Config{AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
}

// serve starts a test server on 127.0.0.1 with the given routes.
func serve(t *testing.T, routes map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// serveOn starts a test server listening on addr, skipping the test when it cannot.
func serveOn(t *testing.T, addr string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func htmlPage(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, body)
	}
}

func redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) }
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 40, 30))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sentinels lists the package's sentinel errors that err matches.
func sentinels(err error) []error {
	var got []error
	for _, s := range []error{ErrInvalidURL, ErrForbiddenAddress, ErrTooLarge, ErrFetchFailed} {
		if errors.Is(err, s) {
			got = append(got, s)
		}
	}
	return got
}

// wantSentinel fails unless err matches want and no other sentinel.
func wantSentinel(t *testing.T, err, want error) {
	t.Helper()
	if got := sentinels(err); len(got) != 1 || got[0] != want {
		t.Fatalf("error %v matches %v, want only %v", err, got, want)
	}
}

func TestPreviewOpenGraph(t *testing.T) {
	t.Parallel()
	srv := serve(t, map[string]http.HandlerFunc{
		"/post": htmlPage(`<!doctype html><html><head>
			<meta property="og:title" content="Matrix Blog Post">
			<meta property="og:description" content="This is a really cool blog post from matrix.org">
			<meta property="og:image" content="/media/cat.png">
			<meta property="og:image:type" content="image/png">
			<meta property="og:image:width" content="48">
			<meta property="og:image:height" content="48">
			<meta property="og:site_name" content="Matrix">
			<meta property="og:type" content="article">
			</head><body>Hello</body></html>`),
	})
	p, err := New(allowLoopback()).Preview(t.Context(), srv.URL+"/post#fragment")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want := &Preview{
		URL:         srv.URL + "/post",
		ContentType: "text/html",
		Properties: map[string]any{
			"og:title":        "Matrix Blog Post",
			"og:description":  "This is a really cool blog post from matrix.org",
			"og:image:type":   "image/png",
			"og:image:width":  int64(48),
			"og:image:height": int64(48),
			"og:site_name":    "Matrix",
			"og:type":         "article",
		},
		ImageURL: srv.URL + "/media/cat.png",
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("preview (-want +got):\n%s", diff)
	}

	p.SetImage(id.ContentURI{Homeserver: "example.org", FileID: "abcdef"}, "image/webp", 1234)
	wantProps := map[string]any{
		"og:title":          "Matrix Blog Post",
		"og:description":    "This is a really cool blog post from matrix.org",
		"og:image":          "mxc://example.org/abcdef",
		"matrix:image:size": int64(1234),
		"og:image:type":     "image/webp",
		"og:image:width":    int64(48),
		"og:image:height":   int64(48),
		"og:site_name":      "Matrix",
		"og:type":           "article",
	}
	if diff := cmp.Diff(wantProps, p.Properties); diff != "" {
		t.Errorf("properties after SetImage (-want +got):\n%s", diff)
	}
}

func TestPreviewFallbacksAfterRedirect(t *testing.T) {
	t.Parallel()
	srv := serve(t, map[string]http.HandlerFunc{
		"/start": redirect("/articles/2024/page.html"),
		"/articles/2024/page.html": htmlPage(`<html><head><title>Fallback title</title>
			<meta name="description" content="Fallback description"></head>
			<body><img src="../images/photo.jpg" width="640" height="480"></body></html>`),
	})
	p, err := New(allowLoopback()).Preview(t.Context(), srv.URL+"/start")
	if err != nil {
		t.Fatal(err)
	}
	want := &Preview{
		URL:         srv.URL + "/articles/2024/page.html",
		ContentType: "text/html",
		Properties:  map[string]any{"og:title": "Fallback title", "og:description": "Fallback description"},
		ImageURL:    srv.URL + "/articles/images/photo.jpg",
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("preview (-want +got):\n%s", diff)
	}
}

func TestPreviewLatin1(t *testing.T) {
	t.Parallel()
	srv := serve(t, map[string]http.HandlerFunc{
		"/header": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=ISO-8859-1")
			io.WriteString(w, "<title>Caf\xe9 \xabcr\xe8me\xbb</title>")
		},
		"/meta": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<head><meta charset=latin1><meta property=og:title content=\"Stra\xdfe\"></head>")
		},
	})
	pv := New(allowLoopback())
	for path, want := range map[string]string{"/header": "Café «crème»", "/meta": "Straße"} {
		p, err := pv.Preview(t.Context(), srv.URL+path)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Properties["og:title"]; got != want {
			t.Errorf("%s: og:title = %q, want %q", path, got, want)
		}
	}
}

func TestPreviewLoopbackForbidden(t *testing.T) {
	t.Parallel()
	srv := serve(t, map[string]http.HandlerFunc{"/": htmlPage(`<title>secret</title>`)})
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	t.Run("default config", func(t *testing.T) {
		t.Parallel()
		_, err := New(Config{}).Preview(t.Context(), srv.URL)
		wantSentinel(t, err, ErrForbiddenAddress)
	})
	t.Run("host name resolving to loopback", func(t *testing.T) {
		t.Parallel()
		// Only the dialler sees the address here: the URL's host is not an IP literal.
		_, err := New(Config{}).Preview(t.Context(), fmt.Sprintf("http://localhost:%d/", port))
		wantSentinel(t, err, ErrForbiddenAddress)
	})
	t.Run("IPv4-mapped literal", func(t *testing.T) {
		t.Parallel()
		_, err := New(Config{}).Preview(t.Context(), fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port))
		wantSentinel(t, err, ErrForbiddenAddress)
	})
	t.Run("allowed", func(t *testing.T) {
		t.Parallel()
		p, err := New(allowLoopback()).Preview(t.Context(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Properties["og:title"]; got != "secret" {
			t.Errorf("og:title = %q, want %q", got, "secret")
		}
	})
	t.Run("host name allowed", func(t *testing.T) {
		t.Parallel()
		// localhost may resolve to ::1 too, which stays blocked; 127.0.0.1 is then used.
		p, err := New(allowLoopback()).Preview(t.Context(), fmt.Sprintf("http://localhost:%d/", port))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Properties["og:title"]; got != "secret" {
			t.Errorf("og:title = %q, want %q", got, "secret")
		}
	})
}

func TestPreviewRedirects(t *testing.T) {
	t.Parallel()
	// 127.0.0.2 is loopback too, and stays blocked when only 127.0.0.1/32 is allowed.
	blocked := serveOn(t, "127.0.0.2:0", htmlPage(`<title>internal</title>`))
	srv := serve(t, map[string]http.HandlerFunc{
		"/to-blocked":       redirect(blocked.URL + "/"),
		"/to-metadata":      redirect("http://169.254.169.254/latest/meta-data/"),
		"/to-ftp":           redirect("ftp://example.org/file"),
		"/to-file":          redirect("file:///etc/passwd"),
		"/to-userinfo":      redirect("http://user:pass@127.0.0.1/"),
		"/loop":             redirect("/loop"),
		"/one":              redirect("/two"),
		"/two":              redirect("/three"),
		"/three":            htmlPage(`<title>three</title>`),
		"/image-to-blocked": redirect(blocked.URL + "/pic.png"),
	})
	pv := New(allowLoopback())
	tests := []struct {
		path string
		want error
	}{
		{"/to-blocked", ErrForbiddenAddress},
		{"/to-metadata", ErrForbiddenAddress},
		{"/to-ftp", ErrFetchFailed},
		{"/to-file", ErrFetchFailed},
		{"/to-userinfo", ErrFetchFailed},
		{"/loop", ErrFetchFailed},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			_, err := pv.Preview(t.Context(), srv.URL+tt.path)
			wantSentinel(t, err, tt.want)
		})
	}
	t.Run("image", func(t *testing.T) {
		t.Parallel()
		_, err := pv.FetchImage(t.Context(), srv.URL+"/image-to-blocked")
		wantSentinel(t, err, ErrForbiddenAddress)
	})
	t.Run("to a host name of a blocked address", func(t *testing.T) {
		t.Parallel()
		// Here 127.0.0.2 is the allowed server and 127.0.0.1 the blocked one, reached through a
		// host name, so only the check on the dialled address can refuse it.
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		from := serveOn(t, "127.0.0.2:0", redirect(fmt.Sprintf("http://localhost:%d/three", port)))
		cfg := Config{AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}
		_, err := New(cfg).Preview(t.Context(), from.URL)
		wantSentinel(t, err, ErrForbiddenAddress)
	})
	t.Run("within the limit", func(t *testing.T) {
		t.Parallel()
		p, err := pv.Preview(t.Context(), srv.URL+"/one")
		if err != nil {
			t.Fatal(err)
		}
		if p.URL != srv.URL+"/three" {
			t.Errorf("URL = %q, want %q", p.URL, srv.URL+"/three")
		}
	})
	t.Run("beyond the limit", func(t *testing.T) {
		t.Parallel()
		cfg := allowLoopback()
		cfg.MaxRedirects = 1
		_, err := New(cfg).Preview(t.Context(), srv.URL+"/one")
		wantSentinel(t, err, ErrFetchFailed)
	})
	t.Run("none allowed", func(t *testing.T) {
		t.Parallel()
		cfg := allowLoopback()
		cfg.MaxRedirects = -1
		_, err := New(cfg).Preview(t.Context(), srv.URL+"/two")
		wantSentinel(t, err, ErrFetchFailed)
	})
}

func TestPreviewInvalidURL(t *testing.T) {
	t.Parallel()
	pv := New(Config{})
	tests := []struct {
		url  string
		want error
	}{
		{"file:///etc/passwd", ErrInvalidURL},
		{"ftp://example.org/file", ErrInvalidURL},
		{"javascript:alert(1)", ErrInvalidURL},
		{"data:text/html,<title>x</title>", ErrInvalidURL},
		{"gopher://example.org/", ErrInvalidURL},
		{"", ErrInvalidURL},
		{"/relative/path", ErrInvalidURL},
		{"example.org", ErrInvalidURL},
		{"http://", ErrInvalidURL},
		{"http:example.org", ErrInvalidURL},
		{"http://user:password@example.org/", ErrInvalidURL},
		{"http://example.org:99999/", ErrInvalidURL},
		{"http://example.org:0/", ErrInvalidURL},
		{"http://exa mple.org/", ErrInvalidURL},
		{"http://[::1/", ErrInvalidURL},
		// IP literals are refused before any connection.
		{"http://127.0.0.1/", ErrForbiddenAddress},
		{"http://[::1]:8008/", ErrForbiddenAddress},
		{"https://169.254.169.254/latest/meta-data/", ErrForbiddenAddress},
		{"http://[fe80::1%25eth0]/", ErrForbiddenAddress},
		{"HTTP://10.0.0.1/", ErrForbiddenAddress},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			_, err := pv.Preview(t.Context(), tt.url)
			wantSentinel(t, err, tt.want)
			_, err = pv.FetchImage(t.Context(), tt.url)
			wantSentinel(t, err, tt.want)
		})
	}
}

func TestPreviewLimit(t *testing.T) {
	t.Parallel()
	const limit = 4 << 10
	filler := strings.Repeat("<p>filler</p>\n", 2*limit/14)
	img := pngBytes(t)
	srv := serve(t, map[string]http.HandlerFunc{
		// The head fits in the limit; what follows the filler is never read.
		"/page": htmlPage(`<html><head><meta property="og:title" content="Big page"></head><body>` +
			filler + `<meta property="og:description" content="too late"><img src="late.png"></body></html>`),
		"/announced.png": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Content-Length", strconv.Itoa(limit+1))
			w.Write(make([]byte, limit+1))
		},
		"/chunked.png": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(img)
			w.(http.Flusher).Flush() // no Content-Length: the limit is found while reading
			w.Write(make([]byte, limit))
		},
		"/exact.png": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(img)
			w.(http.Flusher).Flush()
			w.Write(make([]byte, limit-len(img)))
		},
	})
	cfg := allowLoopback()
	cfg.MaxBytes = limit
	pv := New(cfg)

	t.Run("page", func(t *testing.T) {
		t.Parallel()
		p, err := pv.Preview(t.Context(), srv.URL+"/page")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"og:title": "Big page"}, p.Properties); diff != "" {
			t.Errorf("properties (-want +got):\n%s", diff)
		}
		if p.ImageURL != "" {
			t.Errorf("ImageURL = %q, from past the limit", p.ImageURL)
		}
	})
	for _, via := range []string{"Preview", "FetchImage"} {
		fetch := func(ctx context.Context, url string) (*Image, error) {
			if via == "FetchImage" {
				return pv.FetchImage(ctx, url)
			}
			p, err := pv.Preview(ctx, url)
			if err != nil {
				return nil, err
			}
			return p.Image, nil
		}
		t.Run(via+"/announced", func(t *testing.T) {
			t.Parallel()
			_, err := fetch(t.Context(), srv.URL+"/announced.png")
			wantSentinel(t, err, ErrTooLarge)
		})
		t.Run(via+"/chunked", func(t *testing.T) {
			t.Parallel()
			img, err := fetch(t.Context(), srv.URL+"/chunked.png")
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			_, err = io.ReadAll(img)
			wantSentinel(t, err, ErrTooLarge)
		})
		t.Run(via+"/exactly the limit", func(t *testing.T) {
			t.Parallel()
			img, err := fetch(t.Context(), srv.URL+"/exact.png")
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			data, err := io.ReadAll(img)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != limit || img.BytesRead() != limit {
				t.Errorf("read %d bytes (BytesRead %d), want %d", len(data), img.BytesRead(), limit)
			}
		})
	}
}

func TestPreviewTimeout(t *testing.T) {
	t.Parallel()
	stall := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	slowBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG"))
		w.(http.Flusher).Flush()
		stall(w, r)
	}
	srv := serve(t, map[string]http.HandlerFunc{"/stall": stall, "/slow-body.png": slowBody})
	cfg := allowLoopback()
	cfg.Timeout = 200 * time.Millisecond
	pv := New(cfg)

	start := time.Now()
	_, err := pv.Preview(t.Context(), srv.URL+"/stall")
	wantSentinel(t, err, ErrFetchFailed)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not match context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v to time out", elapsed)
	}

	// The deadline also bounds reading an image's body.
	img, err := pv.FetchImage(t.Context(), srv.URL+"/slow-body.png")
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	_, err = io.ReadAll(img)
	wantSentinel(t, err, ErrFetchFailed)
}

func TestPreviewImage(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	srv := serve(t, map[string]http.HandlerFunc{
		"/pics/cat.png": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(img)
		},
		"/download": func(w http.ResponseWriter, r *http.Request) {
			// No useful Content-Type: the image is recognised by its bytes.
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", `attachment; filename="holiday.png"`)
			w.Write(img)
		},
	})
	pv := New(allowLoopback())

	for path, name := range map[string]string{"/pics/cat.png": "cat.png", "/download": "holiday.png"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			p, err := pv.Preview(t.Context(), srv.URL+path)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if p.Image == nil {
				t.Fatal("Image is nil")
			}
			wantProps := map[string]any{"og:title": name, "og:image:type": "image/png"}
			if diff := cmp.Diff(wantProps, p.Properties); diff != "" {
				t.Errorf("properties (-want +got):\n%s", diff)
			}
			if p.ImageURL != srv.URL+path || p.Image.URL != srv.URL+path || p.Image.ContentType != "image/png" {
				t.Errorf("ImageURL %q, Image.URL %q, Image.ContentType %q", p.ImageURL, p.Image.URL, p.Image.ContentType)
			}
			data, err := io.ReadAll(p.Image)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, img) || p.Image.BytesRead() != int64(len(img)) {
				t.Errorf("read %d bytes (BytesRead %d), want the %d of the image", len(data), p.Image.BytesRead(), len(img))
			}
			if err := p.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestFetchImage(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	srv := serve(t, map[string]http.HandlerFunc{
		"/page": htmlPage(`<meta property="og:image" content="/img?id=1">`),
		"/img": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(img)
		},
		"/not-image": htmlPage(`<title>not an image</title>`),
		"/missing":   http.NotFound,
	})
	pv := New(allowLoopback())

	p, err := pv.Preview(t.Context(), srv.URL+"/page")
	if err != nil {
		t.Fatal(err)
	}
	if p.Image != nil {
		t.Error("a page has an Image")
	}
	im, err := pv.FetchImage(t.Context(), p.ImageURL)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	data, err := io.ReadAll(im)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, img) || im.ContentType != "image/png" || im.Length != int64(len(img)) {
		t.Errorf("got %d bytes of %q, Length %d; want %d bytes of image/png", len(data), im.ContentType, im.Length, len(img))
	}

	for _, path := range []string{"/not-image", "/missing"} {
		_, err := pv.FetchImage(t.Context(), srv.URL+path)
		wantSentinel(t, err, ErrFetchFailed)
	}
}

func TestPreviewOtherContent(t *testing.T) {
	t.Parallel()
	srv := serve(t, map[string]http.HandlerFunc{
		"/docs/report%20final.pdf": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/pdf")
			io.WriteString(w, "%PDF-1.4")
		},
		"/": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "<title>not parsed</title>")
		},
		"/sniffed": func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil // no header at all: sniffed as HTML
			io.WriteString(w, "<!DOCTYPE html><title>sniffed</title>")
		},
		"/error": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) },
	})
	pv := New(allowLoopback())
	tests := []struct {
		path string
		want *Preview
	}{
		{"/docs/report%20final.pdf", &Preview{ContentType: "application/pdf", Properties: map[string]any{"og:title": "report final.pdf"}}},
		{"/", &Preview{ContentType: "text/plain", Properties: map[string]any{}}},
		{"/sniffed", &Preview{ContentType: "text/html", Properties: map[string]any{"og:title": "sniffed"}}},
	}
	for _, tt := range tests {
		p, err := pv.Preview(t.Context(), srv.URL+tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		tt.want.URL = srv.URL + tt.path
		if diff := cmp.Diff(tt.want, p); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.path, diff)
		}
	}
	_, err := pv.Preview(t.Context(), srv.URL+"/error")
	wantSentinel(t, err, ErrFetchFailed)
}

func TestNoProxy(t *testing.T) {
	t.Parallel()
	// A proxy would make the connection, so the address checks would see only the proxy.
	pv := New(Config{})
	if tr, ok := pv.client.Transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Error("the client's transport uses a proxy")
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	var d Config
	d.Defaults()
	want := Config{MaxBytes: 10 << 20, Timeout: 10 * time.Second, MaxRedirects: 5, UserAgent: DefaultUserAgent}
	if diff := cmp.Diff(want, Config{}.withDefaults()); diff != "" {
		t.Errorf("zero Config with defaults (-want +got):\n%s", diff)
	}
	if d.MaxBytes != want.MaxBytes || d.Timeout != want.Timeout || d.MaxRedirects != want.MaxRedirects || d.UserAgent != want.UserAgent {
		t.Errorf("Defaults() = %+v, want the values of %+v", d, want)
	}
	if got := (Config{MaxRedirects: -1}).withDefaults().MaxRedirects; got != 0 {
		t.Errorf("MaxRedirects -1 became %d, want 0", got)
	}
}
