package slackexport

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// writeLargeExport writes an export whose #general holds n messages spread
// over day files of two sizes: some over inMemoryDayFile (streamed in two
// passes) and some under it (decoded whole). It returns the ZIP's path.
func writeLargeExport(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "large.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	for _, e := range dayEntries() {
		w, _ := zw.Create(e.name)
		io.WriteString(w, e.body)
	}
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; n > 0; i++ {
		size := 10_000 // about 1.2 MB: streamed
		if i%2 == 1 {
			size = 2_500 // decoded whole
		}
		size = min(size, n)
		n -= size
		w, err := zw.Create("general/" + day.Format(time.DateOnly) + ".json")
		if err != nil {
			t.Fatal(err)
		}
		bw := bufio.NewWriter(w)
		bw.WriteString("[\n")
		for j := range size {
			if j > 0 {
				bw.WriteString(",\n")
			}
			// Sub-second steps keep every ts inside its day.
			fmt.Fprintf(bw, `    {"type":"message","user":"U1","text":"message %d of the day, padded to make the file larger","ts":"%d.%06d"}`, j, day.Unix()+int64(j/100), j%100*1000)
		}
		bw.WriteString("\n]")
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		day = day.AddDate(0, 0, 1)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMessagesBoundedMemory streams 200,000 messages and checks that the
// live heap stays far below the export's size: nothing is held whole.
func TestMessagesBoundedMemory(t *testing.T) {
	// Not parallel: it measures the heap of the whole process.
	n := 200_000
	if raceEnabled {
		n = 40_000 // the race detector makes decoding ~10x slower
	}
	path := writeLargeExport(t, n)
	e, err := Open(path, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	base := liveHeap()
	var peak uint64
	var got int
	var prev TS
	err = e.Messages(t.Context(), e.Channels()[0], func(m Message) error {
		if prev != "" && m.TS.Compare(prev) <= 0 {
			return fmt.Errorf("ts %s after %s", m.TS, prev)
		}
		prev = m.TS
		got++
		if got%10_000 == 0 {
			peak = max(peak, liveHeap())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("streamed %d messages, want %d", got, n)
	}
	grew := int64(peak) - int64(base)
	t.Logf("export: %d bytes uncompressed; live heap grew by at most %d bytes", e.Size(), grew)
	if limit := min(e.Size()/4, 4<<20); grew > limit {
		t.Errorf("live heap grew by %d bytes while streaming, want under %d", grew, limit)
	}
}
