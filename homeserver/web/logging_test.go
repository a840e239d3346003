package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestContextHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  context.Context
		want map[string]any
	}{
		{"no context values", context.Background(), map[string]any{}},
		{"request only", WithRequestID(context.Background(), "r1"), map[string]any{"request_id": "r1"}},
		{"user without device", WithUser(WithRequestID(context.Background(), "r2"), "@as_bot:hs", ""),
			map[string]any{"request_id": "r2", "user_id": "@as_bot:hs"}},
		{"all", WithUser(WithRequestID(context.Background(), "r3"), "@a:hs", "DEV"),
			map[string]any{"request_id": "r3", "user_id": "@a:hs", "device_id": "DEV"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := slog.New(NewContextHandler(slog.NewJSONHandler(&buf, nil))).With("component", "clientapi")
			log.InfoContext(tc.ctx, "hello", "room_id", "!r:hs")

			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"time", "level", "msg"} {
				delete(got, k)
			}
			want := map[string]any{"component": "clientapi", "room_id": "!r:hs"}
			for k, v := range tc.want {
				want[k] = v
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContextHandlerLevelAndGroup(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := NewContextHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := WithRequestID(context.Background(), "r1")
	if h.Enabled(ctx, slog.LevelInfo) {
		t.Error("Info enabled under a Warn handler")
	}
	log := slog.New(h).WithGroup("g")
	log.InfoContext(ctx, "dropped")
	log.WarnContext(ctx, "kept", "k", 1)
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if diff := cmp.Diff(map[string]any{"k": 1.0, "request_id": "r1"}, got["g"]); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}
}
