package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"maunium.net/go/mautrix"

	"causeway/homeserver/config"
	"causeway/homeserver/storage/storagetest"
)

// pageServer is a web site on loopback with one page that has OpenGraph tags and an image.
type pageServer struct {
	*httptest.Server
	pageHits atomic.Int32
	png      []byte
}

func startPageServer(t *testing.T) *pageServer {
	t.Helper()
	ps := &pageServer{png: encodeTestImage(t, "png", 120, 80)}
	mux := http.NewServeMux()
	mux.HandleFunc("/article", func(w http.ResponseWriter, r *http.Request) {
		ps.pageHits.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><title>Fallback title</title>
			<meta property="og:title" content="Moving off Slack">
			<meta property="og:description" content="How a team moved, channel by channel.">
			<meta property="og:image" content="/picture.png">
			<meta property="og:site_name" content="Causeway blog">
			</head><body><p>text</p></body></html>`)
	})
	mux.HandleFunc("/picture.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(ps.png)
	})
	ps.Server = httptest.NewServer(mux)
	t.Cleanup(ps.Close)
	return ps
}

func enablePreviews(allowed ...string) func(*config.Config) {
	return func(c *config.Config) {
		c.Media.URLPreview.Enabled = true
		c.Media.URLPreview.AllowedCIDRs = allowed
	}
}

func TestURLPreview(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		site := startPageServer(t)
		ts := startServer(t, driver, dsn, enablePreviews("127.0.0.1/32"))
		alice := ts.register(t, "alice")

		p, err := alice.GetURLPreview(ctx, site.URL+"/article")
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != "Moving off Slack" || p.Description != "How a team moved, channel by channel." || p.SiteName != "Causeway blog" {
			t.Errorf("preview %+v", p)
		}
		img, err := p.ImageURL.Parse()
		if err != nil || img.Homeserver != "localhost" {
			t.Fatalf("og:image %q is not local media: %v", p.ImageURL, err)
		}
		if p.ImageWidth != 120 || p.ImageHeight != 80 || int(p.ImageSize) != len(site.png) || p.ImageType != "image/png" {
			t.Errorf("image %dx%d, %d bytes, %s", p.ImageWidth, p.ImageHeight, p.ImageSize, p.ImageType)
		}
		got, err := alice.DownloadBytes(ctx, img)
		if err != nil || !bytes.Equal(got, site.png) {
			t.Errorf("stored image differs from the page's (%v)", err)
		}

		if _, err := alice.GetURLPreview(ctx, site.URL+"/article"); err != nil {
			t.Fatal(err)
		}
		if n := site.pageHits.Load(); n != 1 {
			t.Errorf("page fetched %d times, want once: the second preview comes from the cache", n)
		}

		t.Run("errors", func(t *testing.T) {
			path := "/_matrix/client/v1/media/preview_url?url="
			wantError(t, ts.mediaRequest(t, http.MethodGet, path[:len(path)-5], alice.AccessToken, nil, nil), http.StatusBadRequest, "M_MISSING_PARAM")
			wantError(t, ts.mediaRequest(t, http.MethodGet, path+"file:///etc/passwd", alice.AccessToken, nil, nil), http.StatusBadRequest, "M_INVALID_PARAM")
			wantError(t, ts.mediaRequest(t, http.MethodGet, path+site.URL+"/missing", alice.AccessToken, nil, nil), http.StatusBadGateway, "M_UNKNOWN")
			wantError(t, ts.mediaRequest(t, http.MethodGet, path+site.URL+"/article", "", nil, nil), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
	})
}

func TestURLPreviewRefusesPrivateAddresses(t *testing.T) {
	site := startPageServer(t)
	_, port, _ := net.SplitHostPort(site.Listener.Addr().String())
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// 127.0.0.2 is loopback too, but not in the allowed 127.0.0.1/32.
		http.Redirect(w, r, "http://127.0.0.2:"+port+"/article", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	metadata := "http://169.254.169.254/latest/meta-data/"

	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		t.Run("loopback by default", func(t *testing.T) {
			ts := startServer(t, driver, dsn, enablePreviews())
			alice := ts.register(t, "alice")
			for _, u := range []string{site.URL + "/article", "http://localhost:" + port + "/article", metadata} {
				_, err := alice.GetURLPreview(ctx, u)
				wantRespError(t, err, http.StatusForbidden, "M_FORBIDDEN")
			}
		})
		t.Run("a redirect to a blocked address", func(t *testing.T) {
			ts := startServer(t, driver, storagetest.DatabaseURL(t, driver), enablePreviews("127.0.0.1/32"))
			alice := ts.register(t, "alice")
			_, err := alice.GetURLPreview(ctx, redirector.URL)
			wantRespError(t, err, http.StatusForbidden, "M_FORBIDDEN")
			if n := site.pageHits.Load(); n != 0 {
				t.Errorf("the blocked page was fetched %d times", n)
			}
		})
		t.Run("off by default", func(t *testing.T) {
			ts := startServer(t, driver, storagetest.DatabaseURL(t, driver))
			alice := ts.register(t, "alice")
			_, err := alice.GetURLPreview(ctx, site.URL+"/article")
			wantRespError(t, err, http.StatusNotFound, "M_UNRECOGNIZED")
		})
	})
}

// wantRespError checks that a mautrix client call failed with the given status and code.
func wantRespError(t *testing.T, err error, status int, errcode string) {
	t.Helper()
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Response == nil || httpErr.RespError == nil {
		t.Errorf("got %v, want %d %s", err, status, errcode)
		return
	}
	if httpErr.Response.StatusCode != status || httpErr.RespError.ErrCode != errcode {
		t.Errorf("got %d %s, want %d %s", httpErr.Response.StatusCode, httpErr.RespError.ErrCode, status, errcode)
	}
}
