package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif"  // registers GIF for image sizes
	_ "image/jpeg" // registers JPEG for image sizes
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// Files are uploaded with Slack's external upload flow
// (https://docs.slack.dev/messaging/working-with-files#upload), which slack-go's
// UploadFile follows:
//
//  1. files.getUploadURLExternal (filename, length) answers an upload_url and a file_id;
//  2. the bytes are POSTed to upload_url, as multipart field "file" or as the raw body;
//  3. files.completeUploadExternal (files=[{"id","title"}], channel_id, initial_comment,
//     thread_ts) creates the file and shares it as a file_share message.
//
// url_private and url_private_download are on the fake's own host, so slack-go's GetFile
// sends the token there: it sends it to the OptionAPIURL host as to slack.com. Without a
// valid bot or user token that may see the file, a download is redirected to the sign-in
// page with "redir" set to the file's path, as Slack does, and GetFile reports that.

// uploadLimit bounds an upload's size.
const uploadLimit = 64 << 20

// File is an uploaded file as Slack describes it in messages and in files.info.
type File struct {
	ID                 string `json:"id"`
	Created            int64  `json:"created"`
	Timestamp          int64  `json:"timestamp"`
	Name               string `json:"name"`
	Title              string `json:"title"`
	Mimetype           string `json:"mimetype"`
	Filetype           string `json:"filetype"`
	PrettyType         string `json:"pretty_type"`
	User               string `json:"user"`
	UserTeam           string `json:"user_team"`
	Editable           bool   `json:"editable"`
	Size               int    `json:"size"`
	Mode               string `json:"mode"`
	IsExternal         bool   `json:"is_external"`
	ExternalType       string `json:"external_type"`
	IsPublic           bool   `json:"is_public"`
	PublicURLShared    bool   `json:"public_url_shared"`
	DisplayAsBot       bool   `json:"display_as_bot"`
	Username           string `json:"username"`
	URLPrivate         string `json:"url_private"`
	URLPrivateDownload string `json:"url_private_download"`
	Permalink          string `json:"permalink"`
	PermalinkPublic    string `json:"permalink_public"`
	OriginalW          int    `json:"original_w,omitempty"`
	OriginalH          int    `json:"original_h,omitempty"`
}

// FileSpec describes a file for UploadFile.
type FileSpec struct {
	Name     string
	Title    string // defaults to Name
	Mimetype string // defaults to the type of Name's extension
	Data     []byte
	Comment  string // the message text shown with the file
}

// storedFile is a file's metadata, content and where it is shared.
type storedFile struct {
	file   File
	data   []byte
	shares []fileShare // in the order the file was shared
}

// fileShare is a message that shares a file.
type fileShare struct {
	channelID, ts, userID string
}

// upload is a file between files.getUploadURLExternal and files.completeUploadExternal.
type upload struct {
	fileID   string
	name     string
	uploader string
	asBot    bool
	data     []byte
	received bool
}

// handleGetUploadURL serves files.getUploadURLExternal.
func (w *workspace) handleGetUploadURL(c *call) (obj, error) {
	if c.param("filename") == "" || c.param("length") == "" || c.param("length") == "0" {
		return nil, errInvalidArguments
	}
	ticket := randomHex(16)
	up := &upload{
		fileID:   w.ids.next("F"),
		name:     c.param("filename"),
		uploader: c.actor(),
		asBot:    c.token.kind == botToken,
	}
	w.uploads[ticket] = up
	return obj{"upload_url": w.baseURL + "/upload/v1/" + ticket, "file_id": up.fileID}, nil
}

// serveUpload serves POST /upload/v1/{ticket}, step 2 of the upload flow. The URL itself
// is the credential, as in Slack.
func (s *Server) serveUpload(rw http.ResponseWriter, r *http.Request) {
	data, err := readUpload(rw, r)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	up, ok := s.ws.uploads[r.PathValue("ticket")]
	if ok {
		up.data, up.received = data, true
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprintf(rw, "OK - %d", len(data))
}

// readUpload reads an upload body: the "file" field of a multipart form, or the raw body.
func readUpload(rw http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(rw, r.Body, uploadLimit)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "multipart/form-data" {
		return io.ReadAll(body)
	}
	r.Body = body
	file, _, err := r.FormFile("file")
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return io.ReadAll(file)
}

// handleCompleteUpload serves files.completeUploadExternal: it creates the files and, when
// channel_id or channels is given, shares them there in one message per channel.
func (w *workspace) handleCompleteUpload(c *call) (obj, error) {
	var summaries []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(c.param("files")), &summaries); err != nil || len(summaries) == 0 {
		return nil, errInvalidArguments
	}
	var targets []*channel
	for _, id := range shareTargets(c) {
		ch, err := w.memberChannel(id, c.actor())
		if err != nil {
			return nil, err
		}
		targets = append(targets, ch)
	}
	var ups []*upload
	for _, sum := range summaries {
		up, err := w.takeUpload(sum.ID, c.actor())
		if err != nil {
			return nil, err
		}
		ups = append(ups, up)
	}
	blocks, err := callBlocks(c)
	if err != nil {
		return nil, err
	}
	var files []*storedFile
	for i, up := range ups {
		files = append(files, w.createFile(up.fileID, up.name, summaries[i].Title, "", up.uploader, up.data))
	}
	p := post{
		author:   c.actor(),
		asBot:    c.token.kind == botToken,
		text:     c.param("initial_comment"),
		blocks:   blocks,
		threadTS: c.param("thread_ts"),
	}
	for _, ch := range targets {
		if _, err := w.share(ch, files, p); err != nil {
			return nil, err
		}
	}
	answer := []obj{}
	for _, f := range files {
		answer = append(answer, w.fileObject(f))
	}
	return obj{"files": answer}, nil
}

