package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAccessToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		headers    []string
		query      string
		allowQuery bool
		want       string
		wantCode   string
	}{
		{name: "none", want: ""},
		{name: "bearer header", headers: []string{"Bearer syt_abc"}, want: "syt_abc"},
		{name: "scheme is case-insensitive", headers: []string{"bearer syt_abc"}, want: "syt_abc"},
		{name: "extra spaces", headers: []string{"  Bearer   syt_abc  "}, want: "syt_abc"},
		{name: "other scheme", headers: []string{"Basic dXNlcjpwYXNz"}, wantCode: "M_MISSING_TOKEN"},
		{name: "federation scheme", headers: []string{`X-Matrix origin="a",key="ed25519:1",sig="x"`}, wantCode: "M_MISSING_TOKEN"},
		{name: "scheme only", headers: []string{"Bearer"}, wantCode: "M_MISSING_TOKEN"},
		{name: "empty token", headers: []string{"Bearer "}, wantCode: "M_MISSING_TOKEN"},
		{name: "token with space", headers: []string{"Bearer a b"}, wantCode: "M_MISSING_TOKEN"},
		{name: "empty header", headers: []string{""}, wantCode: "M_MISSING_TOKEN"},
		{name: "two headers", headers: []string{"Bearer a", "Bearer b"}, wantCode: "M_MISSING_TOKEN"},
		{name: "query allowed", query: "access_token=qtok", allowQuery: true, want: "qtok"},
		{name: "query not allowed", query: "access_token=qtok", want: ""},
		{name: "escaped query", query: "access_token=a%2Bb", allowQuery: true, want: "a+b"},
		{name: "empty query", query: "access_token=", allowQuery: true, want: ""},
		{name: "repeated query", query: "access_token=a&access_token=b", allowQuery: true, wantCode: "M_MISSING_TOKEN"},
		{name: "header wins over query", headers: []string{"Bearer htok"}, query: "access_token=qtok", allowQuery: true, want: "htok"},
		{name: "malformed header is not rescued by query", headers: []string{"Basic x"}, query: "access_token=qtok", allowQuery: true, wantCode: "M_MISSING_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/account/whoami?"+tc.query, nil)
			for _, h := range tc.headers {
				req.Header.Add("Authorization", h)
			}
			got, err := AccessToken(req, tc.allowQuery)
			if tc.wantCode != "" {
				wantRespError(t, err, tc.wantCode)
				if got != "" {
					t.Errorf("got token %q with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("token = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAccessTokenErrorIs401(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Basic x")
	_, err := AccessToken(req, false)
	rec := httptest.NewRecorder()
	WriteError(rec, req, nil, err)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", rec.Code)
	}
}
