package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"

	"causeway/homeserver/config"
	"causeway/homeserver/storage/storagetest"
)

// TestSendRateLimit checks that a user sending faster than the configured rate gets
// M_LIMIT_EXCEEDED with retry_after_ms, and that nothing was stored for the refused send.
func TestSendRateLimit(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn, func(c *config.Config) {
			c.ClientAPI.RateLimit = config.RateLimit{Enabled: true, PerSecond: 0.001, Burst: 3}
		})
		cli := ts.register(t, "chatty")
		room, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
		if err != nil {
			t.Fatal(err)
		}
		// createRoom used one token of the burst of 3.
		for range 2 {
			if _, err := cli.SendText(ctx, room.RoomID, "within the limit"); err != nil {
				t.Fatal(err)
			}
		}
		_, err = cli.SendText(ctx, room.RoomID, "one too many")
		var httpErr mautrix.HTTPError
		if !errors.As(err, &httpErr) || httpErr.RespError == nil {
			t.Fatalf("send over the limit: err = %v, want M_LIMIT_EXCEEDED", err)
		}
		if httpErr.RespError.ErrCode != "M_LIMIT_EXCEEDED" || httpErr.Response.StatusCode != http.StatusTooManyRequests {
			t.Errorf("got %d %s, want 429 M_LIMIT_EXCEEDED", httpErr.Response.StatusCode, httpErr.RespError.ErrCode)
		}
		if _, ok := httpErr.RespError.ExtraData["retry_after_ms"]; !ok {
			t.Error("M_LIMIT_EXCEEDED without retry_after_ms")
		}
		msgs, err := cli.Messages(ctx, room.RoomID, "", "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := bodies(msgs.Chunk); len(got) != 2 {
			t.Errorf("room holds messages %v, want the 2 within the limit", got)
		}
	})
}

// TestMediaRateLimit checks that uploads share the user's rate limit and that downloads do not
// spend it: a refused upload stores nothing.
func TestMediaRateLimit(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn, func(c *config.Config) {
			c.ClientAPI.RateLimit = config.RateLimit{Enabled: true, PerSecond: 0.001, Burst: 2}
		})
		cli := ts.register(t, "uploader")
		uri := mustUpload(t, cli, []byte("one"), "text/plain", "")
		for range 5 {
			wantOK(t, ts.mediaRequest(t, http.MethodGet, downloadPath(uri), cli.AccessToken, nil, nil))
		}
		mustUpload(t, cli, []byte("two"), "text/plain", "")
		blobs := blobCount(t, ts)
		_, err := cli.UploadBytes(ctx, []byte("three"), "text/plain")
		wantRespError(t, err, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
		if got := blobCount(t, ts); got != blobs {
			t.Errorf("the refused upload left %d blobs behind", got-blobs)
		}
	})
}
