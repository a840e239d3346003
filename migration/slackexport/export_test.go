package slackexport

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entry is one file of a ZIP built by a test.
type entry struct {
	name   string
	body   string
	method uint16 // zip.Deflate when zero
}

// zipEntries builds a ZIP of entries, in order, duplicates and all.
func zipEntries(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		method := e.method
		if method == 0 {
			method = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// minimalEntries is the smallest valid export: one channel, one user.
func minimalEntries() []entry {
	return []entry{
		{name: "channels.json", body: `[{"id":"C1","name":"general","members":["U1"]}]`},
		{name: "users.json", body: `[{"id":"U1","name":"alice"}]`},
	}
}

func newExport(t testing.TB, entries []entry, limits Limits) (*Export, error) {
	t.Helper()
	b := zipEntries(t, entries)
	return New(bytes.NewReader(b), int64(len(b)), limits)
}

func mustExport(t testing.TB, entries []entry, limits Limits) *Export {
	t.Helper()
	e, err := newExport(t, entries, limits)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// zipDir zips the fixture directory dir into a temporary file, with
// directory entries as Slack writes them, and returns the file's path.
func zipDir(t testing.TB, dir, prefix string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "export.zip")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		name := prefix + filepath.ToSlash(rel)
		if d.IsDir() {
			_, err := zw.Create(name + "/")
			return err
		}
		w, err := zw.Create(name)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// openFixture opens testdata/export as a ZIP.
func openFixture(t testing.TB) *Export {
	t.Helper()
	e, err := Open(zipDir(t, filepath.Join("testdata", "export"), ""), Limits{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestOpenFixture(t *testing.T) {
	t.Parallel()
	e := openFixture(t)

	var gotUsers []string
	for _, u := range e.Users() {
		gotUsers = append(gotUsers, u.ID)
	}
	if diff := cmp.Diff([]string{"U01ALICE", "U02BOB", "U03CAROL", "U04DAVE", "U05GITHUB"}, gotUsers); diff != "" {
		t.Errorf("Users (-want +got):\n%s", diff)
	}
	bot, ok := e.User("U05GITHUB")
	if !ok || !bot.IsBot || bot.Profile.BotID != "B01GITHUB" {
		t.Errorf("User(U05GITHUB) = %+v, %v; want a bot with bot_id B01GITHUB", bot, ok)
	}
	if _, ok := e.User("U99EXTERNAL"); ok {
		t.Error("User(U99EXTERNAL) found; it is not in users.json")
	}
	if e.Size() <= 0 {
		t.Errorf("Size = %d", e.Size())
	}
}

func TestOpenFile(t *testing.T) {
	t.Parallel()
	e := openFixture(t)
	r, err := e.OpenFile("__uploads/F01DOC/report.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "quarterly numbers\n" {
		t.Errorf("OpenFile content = %q, %v", b, err)
	}
	if _, err := e.OpenFile("nope.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile(nope.json) error = %v, want fs.ErrNotExist", err)
	}
}

func TestOpenRezippedInFolder(t *testing.T) {
	t.Parallel()
	e, err := Open(zipDir(t, filepath.Join("testdata", "export"), "Example Slack export Mar 1 2021 - Mar 6 2021/"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := len(e.Conversations()); got != 5 {
		t.Errorf("len(Conversations) = %d, want 5", got)
	}
	var n int
	if err := e.Messages(t.Context(), e.Channels()[0], func(Message) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Errorf("general has %d messages, want 10", n)
	}
}

func TestOpenNotAFile(t *testing.T) {
	t.Parallel()
	if _, err := Open(filepath.Join(t.TempDir(), "missing.zip"), Limits{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) error = %v, want fs.ErrNotExist", err)
	}
}

// bomb builds a minimal export plus entry name holding n zero bytes, which
// deflate compresses about 1000:1.
func bomb(t testing.TB, name string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range minimalEntries() {
		w, _ := zw.Create(e.name)
		io.WriteString(w, e.body)
	}
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	withEntries := func(extra ...entry) []byte { return zipEntries(t, append(minimalEntries(), extra...)) }
	tests := []struct {
		name     string
		zip      []byte
		limits   Limits
		want     error
		wantFile string
	}{
		{name: "not a ZIP", zip: []byte("this is not a zip archive at all"), want: ErrNotZip},
		{name: "empty file", zip: nil, want: ErrNotZip},
		{name: "truncated ZIP", zip: withEntries()[:40], want: ErrNotZip},
		{
			name: "no channels.json",
			zip:  zipEntries(t, []entry{{name: "users.json", body: `[]`}, {name: "general/2021-01-01.json", body: `[]`}}),
			want: ErrNoChannels,
		},
		{
			name: "channels.json only in a nested folder",
			zip:  zipEntries(t, []entry{{name: "a/b/channels.json", body: `[]`}, {name: "users.json", body: `[]`}}),
			want: ErrNoChannels,
		},
		{
			name: "no users.json",
			zip:  zipEntries(t, []entry{{name: "channels.json", body: `[]`}}),
			want: ErrNoUsers,
		},
		{name: "dot-dot entry", zip: withEntries(entry{name: "../evil.json", body: "[]"}), want: ErrUnsafePath, wantFile: "../evil.json"},
		{name: "dot-dot inside", zip: withEntries(entry{name: "general/../../evil.json", body: "[]"}), want: ErrUnsafePath, wantFile: "general/../../evil.json"},
		{name: "absolute path", zip: withEntries(entry{name: "/etc/passwd", body: "x"}), want: ErrUnsafePath, wantFile: "/etc/passwd"},
		{name: "backslash", zip: withEntries(entry{name: `..\evil.json`, body: "x"}), want: ErrUnsafePath},
		{name: "drive letter", zip: withEntries(entry{name: "C:/Windows/evil.json", body: "x"}), want: ErrUnsafePath},
		{name: "NUL byte", zip: withEntries(entry{name: "general/2021-01-01.json\x00.txt", body: "x"}), want: ErrUnsafePath},
		{name: "dot segment", zip: withEntries(entry{name: "general/./2021-01-01.json", body: "[]"}), want: ErrUnsafePath},
		{name: "empty segment", zip: withEntries(entry{name: "general//2021-01-01.json", body: "[]"}), want: ErrUnsafePath},
		{
			name:     "duplicate entry",
			zip:      withEntries(entry{name: "channels.json", body: `[{"id":"C2","name":"evil"}]`}),
			want:     ErrDuplicateEntry,
			wantFile: "channels.json",
		},
		{
			name:     "compression bomb",
			zip:      bomb(t, "general/2021-01-01.json", 100<<20),
			want:     ErrCompressionRatio,
			wantFile: "general/2021-01-01.json",
		},
		{
			name:     "entry over the size limit",
			zip:      withEntries(entry{name: "general/2021-01-01.json", body: "[" + strings.Repeat(" ", 5000) + "]", method: zip.Store}),
			limits:   Limits{MaxEntrySize: 4096},
			want:     ErrTooLarge,
			wantFile: "general/2021-01-01.json",
		},
		{
			name:   "archive over the total limit",
			zip:    withEntries(entry{name: "a.json", body: strings.Repeat("x", 3000)}, entry{name: "b.json", body: strings.Repeat("x", 3000)}),
			limits: Limits{MaxTotalSize: 5000},
			want:   ErrTooLarge,
		},
		{
			name:   "too many entries",
			zip:    withEntries(entry{name: "a.json"}, entry{name: "b.json"}),
			limits: Limits{MaxEntries: 3},
			want:   ErrTooLarge,
		},
		{
			name:     "unsupported compression",
			zip:      rawEntry(t, &zip.FileHeader{Name: "general/2021-01-01.json", Method: 12}, "BZh9"),
			want:     ErrUnsupported,
			wantFile: "general/2021-01-01.json",
		},
		{
			name:     "encrypted entry",
			zip:      rawEntry(t, &zip.FileHeader{Name: "general/2021-01-01.json", Method: zip.Store, Flags: 0x1}, "secret"),
			want:     ErrUnsupported,
			wantFile: "general/2021-01-01.json",
		},
		{
			name:     "malformed channels.json",
			zip:      zipEntries(t, []entry{{name: "channels.json", body: "[\n    {\"id\": \"C1\", \"name\": \"general\"},\n    {\"id\": \"C2\" \"name\": \"x\"}\n]"}, {name: "users.json", body: "[]"}}),
			want:     ErrMalformed,
			wantFile: "channels.json",
		},
		{
			name:     "channels.json is an object",
			zip:      zipEntries(t, []entry{{name: "channels.json", body: `{"channels": []}`}, {name: "users.json", body: "[]"}}),
			want:     ErrMalformed,
			wantFile: "channels.json",
		},
		{
			name:     "channels.json is empty",
			zip:      zipEntries(t, []entry{{name: "channels.json"}, {name: "users.json", body: "[]"}}),
			want:     ErrMalformed,
			wantFile: "channels.json",
		},
		{
			name:     "trailing data after users",
			zip:      zipEntries(t, []entry{{name: "channels.json", body: "[]"}, {name: "users.json", body: `[] []`}}),
			want:     ErrMalformed,
			wantFile: "users.json",
		},
		{
			name:     "user without id",
			zip:      zipEntries(t, []entry{{name: "channels.json", body: "[]"}, {name: "users.json", body: `[{"name":"ghost"}]`}}),
			want:     ErrMalformed,
			wantFile: "users.json",
		},
		{
			name:     "member field of the wrong type",
			zip:      zipEntries(t, []entry{{name: "channels.json", body: `[{"id":"C1","members":"U1"}]`}, {name: "users.json", body: "[]"}}),
			want:     ErrMalformed,
			wantFile: "channels.json",
		},
		{
			name:     "metadata element over the message limit",
			zip:      zipEntries(t, []entry{{name: "channels.json", body: `[{"id":"C1","purpose":{"value":"` + strings.Repeat("x", 200_000) + `"}}]`}, {name: "users.json", body: "[]"}}),
			limits:   Limits{MaxMessageSize: 1000},
			want:     ErrTooLarge,
			wantFile: "channels.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := New(bytes.NewReader(tt.zip), int64(len(tt.zip)), tt.limits)
			t.Log(err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("New error = %v, want %v", err, tt.want)
			}
			if e != nil {
				t.Error("New returned an Export with its error")
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FormatError", err)
			}
			if tt.wantFile != "" && fe.File != tt.wantFile {
				t.Errorf("FormatError.File = %q, want %q", fe.File, tt.wantFile)
			}
		})
	}
}

// rawEntry builds a minimal export plus one entry written raw with header fh,
// which lets a test set any method or flag.
func rawEntry(t testing.TB, fh *zip.FileHeader, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range minimalEntries() {
		w, _ := zw.Create(e.name)
		io.WriteString(w, e.body)
	}
	fh.CompressedSize64 = uint64(len(body))
	fh.UncompressedSize64 = uint64(len(body))
	w, err := zw.CreateRaw(fh)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, body)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMalformedMetadataPosition(t *testing.T) {
	t.Parallel()
	body := "[\n    {\"id\": \"C1\", \"name\": \"general\"},\n    {\"id\": \"C2\" \"name\": \"x\"}\n]"
	_, err := newExport(t, []entry{{name: "channels.json", body: body}, {name: "users.json", body: "[]"}}, Limits{})
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v, want a *FormatError", err)
	}
	if fe.Line != 3 {
		t.Errorf("Line = %d, want 3", fe.Line)
	}
	if want := int64(strings.Index(body, `"name": "x"`)); fe.Offset < want-2 || fe.Offset > want+1 {
		t.Errorf("Offset = %d, want about %d", fe.Offset, want)
	}
	for _, want := range []string{"channels.json", "line 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestLyingHeader checks that an entry declaring fewer bytes than it holds
// is caught while reading, however it passed the up-front checks.
func TestLyingHeader(t *testing.T) {
	t.Parallel()
	const name = "general/2021-01-01.json"
	// 20 MiB of whitespace inside a valid array: compresses ~1000:1.
	b := zipEntries(t, append(minimalEntries(), entry{name: name, body: "[" + strings.Repeat(" ", 20<<20) + "]"}))
	// Declare 1 MiB, which exempts the entry from the ratio check.
	b = patchUncompressedSize(t, b, name, 1<<20)

	e, err := New(bytes.NewReader(b), int64(len(b)), Limits{})
	if err != nil {
		t.Fatalf("New: %v (the header is plausible, so it must pass)", err)
	}
	err = e.Messages(t.Context(), e.Channels()[0], func(Message) error { return nil })
	t.Log(err)
	if !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("Messages error = %v, want ErrSizeMismatch", err)
	}
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != name {
		t.Errorf("error %v does not name %s", err, name)
	}
}

// patchUncompressedSize rewrites the uncompressed size that the central
// directory declares for entry name.
func patchUncompressedSize(t testing.TB, b []byte, name string, size uint32) []byte {
	t.Helper()
	b = bytes.Clone(b)
	sig := []byte{'P', 'K', 1, 2}
	for i := 0; ; {
		j := bytes.Index(b[i:], sig)
		if j < 0 {
			t.Fatalf("no central directory header for %s", name)
		}
		h := b[i+j:]
		nameLen := int(binary.LittleEndian.Uint16(h[28:]))
		if string(h[46:46+nameLen]) == name {
			binary.LittleEndian.PutUint32(h[24:], size)
			return b
		}
		i += j + 4
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{
		"channels.json", "general/", "general/2021-03-01.json", "mpdm-alice--bob--carol-1/2021-03-06.json",
		"__uploads/F01/report (final).pdf", "日本語/2021-01-01.json", "..hidden/x.json", "a/b..c",
	} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{
		"", "/x", "//server/share/x", "../x", "a/../../x", "a/..", "..", ".", "./x", "a//b", `a\b`, "c:/x", "C:x", "a\x00b",
	} {
		if err := checkName(bad); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("checkName(%q) = %v, want ErrUnsafePath", bad, err)
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff(DefaultLimits(), Limits{}.withDefaults()); diff != "" {
		t.Errorf("Limits{}.withDefaults() (-want +got):\n%s", diff)
	}
	custom := Limits{MaxRatio: 50}.withDefaults()
	if custom.MaxRatio != 50 || custom.MaxEntrySize != DefaultLimits().MaxEntrySize {
		t.Errorf("withDefaults overrode a set field or missed a zero one: %+v", custom)
	}
}
