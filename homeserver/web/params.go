package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
)

// maxIDLength is the limit on room, event and user IDs (content/appendices.md, "Identifier Grammar").
const maxIDLength = 255

// PathParam returns the chi URL parameter name, URL-unescaped. chi routes on r.URL.RawPath
// whenever the request's path needed it, so `%21room%3Ahs` or a state key holding `%2F` arrives
// still escaped; when RawPath is empty chi matched the already-decoded r.URL.Path, and
// unescaping again would corrupt values that contain '%'. (Middleware that rewrites chi's
// RoutePath from r.URL.Path would break this rule.) A bad escape is M_INVALID_PARAM. A missing
// or empty parameter is returned as "", since an empty state key is valid.
func PathParam(r *http.Request, name string) (string, error) {
	v := chi.URLParam(r, name)
	if r.URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", mxerr.InvalidParam.WithMessage("Path parameter %s is not correctly URL-encoded", name)
	}
	return u, nil
}

// PathRoomID returns the path parameter name as a room ID: a '!' sigil followed by at least one
// character. Room IDs are opaque (since room version 12 they carry no server name), so nothing
// more is checked. Anything else is M_INVALID_PARAM.
func PathRoomID(r *http.Request, name string) (id.RoomID, error) {
	v, err := pathSigilled(r, name, '!', "room ID")
	return id.RoomID(v), err
}

// PathEventID returns the path parameter name as an event ID: a '$' sigil followed by at least
// one character. Anything else is M_INVALID_PARAM.
func PathEventID(r *http.Request, name string) (id.EventID, error) {
	v, err := pathSigilled(r, name, '$', "event ID")
	return id.EventID(v), err
}

// PathUserID returns the path parameter name as a user ID, checked with id.UserID.Parse (a '@'
// sigil and a server name; historical localparts are accepted). Anything else is M_INVALID_PARAM.
func PathUserID(r *http.Request, name string) (id.UserID, error) {
	v, err := PathParam(r, name)
	if err != nil {
		return "", err
	}
	userID := id.UserID(v)
	if _, _, err := userID.Parse(); err != nil || len(v) > maxIDLength {
		return "", mxerr.InvalidParam.WithMessage("%q is not a valid user ID", v)
	}
	return userID, nil
}

func pathSigilled(r *http.Request, name string, sigil byte, what string) (string, error) {
	v, err := PathParam(r, name)
	if err != nil {
		return "", err
	}
	if len(v) < 2 || v[0] != sigil || len(v) > maxIDLength || strings.Contains(v, "\x00") {
		return "", mxerr.InvalidParam.WithMessage("%q is not a valid %s", v, what)
	}
	return v, nil
}
