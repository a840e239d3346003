package slack

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
)

// maxFileBytes bounds a file copied from Slack; a larger one is linked instead.
const maxFileBytes = 100 << 20

// sendFile copies a file of a Slack message into the media repository and sends it as its own
// part: an image, video, audio or file message with its name, type, size and dimensions. A
// file that cannot be had (deleted, hidden by the plan's limits, refused) becomes a notice
// with its name and size, and is listed in s.missing.
func (s *sender) sendFile(ctx context.Context, f slackapi.File) error {
	if s.part < s.done {
		s.part++
		return nil
	}
	if f.Size > maxFileBytes || (f.URLPrivateDownload == "" && f.Mode != "tombstone" && f.Mode != "hidden_by_limit") {
		return s.send(ctx, &event.MessageEventContent{MsgType: event.MsgNotice,
			Body: fmt.Sprintf("%s (%d bytes, not copied from Slack): %s", f.Name, f.Size, f.Permalink)}, s.thread.inThread())
	}
	var buf bytes.Buffer
	err := s.download(ctx, f, &buf)
	if errors.Is(err, ErrFileGone) {
		s.missing = append(s.missing, MissingFile{ID: f.ID, Name: f.Name, Size: int64(f.Size), Reason: err.Error()})
		return s.send(ctx, &event.MessageEventContent{MsgType: event.MsgNotice,
			Body: fmt.Sprintf("📎 %s (%s) could not be copied from Slack", fileLabel(f), humanSize(int64(f.Size)))}, s.thread.inThread())
	} else if err != nil {
		return fmt.Errorf("download %s: %w", f.ID, err)
	}
	up, err := s.intent.UploadMedia(ctx, mautrix.ReqUploadMedia{ContentBytes: buf.Bytes(), ContentType: f.Mimetype, FileName: f.Name})
	if err != nil {
		return fmt.Errorf("upload %s: %w", f.ID, err)
	}
	content := &event.MessageEventContent{
		MsgType: fileMsgType(f.Mimetype), Body: f.Name, FileName: f.Name, URL: up.ContentURI.CUString(),
		Info: &event.FileInfo{MimeType: f.Mimetype, Size: buf.Len(), Width: f.OriginalW, Height: f.OriginalH},
	}
	return s.send(ctx, content, s.thread.inThread())
}

// download fetches a file from the workspace's Source; a file Slack marks as deleted or as
// hidden by the plan's limits is not asked for.
func (s *sender) download(ctx context.Context, f slackapi.File, buf *bytes.Buffer) error {
	switch f.Mode {
	case "tombstone":
		return fmt.Errorf("%w: deleted in Slack", ErrFileGone)
	case "hidden_by_limit":
		return fmt.Errorf("%w: hidden by the Slack plan's limits", ErrFileGone)
	}
	return s.w.src.Download(ctx, f, buf)
}

// MissingFile is a file of a Slack message that could not be copied.
type MissingFile struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
}

// fileLabel names a file for people: its name, or its title, or its ID.
func fileLabel(f slackapi.File) string {
	return cmp.Or(f.Name, f.Title, f.ID)
}

// humanSize writes a byte count as people read it.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// fileMsgType is the message type of a file by its media type.
func fileMsgType(mimeType string) event.MessageType {
	switch {
	case strings.HasPrefix(mimeType, "image/"):
		return event.MsgImage
	case strings.HasPrefix(mimeType, "video/"):
		return event.MsgVideo
	case strings.HasPrefix(mimeType, "audio/"):
		return event.MsgAudio
	}
	return event.MsgFile
}
