package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"maunium.net/go/mautrix"
)

// route serves target through a chi router with pattern and returns what fn returned from
// inside the handler.
func route[T any](t *testing.T, pattern, target string, fn func(r *http.Request) (T, error)) (T, error) {
	t.Helper()
	var (
		got    T
		err    error
		called bool
	)
	router := chi.NewRouter()
	router.Get(pattern, func(w http.ResponseWriter, r *http.Request) {
		called = true
		got, err = fn(r)
	})
	router.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	if !called {
		t.Fatalf("%s did not match %s", target, pattern)
	}
	return got, err
}

func wantRespError(t *testing.T, err error, code string) {
	t.Helper()
	var resp mautrix.RespError
	if !errors.As(err, &resp) {
		t.Fatalf("error %v is not a RespError", err)
	}
	if resp.ErrCode != code {
		t.Errorf("errcode = %s, want %s (%s)", resp.ErrCode, code, resp.Err)
	}
}

func TestPathParam(t *testing.T) {
	t.Parallel()
	const pattern = "/rooms/{roomId}/state/{eventType}/{stateKey}"
	tests := []struct {
		name         string
		target       string
		wantRoom     string
		wantStateKey string
	}{
		{"plain", "/rooms/!r:hs/state/m.room.name/key", "!r:hs", "key"},
		{"escaped sigil and colon", "/rooms/%21r%3Ahs/state/m.room.name/key", "!r:hs", "key"},
		{"escaped slash in state key", "/rooms/!r:hs/state/m.room.name/a%2Fb", "!r:hs", "a/b"},
		{"user ID state key", "/rooms/!r:hs/state/m.room.member/%40u%3Ahs", "!r:hs", "@u:hs"},
		// Go decodes %25 itself and leaves RawPath empty, so chi sees "100%": unescaping again
		// would fail or corrupt the value.
		{"percent sign", "/rooms/!r:hs/state/m.room.name/100%25", "!r:hs", "100%"},
		{"escaped percent sequence", "/rooms/%21r%3Ahs/state/m.room.name/%2541", "!r:hs", "%41"},
		{"unicode", "/rooms/!r:hs/state/m.room.name/%C3%A9t%C3%A9", "!r:hs", "été"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := route(t, pattern, tc.target, func(r *http.Request) ([2]string, error) {
				room, err := PathParam(r, "roomId")
				if err != nil {
					return [2]string{}, err
				}
				key, err := PathParam(r, "stateKey")
				return [2]string{room, key}, err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != [2]string{tc.wantRoom, tc.wantStateKey} {
				t.Errorf("got %q, want [%q %q]", got, tc.wantRoom, tc.wantStateKey)
			}
		})
	}
}

func TestPathParamMissing(t *testing.T) {
	t.Parallel()
	got, err := route(t, "/rooms/{roomId}/state/{eventType}/", "/rooms/%21r%3Ahs/state/m.room.name/", func(r *http.Request) (string, error) {
		return PathParam(r, "stateKey")
	})
	if got != "" || err != nil {
		t.Errorf("PathParam of a parameter the route lacks = %q, %v; want \"\", nil", got, err)
	}
}

// net/http refuses a request line with a bad escape, so a bad escape can only reach PathParam
// from a router context built by hand; PathParam must still refuse it.
func TestPathParamBadEscape(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"%zz", "abc%", "%2"} {
		req := httptest.NewRequest(http.MethodGet, "/rooms/x", nil)
		req.URL.RawPath = "/rooms/" + raw
		rctx := chi.NewRouteContext()
		rctx.URLParams.Add("roomId", raw)
		req = req.WithContext(context.WithValue(req.Context(), chi.RouteCtxKey, rctx))
		_, err := PathParam(req, "roomId")
		wantRespError(t, err, "M_INVALID_PARAM")
	}
}

func TestPathIDs(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 255)
	tests := []struct {
		name     string
		kind     string // room, event or user
		value    string // as sent in the path
		want     string
		wantCode string
	}{
		{"room", "room", "!r:hs", "!r:hs", ""},
		{"escaped room", "room", "%21r%3Ahs", "!r:hs", ""},
		{"v12 room without server", "room", "%21abcDEF123", "!abcDEF123", ""},
		{"room without sigil", "room", "r:hs", "", "M_INVALID_PARAM"},
		{"alias is no room ID", "room", "%23alias%3Ahs", "", "M_INVALID_PARAM"},
		{"bare sigil", "room", "%21", "", "M_INVALID_PARAM"},
		{"room too long", "room", "!" + long, "", "M_INVALID_PARAM"},
		{"event", "event", "%24abc", "$abc", ""},
		{"event with room sigil", "event", "%21abc", "", "M_INVALID_PARAM"},
		{"event with NUL", "event", "%24a%00b", "", "M_INVALID_PARAM"},
		{"user", "user", "@alice:hs", "@alice:hs", ""},
		{"escaped user", "user", "%40alice%3Ahs", "@alice:hs", ""},
		{"user without server", "user", "@alice", "", "M_INVALID_PARAM"},
		{"user without sigil", "user", "alice%3Ahs", "", "M_INVALID_PARAM"},
		{"user too long", "user", "@" + long + ":hs", "", "M_INVALID_PARAM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := route(t, "/x/{id}", "/x/"+tc.value, func(r *http.Request) (string, error) {
				switch tc.kind {
				case "room":
					v, err := PathRoomID(r, "id")
					return string(v), err
				case "event":
					v, err := PathEventID(r, "id")
					return string(v), err
				default:
					v, err := PathUserID(r, "id")
					return string(v), err
				}
			})
			if tc.wantCode != "" {
				wantRespError(t, err, tc.wantCode)
				if got != "" {
					t.Errorf("got %q with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
