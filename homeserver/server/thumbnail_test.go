package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	_ "golang.org/x/image/webp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/config"
	"causeway/homeserver/storage/storagetest"
)

// testImage is an upload for the thumbnail tests, with its real size.
type testImage struct {
	name        string
	contentType string
	data        []byte
	w, h        int
	animated    bool
}

func testImages(t *testing.T) []testImage {
	t.Helper()
	webp := func(name string) []byte {
		b, err := os.ReadFile("../media/thumbnail/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []testImage{
		{"jpeg", "image/jpeg", encodeTestImage(t, "jpeg", 1000, 800), 1000, 800, false},
		{"png", "image/png", encodeTestImage(t, "png", 900, 600), 900, 600, false},
		{"gif", "image/gif", animatedTestGIF(t, 400, 300), 400, 300, true},
		{"webp", "image/webp", webp("opaque.lossy.webp"), 150, 100, false},
		{"webp with alpha", "image/webp", webp("alpha.lossless.webp"), 75, 100, false},
	}
}

// encodeTestImage draws a gradient with a transparent band (PNG keeps it) and encodes it.
func encodeTestImage(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(0xff)
			if y < h/10 {
				a = 0x40
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 90, a})
		}
	}
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func animatedTestGIF(t *testing.T, w, h int) []byte {
	t.Helper()
	var frames []*image.Paletted
	for i := range 3 {
		f := image.NewPaletted(image.Rect(0, 0, w, h), palette.WebSafe)
		for p := range f.Pix {
			f.Pix[p] = uint8((p/w + i*40) % 216)
		}
		frames = append(frames, f)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, &gif.GIF{Image: frames, Delay: []int{10, 10, 10}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// thumbnailResult is a downloaded thumbnail, decoded.
type thumbnailResult struct {
	contentType string
	disposition string
	body        []byte
	w, h        int
	frames      int
}

func getThumbnail(t *testing.T, cli *mautrix.Client, uri id.ContentURI, w, h int, method string, animated bool) thumbnailResult {
	t.Helper()
	resp, err := cli.DownloadThumbnail(context.Background(), uri, h, w, mautrix.DownloadThumbnailExtra{Method: method, Animated: animated})
	if err != nil {
		t.Fatalf("thumbnail %dx%d %s: %v", w, h, method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := thumbnailResult{contentType: resp.Header.Get("Content-Type"), disposition: resp.Header.Get("Content-Disposition"), body: body, frames: 1}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("thumbnail %dx%d %s (%s) does not decode: %v", w, h, method, r.contentType, err)
	}
	r.w, r.h = cfg.Width, cfg.Height
	if r.contentType == "image/gif" {
		g, err := gif.DecodeAll(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.frames = len(g.Image)
	}
	return r
}

func TestThumbnails(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		sizes := config.Default().Media.ThumbnailSizes
		for _, img := range testImages(t) {
			uri := mustUpload(t, alice, img.data, img.contentType, "picture")
			t.Run(img.name, func(t *testing.T) {
				for _, size := range sizes {
					got := getThumbnail(t, bob, uri, size.Width, size.Height, size.Method, false)
					checkThumbnail(t, img, size, got)
				}
				if img.animated {
					got := getThumbnail(t, bob, uri, 96, 96, "crop", true)
					if got.contentType != "image/gif" || got.frames != 3 || got.w != 96 || got.h != 96 {
						t.Errorf("animated 96x96 crop: %s, %d frames, %dx%d", got.contentType, got.frames, got.w, got.h)
					}
				}
			})
		}
	})
}

// checkThumbnail checks a thumbnail against the spec's rules: never upscaled, never smaller
// than asked unless the image is, crop fills the box, scale fits it, never animated unless
// asked, and the original itself when the image is no larger than the box.
func checkThumbnail(t *testing.T, img testImage, size config.ThumbnailSize, got thumbnailResult) {
	t.Helper()
	label := img.name + " " + size.Method
	if !strings.HasPrefix(got.disposition, "inline") {
		t.Errorf("%s: Content-Disposition %q", label, got.disposition)
	}
	if got.frames != 1 {
		t.Errorf("%s: animated thumbnail (%d frames) when animation was not asked for", label, got.frames)
	}
	fits := img.w <= size.Width && img.h <= size.Height
	switch {
	case fits && !img.animated:
		if !bytes.Equal(got.body, img.data) {
			t.Errorf("%s %dx%d: the %dx%d image is smaller, so the original should be served; got %dx%d %s",
				label, size.Width, size.Height, img.w, img.h, got.w, got.h, got.contentType)
		}
	case fits:
		if got.w != img.w || got.h != img.h {
			t.Errorf("%s %dx%d: got %dx%d, want the image's own %dx%d, still", label, size.Width, size.Height, got.w, got.h, img.w, img.h)
		}
	case size.Method == "crop":
		// The box exactly, or when the image is narrower or shorter than the box, the largest
		// crop of the box's shape that it holds.
		scale := min(1, float64(img.w)/float64(size.Width), float64(img.h)/float64(size.Height))
		wantW, wantH := int(float64(size.Width)*scale+0.5), int(float64(size.Height)*scale+0.5)
		if got.w != wantW || got.h != wantH {
			t.Errorf("%s %dx%d: got %dx%d, want %dx%d", label, size.Width, size.Height, got.w, got.h, wantW, wantH)
		}
	default:
		if got.w > size.Width || got.h > size.Height || (got.w != size.Width && got.h != size.Height) {
			t.Errorf("%s %dx%d: got %dx%d, which does not fit the box touching a side", label, size.Width, size.Height, got.w, got.h)
		}
	}
}

func TestThumbnailSizeClassesAndCaching(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		before := blobCount(t, ts)
		data := encodeTestImage(t, "jpeg", 1000, 800)
		uri := mustUpload(t, alice, data, "image/jpeg", "photo.jpg")

		n, err := ts.srv.DB.CountThumbnails(ctx, uri.Homeserver, uri.FileID)
		if err != nil || n != len(config.Default().Media.ThumbnailSizes) {
			t.Fatalf("pre-generated %d thumbnails (%v), want one per configured size", n, err)
		}
		afterUpload := blobCount(t, ts)
		if afterUpload != before+1+n {
			t.Errorf("blob count went from %d to %d, want the original and %d thumbnails", before, afterUpload, n)
		}

		t.Run("a size between classes gets the next larger class", func(t *testing.T) {
			got := getThumbnail(t, alice, uri, 50, 40, "crop", false)
			if got.w != 96 || got.h != 96 {
				t.Errorf("50x40 crop: got %dx%d, want the 96x96 class", got.w, got.h)
			}
			got = getThumbnail(t, alice, uri, 400, 300, "scale", false)
			if got.w < 400 && got.h < 300 {
				t.Errorf("400x300 scale: got %dx%d, smaller than asked", got.w, got.h)
			}
		})
		t.Run("larger than every class gets the original", func(t *testing.T) {
			got := getThumbnail(t, alice, uri, 1600, 1200, "scale", false)
			if !bytes.Equal(got.body, data) {
				t.Errorf("got a %dx%d %s, want the original", got.w, got.h, got.contentType)
			}
		})
		t.Run("served from the cache", func(t *testing.T) {
			for range 3 {
				getThumbnail(t, alice, uri, 32, 32, "crop", false)
			}
			if got := blobCount(t, ts); got != afterUpload {
				t.Errorf("blob count %d after repeated requests, want %d", got, afterUpload)
			}
		})
		t.Run("deleted thumbnails are made again", func(t *testing.T) {
			if err := ts.srv.Media.DeleteThumbnails(ctx, uri); err != nil {
				t.Fatal(err)
			}
			if got := blobCount(t, ts); got != before+1 {
				t.Errorf("blob count %d after deleting the thumbnails, want %d", got, before+1)
			}
			got := getThumbnail(t, alice, uri, 96, 96, "crop", false)
			if got.w != 96 || got.h != 96 {
				t.Errorf("remade thumbnail is %dx%d", got.w, got.h)
			}
			if n, _ := ts.srv.DB.CountThumbnails(ctx, uri.Homeserver, uri.FileID); n != 1 {
				t.Errorf("%d thumbnails after one request, want 1", n)
			}
		})
		t.Run("deleting the media deletes its thumbnails", func(t *testing.T) {
			if n, err := ts.srv.Media.Delete(ctx, uri); len(n) != 1 || err != nil {
				t.Fatalf("Delete = %v, %v", n, err)
			}
			if got := blobCount(t, ts); got != before {
				t.Errorf("blob count %d after deletion, want %d", got, before)
			}
			if n, _ := ts.srv.DB.CountThumbnails(ctx, uri.Homeserver, uri.FileID); n != 0 {
				t.Errorf("%d thumbnail rows left", n)
			}
		})
	})
}

func TestThumbnailAnimatedGIFWithoutAnimation(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		uri := mustUpload(t, alice, animatedTestGIF(t, 400, 300), "image/gif", "")
		// Larger than every class: the original would be animated, so a still is made instead.
		got := getThumbnail(t, alice, uri, 1000, 1000, "scale", false)
		if got.frames != 1 || got.w != 400 || got.h != 300 {
			t.Errorf("got %s with %d frames at %dx%d, want a 400x300 still", got.contentType, got.frames, got.w, got.h)
		}
		got = getThumbnail(t, alice, uri, 1000, 1000, "scale", true)
		if got.frames != 3 {
			t.Errorf("animated=true: got %d frames, want the animated original", got.frames)
		}
	})
}

