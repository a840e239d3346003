package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"

	"causeway/homeserver/mxerr"
)

// decodeBody decodes a JSON response body into a map.
func decodeBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", rec.Body.String(), err)
	}
	return body
}

// logRecord is one record captured by captureLog.
type logRecord map[string]any

// captureLog returns a Debug-level logger writing JSON into a buffer, and a function that
// returns the records written so far.
func captureLog(t *testing.T) (*slog.Logger, func() []logRecord) {
	t.Helper()
	var buf bytes.Buffer
	log := slog.New(NewContextHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return log, func() []logRecord {
		t.Helper()
		var recs []logRecord
		for line := range strings.Lines(buf.String()) {
			var rec logRecord
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			recs = append(recs, rec)
		}
		return recs
	}
}

var errStorageNotFound = errors.New("storage: not found")

// pointerRespError is a *mautrix.RespError, as mautrix's client code returns them.
var pointerRespError error = &mautrix.RespError{ErrCode: "M_NOT_FOUND", Err: "gone", StatusCode: 404}

func mapStorage(err error) (mautrix.RespError, bool) {
	if errors.Is(err, errStorageNotFound) {
		return mxerr.NotFound.WithMessage("Not found"), true
	}
	return mautrix.RespError{}, false
}

func TestWrapErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantHeader map[string]string
		wantBody   map[string]any
		wantLevel  string
		wantLogs   int // 1 when 0
	}{
		{
			name:       "RespError passes through with status and extra data",
			err:        mxerr.IncompatibleRoomVersionFor("12").WithMessage("Unsupported"),
			wantStatus: 400,
			wantBody:   map[string]any{"errcode": "M_INCOMPATIBLE_ROOM_VERSION", "error": "Unsupported", "room_version": "12"},
			wantLevel:  "DEBUG",
		},
		{
			name:       "rate limit carries Retry-After header",
			err:        mxerr.LimitExceededAfter(1500 * time.Millisecond),
			wantStatus: 429,
			wantHeader: map[string]string{"Retry-After": "2"},
			wantBody:   map[string]any{"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests, retry in 2s", "retry_after_ms": 1500.0},
			wantLevel:  "DEBUG",
		},
		{
			name:       "wrapped RespError",
			err:        fmt.Errorf("redact: %w", mxerr.Forbidden.WithMessage("not allowed")),
			wantStatus: 403,
			wantBody:   map[string]any{"errcode": "M_FORBIDDEN", "error": "not allowed"},
			wantLevel:  "DEBUG",
		},
		{
			name:       "pointer RespError",
			err:        fmt.Errorf("x: %w", pointerRespError),
			wantStatus: 404,
			wantBody:   map[string]any{"errcode": "M_NOT_FOUND", "error": "gone"},
			wantLevel:  "DEBUG",
		},
		{
			name:       "mapped sentinel",
			err:        fmt.Errorf("room by id !a: %w", errStorageNotFound),
			wantStatus: 404,
			wantBody:   map[string]any{"errcode": "M_NOT_FOUND", "error": "Not found"},
			wantLevel:  "DEBUG",
		},
		{
			name:       "unknown error hides details",
			err:        errors.New("pq: password authentication failed for user secret"),
			wantStatus: 500,
			wantBody:   map[string]any{"errcode": "M_UNKNOWN", "error": "Internal server error"},
			wantLevel:  "ERROR",
		},
		{
			name:       "context.Canceled with a live client is internal",
			err:        fmt.Errorf("query: %w", context.Canceled),
			wantStatus: 500,
			wantBody:   map[string]any{"errcode": "M_UNKNOWN", "error": "Internal server error"},
			wantLevel:  "ERROR",
		},
		{
			name:       "body over MaxBytesReader limit",
			err:        fmt.Errorf("upload: %w", &http.MaxBytesError{Limit: 10}),
			wantStatus: 413,
			wantBody:   map[string]any{"errcode": "M_TOO_LARGE", "error": "Request body is larger than 10 bytes"},
			wantLevel:  "DEBUG",
		},
		{
			name:       "internal error of a RespError is not sent",
			err:        mxerr.Unknown.WithMessage("Failed").WithInternalError(errors.New("disk full")),
			wantStatus: 500,
			wantBody:   map[string]any{"errcode": "M_UNKNOWN", "error": "Failed"},
			wantLevel:  "WARN",
		},
		{
			name:       "missing status of M_UNKNOWN is 500",
			err:        mautrix.RespError{ErrCode: "M_UNKNOWN", Err: "x"},
			wantStatus: 500,
			wantBody:   map[string]any{"errcode": "M_UNKNOWN", "error": "x"},
			wantLevel:  "WARN",
		},
		{
			name:       "missing status of another code is 400",
			err:        mautrix.MUserDeactivated.WithMessage("bye"),
			wantStatus: 400,
			wantBody:   map[string]any{"errcode": "M_USER_DEACTIVATED", "error": "bye"},
			wantLevel:  "DEBUG",
		},
		{
			name:       "missing message gets a default",
			err:        mxerr.NotFound,
			wantStatus: 404,
			wantBody:   map[string]any{"errcode": "M_NOT_FOUND", "error": "Not Found"},
			wantLevel:  "DEBUG",
		},
		{
			name:       "extra data cannot override errcode",
			err:        mxerr.Forbidden.WithMessage("no").WithExtraField("errcode", "M_OK"),
			wantStatus: 403,
			wantBody:   map[string]any{"errcode": "M_FORBIDDEN", "error": "no"},
			wantLevel:  "DEBUG",
		},
		{
			name:       "OAuth error shape",
			err:        mautrix.ErrOAuthInvalidGrant.WithMessage("expired").WithStatus(400),
			wantStatus: 400,
			wantBody:   map[string]any{"error": "invalid_grant", "error_description": "expired"},
			wantLevel:  "DEBUG",
		},
		{
			name:       "unencodable extra data falls back to 500",
			err:        mxerr.Forbidden.WithExtraField("bad", func() {}),
			wantStatus: 500,
			wantBody:   map[string]any{"errcode": "M_UNKNOWN", "error": "Internal server error"},
			wantLevel:  "DEBUG",
			wantLogs:   2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log, records := captureLog(t)
			h := Wrap(log, func(w http.ResponseWriter, r *http.Request) error { return tc.err }, mapStorage)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/_matrix/client/v3/rooms/!a:hs/send?access_token=SECRET", strings.NewReader(`{"password":"hunter2"}`))
			h(rec, req)

			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			for k, v := range tc.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if diff := cmp.Diff(tc.wantBody, decodeBody(t, rec)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}

			recs := records()
			if want := max(tc.wantLogs, 1); len(recs) != want {
				t.Fatalf("logged %d records, want %d: %v", len(recs), want, recs)
			}
			got := recs[0]
			if got["level"] != tc.wantLevel {
				t.Errorf("log level = %v, want %s", got["level"], tc.wantLevel)
			}
			if got["method"] != "POST" || got["path"] != "/_matrix/client/v3/rooms/!a:hs/send" {
				t.Errorf("log method/path = %v %v", got["method"], got["path"])
			}
			line := fmt.Sprint(got)
			for _, secret := range []string{"SECRET", "hunter2"} {
				if strings.Contains(line, secret) {
					t.Errorf("log record contains %q: %v", secret, got)
				}
			}
			if strings.Contains(rec.Body.String(), "disk full") || strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("body leaks internal details: %s", rec.Body)
			}
		})
	}
}

