package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/config"
	"causeway/homeserver/storage/storagetest"
)

// mediaRequest sends a request with a raw body (nil: none) and the given headers.
func (ts *testServer) mediaRequest(t *testing.T, method, path, token string, body []byte, header http.Header) apiResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return ts.send(t, req)
}

func downloadPath(uri id.ContentURI) string {
	return "/_matrix/client/v1/media/download/" + uri.Homeserver + "/" + uri.FileID
}

func mustUpload(t *testing.T, cli *mautrix.Client, data []byte, contentType, name string) id.ContentURI {
	t.Helper()
	resp, err := cli.UploadBytesWithName(context.Background(), data, contentType, name)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return resp.ContentURI
}

// blobCount counts the content files in the server's media store.
func blobCount(t *testing.T, ts *testServer) int {
	t.Helper()
	n := 0
	root := filepath.Join(ts.dataDir, "media")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "tmp" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMediaUploadDownload(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		data := []byte("hello, media \x00\x01\x02 world")
		uri := mustUpload(t, alice, data, "text/plain", "grüße.txt")
		if uri.Homeserver != "localhost" {
			t.Errorf("content URI %s is not on localhost", uri)
		}

		t.Run("bytes, type and name", func(t *testing.T) {
			resp, err := bob.Download(ctx, uri)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if !bytes.Equal(got, data) {
				t.Errorf("downloaded %q, want %q", got, data)
			}
			h := resp.Header
			for k, want := range map[string]string{
				"Content-Type":                 "text/plain",
				"Content-Disposition":          "inline; filename*=utf-8''gr%C3%BC%C3%9Fe.txt",
				"X-Content-Type-Options":       "nosniff",
				"Cross-Origin-Resource-Policy": "cross-origin",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !strings.HasPrefix(h.Get("Content-Security-Policy"), "sandbox;") {
				t.Errorf("Content-Security-Policy = %q", h.Get("Content-Security-Policy"))
			}
		})

		t.Run("file name in path", func(t *testing.T) {
			r := ts.mediaRequest(t, http.MethodGet, downloadPath(uri)+"/other.txt", bob.AccessToken, nil, nil)
			wantOK(t, r)
			if got := r.Header.Get("Content-Disposition"); got != `inline; filename=other.txt` {
				t.Errorf("Content-Disposition = %q", got)
			}
		})

		t.Run("needs authentication", func(t *testing.T) {
			r := ts.mediaRequest(t, http.MethodGet, downloadPath(uri), "", nil, nil)
			wantError(t, r, http.StatusUnauthorized, "M_MISSING_TOKEN")
		})

		t.Run("range", func(t *testing.T) {
			r := ts.mediaRequest(t, http.MethodGet, downloadPath(uri), bob.AccessToken, nil, http.Header{"Range": {"bytes=7-11"}})
			if r.Status != http.StatusPartialContent || string(r.Body) != string(data[7:12]) {
				t.Errorf("range got %d %q, want 206 %q", r.Status, r.Body, data[7:12])
			}
		})

		t.Run("unknown and remote", func(t *testing.T) {
			for _, p := range []string{
				"/_matrix/client/v1/media/download/localhost/nosuchmedia",
				"/_matrix/client/v1/media/download/example.org/" + uri.FileID,
			} {
				wantError(t, ts.mediaRequest(t, http.MethodGet, p, bob.AccessToken, nil, nil), http.StatusNotFound, "M_NOT_FOUND")
			}
		})

		t.Run("r0 upload", func(t *testing.T) {
			r := ts.mediaRequest(t, http.MethodPost, "/_matrix/media/r0/upload?filename=r0.txt", alice.AccessToken, []byte("via r0"),
				http.Header{"Content-Type": {"text/plain"}})
			wantOK(t, r)
			got, err := bob.DownloadBytes(ctx, id.MustParseContentURI(r.object(t)["content_uri"].(string)))
			if err != nil || string(got) != "via r0" {
				t.Errorf("download of r0 upload: %q, %v", got, err)
			}
		})

		t.Run("config", func(t *testing.T) {
			for _, p := range []string{"/_matrix/client/v1/media/config", "/_matrix/media/v3/config"} {
				r := ts.mediaRequest(t, http.MethodGet, p, bob.AccessToken, nil, nil)
				wantOK(t, r)
				if got := r.object(t)["m.upload.size"]; got != float64(100<<20) {
					t.Errorf("%s: m.upload.size = %v", p, got)
				}
			}
		})

		t.Run("html is an attachment", func(t *testing.T) {
			html := mustUpload(t, alice, []byte("<script>alert(1)</script>"), "text/html", "x.html")
			r := ts.mediaRequest(t, http.MethodGet, downloadPath(html), bob.AccessToken, nil, nil)
			wantOK(t, r)
			if got := r.Header.Get("Content-Disposition"); got != "attachment; filename=x.html" {
				t.Errorf("Content-Disposition = %q", got)
			}
			if got := r.Header.Get("Content-Security-Policy"); got != "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';" {
				t.Errorf("Content-Security-Policy = %q", got)
			}
		})

		t.Run("identical content stored once", func(t *testing.T) {
			before := blobCount(t, ts)
			payload := []byte("the same bytes, twice")
			a := mustUpload(t, alice, payload, "application/octet-stream", "")
			b := mustUpload(t, bob, payload, "application/octet-stream", "")
			if a == b {
				t.Errorf("two uploads share the content URI %s", a)
			}
			if got := blobCount(t, ts); got != before+1 {
				t.Errorf("blobs on disk: %d, want %d", got, before+1)
			}
			// Deleting one keeps the other's bytes.
			if n, err := ts.srv.Media.Delete(ctx, a); err != nil || len(n) != 1 {
				t.Fatalf("Delete = %v, %v", n, err)
			}
			got, err := bob.DownloadBytes(ctx, b)
			if err != nil || !bytes.Equal(got, payload) {
				t.Errorf("after deleting the twin: %q, %v", got, err)
			}
			if n, err := ts.srv.Media.Delete(ctx, b); err != nil || len(n) != 1 {
				t.Fatalf("Delete = %v, %v", n, err)
			}
			if got := blobCount(t, ts); got != before {
				t.Errorf("blobs on disk after deleting both: %d, want %d", got, before)
			}
		})

		t.Run("quarantine", func(t *testing.T) {
			q := mustUpload(t, alice, []byte("bad"), "text/plain", "")
			if err := ts.srv.Media.Quarantine(ctx, q, true); err != nil {
				t.Fatal(err)
			}
			wantError(t, ts.mediaRequest(t, http.MethodGet, downloadPath(q), bob.AccessToken, nil, nil), http.StatusNotFound, "M_NOT_FOUND")
			if err := ts.srv.Media.Quarantine(ctx, q, false); err != nil {
				t.Fatal(err)
			}
			wantOK(t, ts.mediaRequest(t, http.MethodGet, downloadPath(q), bob.AccessToken, nil, nil))
			if n, err := ts.srv.Media.QuarantineByUser(ctx, alice.UserID, true); err != nil || n < 2 {
				t.Errorf("QuarantineByUser = %d, %v", n, err)
			}
			wantError(t, ts.mediaRequest(t, http.MethodGet, downloadPath(uri), bob.AccessToken, nil, nil), http.StatusNotFound, "M_NOT_FOUND")
		})
	})
}

