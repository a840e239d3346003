package importer

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	slackbridge "causeway/bridges/slack"
	"causeway/migration/slackexport"
)

// exportFeed reads a workspace's past from an export ZIP, and answers the bridge's questions
// (slackbridge.Source) from it: users from users.json, conversations from the metadata files,
// bots and unknown users from what the messages say of them, files from their export links.
type exportFeed struct {
	exp   *slackexport.Export
	files fileFetcher

	mu       sync.Mutex
	bots     map[string]*slackapi.Bot  // from the bot_profile of messages, by bot ID
	guests   map[string]*slackapi.User // users missing from users.json, from message user_profile
	teamID   string                    // the team most users belong to
	channels map[string]*slackapi.Channel
}

func newExportFeed(exp *slackexport.Export, files fileFetcher) *exportFeed {
	f := &exportFeed{exp: exp, files: files, bots: map[string]*slackapi.Bot{}, guests: map[string]*slackapi.User{},
		channels: map[string]*slackapi.Channel{}}
	f.teamID = exportTeam(exp)
	for _, c := range exp.Conversations() {
		f.channels[c.ID] = channelOf(c)
	}
	return f
}

// exportTeam is the team most of an export's users belong to: Enterprise Grid exports list
// members of several.
func exportTeam(exp *slackexport.Export) string {
	counts := map[string]int{}
	for _, u := range exp.Users() {
		if u.TeamID != "" {
			counts[u.TeamID]++
		}
	}
	teams := slices.Sorted(maps.Keys(counts))
	slices.SortStableFunc(teams, func(a, b string) int { return cmp.Compare(counts[b], counts[a]) })
	if len(teams) == 0 {
		return ""
	}
	return teams[0]
}

// team is the export's team; an export does not name it.
func (f *exportFeed) team() (string, string) { return f.teamID, "" }

func (f *exportFeed) users(context.Context) ([]slackapi.User, error) {
	var out []slackapi.User
	for _, u := range f.exp.Users() {
		out = append(out, *userOf(u))
	}
	return out, nil
}

func (f *exportFeed) conversations(context.Context) ([]*slackapi.Channel, error) {
	var out []*slackapi.Channel
	for _, c := range f.exp.Conversations() {
		out = append(out, f.channels[c.ID])
	}
	return out, nil
}

// messages streams a conversation's messages in ts order, as the Web API's message objects.
// Those before since are the importer's to skip, as it counts them.
func (f *exportFeed) messages(ctx context.Context, ch *slackapi.Channel, _ time.Time, fn func(*slackapi.Msg) error) error {
	conv, ok := f.exp.Conversation(ch.ID)
	if !ok {
		return fmt.Errorf("conversation %s is not in the export", ch.ID)
	}
	return f.exp.Messages(ctx, conv, func(m slackexport.Message) error {
		var msg slackapi.Message
		if err := json.Unmarshal(m.Raw, &msg); err != nil {
			return fmt.Errorf("%s at byte %d: %w", m.File, m.Offset, err)
		}
		f.learn(&msg.Msg, m.UserProfile)
		return fn(&msg.Msg)
	})
}

// survey counts the export's conversations (slackexport.Stats), reading it through once.
func (f *exportFeed) survey(ctx context.Context) (survey, error) {
	stats, err := f.exp.Stats(ctx)
	if err != nil {
		return survey{}, err
	}
	s := survey{counts: map[string]conversationCount{}, known: true}
	for _, cs := range stats.Conversations {
		s.counts[cs.Conversation.ID] = conversationCount{messages: cs.Messages, files: cs.Files, threads: cs.Threads,
			first: cs.First, last: cs.Last, err: cs.Err}
	}
	for _, u := range stats.UnknownUsers {
		s.unknownUsers = append(s.unknownUsers, u.ID)
	}
	return s, nil
}

func (f *exportFeed) close() error { return f.exp.Close() }

// learn keeps what a message says of its bot or of a user users.json lacks.
func (f *exportFeed) learn(m *slackapi.Msg, profile *slackexport.MessageUserProfile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.BotID != "" && f.bots[m.BotID] == nil {
		bot := &slackapi.Bot{ID: m.BotID, Name: cmp.Or(m.Username, m.BotID)}
		if m.BotProfile != nil {
			bot.Name = cmp.Or(m.BotProfile.Name, bot.Name)
			bot.Icons.Image72 = m.BotProfile.Icons.Image72
		}
		f.bots[m.BotID] = bot
	}
	if m.User == "" || profile == nil || f.guests[m.User] != nil {
		return
	}
	if _, known := f.exp.User(m.User); !known {
		p := profile
		f.guests[m.User] = &slackapi.User{ID: m.User, Name: p.Name, RealName: p.RealName,
			Profile: slackapi.UserProfile{DisplayName: p.DisplayName, RealName: p.RealName, Image512: p.Image72, Image192: p.Image72}}
	}
}

