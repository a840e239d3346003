package web

import (
	"context"
	"log/slog"
)

// ContextHandler is a slog.Handler that adds request_id, user_id and device_id from the
// record's context (AssignRequestID, WithUser) to every record before passing it on. cmd wraps
// the configured text or JSON handler in it, so components only need the …Context logging
// methods. As with any slog handler, attributes it adds land inside a group opened with
// WithGroup.
type ContextHandler struct {
	next slog.Handler
}

// NewContextHandler returns a ContextHandler that passes records on to next.
func NewContextHandler(next slog.Handler) *ContextHandler {
	return &ContextHandler{next: next}
}

// Enabled reports whether next handles records at level.
func (h *ContextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds the context's request and user attributes to rec and passes it to next.
func (h *ContextHandler) Handle(ctx context.Context, rec slog.Record) error {
	if ctx == nil {
		return h.next.Handle(ctx, rec)
	}
	var attrs []slog.Attr
	if reqID := RequestID(ctx); reqID != "" {
		attrs = append(attrs, slog.String("request_id", reqID))
	}
	userID, deviceID := ContextUser(ctx)
	if userID != "" {
		attrs = append(attrs, slog.String("user_id", string(userID)))
	}
	if deviceID != "" {
		attrs = append(attrs, slog.String("device_id", string(deviceID)))
	}
	if len(attrs) > 0 {
		rec = rec.Clone() // rec shares its attribute storage with the caller's copy
		rec.AddAttrs(attrs...)
	}
	return h.next.Handle(ctx, rec)
}

// WithAttrs returns a ContextHandler around next.WithAttrs(attrs).
func (h *ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &ContextHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a ContextHandler around next.WithGroup(name).
func (h *ContextHandler) WithGroup(name string) slog.Handler {
	return &ContextHandler{next: h.next.WithGroup(name)}
}
