package syncapi

import (
	"fmt"
	"strconv"
	"strings"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// StreamToken is a /sync position: one position per stream, written
// "s{events}_{typing}_{receipts}_{account data}_{presence}_{to-device}_{device lists}".
// Later streams append "_"-separated fields; a token with fewer fields (an older server's
// "s{events}") reads with the missing positions at zero, and fields beyond those this server
// knows (a newer server's) are ignored.
type StreamToken struct {
	Events      int64 // the "events" counter
	Typing      int64 // the in-memory typing stream (typing.go)
	Receipts    int64 // the "receipts" counter
	AccountData int64 // the "account_data" counter
	Presence    int64 // the "presence" counter
	ToDevice    int64 // the "to_device" counter (end-to-end encryption: to-device messages)
	DeviceLists int64 // the "device_lists" counter (end-to-end encryption: device-list changes)
}

func (t StreamToken) String() string {
	return "s" + strconv.FormatInt(t.Events, 10) + "_" + strconv.FormatInt(t.Typing, 10) + "_" + strconv.FormatInt(t.Receipts, 10) +
		"_" + strconv.FormatInt(t.AccountData, 10) + "_" + strconv.FormatInt(t.Presence, 10) +
		"_" + strconv.FormatInt(t.ToDevice, 10) + "_" + strconv.FormatInt(t.DeviceLists, 10)
}

// ParseStreamToken reads a token written by StreamToken.String, or by an older version of it.
func ParseStreamToken(s string) (StreamToken, error) {
	invalid := mxerr.InvalidParam.WithMessage("invalid stream token %q", s)
	rest, ok := strings.CutPrefix(s, "s")
	if !ok {
		return StreamToken{}, invalid
	}
	var t StreamToken
	fields := []*int64{&t.Events, &t.Typing, &t.Receipts, &t.AccountData, &t.Presence, &t.ToDevice, &t.DeviceLists}
	for i, f := range strings.Split(rest, "_") {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || v < 0 {
			return StreamToken{}, invalid
		}
		if i < len(fields) {
			*fields[i] = v
		}
	}
	return t, nil
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
