package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"maunium.net/go/mautrix/id"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	userKey
)

type logUser struct {
	userID   id.UserID
	deviceID id.DeviceID
}

// AssignRequestID is middleware that gives each request a fresh random ID, stored in its context
// (see RequestID) so that every log record of the request carries it (ContextHandler). An ID
// sent by the client is not trusted: it could collide with others or forge log lines.
func AssignRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithRequestID(r.Context(), newRequestID())))
	})
}

// WithRequestID returns ctx carrying requestID, for work that does not start with an HTTP
// request, such as an incoming federation transaction processed in the background.
func WithRequestID(ctx context.Context, requestID string) context.Context {
	return context.WithValue(ctx, requestIDKey, requestID)
}

// RequestID returns the request ID in ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// WithUser returns ctx carrying the user and device a request acts as, for ContextHandler to add
// to log records. It is for logging only: authorization reads the authenticated device from the
// API package's own context key. deviceID may be empty (application services, guests).
func WithUser(ctx context.Context, userID id.UserID, deviceID id.DeviceID) context.Context {
	return context.WithValue(ctx, userKey, logUser{userID: userID, deviceID: deviceID})
}

// ContextUser returns the user and device set by WithUser, or empty values.
func ContextUser(ctx context.Context) (id.UserID, id.DeviceID) {
	u, _ := ctx.Value(userKey).(logUser)
	return u.userID, u.deviceID
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
