package slack

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
)

// maxFileBytes bounds a file copied from Slack; a larger one is linked instead.
const maxFileBytes = 100 << 20

// sendFile copies a file of a Slack message into the media repository and sends it as its own
// part: an image, video, audio or file message with its name, type, size and dimensions.
func (s *sender) sendFile(ctx context.Context, f slackapi.File) error {
	if s.part < s.done {
		s.part++
		return nil
	}
	if f.Size > maxFileBytes || f.URLPrivateDownload == "" {
		return s.send(ctx, &event.MessageEventContent{MsgType: event.MsgNotice,
			Body: fmt.Sprintf("%s (%d bytes, not copied from Slack): %s", f.Name, f.Size, f.Permalink)}, s.thread.inThread())
	}
	var buf bytes.Buffer
	err := s.w.call(ctx, "files.download", func(ctx context.Context) error {
		buf.Reset()
		return s.w.bot().GetFileContext(ctx, f.URLPrivateDownload, &buf)
	})
	if err != nil {
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