// shareTargets reads where files.completeUploadExternal shares: channel_id, or the
// comma-separated channels.
func shareTargets(c *call) []string {
	if c.param("channel_id") != "" {
		return []string{c.param("channel_id")}
	}
	if c.param("channels") == "" {
		return nil
	}
	return strings.Split(c.param("channels"), ",")
}

// takeUpload finds a finished upload of fileID by userID and forgets its ticket.
func (w *workspace) takeUpload(fileID, userID string) (*upload, error) {
	for ticket, up := range w.uploads {
		if up.fileID == fileID && up.uploader == userID && up.received {
			delete(w.uploads, ticket)
			return up, nil
		}
	}
	return nil, errFileNotFound
}

// createFile stores a new file.
func (w *workspace) createFile(id, name, title, mimetype, userID string, data []byte) *storedFile {
	if title == "" {
		title = name
	}
	if mimetype == "" {
		mimetype = mimeType(name)
	}
	filetype, prettyType := fileType(name)
	now := w.clock.unix()
	escaped := url.PathEscape(name)
	f := File{
		ID:                 id,
		Created:            now,
		Timestamp:          now,
		Name:               name,
		Title:              title,
		Mimetype:           mimetype,
		Filetype:           filetype,
		PrettyType:         prettyType,
		User:               userID,
		UserTeam:           w.team.id,
		Size:               len(data),
		Mode:               "hosted",
		URLPrivate:         w.baseURL + "/files-pri/" + w.team.id + "-" + id + "/" + escaped,
		URLPrivateDownload: w.baseURL + "/files-pri/" + w.team.id + "-" + id + "/download/" + escaped,
		Permalink:          w.team.url() + "files/" + userID + "/" + id + "/" + escaped,
		PermalinkPublic:    "https://slack-files.com/" + w.team.id + "-" + id + "-" + randomHex(5),
	}
	if config, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		f.OriginalW, f.OriginalH = config.Width, config.Height
	}
	stored := &storedFile{file: f, data: data}
	w.files[id] = stored
	return stored
}

// share posts files in ch as one file_share message.
func (w *workspace) share(ch *channel, files []*storedFile, p post) (*Message, error) {
	p.files = nil
	for _, f := range files {
		f.file.IsPublic = f.file.IsPublic || ch.kind == publicChannel
		p.files = append(p.files, f.file)
	}
	m, err := w.post(ch, p)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		f.shares = append(f.shares, fileShare{channelID: ch.id, ts: m.TS, userID: p.author})
	}
	return m, nil
}

// sharedIn returns the IDs of the conversations f is shared in, each once, in the order
// it was first shared there.
func (f *storedFile) sharedIn() []string {
	var ids []string
	for _, sh := range f.shares {
		if !slices.Contains(ids, sh.channelID) {
			ids = append(ids, sh.channelID)
		}
	}
	return ids
}

// canRead reports whether userID may see a file: its uploader, or a member of a
// conversation it is shared in, or anyone when it is in a public channel.
func (w *workspace) canRead(f *storedFile, userID string) bool {
	if f.file.User == userID {
		return true
	}
	for _, id := range f.sharedIn() {
		if ch := w.channels[id]; ch.kind == publicChannel || ch.isMember(userID) {
			return true
		}
	}
	return false
}

// fileObject is a file as files.info and files.completeUploadExternal describe it: the
// file, the conversations it is shared in by kind, and its shares.
func (w *workspace) fileObject(f *storedFile) obj {
	data, _ := json.Marshal(f.file)
	var o obj
	_ = json.Unmarshal(data, &o)
	lists := map[string][]string{"channels": {}, "groups": {}, "ims": {}}
	for _, id := range f.sharedIn() {
		switch w.channels[id].kind {
		case publicChannel:
			lists["channels"] = append(lists["channels"], id)
		case directMessage:
			lists["ims"] = append(lists["ims"], id)
		default:
			lists["groups"] = append(lists["groups"], id)
		}
	}
	for key, ids := range lists {
		o[key] = ids
	}
	if shares := w.shares(f); len(shares) > 0 {
		o["shares"] = shares
	}
	o["has_more_shares"] = false
	return o
}

