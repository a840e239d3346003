package slackexport

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeDayFile feeds arbitrary bytes to the day-file decoder. It must
// never panic; it must either decode messages whose positions point at their
// bytes, or fail with a positioned *FormatError of this package.
func FuzzDecodeDayFile(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "export", "*", "*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `[]`, `[`, `]`, `{}`, `null`, `[null]`, `[1,2]`, `[{}]`, `[] []`, `[{"ts":"1.2"}]x`,
		`[{"ts":"1614556800.000100","thread_ts":"1614556800.000100","reply_count":1}]`,
		`[{"ts":"2.0"},{"ts":"1.0"}]`,
		`[{"ts":"1614556800.000100","files":[{"id":"F1","url_private":"https://x/?t=xoxe-1"}],"reactions":[{"name":"+1","users":["U1"],"count":1}]}]`,
		`[{"ts":"1614556800.000100","edited":{"user":"U1","ts":"1614556801.000000"},"user_profile":{"name":"a"}}]`,
		`[{"ts":"1614556800.000100","text":"\ud800"}]`,
		`[{"ts":1614556800.000100}]`,
		"\xef\xbb\xbf[]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var prevEnd int64
		err := decodeArray(bytes.NewReader(data), 1<<20, func(raw json.RawMessage, off int64) error {
			if off < prevEnd || off+int64(len(raw)) > int64(len(data)) || !bytes.Equal(data[off:off+int64(len(raw))], raw) {
				t.Fatalf("element at %d (%q) does not match the input", off, raw)
			}
			prevEnd = off + int64(len(raw))
			m, err := decodeMessage(raw, off)
			if err != nil {
				return err
			}
			if !m.TS.Valid() || (m.ThreadTS != "" && !m.ThreadTS.Valid()) || !bytes.Equal(m.Raw, raw) {
				t.Fatalf("decodeMessage accepted %q as %+v", raw, m)
			}
			return nil
		})
		if err == nil {
			return
		}
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v (%T) is not a *FormatError", err, err)
		}
		if fe.Offset < 0 || fe.Offset > int64(len(data)) {
			t.Fatalf("error offset %d outside the input of %d bytes: %v", fe.Offset, len(data), err)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadTimestamp) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v wraps no sentinel of the package", err)
		}
		if strings.Contains(err.Error(), "rawConversation") {
			t.Fatalf("error %v leaks an internal type", err)
		}
	})
}
