package importer

import (
	"context"
	"time"

	slackapi "github.com/slack-go/slack"

	slackbridge "causeway/bridges/slack"
)

// feed is where an import reads a workspace's past: an export ZIP (exportFeed) or the Web API
// (webFeed). It also answers the bridge's questions about what messages refer to.
type feed interface {
	slackbridge.Source
	// team is the Slack team the past belongs to, as far as the feed knows ("" if not).
	team() (id, name string)
	users(ctx context.Context) ([]slackapi.User, error)
	conversations(ctx context.Context) ([]*slackapi.Channel, error)
	// messages calls fn with a conversation's messages from since on, in the order they are
	// imported: by ts, or each thread's replies after their root.
	messages(ctx context.Context, ch *slackapi.Channel, since time.Time, fn func(*slackapi.Msg) error) error
	// survey counts what the conversations hold, for the progress and the plan; a feed that
	// cannot know without reading everything leaves the counts at zero.
	survey(ctx context.Context) (survey, error)
	close() error
}

// survey is what a feed holds, counted before the import.
type survey struct {
	counts       map[string]conversationCount // by conversation ID
	unknownUsers []string                     // users messages refer to that the members list lacks
	known        bool                         // the counts are real: false for the Web API
}

// conversationCount is what one conversation holds.
type conversationCount struct {
	messages, files, threads int64
	first, last              time.Time
	err                      error // why the conversation could not be read to the end
}

// webFeed reads a connected workspace through the Web API with its bot token, as the live
// bridge's catch-up does: the conversations the bot is in, their history and threads.
type webFeed struct {
	slackbridge.Source
	web              *slackbridge.WebHistory
	teamID, teamName string
}

func newWebFeed(b *slackbridge.Bridge, teamID, teamName string) (*webFeed, error) {
	web, err := b.WebHistory(teamID)
	if err != nil {
		return nil, err
	}
	return &webFeed{Source: web.Source(), web: web, teamID: teamID, teamName: teamName}, nil
}

func (f *webFeed) team() (string, string) { return f.teamID, f.teamName }

func (f *webFeed) users(ctx context.Context) ([]slackapi.User, error) { return f.web.Users(ctx) }

func (f *webFeed) conversations(ctx context.Context) ([]*slackapi.Channel, error) {
	chans, err := f.web.Conversations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*slackapi.Channel, len(chans))
	for i := range chans {
		out[i] = &chans[i]
	}
	return out, nil
}

// messages reads from since, or from the conversation's creation.
func (f *webFeed) messages(ctx context.Context, ch *slackapi.Channel, since time.Time, fn func(*slackapi.Msg) error) error {
	from := time.Unix(int64(ch.Created), 0).Add(-time.Second)
	if since.After(from) {
		from = since.Add(-time.Microsecond) // the Web API reads after an instant
	}
	return f.web.Messages(ctx, ch.ID, from, fn)
}

func (f *webFeed) survey(context.Context) (survey, error) {
	return survey{counts: map[string]conversationCount{}}, nil
}

func (f *webFeed) close() error { return nil }
