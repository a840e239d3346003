package syncapi

import (
	"fmt"
	"strconv"
	"strings"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// StreamToken is a /sync position: one position per stream. Today the only stream is the
// event stream; later streams append "_"-separated fields, and older tokens stay readable
// with the new fields at zero.
type StreamToken struct {
	Events int64
}

func (t StreamToken) String() string { return "s" + strconv.FormatInt(t.Events, 10) }

// ParseStreamToken reads a token written by StreamToken.String.
func ParseStreamToken(s string) (StreamToken, error) {
	fields := strings.Split(strings.TrimPrefix(s, "s"), "_")
	if !strings.HasPrefix(s, "s") || len(fields) == 0 {
		return StreamToken{}, mxerr.InvalidParam.WithMessage("invalid stream token %q", s)
	}
	events, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || events < 0 {
		return StreamToken{}, mxerr.InvalidParam.WithMessage("invalid stream token %q", s)
	}
	return StreamToken{Events: events}, nil
}

// TopoToken is a /messages position: the gap just before the event at (Depth, StreamPos) in the
// room's topological order. Paginating backwards returns the events below it, forwards the
// events at or above it. (Depth, StreamPos+1) is the gap just after an event.
type TopoToken struct {
	storage.TopoPos
}

func (t TopoToken) String() string { return fmt.Sprintf("t%d_%d", t.Depth, t.StreamPos) }

// parseTopoToken reads a token written by TopoToken.String.
func parseTopoToken(s string) (TopoToken, bool) {
	var t TopoToken
	if !strings.HasPrefix(s, "t") {
		return t, false
	}
	depth, pos, ok := strings.Cut(s[1:], "_")
	if !ok {
		return t, false
	}
	var err1, err2 error
	t.Depth, err1 = strconv.ParseInt(depth, 10, 64)
	t.StreamPos, err2 = strconv.ParseInt(pos, 10, 64)
	return t, err1 == nil && err2 == nil
}
