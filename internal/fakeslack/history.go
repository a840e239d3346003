package fakeslack

import (
	"math"
	"slices"
)

// window is the time range of conversations.history and conversations.replies:
// "oldest" and "latest", exclusive unless "inclusive" is set.
type window struct {
	oldest, latest int64 // microseconds
	inclusive      bool
}

func readWindow(c *call) (window, error) {
	win := window{latest: math.MaxInt64, inclusive: c.flag("inclusive")}
	for _, bound := range []struct {
		name  string
		value *int64
	}{{"oldest", &win.oldest}, {"latest", &win.latest}} {
		if c.param(bound.name) == "" {
			continue
		}
		micros, ok := parseTS(c.param(bound.name))
		if !ok {
			return window{}, Error("invalid_ts_" + bound.name)
		}
		*bound.value = micros
	}
	return win, nil
}

func (win window) contains(ts string) bool {
	micros, _ := parseTS(ts)
	if win.inclusive {
		return win.oldest <= micros && micros <= win.latest
	}
	return win.oldest < micros && micros < win.latest
}

// handleHistory serves conversations.history: the channel's top-level messages in the
// window, newest first, "limit" at a time. A page's next_cursor names the next message.
func (w *workspace) handleHistory(c *call) (obj, error) {
	ch, err := w.memberChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	win, err := readWindow(c)
	if err != nil {
		return nil, err
	}
	matches := []*Message{}
	for _, ts := range slices.Backward(ch.order) {
		if m := ch.messages[ts]; m.isTopLevel() && win.contains(ts) {
			matches = append(matches, m)
		}
	}
	page, next, err := pageByTS(c, matches, func(m *Message, from int64) bool { return tsMicros(m) <= from })
	if err != nil {
		return nil, err
	}
	return obj{
		"messages":          page,
		"has_more":          next != "",
		"pin_count":         len(ch.pins),
		"response_metadata": obj{"next_cursor": next},
	}, nil
}

// handleReplies serves conversations.replies: the thread's parent, then its replies in
// the window, oldest first, "limit" at a time. The parent leads the first page only. The
// ts of a reply names its thread, as the parent's does.
func (w *workspace) handleReplies(c *call) (obj, error) {
	ch, err := w.memberChannel(c.param("channel"), c.actor())
	if err != nil {
		return nil, err
	}
	parent, err := w.threadParent(ch, c.param("ts"))
	if err != nil || parent == nil {
		return nil, errThreadNotFound
	}
	win, err := readWindow(c)
	if err != nil {
		return nil, err
	}
	matches := []*Message{}
	if c.param("cursor") == "" {
		matches = append(matches, parent)
	}
	for _, m := range ch.replies(parent.TS) {
		if win.contains(m.TS) {
			matches = append(matches, m)
		}
	}
	page, next, err := pageByTS(c, matches, func(m *Message, from int64) bool { return tsMicros(m) >= from })
	if err != nil {
		return nil, err
	}
	return obj{
		"messages":          page,
		"has_more":          next != "",
		"response_metadata": obj{"next_cursor": next},
	}, nil
}

// pageByTS pages messages, already in answer order, by the "cursor" and "limit" of c. A
// cursor holds the ts of the first message of its page; inPage reports whether a message
// is at or past that point.
func pageByTS(c *call, messages []*Message, inPage func(m *Message, from int64) bool) ([]*Message, string, error) {
	limit, err := pageLimit(c)
	if err != nil {
		return nil, "", err
	}
	if c.param("cursor") != "" {
		value, ok := decodeCursor(c.param("cursor"), "next_ts")
		from, valid := parseTS(value)
		if !ok || !valid {
			return nil, "", errInvalidCursor
		}
		messages = slices.DeleteFunc(messages, func(m *Message) bool { return !inPage(m, from) })
	}
	if len(messages) <= limit {
		return messages, "", nil
	}
	return messages[:limit], encodeCursor("next_ts", messages[limit].TS), nil
}

func tsMicros(m *Message) int64 {
	micros, _ := parseTS(m.TS)
	return micros
}
