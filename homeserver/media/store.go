package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrBlobNotFound is returned by Store.Open for content the store does not hold.
var ErrBlobNotFound = errors.New("media blob not found")

// Store keeps media bytes by content: each blob is named by the lower-case hex SHA-256 of its
// bytes, so identical uploads share one copy. The local disk implements it (DiskStore); an
// S3-compatible bucket can implement it later with the same contract.
type Store interface {
	// Put streams r into the store and returns the content's hash and size. It never holds the
	// whole content in memory. On error nothing new is kept. Putting content the store already
	// holds is not an error and keeps one copy. It blocks until the content is durable.
	Put(ctx context.Context, r io.Reader) (hash string, size int64, err error)
	// Open returns the content named by hash, or an error wrapping ErrBlobNotFound. The caller
	// closes it.
	Open(ctx context.Context, hash string) (io.ReadSeekCloser, error)
	// Delete removes the content named by hash; deleting what is absent is not an error.
	Delete(ctx context.Context, hash string) error
}

// DiskStore is a Store in a local directory: <root>/ab/cd/<sha256>, where ab and cd are the
// hash's first two byte pairs, so that no directory grows too large. Uploads stream into
// <root>/tmp and are renamed into place, so a reader never sees a partial file.
type DiskStore struct {
	root string
}

// NewDiskStore returns a store rooted at dir, creating it if needed.
func NewDiskStore(dir string) (*DiskStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("create media store: %w", err)
	}
	return &DiskStore{root: dir}, nil
}

// Put implements Store.
func (s *DiskStore) Put(ctx context.Context, r io.Reader) (hash string, size int64, err error) {
	tmp, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "upload-*")
	if err != nil {
		return "", 0, fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), contextReader{ctx, r})
	if err != nil {
		return "", 0, fmt.Errorf("store upload: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("sync upload: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("close upload: %w", err)
	}
	hash = hex.EncodeToString(h.Sum(nil))
	dest := s.path(hash)
	if err = os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return "", 0, fmt.Errorf("create media dir: %w", err)
	}
	// Renaming over an existing blob replaces it with identical bytes, atomically.
	if err = os.Rename(tmp.Name(), dest); err != nil {
		return "", 0, fmt.Errorf("move upload into place: %w", err)
	}
	return hash, size, nil
}

// Open implements Store.
func (s *DiskStore) Open(ctx context.Context, hash string) (io.ReadSeekCloser, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("open %q: %w", hash, ErrBlobNotFound)
	}
	f, err := os.Open(s.path(hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", hash, ErrBlobNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open media blob: %w", err)
	}
	return f, nil
}

// Delete implements Store.
func (s *DiskStore) Delete(ctx context.Context, hash string) error {
	if !validHash(hash) {
		return nil
	}
	if err := os.Remove(s.path(hash)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete media blob: %w", err)
	}
	return nil
}

func (s *DiskStore) path(hash string) string {
	return filepath.Join(s.root, hash[0:2], hash[2:4], hash)
}

// validHash reports whether hash is a lower-case hex SHA-256, so that it can name a file safely.
func validHash(hash string) bool {
	if len(hash) != sha256.Size*2 {
		return false
	}
	for _, c := range []byte(hash) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// contextReader stops reading once ctx is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
