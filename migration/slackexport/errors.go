package slackexport

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// The sentinels below classify what is wrong with an export. They arrive
// wrapped in a [*FormatError] (or, for an archive that is not a ZIP at all,
// wrapped by Open with the path), so test them with errors.Is.
var (
	// ErrNotZip means the file is not a readable ZIP archive.
	ErrNotZip = errors.New("not a ZIP archive")
	// ErrNoChannels means the archive has no channels.json, so it is not a Slack export.
	ErrNoChannels = errors.New("no channels.json: not a Slack export")
	// ErrNoUsers means the archive has neither users.json nor org_users.json.
	ErrNoUsers = errors.New("no users.json or org_users.json")
	// ErrUnsafePath means an entry name could escape the archive: an absolute
	// path, a ".." segment, a backslash, a drive letter or a NUL byte.
	ErrUnsafePath = errors.New("entry name escapes the archive")
	// ErrDuplicateEntry means two entries have the same name.
	ErrDuplicateEntry = errors.New("duplicate entry")
	// ErrTooLarge means an entry, a message, the entry count or the archive's
	// total uncompressed size is over its limit.
	ErrTooLarge = errors.New("over the size limit")
	// ErrCompressionRatio means an entry declares a compression ratio over
	// Limits.MaxRatio: a compression bomb.
	ErrCompressionRatio = errors.New("compression ratio over the limit")
	// ErrSizeMismatch means an entry inflated to more bytes than its header
	// declares: the header lies.
	ErrSizeMismatch = errors.New("entry is larger than its header declares")
	// ErrUnsupported means an entry is encrypted or uses a compression method
	// other than store or deflate.
	ErrUnsupported = errors.New("unsupported entry")
	// ErrCorrupt means an entry's compressed data or checksum is damaged.
	ErrCorrupt = errors.New("corrupt entry")
	// ErrMalformed means an entry is not the JSON the format requires.
	ErrMalformed = errors.New("malformed JSON")
	// ErrBadTimestamp means a message has a missing or unparsable "ts".
	ErrBadTimestamp = errors.New("missing or invalid message timestamp")
	// ErrUnsorted means messages are out of ts order in a way the reader
	// cannot repair: across day files, or inside a day file too large to sort
	// in memory.
	ErrUnsorted = errors.New("messages out of timestamp order")
	// ErrAmbiguousFolder means two conversations map to the same folder, so
	// its messages cannot be attributed.
	ErrAmbiguousFolder = errors.New("several conversations share one folder")
	// ErrUnknownConversation means a Conversation that this export does not list.
	ErrUnknownConversation = errors.New("conversation not in this export")
)

// FormatError reports a problem with one entry of an export.
type FormatError struct {
	// File is the entry's name inside the archive, empty for a problem with
	// the archive as a whole.
	File string
	// Offset is the byte offset inside the (uncompressed) entry where the
	// problem was found, or -1 when no position applies.
	Offset int64
	// Line is the 1-based line of Offset, or 0 when unknown.
	Line int
	// Err is the cause. It wraps one of the Err sentinels of this package.
	Err error
}

func (e *FormatError) Error() string {
	file := e.File
	if strings.ContainsFunc(file, func(r rune) bool { return !unicode.IsPrint(r) }) {
		file = strconv.Quote(file) // a hostile name must not garble a terminal
	}
	switch {
	case file == "":
		return "slack export: " + e.Err.Error()
	case e.Offset < 0:
		return fmt.Sprintf("slack export: %s: %v", file, e.Err)
	case e.Line > 0:
		return fmt.Sprintf("slack export: %s: line %d (byte %d): %v", file, e.Line, e.Offset, e.Err)
	default:
		return fmt.Sprintf("slack export: %s: byte %d: %v", file, e.Offset, e.Err)
	}
}

func (e *FormatError) Unwrap() error { return e.Err }

// entryError builds a FormatError without a position.
func entryError(file string, err error) *FormatError {
	return &FormatError{File: file, Offset: -1, Err: err}
}
