package slackexport

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// collect streams conv and returns its messages.
func collect(t testing.TB, e *Export, conv Conversation) ([]Message, error) {
	t.Helper()
	var msgs []Message
	err := e.Messages(context.Background(), conv, func(m Message) error {
		msgs = append(msgs, m)
		return nil
	})
	return msgs, err
}

func tsList(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.TS))
	}
	return out
}

func TestMessagesFixture(t *testing.T) {
	t.Parallel()
	e := openFixture(t)
	general, _ := e.Conversation("C01GENERAL")
	msgs, err := collect(t, e, general)
	if err != nil {
		t.Fatal(err)
	}
	// 2021-03-02.json is deliberately out of order: the reply to the thread
	// of 03-01 (…643200) is listed after the bot message (…650000).
	want := []string{
		"1614556800.000100", // join
		"1614600000.000200", // thread root
		"1614600060.000300", // reply, same day
		"1614610000.000400", // file share
		"1614620000.000500", // edited
		"1614643200.000100", // reply, next day
		"1614650000.000200", // bot
		"1614660000.000300", // external user
		"1614670000.000400", // slackbot
		"1614729600.000500", // thread_broadcast, two days later
	}
	if diff := cmp.Diff(want, tsList(msgs)); diff != "" {
		t.Fatalf("general ts order (-want +got):\n%s", diff)
	}

	root := msgs[1]
	if !root.IsThreadRoot() || root.ReplyCount != 3 || root.LatestReply != "1614729600.000500" {
		t.Errorf("root = %+v, want a thread root with 3 replies", root)
	}
	if diff := cmp.Diff([]Reaction{{Name: "tada", Users: []string{"U02BOB", "U03CAROL"}, Count: 2}}, root.Reactions); diff != "" {
		t.Errorf("root reactions (-want +got):\n%s", diff)
	}
	if root.UserProfile == nil || root.UserProfile.DisplayName != "alice" {
		t.Errorf("root user_profile = %+v", root.UserProfile)
	}
	if !json.Valid(root.Blocks) || !bytes.Contains(root.Blocks, []byte("rich_text")) {
		t.Errorf("root blocks = %s", root.Blocks)
	}
	for _, i := range []int{2, 5} {
		if m := msgs[i]; !m.IsReply() || m.ThreadTS != root.TS || m.ParentUser != "U01ALICE" {
			t.Errorf("msgs[%d] = %+v, want a reply to %s", i, m, root.TS)
		}
	}
	if bc := msgs[9]; bc.Subtype != "thread_broadcast" || !bc.IsReply() {
		t.Errorf("broadcast = %+v", bc)
	}

	share := msgs[3]
	if len(share.Files) != 1 {
		t.Fatalf("file share has %d files", len(share.Files))
	}
	f := share.Files[0]
	if f.ID != "F01DOC" || f.Size != 18 || f.Mimetype != "text/plain" || !strings.Contains(f.URLPrivateDownload, "?t=xoxe-") {
		t.Errorf("file = %+v", f)
	}
	if got := RedactURL(f.URLPrivateDownload); strings.Contains(got, "xox") || !strings.HasSuffix(got, "/download/report.txt") {
		t.Errorf("RedactURL = %q", got)
	}

	if ed := msgs[4].Edited; ed == nil || ed.User != "U03CAROL" || ed.TS != "1614620100.000000" {
		t.Errorf("edited = %+v", ed)
	}
	if bot := msgs[6]; bot.Subtype != "bot_message" || bot.BotID != "B01GITHUB" || bot.Username != "github" || !bytes.Contains(bot.Attachments, []byte("#42")) {
		t.Errorf("bot message = %+v", bot)
	}

	// Raw is the element as exported, and File/Offset point at it.
	for _, m := range msgs {
		var back struct {
			TS string `json:"ts"`
		}
		if err := json.Unmarshal(m.Raw, &back); err != nil || back.TS != string(m.TS) {
			t.Errorf("Raw of %s = %s", m.TS, m.Raw)
		}
		if !strings.HasPrefix(m.File, "general/2021-03-0") || m.Offset <= 0 {
			t.Errorf("%s position = %s@%d", m.TS, m.File, m.Offset)
		}
	}

	mpim, _ := e.Conversation("G02MPIM")
	if msgs, err := collect(t, e, mpim); err != nil || len(msgs) != 1 || msgs[0].Files[0].Mode != "hidden_by_limit" {
		t.Errorf("mpim messages = %+v, %v", msgs, err)
	}
	dm, _ := e.Conversation("D01ALICEBOB")
	if msgs, err := collect(t, e, dm); err != nil || len(msgs) != 2 {
		t.Errorf("dm messages = %+v, %v", msgs, err)
	}
	private, _ := e.Conversation("G01SECRET")
	if msgs, err := collect(t, e, private); err != nil || len(msgs) != 1 {
		t.Errorf("private messages = %+v, %v", msgs, err)
	}
}