func TestMediaLegacyDownload(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		for _, tc := range []struct {
			name   string
			freeze bool
			want   int
		}{
			{"frozen", true, http.StatusNotFound},
			{"not frozen", false, http.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ts := startServer(t, driver, dsn, func(c *config.Config) { c.Media.FreezeLegacyUnauthenticated = tc.freeze })
				alice := ts.register(t, "alice")
				uri := mustUpload(t, alice, []byte("legacy"), "text/plain", "")
				for _, prefix := range []string{"/_matrix/media/v3", "/_matrix/media/r0"} {
					r := ts.mediaRequest(t, http.MethodGet, prefix+"/download/localhost/"+uri.FileID, "", nil, nil)
					if r.Status != tc.want {
						t.Errorf("%s: got %d, want %d: %s", prefix, r.Status, tc.want, r.Body)
					}
					if tc.want == http.StatusOK && string(r.Body) != "legacy" {
						t.Errorf("%s: body %q", prefix, r.Body)
					}
				}
				// The authenticated endpoint serves it either way.
				wantOK(t, ts.mediaRequest(t, http.MethodGet, downloadPath(uri), alice.AccessToken, nil, nil))
			})
			// Only the first case reuses dsn's database; the second gets a fresh one.
			dsn = storagetest.DatabaseURL(t, driver)
		}
	})
}

