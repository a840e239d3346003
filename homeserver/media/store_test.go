package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiskStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("some content")
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	hash, size, err := s.Put(ctx, bytes.NewReader(data))
	if err != nil || hash != want || size != int64(len(data)) {
		t.Fatalf("Put = %s, %d, %v; want %s, %d", hash, size, err, want, len(data))
	}
	if _, err := os.Stat(filepath.Join(dir, want[:2], want[2:4], want)); err != nil {
		t.Errorf("blob not at its content-addressed path: %v", err)
	}
	// The same content again keeps one copy.
	if h2, _, err := s.Put(ctx, bytes.NewReader(data)); err != nil || h2 != hash {
		t.Fatalf("second Put = %s, %v", h2, err)
	}
	if n := countFiles(t, dir); n != 1 {
		t.Errorf("%d files stored, want 1", n)
	}

	f, err := s.Open(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	f.Seek(5, io.SeekStart)
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != "content" {
		t.Errorf("read after seek: %q", got)
	}

	if err := s.Delete(ctx, hash); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, hash); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if _, err := s.Open(ctx, hash); !errors.Is(err, ErrBlobNotFound) {
		t.Errorf("Open after Delete: %v, want ErrBlobNotFound", err)
	}
	for _, bad := range []string{"", "../../etc/passwd", strings.Repeat("G", 64), strings.ToUpper(want)} {
		if _, err := s.Open(ctx, bad); !errors.Is(err, ErrBlobNotFound) {
			t.Errorf("Open(%q) = %v, want ErrBlobNotFound", bad, err)
		}
	}
}

// failingReader returns some bytes, then an error.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		r.n--
		return copy(p, "partial"), nil
	}
	return 0, errors.New("connection reset")
}

func TestDiskStoreFailedPutLeavesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := NewDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(context.Background(), &failingReader{n: 3}); err == nil {
		t.Fatal("Put of a failing reader succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Put(ctx, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %v", err)
	}
	if n := countFiles(t, dir); n != 0 {
		t.Errorf("%d files left behind", n)
	}
}

// countFiles counts the files under dir, temporary ones included.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	return n
}
