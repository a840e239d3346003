package server_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// debianPython is Debian's interpreter, which python3-matrix-nio installs into.
const debianPython = "/usr/bin/python3"

// TestMatrixNioClient runs a real, widely deployed client (matrix-nio, as Debian ships it)
// against the server: it registers, logs in, creates a room, sends, syncs and paginates over
// the legacy r0 API with query-parameter access tokens.
func TestMatrixNioClient(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import nio").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-matrix-nio is missing; .ci/run installs it: %v", err)
		}
		t.Skip("python3-matrix-nio is not installed (apt-get install python3-matrix-nio, as .ci/run does)")
	}
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		out, err := exec.Command(debianPython, "testdata/nio_client.py", ts.URL).Output()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Fatalf("nio client failed: %v\n%s", err, exitErr.Stderr)
		} else if err != nil {
			t.Fatal(err)
		}
		var got struct {
			UserID           id.UserID    `json:"user_id"`
			SentEventID      id.EventID   `json:"sent_event_id"`
			TimelineEventIDs []id.EventID `json:"timeline_event_ids"`
			HistoryBodies    []*string    `json:"history_bodies"`
			RoomName         string       `json:"room_name"`
			RoomTopic        string       `json:"room_topic"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("nio output %q: %v", out, err)
		}
		if got.UserID != "@niouser:localhost" {
			t.Errorf("user_id = %s", got.UserID)
		}
		if !slices.Contains(got.TimelineEventIDs, got.SentEventID) {
			t.Errorf("nio's sync timeline %v lacks its message %s", got.TimelineEventIDs, got.SentEventID)
		}
		if !slices.ContainsFunc(got.HistoryBodies, func(b *string) bool { return b != nil && *b == "hello from nio" }) {
			t.Errorf("nio's room_messages lacks the message: %v", got.HistoryBodies)
		}
		if got.RoomName != "nio room" || got.RoomTopic != "from nio" {
			t.Errorf("nio sees room name %q and topic %q", got.RoomName, got.RoomTopic)
		}
	})
}
