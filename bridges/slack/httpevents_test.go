package slack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	slackbridge "causeway/bridges/slack"
	"causeway/bridges/slack/slackconn"
	"causeway/homeserver/storage/storagetest"
	"causeway/internal/fakeslack"
)

// TestEventsOverHTTP runs the bridge for a Slack app that has Socket Mode off: Slack verifies
// the bridge's Request URL and POSTs its events there, signed. Messages go both ways, the
// status says how events arrive, and a restart while Slack users keep talking (Slack's
// deliveries failing meanwhile, retried, then given up) leaves no gap and no duplicate.
func TestEventsOverHTTP(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		e := startEnvWith(t, dsn, &env{overHTTP: true}, fakeslack.Options{
			EventRetryDelays: []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond},
		})
		bob, roomID := e.joinGeneral(t, "bob")
		// Slack retries a refused delivery while later events go ahead: posting before the
		// workspace takes events would reorder them.
		e.waitTakingEvents(t)
		want := numbered("message", 0, 30)
		for _, text := range want[:10] {
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, text); err != nil {
				t.Fatal(err)
			}
		}
		wantBodies(t, bob, roomID, e.ghost(e.alice.ID), want[:10])

		ctx := context.Background()
		if _, err := bob.SendMessageEvent(ctx, roomID, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: "hello from Matrix"}); err != nil {
			t.Fatal(err)
		}
		waitSlack(t, e.slack, e.general.ID, "bob's message in Slack", func(m fakeslack.Message) bool { return m.Text == "hello from Matrix" })
		st := e.bridge.Statuses(ctx)[0]
		if st.Transport != slackconn.TransportEventsAPI || !st.Connected || st.Events < 10 {
			t.Errorf("status %+v, want events_api, connected, at least the 10 messages", st)
		}

		e.stop()
		for _, text := range want[10:20] {
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, text); err != nil {
				t.Fatal(err)
			}
		}
		waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := e.slack.WaitEventsDelivered(waitCtx); err != nil {
			t.Fatalf("Slack still retrying: %v", err)
		}
		if n := e.slack.DroppedEvents(); n < 10 {
			t.Fatalf("Slack gave up %d events while Causeway was down, want the 10 posts at least", n)
		}
		e.startServer(t, dsn)
		e.waitTakingEvents(t)
		for _, text := range want[20:] {
			if _, err := e.slack.Post(e.alice.ID, e.general.ID, text); err != nil {
				t.Fatal(err)
			}
		}
		bob.HomeserverURL = mustParseURL(t, e.hsURL)
		wantBodies(t, bob, roomID, e.ghost(e.alice.ID), want)
	})
}

// TestEventsEndpointRefusesForgeries: the bridge's Request URL takes only what the workspace's
// signing secret signed, and knows only configured workspaces.
func TestEventsEndpointRefusesForgeries(t *testing.T) {
	e := startEnvWith(t, storagetest.DatabaseURL(t, "sqlite"), &env{overHTTP: true}, fakeslack.Options{})
	forged := `{"type":"event_callback","event_id":"EvForged","event":{"type":"message","channel":"` + e.general.ID +
		`","user":"` + e.alice.ID + `","text":"forged","ts":"1700000000.000100"}}`
	for _, tc := range []struct {
		path string
		want int
	}{
		{slackbridge.EventsPath + "test", http.StatusUnauthorized},
		{slackbridge.EventsPath + "elsewhere", http.StatusNotFound},
	} {
		req, err := http.NewRequest(http.MethodPost, e.hsURL+tc.path, strings.NewReader(forged))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Slack-Request-Timestamp", "1700000000")
		req.Header.Set("X-Slack-Signature", "v0=0000000000000000000000000000000000000000000000000000000000000000")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST %s answered %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}

// waitTakingEvents waits until the workspace's status says it takes Slack's events.
func (e *env) waitTakingEvents(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st := e.bridge.Statuses(context.Background()); len(st) > 0 && st[0].Connected {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the workspace never started taking events")
		}
	}
}
