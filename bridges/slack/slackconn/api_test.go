package slackconn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackgo "github.com/slack-go/slack"

	"causeway/bridges/slack/slackconn"
)

// postVia posts text in channelID through api, within Do.
func postVia(ctx context.Context, api *slackconn.API, channelID, text string) error {
	return api.Do(ctx, "chat.postMessage", func(ctx context.Context) error {
		_, _, err := api.Client().PostMessageContext(ctx, channelID, slackgo.MsgOptionText(text, false))
		return err
	})
}

// TestDoWaitsForRateLimit has Slack refuse chat.postMessage three times with Retry-After 1 s
// while one goroutine posts five messages and another posts one: everything is delivered,
// the five in order, and nobody calls Slack while the method is blocked.
func TestDoWaitsForRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	api := conn.API()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	f.srv.RateLimit("chat.postMessage", 3, time.Second)
	began := time.Now()
	sequential := make(chan error, 1)
	go func() {
		for i := range 5 {
			if err := postVia(ctx, api, f.general.ID, fmt.Sprintf("in order %d", i)); err != nil {
				sequential <- err
				return
			}
		}
		sequential <- nil
	}()

	// A second caller of the same method, arriving while it is blocked, waits too.
	waitUntil(t, "rate limited", func() bool { return conn.Status().Methods["chat.postMessage"].RateLimited >= 1 })
	concurrent := make(chan error, 1)
	go func() { concurrent <- postVia(ctx, api, f.general.ID, "meanwhile") }()
	waitUntil(t, "queued", func() bool { return conn.Status().Methods["chat.postMessage"].Waiting >= 2 })

	if err := <-sequential; err != nil {
		t.Fatal(err)
	}
	if err := <-concurrent; err != nil {
		t.Fatal(err)
	}
	// Three refusals, each followed by a one-second wait before a single call tries again.
	if took := time.Since(began); took < 3*time.Second {
		t.Errorf("took %s, want at least 3 s", took)
	}

	msgs, err := f.srv.Messages(f.general.ID)
	if err != nil {
		t.Fatal(err)
	}
	var inOrder []string
	meanwhile := 0
	for _, m := range msgs {
		if m.Text == "meanwhile" {
			meanwhile++
		} else {
			inOrder = append(inOrder, m.Text)
		}
	}
	want := []string{"in order 0", "in order 1", "in order 2", "in order 3", "in order 4"}
	if diff := cmp.Diff(want, inOrder); diff != "" || meanwhile != 1 {
		t.Errorf("messages (-want +got):\n%s\n%d × meanwhile", diff, meanwhile)
	}
	// Six messages and three refusals: no call went out while the method was blocked.
	if got := f.srv.CallCount("chat.postMessage"); got != 9 {
		t.Errorf("chat.postMessage called %d times, want 9", got)
	}
	wantStatus := slackconn.MethodStatus{Calls: 9, RateLimited: 3, Waiting: 0}
	got := conn.Status().Methods["chat.postMessage"]
	got.BlockedUntil = time.Time{}
	if got != wantStatus {
		t.Errorf("method status = %+v, want %+v", got, wantStatus)
	}
}

// TestDoRateLimitIsPerMethod checks that a blocked method does not hold up the others.
func TestDoRateLimitIsPerMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	api := conn.API()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	f.srv.RateLimit("chat.postMessage", 1, time.Second)
	posted := make(chan error, 1)
	go func() { posted <- postVia(ctx, api, f.general.ID, "later") }()
	waitUntil(t, "rate limited", func() bool { return conn.Status().Methods["chat.postMessage"].RateLimited == 1 })

	began := time.Now()
	err := api.Do(ctx, "conversations.info", func(ctx context.Context) error {
		_, err := api.Client().GetConversationInfoContext(ctx, &slackgo.GetConversationInfoInput{ChannelID: f.general.ID})
		return err
	})
	if err != nil || time.Since(began) > 500*time.Millisecond {
		t.Errorf("conversations.info = %v after %s", err, time.Since(began))
	}
	if err := <-posted; err != nil {
		t.Fatal(err)
	}
}

// TestDoGivesUpWithContext checks that a caller waiting for a rate limit leaves when its
// context ends, and is no longer counted as waiting.
func TestDoGivesUpWithContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	f.srv.RateLimit("chat.postMessage", 1, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := postVia(ctx, conn.API(), f.general.ID, "never")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 2*time.Second {
		t.Errorf("Do = %v after %s, want the deadline soon", err, time.Since(began))
	}
	if m := conn.Status().Methods["chat.postMessage"]; m.Waiting != 0 || m.RateLimited != 1 {
		t.Errorf("method status = %+v", m)
	}
}

func TestDoAuthErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	ctx := context.Background()

	// A user's token refused concerns that user only.
	userToken, err := f.srv.IssueUserToken(f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	user := conn.UserAPI(userToken)
	if err := postVia(ctx, user, f.general.ID, "as alice"); err != nil {
		t.Fatal(err)
	}
	f.srv.RevokeToken(userToken)
	err = postVia(ctx, user, f.general.ID, "as alice again")
	want := slackconn.AuthError{Workspace: "acme", Token: slackconn.TokenUser, SlackError: "token_revoked"}
	if ae, ok := errors.AsType[*slackconn.AuthError](err); !ok || *ae != want {
		t.Errorf("Do with a revoked user token = %v, want %+v", err, want)
	}
	if conn.Status().AuthFailed {
		t.Error("a user's token failed the workspace")
	}

	// An ordinary Slack error passes through as it is.
	err = postVia(ctx, conn.API(), "C0NOWHERE", "lost")
	if _, ok := errors.AsType[slackgo.SlackErrorResponse](err); !ok || err.Error() != "channel_not_found" || conn.Status().AuthFailed {
		t.Errorf("Do in a missing channel = %v", err)
	}

	// The bot's token refused fails the workspace, even with Run not running.
	f.srv.RevokeToken(f.srv.BotToken())
	err = postVia(ctx, conn.API(), f.general.ID, "as the bot")
	want = slackconn.AuthError{Workspace: "acme", Token: slackconn.TokenBot, SlackError: "token_revoked"}
	if ae, ok := errors.AsType[*slackconn.AuthError](err); !ok || *ae != want {
		t.Errorf("Do with a revoked bot token = %v, want %+v", err, want)
	}
	if s := conn.Status(); !s.AuthFailed || s.State != slackconn.StateAuthFailed {
		t.Errorf("Status() = %+v", s)
	}
	f.checkNoTokens(t, userToken)
}