func TestWrapLogsInternalErrorDetails(t *testing.T) {
	t.Parallel()
	log, records := captureLog(t)
	h := Wrap(log, func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("db exploded")
	})
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req = req.WithContext(WithUser(WithRequestID(req.Context(), "req1"), "@a:hs", "DEV"))
	h(httptest.NewRecorder(), req)
	recs := records()
	if len(recs) != 1 {
		t.Fatalf("logged %d records, want 1", len(recs))
	}
	want := logRecord{"error": "db exploded", "request_id": "req1", "user_id": "@a:hs", "device_id": "DEV", "method": "GET", "path": "/x"}
	for k, v := range want {
		if recs[0][k] != v {
			t.Errorf("log %s = %v, want %v", k, recs[0][k], v)
		}
	}
}

func TestWrapClientGone(t *testing.T) {
	t.Parallel()
	log, records := captureLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := Wrap(log, func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("long poll: %w", r.Context().Err())
	})
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/sync", nil))
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("wrote a response to a gone client: %d %q", rec.Code, rec.Body)
	}
	recs := records()
	if len(recs) != 1 || recs[0]["level"] != "DEBUG" {
		t.Errorf("log = %v, want one DEBUG record", recs)
	}
}

func TestWrapSuccess(t *testing.T) {
	t.Parallel()
	log, records := captureLog(t)
	h := Wrap(log, func(w http.ResponseWriter, r *http.Request) error {
		return WriteJSON(w, http.StatusCreated, map[string]string{"room_id": "!a:hs"})
	})
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodPost, "/createRoom", nil))
	if rec.Code != http.StatusCreated {
		t.Errorf("status = %d, want 201", rec.Code)
	}
	if diff := cmp.Diff(map[string]any{"room_id": "!a:hs"}, decodeBody(t, rec)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if recs := records(); len(recs) != 0 {
		t.Errorf("logged %v, want nothing", recs)
	}
}

func TestWrapErrorAfterResponseStarted(t *testing.T) {
	t.Parallel()
	log, records := captureLog(t)
	h := Wrap(log, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "image/png")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		return errors.New("storage read failed")
	})
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/download", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "partial" {
		t.Errorf("response = %d %q, want the handler's partial response untouched", rec.Code, rec.Body)
	}
	recs := records()
	if len(recs) != 1 || recs[0]["level"] != "WARN" || recs[0]["error"] != "storage read failed" {
		t.Errorf("log = %v, want one WARN record with the error", recs)
	}
}

func TestWrapKeepsFlusher(t *testing.T) {
	t.Parallel()
	h := Wrap(nil, func(w http.ResponseWriter, r *http.Request) error {
		if err := http.NewResponseController(w).Flush(); err != nil {
			return err
		}
		w.(http.Flusher).Flush()
		return nil
	})
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !rec.Flushed {
		t.Errorf("response was not flushed")
	}
}

func TestWriteErrorNilLogger(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), nil, errors.New("boom"))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", rec.Code)
	}
}
