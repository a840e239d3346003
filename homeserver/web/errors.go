package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"

	"maunium.net/go/mautrix"

	"causeway/homeserver/mxerr"
)

// HandlerFunc is an HTTP handler that returns its failure instead of writing it. Wrap turns it
// into an http.HandlerFunc.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ErrorMapper turns an error defined by the caller's dependencies (such as storage.ErrNotFound)
// into a Matrix error response. It reports false for errors it does not know, and must match
// with errors.Is or errors.As, since errors arrive wrapped.
type ErrorMapper func(error) (mautrix.RespError, bool)

// internalError is what a client sees for any error that is not a protocol answer: internal
// details stay in the log.
var internalError = mxerr.Unknown.WithMessage("Internal server error")

// Wrap adapts h to an http.HandlerFunc. When h returns an error, Wrap writes it with
// WriteError, using mappers, unless h had already started its response: then the error can
// only be logged.
func Wrap(log *slog.Logger, h HandlerFunc, mappers ...ErrorMapper) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		err := h(tw, r)
		if err == nil {
			return
		}
		if tw.started {
			level := slog.LevelWarn
			if r.Context().Err() != nil {
				level = slog.LevelDebug // the client went away mid-response
			}
			loggerOrDiscard(log).LogAttrs(r.Context(), level, "error after response started",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
			return
		}
		WriteError(tw, r, log, err, mappers...)
	}
}

// WriteError writes err as a Matrix standard error response ("Standard error response" in
// content/client-server-api/_index.md) and logs it. In order:
//
//   - context.Canceled while the request's context is done means the client has gone: it is
//     logged at Debug and nothing is written.
//   - A mautrix.RespError (value or pointer, possibly wrapped) is written with its status,
//     ExtraHeader and ExtraData. A status of 0 becomes 500 for M_UNKNOWN and 400 otherwise.
//     Its InternalError is logged, never sent.
//   - The first mapper that knows err decides the response.
//   - An *http.MaxBytesError (a body read past http.MaxBytesReader) becomes M_TOO_LARGE.
//   - Anything else becomes M_UNKNOWN 500 "Internal server error", logged once at Error with the
//     request's method and path; the request's body, query and headers are never logged.
//
// A nil log discards the log records.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, mappers ...ErrorMapper) {
	log = loggerOrDiscard(log)
	ctx := r.Context()
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path)}

	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		log.LogAttrs(ctx, slog.LevelDebug, "client went away", append(attrs, slog.Any("error", err))...)
		return
	}

	resp, known := respErrorOf(err, mappers)
	if !known {
		log.LogAttrs(ctx, slog.LevelError, "internal error serving request", append(attrs, slog.Any("error", err))...)
		_ = writeRespError(w, internalError)
		return
	}
	resp.StatusCode = statusOf(resp)
	level := slog.LevelDebug
	if resp.StatusCode >= http.StatusInternalServerError {
		level = slog.LevelWarn
	}
	attrs = append(attrs, slog.String("errcode", resp.ErrCode), slog.Int("status", resp.StatusCode), slog.Any("error", err))
	if resp.InternalError != "" {
		attrs = append(attrs, slog.String("internal_error", resp.InternalError))
	}
	log.LogAttrs(ctx, level, "request answered with error", attrs...)
	if err := writeRespError(w, resp); err != nil {
		log.LogAttrs(ctx, slog.LevelError, "cannot encode error response", slog.String("errcode", resp.ErrCode), slog.Any("error", err))
	}
}

// respErrorOf finds the protocol answer for err, reporting false when err is internal.
func respErrorOf(err error, mappers []ErrorMapper) (mautrix.RespError, bool) {
	var val mautrix.RespError
	if errors.As(err, &val) {
		return val, true
	}
	var ptr *mautrix.RespError
	if errors.As(err, &ptr) && ptr != nil {
		return *ptr, true
	}
	for _, m := range mappers {
		if resp, ok := m(err); ok {
			return resp, true
		}
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return mxerr.TooLarge.WithMessage("Request body is larger than %d bytes", tooLarge.Limit), true
	}
	return mautrix.RespError{}, false
}

// statusOf returns e's status, choosing one when the value was built without it.
func statusOf(e mautrix.RespError) int {
	switch {
	case e.StatusCode != 0:
		return e.StatusCode
	case e.ErrCode == mxerr.Unknown.ErrCode:
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// writeRespError writes e's headers and body. It builds the body itself rather than using
// RespError.MarshalJSON, which would send InternalError to the client. When e's ExtraData cannot
// be encoded it writes M_UNKNOWN 500 instead and returns the encoding error.
func writeRespError(w http.ResponseWriter, e mautrix.RespError) error {
	status := statusOf(e)
	msg := e.Err
	if msg == "" {
		msg = http.StatusText(status) // "error" must always be present and human-readable
	}
	body := make(map[string]any, len(e.ExtraData)+2)
	maps.Copy(body, e.ExtraData)
	if e.OAuth {
		body["error"] = e.ErrCode
		body["error_description"] = msg
	} else {
		body["errcode"] = e.ErrCode
		body["error"] = msg
	}
	for k, v := range e.ExtraHeader {
		w.Header().Set(k, v)
	}
	err := WriteJSON(w, status, body)
	if err == nil || errors.Is(err, errWrite) {
		return nil // a failed write means the client has gone; there is no one to tell
	}
	// Nothing has been written yet.
	for k := range e.ExtraHeader {
		w.Header().Del(k)
	}
	_ = WriteJSON(w, http.StatusInternalServerError, map[string]string{
		"errcode": internalError.ErrCode, "error": internalError.Err,
	})
	return err
}

func loggerOrDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// trackingWriter records whether the response has started, so that Wrap never writes a second
// response after a handler's partial one. Unwrap lets http.ResponseController reach the
// underlying writer's optional methods.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (w *trackingWriter) WriteHeader(code int) {
	if code >= http.StatusOK || code == http.StatusSwitchingProtocols {
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the underlying writer's sendfile path for media downloads.
func (w *trackingWriter) ReadFrom(src io.Reader) (int64, error) {
	w.started = true
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
}

// Flush implements http.Flusher for handlers that assert it directly.
func (w *trackingWriter) Flush() {
	w.started = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
