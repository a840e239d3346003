package fakeslack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// clock hands out the workspace's timestamps. Slack's "ts" is Unix seconds with six
// decimals ("1700000000.000100"), unique per channel; the fake makes it unique and strictly
// increasing across the whole workspace, which is stronger and keeps tests simple.
type clock struct {
	fixed  bool      // whether now stays put between set and advance calls
	now    time.Time // the current instant when fixed
	lastTS int64     // the latest timestamp handed out, in microseconds
}

func newClock(start time.Time) clock {
	return clock{fixed: !start.IsZero(), now: start}
}

// current reports the current instant.
func (c *clock) current() time.Time {
	if c.fixed {
		return c.now
	}
	return time.Now()
}

func (c *clock) set(t time.Time) {
	c.fixed = true
	c.now = t
}

func (c *clock) advance(d time.Duration) {
	c.set(c.current().Add(d))
}

// nextTS returns a new timestamp, at least a microsecond after the previous one.
func (c *clock) nextTS() string {
	micros := max(c.current().UnixMicro(), c.lastTS+1)
	c.lastTS = micros
	return formatTS(micros)
}

// unix is the current time in Unix seconds, as Slack's "created" and "event_time" fields.
func (c *clock) unix() int64 { return c.current().Unix() }

func formatTS(micros int64) string {
	return fmt.Sprintf("%d.%06d", micros/1e6, micros%1e6)
}

// parseTS reads a Slack timestamp as microseconds. Slack accepts fewer decimals ("1700000000"
// or "1700000000.5"), so parseTS does too.
func parseTS(ts string) (int64, bool) {
	secs, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || len(frac) > 6 {
		return 0, false
	}
	var f int64
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil {
			return 0, false
		}
	}
	return s*1e6 + f, true
}

// idSource hands out Slack-style object IDs: a type letter and a serial number, such as
// "C00000007" for a channel. Slack's IDs are opaque; only the first letter means something.
type idSource map[string]int

func (ids idSource) next(prefix string) string {
	ids[prefix]++
	return fmt.Sprintf("%s%08X", prefix, ids[prefix])
}

// randomHex returns n random bytes in hex, for token secrets and tickets.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// newUUID returns a random version 4 UUID, the format of Socket Mode envelope IDs.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
