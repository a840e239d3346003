package fakeslack_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackgo "github.com/slack-go/slack"

	"causeway/internal/fakeslack"
)

// fixture is a workspace with two people and a channel the bot is in.
type fixture struct {
	srv     *fakeslack.Server
	bot     *slackgo.Client
	alice   fakeslack.User
	bob     fakeslack.User
	general fakeslack.Channel
}

func newFixture(t *testing.T, opts fakeslack.Options) *fixture {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = time.Unix(1700000000, 0)
	}
	srv := fakeslack.New(opts)
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv}
	f.alice = srv.AddUser(fakeslack.UserSpec{Name: "alice", RealName: "Alice Liddell", Email: "alice@example.org"})
	f.bob = srv.AddUser(fakeslack.UserSpec{Name: "bob", RealName: "Bob Builder"})
	general, err := srv.AddChannel(fakeslack.ChannelSpec{
		Name: "general", General: true, Members: []string{f.alice.ID, f.bob.ID}, BotMember: true, Topic: "hello",
	})
	if err != nil {
		t.Fatal(err)
	}
	f.general = general
	f.bot = f.client(srv.BotToken())
	return f
}

// client is a slack-go client for token, pointed at the fake.
func (f *fixture) client(token string) *slackgo.Client {
	return slackgo.New(token, slackgo.OptionAPIURL(f.srv.APIURL()))
}

// userClient issues a user token for userID and returns its client.
func (f *fixture) userClient(t *testing.T, userID string) *slackgo.Client {
	t.Helper()
	token, err := f.srv.IssueUserToken(userID)
	if err != nil {
		t.Fatal(err)
	}
	return f.client(token)
}

func (f *fixture) post(t *testing.T, userID, text string, opts ...fakeslack.PostOption) string {
	t.Helper()
	ts, err := f.srv.Post(userID, f.general.ID, text, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestAuthTest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()

	got, err := f.bot.AuthTestContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := &slackgo.AuthTestResponse{
		URL: "https://causeway-test.slack.com/", Team: "Causeway Test", User: "causeway",
		TeamID: f.srv.TeamID(), UserID: f.srv.BotUserID(), BotID: f.srv.BotID(),
	}
	if diff := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Header" }, cmp.Ignore())); diff != "" {
		t.Errorf("bot auth.test (-want +got):\n%s", diff)
	}

	got, err = f.userClient(t, f.alice.ID).AuthTestContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != f.alice.ID || got.User != "alice" || got.BotID != "" {
		t.Errorf("user auth.test = %+v, want alice without bot_id", got)
	}

	revoked, _ := f.srv.IssueUserToken(f.bob.ID)
	f.srv.RevokeToken(revoked)
	for name, tc := range map[string]struct {
		token string
		want  string
	}{
		"no token":  {"", "not_authed"},
		"unknown":   {"xoxb-1-T0FAKE001-nope", "invalid_auth"},
		"revoked":   {revoked, "token_revoked"},
		"app token": {f.srv.AppToken(), "not_allowed_token_type"},
	} {
		_, err := f.client(tc.token).AuthTestContext(ctx)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: auth.test error = %v, want %s", name, err, tc.want)
		}
	}
}

func TestTeamAndUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()

	team, err := f.bot.GetTeamInfoContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if team.ID != f.srv.TeamID() || team.Domain != "causeway-test" {
		t.Errorf("team.info = %+v", team)
	}

	alice, err := f.bot.GetUserInfoContext(ctx, f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if alice.Name != "alice" || alice.RealName != "Alice Liddell" || alice.Profile.Email != "alice@example.org" ||
		alice.Profile.FirstName != "Alice" || alice.Profile.Image192 == "" {
		t.Errorf("users.info = %+v", alice)
	}
	if _, err := f.bot.GetUserInfoContext(ctx, "UNOBODY"); err == nil || err.Error() != "user_not_found" {
		t.Errorf("users.info of nobody: error = %v, want user_not_found", err)
	}

	bot, err := f.bot.GetBotInfoContext(ctx, slackgo.GetBotInfoParameters{Bot: f.srv.BotID()})
	if err != nil {
		t.Fatal(err)
	}
	if bot.UserID != f.srv.BotUserID() || bot.AppID != f.srv.AppID() {
		t.Errorf("bots.info = %+v", bot)
	}

	// users.list pages through Slackbot, the bot user, alice and bob.
	users, err := f.bot.GetUsersContext(ctx, slackgo.GetUsersOptionLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if diff := cmp.Diff([]string{"slackbot", "causeway", "alice", "bob"}, names); diff != "" {
		t.Errorf("users.list names (-want +got):\n%s", diff)
	}
	if got := f.srv.CallCount("users.list"); got != 4 {
		t.Errorf("users.list calls = %d, want 4 pages", got)
	}
}

func TestConversations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	secret, err := f.srv.AddChannel(fakeslack.ChannelSpec{Name: "secret", Private: true, Members: []string{f.alice.ID}})
	if err != nil {
		t.Fatal(err)
	}
	random, err := f.srv.AddChannel(fakeslack.ChannelSpec{Name: "random", Members: []string{f.bob.ID}})
	if err != nil {
		t.Fatal(err)
	}

	channels, err := f.bot.GetAllConversationsContext(ctx,
		slackgo.GetConversationsOptionTypes([]string{"public_channel", "private_channel"}),
		slackgo.GetConversationsOptionLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ch := range channels {
		names = append(names, ch.Name)
	}
	if diff := cmp.Diff([]string{"general", "random"}, names); diff != "" {
		t.Errorf("bot's conversations.list (-want +got):\n%s", diff)
	}

	if _, err := f.bot.GetConversationInfoContext(ctx, &slackgo.GetConversationInfoInput{ChannelID: secret.ID}); err == nil || err.Error() != "channel_not_found" {
		t.Errorf("info on a private channel the bot is not in: error = %v, want channel_not_found", err)
	}
	info, err := f.bot.GetConversationInfoContext(ctx, &slackgo.GetConversationInfoInput{ChannelID: f.general.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsMember || !info.IsGeneral || info.Topic.Value != "hello" || info.IsPrivate {
		t.Errorf("conversations.info = %+v", info)
	}

	if _, _, _, err := f.bot.JoinConversationContext(ctx, random.ID); err != nil {
		t.Fatal(err)
	}
	members, _, err := f.bot.GetUsersInConversationContext(ctx, &slackgo.GetUsersInConversationParameters{ChannelID: random.ID})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{f.bob.ID, f.srv.BotUserID()}, members); diff != "" {
		t.Errorf("members after join (-want +got):\n%s", diff)
	}
	msgs, _ := f.srv.Messages(random.ID)
	if len(msgs) != 1 || msgs[0].Subtype != "channel_join" || msgs[0].User != f.srv.BotUserID() {
		t.Errorf("messages after join = %+v, want one channel_join by the bot", msgs)
	}

	dm, _, _, err := f.bot.OpenConversationContext(ctx, &slackgo.OpenConversationParameters{Users: []string{f.alice.ID}})
	if err != nil {
		t.Fatal(err)
	}
	again, noOp, _, err := f.bot.OpenConversationContext(ctx, &slackgo.OpenConversationParameters{Users: []string{f.alice.ID}, ReturnIM: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != dm.ID || !noOp || !again.IsIM || again.User != f.alice.ID {
		t.Errorf("second conversations.open = %+v (no_op %v), want the same im with alice", again, noOp)
	}

	if _, err := f.bot.SetTopicOfConversationContext(ctx, random.ID, "new topic"); err != nil {
		t.Fatal(err)
	}
	renamed, err := f.bot.RenameConversationContext(ctx, random.ID, "renamed")
	if err != nil {
		t.Fatal(err)
	}
	if renamed.Name != "renamed" || renamed.Topic.Value != "new topic" {
		t.Errorf("channel after rename = %+v", renamed)
	}
	if _, err := f.bot.RenameConversationContext(ctx, random.ID, "general"); err == nil || err.Error() != "name_taken" {
		t.Errorf("rename to a taken name: error = %v", err)
	}
	if err := f.bot.ArchiveConversationContext(ctx, random.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.bot.PostMessageContext(ctx, random.ID, slackgo.MsgOptionText("late", false)); err == nil || err.Error() != "is_archived" {
		t.Errorf("post in an archived channel: error = %v, want is_archived", err)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	f.srv.RateLimit("chat.postMessage", 1, 1500*time.Millisecond)

	_, _, err := f.bot.PostMessageContext(ctx, f.general.ID, slackgo.MsgOptionText("hi", false))
	var limited *slackgo.RateLimitedError
	if !errors.As(err, &limited) || limited.RetryAfter != 2*time.Second {
		t.Fatalf("first post: error = %v, want a RateLimitedError after 2s", err)
	}
	if _, _, err := f.bot.PostMessageContext(ctx, f.general.ID, slackgo.MsgOptionText("hi", false)); err != nil {
		t.Fatalf("second post: %v", err)
	}
	if got := f.srv.CallCount("chat.postMessage"); got != 2 {
		t.Errorf("chat.postMessage calls = %d, want 2", got)
	}
}

func TestEmojiAndUserGroups(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakeslack.Options{})
	ctx := context.Background()
	f.srv.AddEmoji("partyparrot", []byte("GIF89a"))
	f.srv.AddEmojiAlias("parrot", "partyparrot")

	emoji, err := f.bot.GetEmojiContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if emoji["parrot"] != "alias:partyparrot" || len(emoji) != 2 {
		t.Errorf("emoji.list = %v", emoji)
	}
	var image bytes.Buffer
	if err := f.bot.GetFileContext(ctx, emoji["partyparrot"], &image); err != nil {
		t.Fatal(err)
	}
	if image.String() != "GIF89a" {
		t.Errorf("emoji image = %q", image.String())
	}

	id, err := f.srv.AddUserGroup(fakeslack.UserGroupSpec{Name: "Admins", Handle: "admins", Users: []string{f.alice.ID}})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := f.bot.GetUserGroupsContext(ctx, slackgo.GetUserGroupsOptionIncludeUsers(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].ID != id || groups[0].Handle != "admins" || len(groups[0].Users) != 1 {
		t.Errorf("usergroups.list = %+v", groups)
	}
}