func TestUnknownUsers(t *testing.T) {
	t.Parallel()
	e := openFixture(t)
	if got := e.UnknownUsers(); len(got) != 0 {
		t.Errorf("UnknownUsers before streaming = %+v", got)
	}
	general, _ := e.Conversation("C01GENERAL")
	if _, err := collect(t, e, general); err != nil {
		t.Fatal(err)
	}
	want := []UnknownUser{
		{ID: "U98GHOST", References: 1, FirstSeen: "general/2021-03-02.json"},
		{
			ID: "U99EXTERNAL", References: 1, FirstSeen: "general/2021-03-02.json",
			Profile: &MessageUserProfile{
				Name: "eve", RealName: "Eve External", DisplayName: "eve", FirstName: "Eve",
				AvatarHash: "e99", Image72: "https://secure.gravatar.com/avatar/e.jpg?s=72", Team: "T99OTHER",
			},
		},
	}
	if diff := cmp.Diff(want, e.UnknownUsers()); diff != "" {
		t.Errorf("UnknownUsers (-want +got); USLACKBOT must not be listed:\n%s", diff)
	}
}

// dayEntries is a minimal export whose #general holds the given day files.
func dayEntries(days ...entry) []entry {
	out := []entry{
		{name: "channels.json", body: `[{"id":"C1","name":"general"}]`},
		{name: "users.json", body: `[{"id":"U1","name":"alice"}]`},
	}
	for _, d := range days {
		d.name = "general/" + d.name
		out = append(out, d)
	}
	return out
}

// msgJSON renders a message with the given ts, padded to about pad bytes.
func msgJSON(ts string, pad int) string {
	return fmt.Sprintf(`{"type":"message","user":"U1","ts":%q,"text":%q}`, ts, strings.Repeat("x", pad))
}

func dayBody(tss ...string) string {
	var parts []string
	for _, ts := range tss {
		parts = append(parts, msgJSON(ts, 10))
	}
	return "[\n" + strings.Join(parts, ",\n") + "\n]"
}

