package appservice_test

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// TestToDeviceToAppservices checks MSC4203: to-device messages for a device of a user the
// appservice registered reach the appservice in its transactions, through mautrix-go's
// appservice, once each, also when the appservice was down across a server restart; they leave
// the queue when delivered; messages for other users do not go to it.
func TestToDeviceToAppservices(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		env.as.Registration.EphemeralEvents = true // mautrix-go reads to-device messages only then
		const ghostDevice = id.DeviceID("BRIDGEDEV")
		ghost, _ := env.ghostWithDevice(t, "@_bridge_crypto:localhost", ghostDevice)
		alice := env.user(t, "alice")
		bob := env.user(t, "bob")
		who, err := bob.Whoami(ctx)
		if err != nil {
			t.Fatal(err)
		}
		send := func(to id.UserID, device id.DeviceID, body string) {
			t.Helper()
			req := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{
				to: {device: {Raw: map[string]any{"body": body}}}}}
			if _, err := alice.SendToDevice(ctx, event.Type{Type: "org.example.ping", Class: event.ToDeviceEventType}, req); err != nil {
				t.Fatal(err)
			}
		}
		next := func() *event.Event {
			t.Helper()
			select {
			case ev := <-env.as.ToDeviceEvents:
				return ev
			case <-time.After(10 * time.Second):
				t.Fatal("no to-device message reached the appservice")
				return nil
			}
		}

		send(bob.UserID, who.DeviceID, "for bob")
		send(ghost.UserID, ghostDevice, "first")
		ev := next()
		if ev.Sender != alice.UserID || ev.ToUserID != ghost.UserID || ev.ToDeviceID != ghostDevice || ev.Content.Raw["body"] != "first" {
			t.Errorf("got %+v from %s to %s/%s, want alice's first to the ghost's device", ev.Content.Raw, ev.Sender, ev.ToUserID, ev.ToDeviceID)
		}
		waitQueueEmpty(t, env, ghost.UserID, ghostDevice)

		env.asFront.setDown(true)
		send(ghost.UserID, ghostDevice, "while down")
		time.Sleep(100 * time.Millisecond) // failed attempts
		env.restart(t)
		env.asFront.setDown(false)
		if ev := next(); ev.Content.Raw["body"] != "while down" {
			t.Errorf("after the restart got %v, want the message sent while down", ev.Content.Raw)
		}
		select {
		case ev := <-env.as.ToDeviceEvents:
			t.Errorf("unexpected second delivery: %v to %s", ev.Content.Raw, ev.ToUserID)
		case <-time.After(300 * time.Millisecond):
		}
		waitQueueEmpty(t, env, ghost.UserID, ghostDevice)
		msgs, err := env.srv.DB.ToDeviceMessages(ctx, bob.UserID, who.DeviceID, 0, 1<<62, 10)
		if err != nil || len(msgs) != 1 {
			t.Errorf("bob's queue = %v, %v; want his message, waiting for his sync", msgs, err)
		}
	})
}

// waitQueueEmpty waits until a device's to-device queue is empty.
func waitQueueEmpty(t *testing.T, env *bridgeEnv, user id.UserID, device id.DeviceID) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		msgs, err := env.srv.DB.ToDeviceMessages(context.Background(), user, device, 0, 1<<62, 10)
		if err == nil && len(msgs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue of %s/%s still holds %d messages (%v)", user, device, len(msgs), err)
		}
	}
}