func TestMediaAsyncUpload(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		created, err := alice.CreateMXC(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if created.UnusedExpiresAt.IsZero() {
			t.Error("no unused_expires_at")
		}
		uri := created.ContentURI
		putPath := "/_matrix/media/v3/upload/" + uri.Homeserver + "/" + uri.FileID + "?filename=late.bin"

		wantError(t, ts.mediaRequest(t, http.MethodGet, downloadPath(uri)+"?timeout_ms=0", bob.AccessToken, nil, nil),
			http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
		wantError(t, ts.mediaRequest(t, http.MethodPut, putPath, bob.AccessToken, []byte("intruder"), nil),
			http.StatusForbidden, "M_FORBIDDEN")
		wantError(t, ts.mediaRequest(t, http.MethodPut, "/_matrix/media/v3/upload/localhost/neverCreated", alice.AccessToken, []byte("x"), nil),
			http.StatusNotFound, "M_NOT_FOUND")

		// A download waiting with timeout_ms sees the upload that arrives meanwhile.
		done := make(chan apiResponse, 1)
		go func() {
			done <- ts.mediaRequest(t, http.MethodGet, downloadPath(uri)+"?timeout_ms=10000", bob.AccessToken, nil, nil)
		}()
		wantOK(t, ts.mediaRequest(t, http.MethodPut, putPath, alice.AccessToken, []byte("async bytes"),
			http.Header{"Content-Type": {"application/octet-stream"}}))
		if r := <-done; r.Status != http.StatusOK || string(r.Body) != "async bytes" {
			t.Errorf("waiting download got %d %q", r.Status, r.Body)
		}
		wantError(t, ts.mediaRequest(t, http.MethodPut, putPath, alice.AccessToken, []byte("again"), nil),
			http.StatusConflict, "M_CANNOT_OVERWRITE_MEDIA")
		got, err := bob.DownloadBytes(ctx, uri)
		if err != nil || string(got) != "async bytes" {
			t.Errorf("download after overwrite attempt: %q, %v", got, err)
		}

		// mautrix's UploadAsync: create, then PUT in the background.
		finished := make(chan struct{})
		resp, err := alice.UploadAsync(ctx, mautrix.ReqUploadMedia{
			ContentBytes: []byte("from UploadAsync"), ContentType: "text/plain",
			DoneCallback: func() { close(finished) },
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err = bob.DownloadBytes(ctx, resp.ContentURI) // waits the default timeout_ms if needed
		if err != nil || string(got) != "from UploadAsync" {
			t.Errorf("download of async upload: %q, %v", got, err)
		}
		<-finished
	})
}

func TestMediaLimits(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn, func(c *config.Config) {
			c.Media.MaxUploadBytes = 1000
			c.Media.UserQuotaBytes = 1500
		})
		alice := ts.register(t, "alice")
		big := make([]byte, 5000)
		rand.Read(big)

		t.Run("too large", func(t *testing.T) {
			// Announced by Content-Length, and streamed without one.
			wantError(t, ts.mediaRequest(t, http.MethodPost, "/_matrix/media/v3/upload", alice.AccessToken, big, nil),
				http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/_matrix/media/v3/upload", io.MultiReader(bytes.NewReader(big)))
			req.Header.Set("Authorization", "Bearer "+alice.AccessToken)
			req.ContentLength = -1
			wantError(t, ts.send(t, req), http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
			if n := blobCount(t, ts); n != 0 {
				t.Errorf("%d blobs stored after refused uploads", n)
			}
		})

		t.Run("quota", func(t *testing.T) {
			mustUpload(t, alice, make([]byte, 900), "application/octet-stream", "")
			_, err := alice.UploadBytes(ctx, bytes.Repeat([]byte{1}, 900), "application/octet-stream")
			var resp mautrix.HTTPError
			if !errors.As(err, &resp) || resp.RespError == nil || resp.RespError.ErrCode != "M_FORBIDDEN" {
				t.Errorf("upload over quota: %v, want M_FORBIDDEN", err)
			}
			if n := blobCount(t, ts); n != 1 {
				t.Errorf("%d blobs stored, want 1", n)
			}
			usage, err := ts.srv.Media.UsageByUser(ctx, alice.UserID)
			if err != nil || usage.Count != 1 || usage.Bytes != 900 {
				t.Errorf("UsageByUser = %+v, %v", usage, err)
			}
			// Deleting frees the quota.
			if n, err := ts.srv.Media.DeleteByUser(ctx, alice.UserID); err != nil || len(n) != 1 {
				t.Fatalf("DeleteByUser = %v, %v", n, err)
			}
			mustUpload(t, alice, make([]byte, 900), "application/octet-stream", "")
		})
	})
}

// BenchmarkMediaThroughput measures upload and authenticated download of a 10 MiB file over
// real HTTP; the MB/s column is the throughput.
func BenchmarkMediaThroughput(b *testing.B) {
	storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(b, driver, dsn)
		cli := ts.register(b, "bench")
		data := make([]byte, 10<<20)
		rand.Read(data)
		uri := mustUploadB(b, cli, data)
		b.Run("upload", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				mustUploadB(b, cli, data)
			}
		})
		b.Run("download", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				resp, err := cli.Download(ctx, uri)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != int64(len(data)) {
					b.Fatalf("downloaded %d bytes: %v", n, err)
				}
			}
		})
	})
}

