package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
)

func TestUnrecognized(t *testing.T) {
	t.Parallel()
	router := chi.NewRouter()
	router.NotFound(NotFound)
	router.MethodNotAllowed(MethodNotAllowed)
	router.Get("/_matrix/client/v3/sync", func(w http.ResponseWriter, r *http.Request) {})

	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
	}{
		{"unknown endpoint", http.MethodGet, "/_matrix/client/v3/nope", http.StatusNotFound},
		{"known path, wrong method", http.MethodPost, "/_matrix/client/v3/sync", http.StatusMethodNotAllowed},
		{"method chi does not know", "PROPFIND", "/_matrix/client/v3/sync", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			router.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			want := map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}
			if diff := cmp.Diff(want, decodeBody(t, rec)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}