// User implements slackbridge.Source. A user that neither users.json nor any message
// describes is shown by ID.
func (f *exportFeed) User(_ context.Context, userID string) (*slackapi.User, error) {
	if u, ok := f.exp.User(userID); ok {
		return userOf(u), nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.guests[userID]; u != nil {
		return u, nil
	}
	return &slackapi.User{ID: userID, Name: userID}, nil
}

// Bot implements slackbridge.Source.
func (f *exportFeed) Bot(_ context.Context, botID string) (*slackapi.Bot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.bots[botID]; b != nil {
		return b, nil
	}
	return &slackapi.Bot{ID: botID, Name: botID}, nil
}

// Conversation implements slackbridge.Source.
func (f *exportFeed) Conversation(_ context.Context, channelID string) (*slackapi.Channel, error) {
	if ch := f.channels[channelID]; ch != nil {
		return ch, nil
	}
	return nil, fmt.Errorf("conversation %s is not in the export", channelID)
}

// CustomEmoji implements slackbridge.Source: an export lists none, so custom emoji show as
// their :name:.
func (f *exportFeed) CustomEmoji(context.Context) (map[string]string, error) {
	return map[string]string{}, nil
}

// UserGroups implements slackbridge.Source: an export lists none.
func (f *exportFeed) UserGroups(context.Context) ([]slackapi.UserGroup, error) { return nil, nil }

// Download implements slackbridge.Source.
func (f *exportFeed) Download(ctx context.Context, file slackapi.File, w io.Writer) error {
	return f.files.fetch(ctx, file, w)
}

// userOf is an export's member as the Web API describes users.
func userOf(u slackexport.User) *slackapi.User {
	p := u.Profile
	return &slackapi.User{
		ID: u.ID, TeamID: u.TeamID, Name: u.Name, RealName: u.RealName, Deleted: u.Deleted, IsBot: u.IsBot || u.IsAppUser,
		Profile: slackapi.UserProfile{RealName: p.RealName, DisplayName: p.DisplayName, Email: p.Email,
			Image512: cmp.Or(p.Image512, p.ImageOriginal, p.Image72), Image192: p.Image72, BotID: p.BotID},
	}
}

// channelOf is an export's conversation as the Web API describes conversations.
func channelOf(c slackexport.Conversation) *slackapi.Channel {
	ch := &slackapi.Channel{}
	ch.ID, ch.Name, ch.IsArchived, ch.IsGeneral = c.ID, c.Name, c.Archived, c.General
	ch.IsIM, ch.IsMpIM = c.Kind == slackexport.KindDM, c.Kind == slackexport.KindGroupDM
	ch.IsPrivate = c.Kind != slackexport.KindChannel
	ch.Topic.Value, ch.Purpose.Value = c.Topic, c.Purpose
	ch.Members = slices.Clone(c.Members)
	ch.Creator = c.Creator
	return ch
}

// fileFetcher downloads the files of imported messages: by their export links (which carry
// a token), or with a token of the workspace's (--files-token), or not at all (--no-files).
type fileFetcher struct {
	client *http.Client
	token  string // sent as a bearer token, instead of the links' own
	none   bool   // --no-files
	limit  int64
}

// fetch writes a file's content to w. Answers that no retry will change (refused, gone, a
// sign-in page instead of the file) wrap slackbridge.ErrFileGone.
func (ff fileFetcher) fetch(ctx context.Context, file slackapi.File, w io.Writer) error {
	if ff.none {
		return fmt.Errorf("%w: files were not imported (--no-files)", slackbridge.ErrFileGone)
	}
	link := cmp.Or(file.URLPrivateDownload, file.URLPrivate)
	if link == "" {
		return fmt.Errorf("%w: the export has no link to it", slackbridge.ErrFileGone)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return fmt.Errorf("%w: its link does not parse", slackbridge.ErrFileGone)
	}
	if ff.token != "" {
		q := req.URL.Query()
		q.Del("t")
		req.URL.RawQuery = q.Encode()
		req.Header.Set("Authorization", "Bearer "+ff.token)
	}
	resp, err := ff.client.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %s", file.ID, slackexport.RedactURL(err.Error()))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("download %s: Slack answered %s", file.ID, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: Slack answered %s", slackbridge.ErrFileGone, resp.Status)
	case isSignInPage(resp, file):
		return fmt.Errorf("%w: Slack asked to sign in (the export's file token expired or was revoked; try --files-token)", slackbridge.ErrFileGone)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, ff.limit+1))
	if err != nil {
		return fmt.Errorf("download %s: %w", file.ID, err)
	}
	if n > ff.limit {
		return fmt.Errorf("%w: larger than %d bytes", slackbridge.ErrFileGone, ff.limit)
	}
	return nil
}

// isSignInPage reports whether Slack answered a file download with its sign-in page, as it
// does for a link whose token no longer works (redirects are followed to it).
func isSignInPage(resp *http.Response, file slackapi.File) bool {
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mediaType == "text/html" && !strings.Contains(file.Mimetype, "html")
}
