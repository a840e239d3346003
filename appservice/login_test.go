package appservice_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"causeway/homeserver/storage/storagetest"
)

// TestAppserviceLoginAndMassagedState covers m.login.application_service (a device and token
// for a ghost, without a password) and ts massaging on state events.
func TestAppserviceLoginAndMassagedState(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		ghost := env.as.Intent("@_bridge_carol:localhost")
		if err := ghost.EnsureRegistered(ctx); err != nil {
			t.Fatal(err)
		}
		login := &mautrix.ReqLogin{Type: mautrix.AuthTypeAppservice,
			Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: string(ghost.UserID)}}
		bot := env.as.BotClient()
		resp, err := bot.Login(ctx, login)
		if err != nil {
			t.Fatalf("m.login.application_service: %v", err)
		}
		if resp.UserID != ghost.UserID || resp.AccessToken == "" || resp.DeviceID == "" {
			t.Fatalf("login response %+v", resp)
		}
		own, _ := mautrix.NewClient(env.hsURL, resp.UserID, resp.AccessToken)
		if who, err := own.Whoami(ctx); err != nil || who.DeviceID != resp.DeviceID {
			t.Errorf("whoami with the new token: %+v, %v", who, err)
		}
		login.Identifier.User = "@alice:localhost"
		if _, err := bot.Login(ctx, login); errCode(err) != "M_FORBIDDEN" {
			t.Errorf("logging in outside the namespace: %v, want M_FORBIDDEN", err)
		}

		room, err := ghost.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
		if err != nil {
			t.Fatal(err)
		}
		const oldTS = int64(1_500_000_000_000)
		sent, err := ghost.SendMassagedStateEvent(ctx, room.RoomID, event.StateTopic, "", map[string]any{"topic": "imported"}, oldTS)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := own.GetEvent(ctx, room.RoomID, sent.EventID)
		if err != nil || ev.Timestamp != oldTS {
			t.Errorf("massaged state event: ts %d, %v; want %d", ev.Timestamp, err, oldTS)
		}
	})
}
