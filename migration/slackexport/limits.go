package slackexport

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
)

// Limits bound what an export may make the reader do. A zero field takes its
// default from [DefaultLimits], so Limits{} is a working value.
type Limits struct {
	// MaxTotalSize caps the sum of the entries' declared uncompressed sizes.
	MaxTotalSize int64
	// MaxEntrySize caps one entry's uncompressed size, declared or actual.
	MaxEntrySize int64
	// MaxRatio caps an entry's declared uncompressed/compressed ratio. Entries
	// of up to 1 MiB are exempt: small JSON files compress unevenly and
	// cannot make a bomb.
	MaxRatio int64
	// MaxEntries caps the number of entries in the archive.
	MaxEntries int
	// MaxMessageSize caps one element of a JSON array (one message, user or
	// conversation), which the decoder must hold whole.
	MaxMessageSize int64
	// MaxSortBuffer caps the size of a day file that is not sorted by ts and
	// must therefore be held in memory to be sorted.
	MaxSortBuffer int64
}

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30

	// ratioExemptSize is the uncompressed size up to which MaxRatio is not checked.
	ratioExemptSize = 1 * mib
)

// DefaultLimits returns the limits used for zero fields of [Limits]. They fit
// the largest real exports we know of (tens of GiB, single day files of a few
// MiB) with a wide margin, and stop a compression bomb before it is inflated.
func DefaultLimits() Limits {
	return Limits{
		MaxTotalSize:   50 * gib,
		MaxEntrySize:   2 * gib,
		MaxRatio:       200,
		MaxEntries:     2_000_000,
		MaxMessageSize: 64 * mib,
		MaxSortBuffer:  256 * mib,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = d.MaxTotalSize
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = d.MaxEntrySize
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = d.MaxMessageSize
	}
	if l.MaxSortBuffer <= 0 {
		l.MaxSortBuffer = d.MaxSortBuffer
	}
	return l
}

// checkEntry applies the size, ratio and method limits to one entry's header.
func (l Limits) checkEntry(f *zip.File) error {
	size := f.UncompressedSize64
	if size > uint64(l.MaxEntrySize) {
		return fmt.Errorf("%w: declares %d bytes, limit %d", ErrTooLarge, size, l.MaxEntrySize)
	}
	if f.Flags&0x1 != 0 {
		return fmt.Errorf("%w: encrypted", ErrUnsupported)
	}
	switch f.Method {
	case zip.Store, zip.Deflate:
	default:
		return fmt.Errorf("%w: compression method %d", ErrUnsupported, f.Method)
	}
	if size > ratioExemptSize {
		comp := f.CompressedSize64
		if comp == 0 || size/comp >= uint64(l.MaxRatio) {
			return fmt.Errorf("%w: %d bytes from %d compressed, limit %d:1", ErrCompressionRatio, size, comp, l.MaxRatio)
		}
	}
	return nil
}

// entryReader reads one entry and fails as soon as it yields more bytes than
// the header declares or than MaxEntrySize, whatever the header says. It also
// caps the bytes read ahead of a mark, which bounds what a json.Decoder may
// buffer for one array element.
type entryReader struct {
	rc       io.ReadCloser
	name     string
	declared int64
	max      int64
	n        int64 // bytes read so far

	// markMax, when positive, caps n - mark. The decoder sets mark to the
	// start of the element it is about to decode.
	mark    int64
	markMax int64
}

func (r *entryReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.n += int64(n)
	switch {
	case errors.Is(err, zip.ErrFormat):
		// archive/zip reports an entry inflating past its declared size as
		// ErrFormat (it never reports anything else once the entry is open).
		return n, fmt.Errorf("%w: it declares %d bytes and inflates to more", ErrSizeMismatch, r.declared)
	case r.n > r.declared:
		return n, fmt.Errorf("%w: it declares %d bytes and inflates to more", ErrSizeMismatch, r.declared)
	case r.n > r.max:
		return n, fmt.Errorf("%w: entry limit %d bytes", ErrTooLarge, r.max)
	case r.markMax > 0 && r.n-r.mark > 2*r.markMax+64*kib:
		// The slack covers the decoder's read-ahead, which can be as large as
		// its buffer; decodeArray checks each element's exact size after it.
		return n, fmt.Errorf("%w: one element over %d bytes", ErrTooLarge, r.markMax)
	}
	return n, err
}

func (r *entryReader) Close() error { return r.rc.Close() }

// openEntry opens f through an entryReader.
func (e *Export) openEntry(f *zip.File) (*entryReader, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, entryError(f.Name, fmt.Errorf("%w: %w", ErrUnsupported, err))
	}
	return &entryReader{
		rc:       rc,
		name:     f.Name,
		declared: int64(f.UncompressedSize64),
		max:      e.limits.MaxEntrySize,
	}, nil
}
