package slackexport

import (
	"cmp"
	"strconv"
	"strings"
	"time"
)

// TS is a Slack message timestamp such as "1614556800.000200": Unix seconds
// and a fractional part that makes it unique within a conversation. It is
// kept as the string Slack sent, because it is also the message's ID.
type TS string

// parse splits t into seconds and nanoseconds.
func (t TS) parse() (sec, nsec int64, ok bool) {
	s, frac, _ := strings.Cut(string(t), ".")
	if s == "" || len(s) > 12 || len(frac) > 9 || !allDigits(s) || !allDigits(frac) {
		return 0, 0, false
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if frac != "" {
		nsec, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return 0, 0, false
		}
	}
	return sec, nsec, true
}

// Valid reports whether t is a well-formed timestamp.
func (t TS) Valid() bool {
	_, _, ok := t.parse()
	return ok
}

// Time returns t as a time in UTC, or the zero time if t is not valid.
func (t TS) Time() time.Time {
	sec, nsec, ok := t.parse()
	if !ok {
		return time.Time{}
	}
	return time.Unix(sec, nsec).UTC()
}

// Compare orders timestamps by time: -1 if t is earlier than u, +1 if later,
// 0 if they are the same instant. Invalid timestamps sort first.
func (t TS) Compare(u TS) int {
	ts, tn, tok := t.parse()
	us, un, uok := u.parse()
	switch {
	case !tok || !uok:
		if tok == uok {
			return strings.Compare(string(t), string(u))
		}
		if !tok {
			return -1
		}
		return 1
	case ts != us:
		return cmp.Compare(ts, us)
	default:
		return cmp.Compare(tn, un)
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
