package fakeslack_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackgo "github.com/slack-go/slack"

	"causeway/internal/fakeslack"
)

func TestHistoryPagination(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	var posted []string
	for _, text := range []string{"one", "two", "three", "four", "five"} {
		_, ts, err := f.bot.PostMessageContext(ctx, f.general.ID, slackgo.MsgOptionText(text, false))
		if err != nil {
			t.Fatal(err)
		}
		posted = append(posted, ts)
	}
	for i := 1; i < len(posted); i++ {
		if posted[i] <= posted[i-1] {
			t.Fatalf("timestamps %q not increasing", posted)
		}
	}

	var texts []string
	cursor := ""
	for pages := 0; ; pages++ {
		resp, err := f.bot.GetConversationHistoryContext(ctx, &slackgo.GetConversationHistoryParameters{
			ChannelID: f.general.ID, Limit: 2, Cursor: cursor,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.Messages {
			texts = append(texts, m.Text)
		}
		cursor = resp.ResponseMetaData.NextCursor
		if resp.HasMore != (cursor != "") || pages > 5 {
			t.Fatalf("page %d: has_more %v with cursor %q", pages, resp.HasMore, cursor)
		}
		if cursor == "" {
			break
		}
	}
	if diff := cmp.Diff([]string{"five", "four", "three", "two", "one"}, texts); diff != "" {
		t.Errorf("history, newest first (-want +got):\n%s", diff)
	}

	resp, err := f.bot.GetConversationHistoryContext(ctx, &slackgo.GetConversationHistoryParameters{
		ChannelID: f.general.ID, Oldest: posted[1], Latest: posted[3], Inclusive: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	texts = nil
	for _, m := range resp.Messages {
		texts = append(texts, m.Text)
	}
	if diff := cmp.Diff([]string{"four", "three", "two"}, texts); diff != "" {
		t.Errorf("inclusive window (-want +got):\n%s", diff)
	}
}

func TestThreads(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	parent := f.post(t, f.alice.ID, "question")
	f.post(t, f.bob.ID, "answer", fakeslack.InThread(parent))
	_, reply, err := f.bot.PostMessageContext(ctx, f.general.ID,
		slackgo.MsgOptionText("bot says", false), slackgo.MsgOptionTS(parent), slackgo.MsgOptionBroadcast())
	if err != nil {
		t.Fatal(err)
	}
	f.post(t, f.alice.ID, "thanks", fakeslack.InThread(reply)) // a reply's ts names its thread

	msgs, hasMore, cursor, err := f.bot.GetConversationRepliesContext(ctx, &slackgo.GetConversationRepliesParameters{
		ChannelID: f.general.ID, Timestamp: parent, Limit: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !hasMore || cursor == "" || len(msgs) != 3 {
		t.Fatalf("first page: %d messages, has_more %v, cursor %q", len(msgs), hasMore, cursor)
	}
	head := msgs[0]
	if head.Text != "question" || head.ReplyCount != 3 || head.ThreadTimestamp != parent ||
		!cmp.Equal(head.ReplyUsers, []string{f.bob.ID, f.srv.BotUserID(), f.alice.ID}) {
		t.Errorf("thread parent = %+v", head.Msg)
	}
	if msgs[1].Text != "answer" || msgs[1].ParentUserId != f.alice.ID {
		t.Errorf("first reply = %+v", msgs[1].Msg)
	}
	rest, hasMore, _, err := f.bot.GetConversationRepliesContext(ctx, &slackgo.GetConversationRepliesParameters{
		ChannelID: f.general.ID, Timestamp: parent, Limit: 3, Cursor: cursor,
	})
	if err != nil {
		t.Fatal(err)
	}
	if hasMore || len(rest) != 1 || rest[0].Text != "thanks" {
		t.Errorf("second page = %+v (has_more %v), want the last reply", rest, hasMore)
	}

	history, err := f.bot.GetConversationHistoryContext(ctx, &slackgo.GetConversationHistoryParameters{ChannelID: f.general.ID})
	if err != nil {
		t.Fatal(err)
	}
	var subtypes []string
	for _, m := range history.Messages {
		subtypes = append(subtypes, m.Text+"/"+m.SubType)
	}
	if diff := cmp.Diff([]string{"bot says/thread_broadcast", "question/"}, subtypes); diff != "" {
		t.Errorf("history lists parents and broadcasts (-want +got):\n%s", diff)
	}

	// Deleting a parent with replies leaves a tombstone that keeps the thread.
	if err := f.srv.Delete(f.alice.ID, f.general.ID, parent); err != nil {
		t.Fatal(err)
	}
	tombstone, err := f.srv.Message(f.general.ID, parent)
	if err != nil {
		t.Fatal(err)
	}
	if tombstone.Subtype != "tombstone" || tombstone.ReplyCount != 3 {
		t.Errorf("deleted parent = %+v, want a tombstone with 3 replies", tombstone)
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	first := f.post(t, f.alice.ID, "now")
	second := f.post(t, f.alice.ID, "same instant")
	f.srv.Advance(time.Hour)
	third := f.post(t, f.alice.ID, "an hour later")
	if diff := cmp.Diff([]string{"1700000000.000000", "1700000000.000001", "1700003600.000000"}, []string{first, second, third}); diff != "" {
		t.Errorf("timestamps (-want +got):\n%s", diff)
	}
}

func TestEditDeleteReact(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	aliceTS := f.post(t, f.alice.ID, "typo")
	_, botTS, err := f.bot.PostMessageContext(ctx, f.general.ID, slackgo.MsgOptionText("from the bot", false))
	if err != nil {
		t.Fatal(err)
	}

	if _, _, _, err := f.bot.UpdateMessageContext(ctx, f.general.ID, aliceTS, slackgo.MsgOptionText("hijack", false)); err == nil || err.Error() != "cant_update_message" {
		t.Errorf("bot edits alice's message: error = %v, want cant_update_message", err)
	}
	if _, _, _, err := f.bot.UpdateMessageContext(ctx, f.general.ID, botTS, slackgo.MsgOptionText("edited", false)); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Edit(f.alice.ID, f.general.ID, aliceTS, "fixed"); err != nil {
		t.Fatal(err)
	}
	edited, err := f.srv.Message(f.general.ID, aliceTS)
	if err != nil {
		t.Fatal(err)
	}
	if edited.Text != "fixed" || edited.Edited == nil || edited.Edited.User != f.alice.ID || edited.ClientMsgID == "" {
		t.Errorf("edited message = %+v", edited)
	}

	if err := f.bot.AddReactionContext(ctx, "+1", slackgo.NewRefToMessage(f.general.ID, aliceTS)); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.React(f.bob.ID, f.general.ID, aliceTS, ":+1:"); err != nil {
		t.Fatal(err)
	}
	if err := f.bot.AddReactionContext(ctx, "+1", slackgo.NewRefToMessage(f.general.ID, aliceTS)); err == nil || err.Error() != "already_reacted" {
		t.Errorf("second identical reaction: error = %v", err)
	}
	item, err := f.bot.GetReactionsContext(ctx, slackgo.NewRefToMessage(f.general.ID, aliceTS), slackgo.NewGetReactionsParameters())
	if err != nil {
		t.Fatal(err)
	}
	want := []slackgo.ItemReaction{{Name: "+1", Count: 2, Users: []string{f.srv.BotUserID(), f.bob.ID}}}
	if diff := cmp.Diff(want, item.Reactions); diff != "" {
		t.Errorf("reactions.get (-want +got):\n%s", diff)
	}
	if err := f.bot.RemoveReactionContext(ctx, "+1", slackgo.NewRefToMessage(f.general.ID, aliceTS)); err != nil {
		t.Fatal(err)
	}

	if err := f.bot.AddPinContext(ctx, f.general.ID, slackgo.NewRefToMessage(f.general.ID, aliceTS)); err != nil {
		t.Fatal(err)
	}
	pins, _, err := f.bot.ListPinsContext(ctx, f.general.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) != 1 || pins[0].Message == nil || pins[0].Message.Timestamp != aliceTS {
		t.Errorf("pins.list = %+v", pins)
	}

	if _, _, err := f.bot.DeleteMessageContext(ctx, f.general.ID, aliceTS); err == nil || err.Error() != "cant_delete_message" {
		t.Errorf("bot deletes alice's message: error = %v", err)
	}
	if _, _, err := f.bot.DeleteMessageContext(ctx, f.general.ID, botTS); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Message(f.general.ID, botTS); err == nil {
		t.Error("deleted message still there")
	}
	link, err := f.bot.GetPermalinkContext(ctx, &slackgo.PermalinkParameters{Channel: f.general.ID, Ts: aliceTS})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://causeway-test.slack.com/archives/" + f.general.ID + "/p1700000000000000"; link != want || aliceTS != "1700000000.000000" {
		t.Errorf("permalink of %s = %q, want %q", aliceTS, link, want)
	}
}

func TestAuthorship(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	puppet := f.userClient(t, f.alice.ID)

	_, puppetTS, err := puppet.PostMessageContext(ctx, f.general.ID,
		slackgo.MsgOptionText("as alice", false), slackgo.MsgOptionUsername("ignored"))
	if err != nil {
		t.Fatal(err)
	}
	_, plainTS, err := f.bot.PostMessageContext(ctx, f.general.ID, slackgo.MsgOptionText("as the bot", false))
	if err != nil {
		t.Fatal(err)
	}
	_, relayTS, err := f.bot.PostMessageContext(ctx, f.general.ID, slackgo.MsgOptionText("relayed", false),
		slackgo.MsgOptionUsername("Carol (Matrix)"), slackgo.MsgOptionIconURL("https://example.org/carol.png"))
	if err != nil {
		t.Fatal(err)
	}
	typedTS := f.post(t, f.bob.ID, "typed")

	type author struct{ User, BotID, Subtype, Username, ClientMsgID string }
	got := map[string]author{}
	for name, ts := range map[string]string{"puppet": puppetTS, "plain": plainTS, "relay": relayTS, "typed": typedTS} {
		m, err := f.srv.Message(f.general.ID, ts)
		if err != nil {
			t.Fatal(err)
		}
		got[name] = author{m.User, m.BotID, m.Subtype, m.Username, m.ClientMsgID}
	}
	typedID := got["typed"].ClientMsgID
	want := map[string]author{
		"puppet": {User: f.alice.ID},
		"plain":  {User: f.srv.BotUserID(), BotID: f.srv.BotID()},
		"relay":  {BotID: f.srv.BotID(), Subtype: "bot_message", Username: "Carol (Matrix)"},
		"typed":  {User: f.bob.ID, ClientMsgID: typedID},
	}
	if diff := cmp.Diff(want, got); diff != "" || typedID == "" {
		t.Errorf("authorship (-want +got):\n%s", diff)
	}

	typed, _ := f.srv.Message(f.general.ID, typedTS)
	var blocks slackgo.Blocks
	if err := json.Unmarshal(typed.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	rich, ok := blocks.BlockSet[0].(*slackgo.RichTextBlock)
	if !ok || len(rich.Elements) != 1 {
		t.Fatalf("typed message blocks = %s", typed.Blocks)
	}
	section := rich.Elements[0].(*slackgo.RichTextSection)
	if text := section.Elements[0].(*slackgo.RichTextSectionTextElement); text.Text != "typed" {
		t.Errorf("rich text = %+v", text)
	}
}
