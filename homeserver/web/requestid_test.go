package web

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"maunium.net/go/mautrix/id"
)

func TestAssignRequestID(t *testing.T) {
	t.Parallel()
	var seen []string
	h := AssignRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, RequestID(r.Context()))
	}))
	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Request-Id", "forged\nlog line")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	for _, reqID := range seen {
		if _, err := hex.DecodeString(reqID); err != nil || len(reqID) != 16 {
			t.Errorf("request ID %q is not 16 hex digits", reqID)
		}
	}
	if seen[0] == seen[1] {
		t.Errorf("two requests share the ID %q", seen[0])
	}
}

func TestContextValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if got := RequestID(ctx); got != "" {
		t.Errorf("RequestID of an empty context = %q", got)
	}
	if u, d := ContextUser(ctx); u != "" || d != "" {
		t.Errorf("ContextUser of an empty context = %q, %q", u, d)
	}
	ctx = WithUser(WithRequestID(ctx, "abc"), "@a:hs", "DEVICE")
	if got := RequestID(ctx); got != "abc" {
		t.Errorf("RequestID = %q, want abc", got)
	}
	u, d := ContextUser(ctx)
	if u != id.UserID("@a:hs") || d != id.DeviceID("DEVICE") {
		t.Errorf("ContextUser = %q, %q", u, d)
	}
}
