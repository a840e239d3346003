package slackexport

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Message is one element of a day file: a message object of the Web API
// (conversations.history). The fields the importer needs are decoded; Raw
// keeps the element exactly as exported, to be decoded again (into
// slack-go's slack.Message, say) for anything else, such as attachments.
//
// Raw and the URLs of Files may carry a file-access token (?t=xoxe-…):
// never log them. Message and File implement slog.LogValuer without them.
type Message struct {
	Type        string              `json:"type"`
	Subtype     string              `json:"subtype"`
	TS          TS                  `json:"ts"`
	ThreadTS    TS                  `json:"thread_ts"` // equal to TS on a thread's root
	User        string              `json:"user"`
	BotID       string              `json:"bot_id"`
	Username    string              `json:"username"` // bot messages and legacy integrations
	Text        string              `json:"text"`
	Blocks      json.RawMessage     `json:"blocks"`
	Attachments json.RawMessage     `json:"attachments"`
	Files       []File              `json:"files"`
	Reactions   []Reaction          `json:"reactions"`
	Edited      *Edited             `json:"edited"`
	ReplyCount  int                 `json:"reply_count"`
	ReplyUsers  []string            `json:"reply_users"`
	LatestReply TS                  `json:"latest_reply"`
	Replies     []Reply             `json:"replies"` // older exports: the thread's replies, by reference
	ParentUser  string              `json:"parent_user_id"`
	UserProfile *MessageUserProfile `json:"user_profile"`
	UserTeam    string              `json:"user_team"`

	// Raw is the element's JSON as it appears in the day file.
	Raw json.RawMessage `json:"-"`
	// File is the day file's entry name and Offset the element's byte offset in it.
	File   string `json:"-"`
	Offset int64  `json:"-"`
}

// IsThreadRoot reports whether m starts a thread.
func (m Message) IsThreadRoot() bool { return m.ThreadTS != "" && m.ThreadTS == m.TS }

// IsReply reports whether m is a reply in a thread (including a reply also
// sent to the channel, subtype "thread_broadcast").
func (m Message) IsReply() bool { return m.ThreadTS != "" && m.ThreadTS != m.TS }

// LogValue implements slog.LogValuer. It leaves out the text and any URL.
func (m Message) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("ts", string(m.TS))}
	if m.ThreadTS != "" {
		attrs = append(attrs, slog.String("thread_ts", string(m.ThreadTS)))
	}
	if m.Subtype != "" {
		attrs = append(attrs, slog.String("subtype", m.Subtype))
	}
	if m.User != "" {
		attrs = append(attrs, slog.String("slack_user_id", m.User))
	}
	if m.BotID != "" {
		attrs = append(attrs, slog.String("bot_id", m.BotID))
	}
	if m.File != "" {
		attrs = append(attrs, slog.String("file", m.File), slog.Int64("offset", m.Offset))
	}
	return slog.GroupValue(attrs...)
}

// File is a file shared in a message. Official exports hold only its
// metadata; the content is behind URLPrivate / URLPrivateDownload, which an
// export may sign with a ?t= token. Mode "tombstone" or "hidden_by_limit"
// marks a file that is gone or not exported.
type File struct {
	ID                 string   `json:"id"`
	Created            UnixTime `json:"created"`
	Name               string   `json:"name"`
	Title              string   `json:"title"`
	Mimetype           string   `json:"mimetype"`
	Filetype           string   `json:"filetype"`
	User               string   `json:"user"`
	Mode               string   `json:"mode"`
	Size               int64    `json:"size"`
	IsExternal         bool     `json:"is_external"`
	URLPrivate         string   `json:"url_private"`
	URLPrivateDownload string   `json:"url_private_download"`
	Permalink          string   `json:"permalink"`
}

// LogValue implements slog.LogValuer. It leaves out the URLs and their tokens.
func (f File) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("file_id", f.ID),
		slog.String("mode", f.Mode),
		slog.Int64("size", f.Size),
	)
}

// RedactURL returns rawURL without the query parameters that carry tokens
// (t=xoxe-… in exports, and any value starting with "xox"), fit for logs and
// for storing. A URL that does not parse loses its whole query.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		base, _, _ := strings.Cut(rawURL, "?")
		return base
	}
	if u.RawQuery == "" {
		return rawURL
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		u.RawQuery = ""
		return u.String()
	}
	for k, vs := range q {
		if k == "t" || k == "token" {
			q.Del(k)
			continue
		}
		for _, v := range vs {
			if strings.HasPrefix(v, "xox") {
				q.Del(k)
				break
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Reaction is an emoji reaction: its name (without colons), who reacted,
// and how many did (Count may exceed len(Users), which Slack truncates).
type Reaction struct {
	Name  string   `json:"name"`
	Users []string `json:"users"`
	Count int      `json:"count"`
}

// Edited records the last edit of a message.
type Edited struct {
	User string `json:"user"`
	TS   TS     `json:"ts"`
}

// Reply references one reply of a thread from its root, in older exports.
type Reply struct {
	User string `json:"user"`
	TS   TS     `json:"ts"`
}

// MessageUserProfile is the author's profile as Slack embedded it in the
// message. It is the only name an author missing from users.json has.
type MessageUserProfile struct {
	Name        string `json:"name"`
	RealName    string `json:"real_name"`
	DisplayName string `json:"display_name"`
	FirstName   string `json:"first_name"`
	AvatarHash  string `json:"avatar_hash"`
	Image72     string `json:"image_72"`
	Team        string `json:"team"`
}

// decodeMessage decodes the element raw at offset off of a day file.
func decodeMessage(raw json.RawMessage, off int64) (Message, error) {
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return Message{}, elementError(off, err)
	}
	if !m.TS.Valid() {
		return Message{}, &FormatError{Offset: off, Err: fmt.Errorf("%w: ts %q", ErrBadTimestamp, m.TS)}
	}
	if m.ThreadTS != "" && !m.ThreadTS.Valid() {
		return Message{}, &FormatError{Offset: off, Err: fmt.Errorf("%w: thread_ts %q", ErrBadTimestamp, m.ThreadTS)}
	}
	m.Raw = raw
	m.Offset = off
	return m, nil
}

// userRefs calls fn with every user ID m refers to.
func (m *Message) userRefs(fn func(id string)) {
	if m.User != "" {
		fn(m.User)
	}
	if m.Edited != nil && m.Edited.User != "" {
		fn(m.Edited.User)
	}
	if m.ParentUser != "" {
		fn(m.ParentUser)
	}
	for _, id := range m.ReplyUsers {
		fn(id)
	}
	for _, r := range m.Replies {
		if r.User != "" {
			fn(r.User)
		}
	}
	for _, r := range m.Reactions {
		for _, id := range r.Users {
			fn(id)
		}
	}
}