func TestMessagesBadDayFiles(t *testing.T) {
	t.Parallel()
	good := entry{name: "2021-01-01.json", body: dayBody("1609459200.000100", "1609459300.000100")}
	tests := []struct {
		name     string
		day      entry
		want     error
		wantLine int
	}{
		{
			name:     "syntax error in the third message",
			day:      entry{name: "2021-01-02.json", body: "[\n" + msgJSON("1609545600.000100", 1) + ",\n" + msgJSON("1609545601.000100", 1) + ",\n" + `{"type":"message","ts":"1609545602.000100",,}` + "\n]"},
			want:     ErrMalformed,
			wantLine: 4,
		},
		{name: "truncated", day: entry{name: "2021-01-02.json", body: "[\n" + msgJSON("1609545600.000100", 1) + ",\n{\"type\":"}, want: ErrMalformed},
		{name: "not an array", day: entry{name: "2021-01-02.json", body: `{"messages":[]}`}, want: ErrMalformed},
		{name: "missing ts", day: entry{name: "2021-01-02.json", body: "[\n" + `{"type":"message","text":"no ts"}` + "\n]"}, want: ErrBadTimestamp, wantLine: 2},
		{name: "bad ts", day: entry{name: "2021-01-02.json", body: `[{"type":"message","ts":"yesterday"}]`}, want: ErrBadTimestamp},
		{name: "bad thread_ts", day: entry{name: "2021-01-02.json", body: `[{"type":"message","ts":"1609545600.000100","thread_ts":"-1"}]`}, want: ErrBadTimestamp},
		{name: "null element", day: entry{name: "2021-01-02.json", body: `[null]`}, want: ErrBadTimestamp},
		{name: "wrong field type", day: entry{name: "2021-01-02.json", body: `[{"ts":"1609545600.000100","reply_count":"three"}]`}, want: ErrMalformed},
		{
			name: "earlier than the previous day file",
			day:  entry{name: "2021-01-02.json", body: dayBody("1609459250.000100")},
			want: ErrUnsorted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := mustExport(t, dayEntries(good, tt.day), Limits{})
			var got []string
			err := e.Messages(t.Context(), e.Channels()[0], func(m Message) error {
				got = append(got, m.File)
				return nil
			})
			t.Log(err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Messages error = %v, want %v", err, tt.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "general/"+tt.day.name || fe.Offset < 0 {
				t.Fatalf("error %#v does not name general/%s and a position", err, tt.day.name)
			}
			if tt.wantLine != 0 && fe.Line != tt.wantLine {
				t.Errorf("Line = %d, want %d", fe.Line, tt.wantLine)
			}
			// The good day is delivered whole; nothing of the bad one is.
			if diff := cmp.Diff([]string{"general/2021-01-01.json", "general/2021-01-01.json"}, got); diff != "" {
				t.Errorf("delivered messages (-want +got):\n%s", diff)
			}
		})
	}
}

// bigDay returns a day file over inMemoryDayFile holding n messages with
// increasing ts, in the order given by perm (nil for sorted).
func bigDay(n int, perm func(i int) int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		j := i
		if perm != nil {
			j = perm(i)
		}
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(msgJSON(fmt.Sprintf("1609459200.%06d", j), 400))
	}
	b.WriteString("]")
	return b.String()
}

func TestMessagesLargeDayFile(t *testing.T) {
	t.Parallel()
	const n = 4000 // about 1.8 MB, over inMemoryDayFile
	reversed := func(i int) int { return n - 1 - i }
	if len(bigDay(n, nil)) <= inMemoryDayFile {
		t.Fatal("test day file is not large enough to be streamed")
	}

	for _, tt := range []struct {
		name   string
		body   string
		limits Limits
		want   error
	}{
		{name: "sorted, streamed", body: bigDay(n, nil)},
		{name: "unsorted, sorted in memory", body: bigDay(n, reversed)},
		{name: "unsorted, over the sort buffer", body: bigDay(n, reversed), limits: Limits{MaxSortBuffer: 1 << 20}, want: ErrUnsorted},
		{name: "one message over the limit", body: bigDay(n, nil), limits: Limits{MaxMessageSize: 100}, want: ErrTooLarge},
		{name: "malformed at the end", body: strings.TrimSuffix(bigDay(n, nil), "]") + ",}]", want: ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := mustExport(t, dayEntries(entry{name: "2021-01-01.json", body: tt.body}), tt.limits)
			var got int
			var prev TS
			err := e.Messages(t.Context(), e.Channels()[0], func(m Message) error {
				if prev != "" && m.TS.Compare(prev) < 0 {
					t.Fatalf("%s after %s", m.TS, prev)
				}
				prev = m.TS
				got++
				return nil
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Messages error = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if got != 0 {
					t.Errorf("%d messages delivered from a day file that fails", got)
				}
				return
			}
			if got != n {
				t.Errorf("delivered %d messages, want %d", got, n)
			}
		})
	}
}

