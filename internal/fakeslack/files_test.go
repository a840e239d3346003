package fakeslack_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	slackgo "github.com/slack-go/slack"

	"causeway/internal/fakeslack"
)

func TestUploadAndDownload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	content := "hello, file"

	summary, err := f.bot.UploadFileContext(ctx, slackgo.UploadFileParameters{
		Reader: strings.NewReader(content), FileSize: len(content), Filename: "hello.txt", Title: "Greeting",
		Channel: f.general.ID, InitialComment: "see attached",
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := f.srv.Messages(f.general.ID)
	if err != nil {
		t.Fatal(err)
	}
	shared := msgs[len(msgs)-1]
	if shared.Subtype != "file_share" || !shared.Upload || shared.Text != "see attached" || shared.BotID != f.srv.BotID() ||
		len(shared.Files) != 1 || shared.Files[0].ID != summary.ID || shared.Files[0].Title != "Greeting" {
		t.Fatalf("file share message = %+v", shared)
	}

	file, _, _, err := f.bot.GetFileInfoContext(ctx, summary.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if file.Mimetype != "text/plain" || file.Size != len(content) || len(file.Channels) != 1 || file.Channels[0] != f.general.ID {
		t.Errorf("files.info = %+v", file)
	}
	var got bytes.Buffer
	if err := f.bot.GetFileContext(ctx, file.URLPrivateDownload, &got); err != nil {
		t.Fatal(err)
	}
	if got.String() != content {
		t.Errorf("downloaded %q, want %q", got.String(), content)
	}
}

func TestDownloadNeedsAccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	secret, err := f.srv.AddChannel(fakeslack.ChannelSpec{Name: "secret", Private: true, Members: []string{f.alice.ID}, BotMember: true})
	if err != nil {
		t.Fatal(err)
	}
	png := []byte("\x89PNG\r\n\x1a\n")
	file, ts, err := f.srv.UploadFile(f.alice.ID, secret.ID, fakeslack.FileSpec{Name: "cat.png", Data: png})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := f.srv.Message(secret.ID, ts)
	if m.User != f.alice.ID || len(m.Files) != 1 || m.Files[0].Mimetype != "image/png" || m.Files[0].IsPublic {
		t.Errorf("file share by alice = %+v", m)
	}

	var got bytes.Buffer
	if err := f.bot.GetFileContext(ctx, file.URLPrivate, &got); err != nil || !bytes.Equal(got.Bytes(), png) {
		t.Errorf("bot download: %q, %v", got.Bytes(), err)
	}
	err = f.userClient(t, f.bob.ID).GetFileContext(ctx, file.URLPrivate, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "sign-in page") {
		t.Errorf("download by a non-member: error = %v, want the sign-in redirect", err)
	}
}

func TestFileShares(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	secret, err := f.srv.AddChannel(fakeslack.ChannelSpec{Name: "secret", Private: true, Members: []string{f.alice.ID}, BotMember: true})
	if err != nil {
		t.Fatal(err)
	}
	shares := func(fileID string) slackgo.Share {
		t.Helper()
		file, _, _, err := f.bot.GetFileInfoContext(ctx, fileID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return file.Shares
	}

	// Shared in a public channel, outside threads.
	public, ts, err := f.srv.UploadFile(f.alice.ID, f.general.ID, fakeslack.FileSpec{Name: "a.txt", Data: []byte("a")})
	if err != nil {
		t.Fatal(err)
	}
	want := slackgo.Share{Public: map[string][]slackgo.ShareFileInfo{f.general.ID: {{
		ReplyUsers: []string{}, Ts: ts, ChannelName: "general", TeamID: f.srv.TeamID(),
	}}}}
	if diff := cmp.Diff(want, shares(public.ID)); diff != "" {
		t.Errorf("shares of a file in #general (-want +got):\n%s", diff)
	}

	// A reply to the sharing message makes it a thread.
	reply := f.post(t, f.bob.ID, "nice file", fakeslack.InThread(ts))
	want.Public[f.general.ID][0] = slackgo.ShareFileInfo{
		ReplyUsers: []string{f.bob.ID}, ReplyUsersCount: 1, ReplyCount: 1, Ts: ts, ThreadTs: ts, LatestReply: reply,
		ChannelName: "general", TeamID: f.srv.TeamID(),
	}
	if diff := cmp.Diff(want, shares(public.ID)); diff != "" {
		t.Errorf("shares of a file that started a thread (-want +got):\n%s", diff)
	}

	// Shared as a reply in a private channel: listed under private, with its thread.
	parent, err := f.srv.Post(f.alice.ID, secret.ID, "where is it?")
	if err != nil {
		t.Fatal(err)
	}
	private, ts, err := f.srv.UploadFile(f.alice.ID, secret.ID, fakeslack.FileSpec{Name: "b.txt", Data: []byte("b")}, fakeslack.InThread(parent))
	if err != nil {
		t.Fatal(err)
	}
	want = slackgo.Share{Private: map[string][]slackgo.ShareFileInfo{secret.ID: {{
		ReplyUsers: []string{f.alice.ID}, ReplyUsersCount: 1, ReplyCount: 1, Ts: ts, ThreadTs: parent, LatestReply: ts,
		ChannelName: "secret", TeamID: f.srv.TeamID(),
	}}}}
	if diff := cmp.Diff(want, shares(private.ID)); diff != "" {
		t.Errorf("shares of a file in a thread of #secret (-want +got):\n%s", diff)
	}

	// A deleted sharing message no longer counts as a share.
	if err := f.srv.Delete(f.alice.ID, secret.ID, ts); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slackgo.Share{}, shares(private.ID)); diff != "" {
		t.Errorf("shares after the sharing message was deleted (-want +got):\n%s", diff)
	}
}