func mustUploadB(b *testing.B, cli *mautrix.Client, data []byte) id.ContentURI {
	b.Helper()
	resp, err := cli.UploadBytes(context.Background(), data, "application/octet-stream")
	if err != nil {
		b.Fatal(err)
	}
	return resp.ContentURI
}

func TestMediaReferencesFromEvents(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		image := mustUpload(t, alice, []byte("an image"), "image/png", "a.png")
		thumb := mustUpload(t, alice, []byte("its thumbnail"), "image/png", "t.png")
		elsewhere := mustUpload(t, alice, []byte("not in the room"), "text/plain", "")
		_, err = alice.SendMessageEvent(ctx, room.RoomID, event.EventMessage, map[string]any{
			"msgtype": "m.image", "body": "a.png", "url": image.String(),
			"info": map[string]any{"thumbnail_url": thumb.String()},
		})
		if err != nil {
			t.Fatal(err)
		}

		n, err := ts.srv.Media.QuarantineInRoom(ctx, room.RoomID, true)
		if err != nil || n != 2 {
			t.Fatalf("QuarantineInRoom = %d, %v; want the image and its thumbnail", n, err)
		}
		for _, uri := range []id.ContentURI{image, thumb} {
			wantError(t, ts.mediaRequest(t, http.MethodGet, downloadPath(uri), bob.AccessToken, nil, nil), http.StatusNotFound, "M_NOT_FOUND")
		}
		wantOK(t, ts.mediaRequest(t, http.MethodGet, downloadPath(elsewhere), bob.AccessToken, nil, nil))
	})
}
