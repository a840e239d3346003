package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCORS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		allowed    []string
		method     string
		origin     string
		wantOrigin string
		wantVary   bool
		wantNext   bool
	}{
		{name: "wildcard", allowed: []string{"*"}, method: "GET", origin: "https://app.example", wantOrigin: "*", wantNext: true},
		{name: "wildcard without Origin", allowed: []string{"*"}, method: "GET", wantOrigin: "*", wantNext: true},
		{name: "listed origin is echoed", allowed: []string{"https://app.example"}, method: "POST", origin: "https://app.example",
			wantOrigin: "https://app.example", wantVary: true, wantNext: true},
		{name: "listed origin, any case, configured with slash", allowed: []string{"https://App.Example/"}, method: "GET", origin: "https://app.EXAMPLE",
			wantOrigin: "https://app.EXAMPLE", wantVary: true, wantNext: true},
		{name: "unlisted origin", allowed: []string{"https://app.example"}, method: "GET", origin: "https://evil.example",
			wantVary: true, wantNext: true},
		{name: "other port", allowed: []string{"https://app.example"}, method: "GET", origin: "https://app.example:8443",
			wantVary: true, wantNext: true},
		{name: "no origins configured", allowed: nil, method: "GET", origin: "https://app.example", wantVary: true, wantNext: true},
		{name: "preflight", allowed: []string{"*"}, method: "OPTIONS", origin: "https://app.example", wantOrigin: "*"},
		{name: "preflight from unlisted origin", allowed: []string{"https://app.example"}, method: "OPTIONS", origin: "https://evil.example", wantVary: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nextCalled := false
			// The endpoint requires authentication; a preflight must never reach it.
			next := Wrap(nil, func(w http.ResponseWriter, r *http.Request) error {
				nextCalled = true
				if _, err := AccessToken(r, false); err != nil {
					return err
				}
				return WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
			})
			h := CORS(tc.allowed)(next)
			req := httptest.NewRequest(tc.method, "/_matrix/client/v3/sync", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "GET")
				req.Header.Set("Access-Control-Request-Headers", "authorization")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if nextCalled != tc.wantNext {
				t.Errorf("next called = %v, want %v", nextCalled, tc.wantNext)
			}
			hdr := rec.Header()
			if got := hdr.Get("Access-Control-Allow-Origin"); got != tc.wantOrigin {
				t.Errorf("Allow-Origin = %q, want %q", got, tc.wantOrigin)
			}
			if got := hdr.Get("Vary") == "Origin"; got != tc.wantVary {
				t.Errorf("Vary: Origin = %v, want %v", got, tc.wantVary)
			}
			if got := hdr.Get("Access-Control-Allow-Methods"); got != "GET, POST, PUT, DELETE, OPTIONS" {
				t.Errorf("Allow-Methods = %q", got)
			}
			if got := hdr.Get("Access-Control-Allow-Headers"); got != "X-Requested-With, Content-Type, Authorization" {
				t.Errorf("Allow-Headers = %q", got)
			}
			if got := hdr.Get("Access-Control-Expose-Headers"); got != "Retry-After" {
				t.Errorf("Expose-Headers = %q", got)
			}
			if tc.method == http.MethodOptions {
				if rec.Code != http.StatusOK || rec.Body.String() != "{}\n" {
					t.Errorf("preflight answered %d %q, want 200 {}", rec.Code, rec.Body)
				}
			}
		})
	}
}

// Error responses, written by the inner handler, carry the CORS headers too, so that a
// browser client can read them.
func TestCORSOnErrors(t *testing.T) {
	t.Parallel()
	h := CORS([]string{"*"})(http.HandlerFunc(NotFound))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != http.StatusNotFound || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("got %d with Allow-Origin %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
}
