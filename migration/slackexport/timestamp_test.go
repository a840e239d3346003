package slackexport

import (
	"testing"
	"time"
)

func TestTS(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ts    TS
		valid bool
		time  time.Time
	}{
		{"1614556800.000100", true, time.Unix(1614556800, 100_000).UTC()},
		{"1614556800", true, time.Unix(1614556800, 0).UTC()},
		{"1614556800.5", true, time.Unix(1614556800, 500_000_000).UTC()},
		{"", false, time.Time{}},
		{".000100", false, time.Time{}},
		{"1614556800.", true, time.Unix(1614556800, 0).UTC()},
		{"-1614556800.000100", false, time.Time{}},
		{"1614556800.0001000000", false, time.Time{}},
		{"16145568OO.000100", false, time.Time{}},
		{"1e9", false, time.Time{}},
	} {
		if got := tt.ts.Valid(); got != tt.valid {
			t.Errorf("TS(%q).Valid() = %v, want %v", tt.ts, got, tt.valid)
		}
		if got := tt.ts.Time(); !got.Equal(tt.time) {
			t.Errorf("TS(%q).Time() = %v, want %v", tt.ts, got, tt.time)
		}
	}
}

func TestTSCompare(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b TS
		want int
	}{
		{"1614556800.000100", "1614556800.000100", 0},
		{"1614556800.000100", "1614556800.000200", -1},
		{"1614556801.000000", "1614556800.999999", 1},
		{"999999999.000000", "1000000000.000000", -1}, // not a string comparison
		{"1614556800.5", "1614556800.400000", 1},
		{"1614556800", "1614556800.000000", 0},
		{"bad", "1614556800.000000", -1},
		{"1614556800.000000", "bad", 1},
	} {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("TS(%q).Compare(%q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