// shares is a file's "shares": for each conversation, the messages that share the file
// and are not deleted, public channels under "public" and every other conversation under
// "private", as slack-go's Share and ShareFileInfo read them. An entry carries the summary
// of the thread its message is in: empty for a message outside threads; a reply's entry
// has the thread's ts and its parent's summary.
func (w *workspace) shares(f *storedFile) obj {
	public, private := obj{}, obj{}
	for _, sh := range f.shares {
		ch := w.channels[sh.channelID]
		m, ok := ch.messages[sh.ts]
		if !ok {
			continue
		}
		entry := obj{
			"reply_users": []string{}, "reply_users_count": 0, "reply_count": 0,
			"ts": sh.ts, "channel_name": ch.name, "team_id": w.team.id,
			"share_user_id": sh.userID, "source": "UNKNOWN", "is_silent_share": false,
		}
		if thread, ok := ch.messages[m.ThreadTS]; ok && thread.ReplyCount > 0 {
			entry["reply_users"] = slices.Clone(thread.ReplyUsers)
			entry["reply_users_count"] = thread.ReplyUsersCount
			entry["reply_count"] = thread.ReplyCount
			entry["thread_ts"] = thread.TS
			entry["latest_reply"] = thread.LatestReply
		}
		byChannel := private
		if ch.kind == publicChannel {
			byChannel = public
		}
		entries, _ := byChannel[ch.id].([]obj)
		byChannel[ch.id] = append(entries, entry)
	}
	shares := obj{}
	if len(public) > 0 {
		shares["public"] = public
	}
	if len(private) > 0 {
		shares["private"] = private
	}
	return shares
}

// handleFileInfo serves files.info.
func (w *workspace) handleFileInfo(c *call) (obj, error) {
	f, ok := w.files[c.param("file")]
	if !ok || !w.canRead(f, c.actor()) {
		return nil, errFileNotFound
	}
	return obj{
		"file":              w.fileObject(f),
		"comments":          []obj{},
		"response_metadata": obj{"next_cursor": ""},
	}, nil
}

// serveFile serves GET /files-pri/{team}-{file}/[download/]{name}: a file's content for a
// bot or user token in an "Authorization: Bearer" header, or an export's token in ?t=.
func (s *Server) serveFile(rw http.ResponseWriter, r *http.Request) {
	_, fileID, _ := strings.Cut(r.PathValue("teamFile"), "-")
	s.mu.Lock()
	f, ok := s.ws.files[fileID]
	allowed := false
	if ok {
		if t := r.URL.Query().Get("t"); t != "" {
			tok, err := s.ws.authenticate(t)
			allowed = err == nil && tok.kind == exportTokenKind
		} else {
			tok, err := s.ws.authenticate(bearerToken(r))
			allowed = err == nil && tok.kind != appToken && tok.kind != exportTokenKind && s.ws.canRead(f, tok.userID)
		}
	}
	var file File
	var data []byte
	if ok {
		file, data = f.file, f.data
	}
	s.mu.Unlock()

	if !ok || !allowed {
		// Slack does not say 401 or 404: it sends the browser to the sign-in page.
		http.Redirect(rw, r, "/?redir="+url.QueryEscape(r.URL.Path), http.StatusFound)
		return
	}
	rw.Header().Set("Content-Type", file.Mimetype)
	if path.Base(path.Dir(r.URL.Path)) == "download" {
		rw.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": file.Name}))
	}
	_, _ = rw.Write(data)
}

// serveSignIn serves GET /: the page Slack sends unauthenticated file downloads to.
func serveSignIn(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(rw, "<!DOCTYPE html><title>Sign in | Slack</title><p>Sign in to your workspace.</p>\n")
}

// mimeType guesses a file's type from its name.
func mimeType(name string) string {
	t := mime.TypeByExtension(path.Ext(name))
	if t == "" {
		return "application/octet-stream"
	}
	mediaType, _, _ := mime.ParseMediaType(t)
	return mediaType
}

// fileType is Slack's "filetype" and "pretty_type" for a file name.
func fileType(name string) (string, string) {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	switch ext {
	case "":
		return "binary", "Binary"
	case "txt":
		return "text", "Plain Text"
	case "jpeg":
		return "jpg", "JPEG"
	}
	return ext, strings.ToUpper(ext)
}

// UploadFile uploads a file as userID and shares it in channelID, as dragging a file into
// a Slack client does: a file_share message with the file, Comment as its text.
// InThread posts it in a thread. It returns the file and the message's ts.
func (s *Server) UploadFile(userID, channelID string, spec FileSpec, opts ...PostOption) (File, string, error) {
	p := post{author: userID, text: spec.Comment, typed: true}
	for _, opt := range opts {
		opt(&p)
	}
	if p.text != "" && p.blocks == nil {
		p.blocks = richText(p.text)
	}
	var file File
	var ts string
	err := s.act(userID, channelID, func(w *workspace, ch *channel) error {
		f := w.createFile(w.ids.next("F"), spec.Name, spec.Title, spec.Mimetype, userID, spec.Data)
		m, err := w.share(ch, []*storedFile{f}, p)
		if err != nil {
			return err
		}
		file, ts = f.file, m.TS
		return nil
	})
	return file, ts, err
}

// FileContent returns a file's metadata and content.
func (s *Server) FileContent(fileID string) (File, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.ws.files[fileID]
	if !ok {
		return File{}, nil, errFileNotFound
	}
	return f.file, slices.Clone(f.data), nil
}