// hugePNGHeader is a valid PNG signature and IHDR claiming w x h, with no pixel data.
func hugePNGHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	chunk := append([]byte("IHDR"), ihdr...)
	b := binary.BigEndian.AppendUint32([]byte("\x89PNG\r\n\x1a\n"), 13)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

func TestThumbnailErrors(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		photo := mustUpload(t, alice, encodeTestImage(t, "jpeg", 200, 100), "image/jpeg", "")
		path := func(uri id.ContentURI, query string) string {
			return "/_matrix/client/v1/media/thumbnail/" + uri.Homeserver + "/" + uri.FileID + "?" + query
		}
		get := func(uri id.ContentURI, query string) apiResponse {
			return ts.mediaRequest(t, http.MethodGet, path(uri, query), alice.AccessToken, nil, nil)
		}

		t.Run("bad parameters", func(t *testing.T) {
			for _, q := range []string{"width=abc&height=32", "width=32", "width=0&height=32", "width=32&height=-1",
				"width=32&height=32&method=zoom", "width=32&height=32&animated=yes"} {
				wantError(t, get(photo, q), http.StatusBadRequest, "M_INVALID_PARAM")
			}
		})
		t.Run("needs authentication", func(t *testing.T) {
			wantError(t, ts.mediaRequest(t, http.MethodGet, path(photo, "width=32&height=32"), "", nil, nil), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
		t.Run("not an image", func(t *testing.T) {
			text := mustUpload(t, alice, []byte("just text"), "text/plain", "")
			wantError(t, get(text, "width=32&height=32"), http.StatusBadRequest, "M_UNKNOWN")
		})
		t.Run("corrupt image", func(t *testing.T) {
			broken := mustUpload(t, alice, []byte("\xff\xd8\xff not really a jpeg"), "image/jpeg", "")
			wantError(t, get(broken, "width=32&height=32"), http.StatusBadRequest, "M_UNKNOWN")
		})
		t.Run("decompression bomb refused before decoding", func(t *testing.T) {
			bomb := mustUpload(t, alice, hugePNGHeader(100_000, 100_000), "image/png", "")
			wantError(t, get(bomb, "width=32&height=32&method=crop"), http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
			if n, _ := ts.srv.DB.CountThumbnails(ctx, bomb.Homeserver, bomb.FileID); n != 0 {
				t.Errorf("%d thumbnails stored for the bomb", n)
			}
		})
		t.Run("unknown and invalid media IDs", func(t *testing.T) {
			wantError(t, get(id.ContentURI{Homeserver: "localhost", FileID: "nope"}, "width=32&height=32"), http.StatusNotFound, "M_NOT_FOUND")
			wantError(t, get(id.ContentURI{Homeserver: "localhost", FileID: "bad.id"}, "width=32&height=32"), http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("quarantined", func(t *testing.T) {
			if err := ts.srv.Media.Quarantine(ctx, photo, true); err != nil {
				t.Fatal(err)
			}
			wantError(t, get(photo, "width=32&height=32"), http.StatusNotFound, "M_NOT_FOUND")
		})
	})
}

func TestThumbnailLegacyAndHead(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn, func(c *config.Config) { c.Media.FreezeLegacyUnauthenticated = false })
		alice := ts.register(t, "alice")
		data := encodeTestImage(t, "png", 300, 300)
		uri := mustUpload(t, alice, data, "image/png", "a.png")

		r := ts.mediaRequest(t, http.MethodGet, "/_matrix/media/v3/thumbnail/localhost/"+uri.FileID+"?width=96&height=96&method=crop", "", nil, nil)
		wantOK(t, r)
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(r.Body)); err != nil || cfg.Width != 96 {
			t.Errorf("legacy thumbnail: %v, %+v", err, cfg)
		}
		r = ts.mediaRequest(t, http.MethodGet, "/_matrix/media/v3/download/otherserver.example/abc?allow_remote=false", "", nil, nil)
		wantError(t, r, http.StatusNotFound, "M_NOT_FOUND")

		r = ts.mediaRequest(t, http.MethodHead, downloadPath(uri), alice.AccessToken, nil, nil)
		if r.Status != http.StatusOK || len(r.Body) != 0 || r.Header.Get("Content-Length") != strconv.Itoa(len(data)) {
			t.Errorf("HEAD: %d, %d body bytes, Content-Length %q, want 200, none, %d", r.Status, len(r.Body), r.Header.Get("Content-Length"), len(data))
		}
		if r.Header.Get("Content-Type") != "image/png" {
			t.Errorf("HEAD Content-Type = %q", r.Header.Get("Content-Type"))
		}
	})
}

// BenchmarkThumbnails measures, over real HTTP: uploading a 4000x3000 JPEG photo, which
// includes making its configured thumbnails; serving a thumbnail from the cache; and making one
// on demand (each iteration asks for a size class of a fresh upload whose thumbnails were
// deleted, so that the request generates it).
func BenchmarkThumbnails(b *testing.B) {
	storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(b, driver, dsn)
		cli := ts.register(b, "bench")
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, benchPhoto(4000, 3000), &jpeg.Options{Quality: 85}); err != nil {
			b.Fatal(err)
		}
		photo := buf.Bytes()
		upload := func(b *testing.B) id.ContentURI {
			resp, err := cli.UploadBytes(ctx, photo, "image/jpeg")
			if err != nil {
				b.Fatal(err)
			}
			return resp.ContentURI
		}
		fetch := func(b *testing.B, uri id.ContentURI, w, h int, method string) {
			resp, err := cli.DownloadThumbnail(ctx, uri, h, w, mautrix.DownloadThumbnailExtra{Method: method})
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		b.Run("upload 12Mpx JPEG with 5 thumbnails", func(b *testing.B) {
			for b.Loop() {
				upload(b)
			}
		})
		uri := upload(b)
		b.Run("cached 320x240", func(b *testing.B) {
			for b.Loop() {
				fetch(b, uri, 320, 240, "scale")
			}
		})
		for _, c := range []struct {
			w, h   int
			method string
		}{{320, 240, "scale"}, {96, 96, "crop"}} {
			b.Run(fmt.Sprintf("on demand %dx%d %s", c.w, c.h, c.method), func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					if err := ts.srv.Media.DeleteThumbnails(ctx, uri); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					fetch(b, uri, c.w, c.h, c.method)
				}
			})
		}
	})
}

// benchPhoto is a photo-sized picture with detail everywhere, so that JPEG has work to do.
func benchPhoto(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x * y / 97), 0xff})
		}
	}
	return img
}