func TestMessagesStops(t *testing.T) {
	t.Parallel()
	e := mustExport(t, dayEntries(
		entry{name: "2021-01-01.json", body: dayBody("1609459200.000100", "1609459201.000100")},
		entry{name: "2021-01-02.json", body: dayBody("1609545600.000100")},
	), Limits{})
	general := e.Channels()[0]

	stop := errors.New("stop")
	var n int
	err := e.Messages(t.Context(), general, func(Message) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("Messages with failing fn = %v after %d messages, want stop after 1", err, n)
	}

	ctx, cancel := context.WithCancel(t.Context())
	n = 0
	err = e.Messages(ctx, general, func(Message) error { n++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("Messages with cancelled ctx = %v after %d messages, want context.Canceled after 1", err, n)
	}

	if err := e.Messages(t.Context(), Conversation{ID: "C404"}, func(Message) error { return nil }); !errors.Is(err, ErrUnknownConversation) {
		t.Errorf("Messages(unknown) = %v, want ErrUnknownConversation", err)
	}
}

func TestMessagesFolders(t *testing.T) {
	t.Parallel()
	e := mustExport(t, []entry{
		{name: "users.json", body: `[{"id":"U1"}]`},
		// "dup" is the name of C2 and the ID of C3's folder fallback.
		{name: "channels.json", body: `[{"id":"C1","name":"quiet"},{"id":"C2","name":"dup"},{"id":"dup","name":""}]`},
		{name: "dup/2021-01-01.json", body: dayBody("1609459200.000100")},
		{name: "dup/notes.json", body: `not a day file`},
		{name: "dup/2021-1-2.json", body: `not a day file either`},
		{name: "dup/nested/2021-01-03.json", body: `nor this`},
	}, Limits{})
	quiet, _ := e.Conversation("C1")
	if msgs, err := collect(t, e, quiet); err != nil || len(msgs) != 0 {
		t.Errorf("conversation without a folder: %v, %v; want no messages and no error", msgs, err)
	}
	c2, _ := e.Conversation("C2")
	if _, err := collect(t, e, c2); !errors.Is(err, ErrAmbiguousFolder) {
		t.Errorf("shared folder: %v, want ErrAmbiguousFolder", err)
	}
}

func TestMessagesConcurrent(t *testing.T) {
	t.Parallel()
	e := openFixture(t)
	convs := e.Conversations()
	counts := make([]int, len(convs))
	errs := make(chan error, len(convs))
	for i, c := range convs {
		go func() {
			errs <- e.Messages(t.Context(), c, func(Message) error { counts[i]++; return nil })
		}()
	}
	for range convs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if diff := cmp.Diff([]int{10, 2, 1, 1, 2}, counts); diff != "" {
		t.Errorf("messages per conversation (-want +got):\n%s", diff)
	}
	if got := len(e.UnknownUsers()); got != 2 {
		t.Errorf("%d unknown users, want 2", got)
	}
}

// TestMessagesNearTheElementLimit checks that elements just under
// MaxMessageSize pass, however much the decoder reads ahead of them.
func TestMessagesNearTheElementLimit(t *testing.T) {
	t.Parallel()
	var parts []string
	for i := range 3000 {
		parts = append(parts, msgJSON(fmt.Sprintf("1609459200.%06d", i), 900))
	}
	body := "[" + strings.Join(parts, ",") + "]"
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		e := mustExport(t, dayEntries(entry{name: "2021-01-01.json", body: body, method: method}), Limits{MaxMessageSize: 1000})
		msgs, err := collect(t, e, e.Channels()[0])
		if err != nil || len(msgs) != 3000 {
			t.Errorf("method %d: %d messages, %v; want 3000 and no error", method, len(msgs), err)
		}
	}
}
