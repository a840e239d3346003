package fakeslack_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"causeway/internal/fakeslack"
	"causeway/migration/slackexport"
)

// TestExportReadsBack: what Export writes is an export our reader takes whole: the
// conversations of every kind, the members, replies in the day of their own ts, and file
// links signed with an export token that works for the files until it is revoked.
func TestExportReadsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	root, err := f.srv.Post(f.alice.ID, f.general.ID, "a question")
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Advance(24 * time.Hour)
	if _, err := f.srv.Post(f.bob.ID, f.general.ID, "an answer, a day later", fakeslack.InThread(root)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.srv.UploadFile(f.alice.ID, f.general.ID, fakeslack.FileSpec{Name: "notes.txt", Data: []byte("the notes")}); err != nil {
		t.Fatal(err)
	}
	dm, err := f.srv.OpenDM(f.alice.ID, f.bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Post(f.alice.ID, dm.ID, "psst"); err != nil {
		t.Fatal(err)
	}

	for _, grid := range []bool{false, true} {
		var buf bytes.Buffer
		token, err := f.srv.Export(&buf, fakeslack.ExportOptions{EnterpriseGrid: grid})
		if err != nil {
			t.Fatal(err)
		}
		exp, err := slackexport.New(bytes.NewReader(buf.Bytes()), int64(buf.Len()), slackexport.DefaultLimits())
		if err != nil {
			t.Fatalf("grid=%v: %v", grid, err)
		}
		if _, ok := exp.User(f.alice.ID); !ok {
			t.Errorf("grid=%v: alice is not among the users", grid)
		}
		var general []slackexport.Message
		conv, _ := exp.Conversation(f.general.ID)
		if err := exp.Messages(context.Background(), conv, func(m slackexport.Message) error {
			general = append(general, m)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(general) != 3 || general[1].ThreadTS != slackexport.TS(root) || len(general[2].Files) != 1 {
			t.Fatalf("grid=%v: #general = %+v", grid, general)
		}
		if dmConv, ok := exp.Conversation(dm.ID); !ok || dmConv.Kind != slackexport.KindDM || len(dmConv.Members) != 2 {
			t.Errorf("grid=%v: the DM = %+v, %v", grid, dmConv, ok)
		}
		link := general[2].Files[0].URLPrivateDownload
		if got := fetch(t, link); got != "the notes" {
			t.Errorf("the file by its export link = %q", got)
		}
		f.srv.RevokeToken(token)
		if got := fetch(t, link); got == "the notes" {
			t.Error("the file is still served for a revoked export token")
		}
	}
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}
