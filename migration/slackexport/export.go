package slackexport

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// Names of the metadata entries at the export's root.
const (
	channelsFile = "channels.json"
	groupsFile   = "groups.json"
	dmsFile      = "dms.json"
	mpimsFile    = "mpims.json"
	usersFile    = "users.json"
	orgUsersFile = "org_users.json"
)

// Export is an open Slack export. Its metadata (users and conversations) is
// decoded by Open and New; messages are streamed on demand by Messages.
//
// An Export is safe for concurrent use: several goroutines may stream
// different conversations at once.
type Export struct {
	zr     *zip.Reader
	closer io.Closer
	limits Limits
	prefix string // "" or the single top-level folder holding the export

	entries map[string]*zip.File // files by name relative to prefix
	days    map[string][]dayFile // day files by folder, in date order
	size    int64                // total declared uncompressed size

	users    []User
	userByID map[string]int

	convs        []Conversation
	convByID     map[string]int
	folderOwners map[string]int // conversations claiming each folder

	unknown unknownUsers
}

// dayFile is one YYYY-MM-DD.json entry of a conversation folder.
type dayFile struct {
	date time.Time
	f    *zip.File
}

// Open opens the export at path. It reads the ZIP's central directory (not
// its entries), validates every entry header against limits, and decodes the
// users and conversations. Close releases the file.
func Open(path string, limits Limits) (*Export, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	e, err := New(f, fi.Size(), limits)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	e.closer = f
	return e, nil
}

// New reads an export from r, which holds size bytes of ZIP. It validates the
// archive as Open does. r must stay readable until the Export is no longer used.
func New(r io.ReaderAt, size int64, limits Limits) (*Export, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// ErrInsecurePath comes with a usable reader (GODEBUG=zipinsecurepath=0);
		// checkName below reports the entry by name.
		if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrAlgorithm) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &FormatError{Offset: -1, Err: fmt.Errorf("%w: %w", ErrNotZip, err)}
		}
		return nil, err
	}
	e := &Export{
		zr:      zr,
		limits:  limits.withDefaults(),
		entries: make(map[string]*zip.File),
		days:    make(map[string][]dayFile),
	}
	if err := e.index(); err != nil {
		return nil, err
	}
	if err := e.loadUsers(); err != nil {
		return nil, err
	}
	if err := e.loadConversations(); err != nil {
		return nil, err
	}
	return e, nil
}

// Close closes the file opened by Open. It is a no-op for an Export made by New.
func (e *Export) Close() error {
	if e.closer == nil {
		return nil
	}
	return e.closer.Close()
}

// Size returns the total declared uncompressed size of the archive's entries.
func (e *Export) Size() int64 { return e.size }

// OpenFile opens the entry name (relative to the export's root, e.g.
// "canvases.json" or "__uploads/F0123/photo.png") for reading under the
// export's limits. It returns an error wrapping fs.ErrNotExist when there is
// no such entry.
func (e *Export) OpenFile(name string) (io.ReadCloser, error) {
	f, ok := e.entries[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return e.openEntry(f)
}

// index validates every entry header, finds the export's root and sorts the
// entries into metadata files and per-conversation day files.
func (e *Export) index() error {
	files := e.zr.File
	if len(files) > e.limits.MaxEntries {
		return &FormatError{Offset: -1, Err: fmt.Errorf("%w: %d entries, limit %d", ErrTooLarge, len(files), e.limits.MaxEntries)}
	}
	seen := make(map[string]struct{}, len(files))
	var total uint64
	for _, f := range files {
		if err := checkName(f.Name); err != nil {
			return entryError(f.Name, err)
		}
		key := strings.TrimSuffix(f.Name, "/")
		if _, dup := seen[key]; dup {
			return entryError(f.Name, ErrDuplicateEntry)
		}
		seen[key] = struct{}{}
		if strings.HasSuffix(f.Name, "/") {
			continue // a directory
		}
		if err := e.limits.checkEntry(f); err != nil {
			return entryError(f.Name, err)
		}
		total += f.UncompressedSize64
		if total > uint64(e.limits.MaxTotalSize) {
			return &FormatError{Offset: -1, Err: fmt.Errorf("%w: entries declare more than %d bytes in total", ErrTooLarge, e.limits.MaxTotalSize)}
		}
	}
	e.size = int64(total)

	prefix, ok := findRoot(seen)
	if !ok {
		return &FormatError{Offset: -1, Err: ErrNoChannels}
	}
	e.prefix = prefix
	for _, f := range files {
		if strings.HasSuffix(f.Name, "/") || !strings.HasPrefix(f.Name, prefix) {
			continue
		}
		rel := f.Name[len(prefix):]
		e.entries[rel] = f
		folder, base, nested := strings.Cut(rel, "/")
		if !nested || strings.Contains(base, "/") {
			continue
		}
		if date, ok := parseDayFileName(base); ok {
			e.days[folder] = append(e.days[folder], dayFile{date: date, f: f})
		}
	}
	for _, days := range e.days {
		slices.SortFunc(days, func(a, b dayFile) int { return a.date.Compare(b.date) })
	}
	return nil
}

// findRoot returns the prefix under which channels.json sits: "" at the
// archive's root, or "name/" when the export was re-zipped inside one folder.
func findRoot(names map[string]struct{}) (string, bool) {
	if _, ok := names[channelsFile]; ok {
		return "", true
	}
	var found []string
	for name := range names {
		dir, base, ok := strings.Cut(name, "/")
		if ok && base == channelsFile && dir != "__MACOSX" {
			found = append(found, dir+"/")
		}
	}
	if len(found) != 1 {
		return "", false
	}
	return found[0], true
}

// parseDayFileName parses "YYYY-MM-DD.json", accepting only the canonical form.
func parseDayFileName(base string) (time.Time, bool) {
	day, ok := strings.CutSuffix(base, ".json")
	if !ok || len(day) != len(time.DateOnly) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// checkName rejects entry names that could escape the archive if anyone
// ever extracted it, and that no Slack export contains. The reader itself
// never writes entries to disk; it rejects them because an archive holding
// them is not a genuine export and may be aimed at other tools.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrUnsafePath)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: NUL byte in name", ErrUnsafePath)
	case strings.IndexByte(name, '\\') >= 0:
		return fmt.Errorf("%w: backslash in name", ErrUnsafePath)
	case name[0] == '/':
		return fmt.Errorf("%w: absolute path", ErrUnsafePath)
	case len(name) >= 2 && name[1] == ':' && isASCIILetter(name[0]):
		return fmt.Errorf("%w: drive letter", ErrUnsafePath)
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(name, "/"), "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: empty path segment", ErrUnsafePath)
		case ".", "..":
			return fmt.Errorf("%w: %q segment", ErrUnsafePath, seg)
		}
	}
	return nil
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
