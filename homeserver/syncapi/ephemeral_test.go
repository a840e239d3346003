package syncapi

import (
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix/event"

	"causeway/homeserver/storage"
)

func TestReceiptEvents(t *testing.T) {
	receipts := []storage.Receipt{
		{RoomID: "!b:hs", UserID: "@a:hs", Type: event.ReceiptTypeRead, EventID: "$1", TS: 10},
		{RoomID: "!a:hs", UserID: "@a:hs", Type: event.ReceiptTypeRead, EventID: "$2", TS: 11, ThreadID: "main"},
		{RoomID: "!a:hs", UserID: "@a:hs", Type: event.ReceiptTypeRead, EventID: "$2", TS: 12},
		{RoomID: "!a:hs", UserID: "@b:hs", Type: event.ReceiptTypeReadPrivate, EventID: "$2", TS: 13},
	}
	got, err := json.Marshal(ReceiptEvents(receipts))
	if err != nil {
		t.Fatal(err)
	}
	// One event per room and thread: @a's unthreaded and "main" receipts on $2 cannot share one.
	want := `[` +
		`{"type":"m.receipt","room_id":"!a:hs","content":{"$2":{"m.read":{"@a:hs":{"ts":12}},"m.read.private":{"@b:hs":{"ts":13}}}}},` +
		`{"type":"m.receipt","room_id":"!a:hs","content":{"$2":{"m.read":{"@a:hs":{"ts":11,"thread_id":"main"}}}}},` +
		`{"type":"m.receipt","room_id":"!b:hs","content":{"$1":{"m.read":{"@a:hs":{"ts":10}}}}}` +
		`]`
	if string(got) != want {
		t.Errorf("ReceiptEvents =\n%s\nwant\n%s", got, want)
	}
	typing, _ := json.Marshal(TypingEvent("!a:hs", nil))
	if string(typing) != `{"type":"m.typing","room_id":"!a:hs","content":{"user_ids":[]}}` {
		t.Errorf("TypingEvent with nobody typing = %s", typing)
	}
}
