package bridge_test

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

var slackT1 = bridge.Key{Network: "slack", Workspace: "T1"}

func eachStore(t *testing.T, fn func(t *testing.T, s *bridge.Store)) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) { fn(t, bridge.NewStore(db.SQL())) })
}

func TestStorePortalsAndGhosts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *bridge.Store) {
		ctx := context.Background()
		p := bridge.Portal{Key: slackT1, ChannelID: "C1", RoomID: "!r1:x", Kind: bridge.KindChannel, Name: "general", CreatedTS: 1}
		if err := s.PutPortal(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := s.PutPortal(ctx, p); err == nil {
			t.Error("a second portal for the same channel was accepted")
		}
		p.Name, p.Topic = "renamed", "a topic"
		if err := s.UpdatePortalInfo(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, err := s.PortalByRoom(ctx, "!r1:x")
		if err != nil || got != p {
			t.Errorf("PortalByRoom = %+v, %v; want %+v", got, err, p)
		}
		if _, err := s.Portal(ctx, bridge.Key{Network: "slack", Workspace: "T2"}, "C1"); !bridge.IsNotFound(err) {
			t.Errorf("another workspace's channel: %v, want not found", err)
		}
		g := bridge.Ghost{Key: slackT1, RemoteID: "U1", UserID: "@slack_t1_u1:x", Name: "Ann", UpdatedTS: 1}
		for _, name := range []string{"Ann", "Ann B."} {
			g.Name = name
			if err := s.PutGhost(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.Ghost(ctx, slackT1, "U1"); err != nil || got != g {
			t.Errorf("Ghost = %+v, %v; want %+v", got, err, g)
		}
		if err := s.SetPortalRelay(ctx, slackT1, "C1", bridge.RelayToMatrix); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Portal(ctx, slackT1, "C1"); got.Relay != bridge.RelayToMatrix {
			t.Errorf("relay = %q, want %q", got.Relay, bridge.RelayToMatrix)
		}
		if err := s.SetPortalRelay(ctx, slackT1, "C9", bridge.RelayNone); !bridge.IsNotFound(err) {
			t.Errorf("the relay of a channel without a portal: %v, want not found", err)
		}
	})
}

func TestStoreMessageMap(t *testing.T) {
	eachStore(t, func(t *testing.T, s *bridge.Store) {
		ctx := context.Background()
		msg := func(remoteID string, part int, sortKey int64, thread string, ev id.EventID) bridge.Message {
			return bridge.Message{Key: slackT1, ChannelID: "C1", RemoteID: remoteID, Part: part, SortKey: sortKey,
				ThreadID: thread, RoomID: "!r:x", EventID: ev, Sender: "@a:x"}
		}
		for _, m := range []bridge.Message{msg("100.1", 0, 100, "", "$a"), msg("100.1", 1, 100, "", "$b"), msg("200.1", 0, 200, "", "$c"), msg("300.1", 0, 300, "200.1", "$d")} {
			if ok, err := s.PutMessage(ctx, m); !ok || err != nil {
				t.Fatalf("PutMessage(%s) = %v, %v", m.EventID, ok, err)
			}
		}
		if ok, err := s.PutMessage(ctx, msg("100.1", 0, 100, "", "$dup")); ok || err != nil {
			t.Errorf("a second bridging of a recorded part: %v, %v; want false", ok, err)
		}
		parts, err := s.Message(ctx, slackT1, "C1", "100.1")
		if err != nil || len(parts) != 2 || parts[0].EventID != "$a" || parts[1].EventID != "$b" {
			t.Errorf("Message = %+v, %v", parts, err)
		}
		if m, err := s.MessageByEvent(ctx, "$d"); err != nil || m.RemoteID != "300.1" || m.ThreadID != "200.1" {
			t.Errorf("MessageByEvent = %+v, %v", m, err)
		}
		if roots, err := s.ActiveThreads(ctx, slackT1, "C1", 300); err != nil || len(roots) != 1 || roots[0] != "200.1" {
			t.Errorf("ActiveThreads = %v, %v; want the thread of 200.1", roots, err)
		}
		if roots, _ := s.ActiveThreads(ctx, slackT1, "C1", 301); len(roots) != 0 {
			t.Errorf("ActiveThreads after the replies: %v, want none", roots)
		}
		// Thread replies do not move the catch-up point of the channel's main timeline.
		if m, err := s.LatestMessage(ctx, slackT1, "C1"); err != nil || m.RemoteID != "200.1" {
			t.Errorf("LatestMessage = %+v, %v; want 200.1", m, err)
		}
		// Where an imported past must end: the oldest message, threads included.
		if m, err := s.OldestMessage(ctx, slackT1, "C1"); err != nil || m.RemoteID != "100.1" || m.Part != 0 {
			t.Errorf("OldestMessage = %+v, %v; want 100.1 part 0", m, err)
		}
		if n, err := s.CountMessages(ctx, slackT1, "C1"); err != nil || n != 3 {
			t.Errorf("CountMessages = %d, %v; want 3 messages (4 parts)", n, err)
		}
		if _, err := s.OldestMessage(ctx, slackT1, "C2"); !bridge.IsNotFound(err) {
			t.Errorf("OldestMessage of a channel without messages: %v, want not found", err)
		}
		if err := s.DeleteMessage(ctx, slackT1, "C1", "100.1"); err != nil {
			t.Fatal(err)
		}
		if parts, _ := s.Message(ctx, slackT1, "C1", "100.1"); len(parts) != 0 {
			t.Errorf("deleted message still has %d parts", len(parts))
		}
	})
}

// TestStoreMatrixActivity counts people per week, Monday to Sunday (UTC), each once a week
// however much they wrote.
func TestStoreMatrixActivity(t *testing.T) {
	eachStore(t, func(t *testing.T, s *bridge.Store) {
		ctx := context.Background()
		monday := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
		writes := []struct {
			user id.UserID
			at   time.Time
		}{
			{"@ann:x", monday.Add(-time.Minute)}, // the Sunday before
			{"@ann:x", monday},
			{"@ann:x", monday.Add(50 * time.Hour)},
			{"@bob:x", monday.Add(6*24*time.Hour + 23*time.Hour)},
		}
		for _, w := range writes {
			if err := s.RecordMatrixActivity(ctx, slackT1, w.user, w.at); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.MatrixActivity(ctx, slackT1, 3, monday.Add(72*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []bridge.WeekActivity{{Week: monday.AddDate(0, 0, -14)}, {Week: monday.AddDate(0, 0, -7), People: 1}, {Week: monday, People: 2}}
		if len(got) != 3 {
			t.Fatalf("MatrixActivity = %+v", got)
		}
		for i := range want {
			if !got[i].Week.Equal(want[i].Week) || got[i].People != want[i].People {
				t.Errorf("week %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

func TestStoreReactionsAndLogins(t *testing.T) {
	eachStore(t, func(t *testing.T, s *bridge.Store) {
		ctx := context.Background()
		r := bridge.Reaction{Key: slackT1, ChannelID: "C1", MessageID: "100.1", RemoteUserID: "U1", Emoji: "tada", RoomID: "!r:x", EventID: "$r"}
		if ok, err := s.PutReaction(ctx, r); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if ok, _ := s.PutReaction(ctx, r); ok {
			t.Error("a reaction recorded twice")
		}
		if got, err := s.Reaction(ctx, slackT1, "C1", "100.1", "U1", "tada"); err != nil || got != r {
			t.Errorf("Reaction = %+v, %v", got, err)
		}
		if err := s.DeleteReaction(ctx, "$r"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReactionByEvent(ctx, "$r"); !bridge.IsNotFound(err) {
			t.Errorf("deleted reaction: %v", err)
		}

		l := bridge.Login{Key: slackT1, UserID: "@alice:x", RemoteID: "U1", Token: "xoxp-1"}
		if err := s.PutLogin(ctx, l); err != nil {
			t.Fatal(err)
		}
		// The same Slack account logged in from another Matrix account moves there.
		l2 := bridge.Login{Key: slackT1, UserID: "@alice2:x", RemoteID: "U1", Token: "xoxp-2"}
		if err := s.PutLogin(ctx, l2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoginOf(ctx, slackT1, "@alice:x"); !bridge.IsNotFound(err) {
			t.Errorf("the old login stayed: %v", err)
		}
		if got, err := s.LoginByRemote(ctx, slackT1, "U1"); err != nil || got.UserID != "@alice2:x" || got.Token != "xoxp-2" {
			t.Errorf("LoginByRemote = %+v, %v", got, err)
		}
	})
}
