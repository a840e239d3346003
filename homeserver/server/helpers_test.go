package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/config"
	"causeway/homeserver/server"
)

// password is the password every test account is registered with.
const password = "correct horse battery"

// testServer is one in-process Causeway behind a real HTTP listener.
type testServer struct {
	URL     string
	srv     *server.Server
	dataDir string
}

// startServer boots a server on the given database with open registration and no rate limits.
func startServer(t testing.TB, driver, dsn string, tweak ...func(*config.Config)) *testServer {
	t.Helper()
	return startServerWith(t, driver, dsn, nil, tweak...)
}

// startServerWith is startServer with options for server.New.
func startServerWith(t testing.TB, driver, dsn string, opts []server.Option, tweak ...func(*config.Config)) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.ServerName = "localhost"
	cfg.DataDir = t.TempDir()
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.ClientAPI.RateLimit.Enabled = false
	cfg.Database.URL = dsn
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &testServer{URL: hs.URL, srv: srv, dataDir: cfg.DataDir}
}

// register creates an account with m.login.dummy and returns a logged-in client.
func (ts *testServer) register(t testing.TB, localpart string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(ts.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.RegisterDummy(context.Background(), &mautrix.ReqRegister[any]{Username: localpart, Password: password})
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	cli.SetCredentials(resp.UserID, resp.AccessToken)
	cli.DeviceID = resp.DeviceID
	return cli
}

// login logs an existing account in on a new device and returns a client for it.
func (ts *testServer) login(t testing.TB, userID id.UserID, pass string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(ts.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.Login(context.Background(), &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: string(userID)},
		Password:         pass,
		StoreCredentials: true,
	})
	if err != nil {
		t.Fatalf("login %s: %v", userID, err)
	}
	return cli
}

func mustSend(t *testing.T, cli *mautrix.Client, roomID id.RoomID, body string) id.EventID {
	t.Helper()
	resp, err := cli.SendText(context.Background(), roomID, body)
	if err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	return resp.EventID
}

// mustCreateRoom creates a room and fails the test if it cannot.
func mustCreateRoom(t *testing.T, cli *mautrix.Client, req *mautrix.ReqCreateRoom) id.RoomID {
	t.Helper()
	resp, err := cli.CreateRoom(context.Background(), req)
	if err != nil {
		t.Fatalf("%s creates a room: %v", cli.UserID, err)
	}
	return resp.RoomID
}

// mustJoin joins cli to a room by ID or alias.
func mustJoin(t *testing.T, cli *mautrix.Client, roomIDOrAlias string) {
	t.Helper()
	if _, err := cli.JoinRoom(context.Background(), roomIDOrAlias, nil); err != nil {
		t.Fatalf("%s joins %s: %v", cli.UserID, roomIDOrAlias, err)
	}
}

// bodies lists the text bodies of m.room.message events.
func bodies(evs []*event.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Type == event.EventMessage {
			if b, ok := ev.Content.Raw["body"].(string); ok {
				out = append(out, b)
			}
		}
	}
	return out
}

// apiResponse is an HTTP answer read in full, for tests that check the exact status, errcode
// and body rather than what mautrix's client makes of them.
type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// object decodes the body as a JSON object.
func (r apiResponse) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body is not a JSON object (status %d): %v: %s", r.Status, err, r.Body)
	}
	return m
}

// decode decodes the body into v.
func (r apiResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode response (status %d): %v: %s", r.Status, err, r.Body)
	}
}

// errcode returns the errcode of an error body, "" when there is none.
func (r apiResponse) errcode() string {
	var e struct {
		ErrCode string `json:"errcode"`
	}
	json.Unmarshal(r.Body, &e)
	return e.ErrCode
}

// rawBody is a request body sent byte for byte, not encoded as JSON.
type rawBody string

// do sends one request to the server. token "" sends no Authorization header. body nil sends
// no body, a rawBody is sent as it is, and anything else is encoded as JSON.
func (ts *testServer) do(t *testing.T, method, path, token string, body any) apiResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = strings.NewReader(string(b))
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return ts.send(t, req)
}

// send sends a prepared request and reads the whole answer.
func (ts *testServer) send(t *testing.T, req *http.Request) apiResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// wantError fails the test unless r is an error response with the given status and errcode.
func wantError(t *testing.T, r apiResponse, status int, errcode string) {
	t.Helper()
	if r.Status != status || r.errcode() != errcode {
		t.Errorf("got %d %q, want %d %s; body: %s", r.Status, r.errcode(), status, errcode, r.Body)
	}
}

// wantOK fails the test now unless r has status 200.
func wantOK(t *testing.T, r apiResponse) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("got %d, want 200; body: %s", r.Status, r.Body)
	}
}

// roomPath returns the client API path of a room endpoint, with the room ID escaped.
func roomPath(roomID id.RoomID, rest string) string {
	return "/_matrix/client/v3/rooms/" + url.PathEscape(string(roomID)) + rest
}

// sync runs GET /sync for cli with the given query and decodes the answer.
func (ts *testServer) sync(t *testing.T, cli *mautrix.Client, query url.Values) *mautrix.RespSync {
	t.Helper()
	if !query.Has("set_presence") {
		// Out of the tests that are not about presence: a user coming online would wake
		// the long polls of everyone in their rooms.
		query = maps.Clone(query)
		query.Set("set_presence", "offline")
	}
	r := ts.do(t, http.MethodGet, "/_matrix/client/v3/sync?"+query.Encode(), cli.AccessToken, nil)
	wantOK(t, r)
	var resp mautrix.RespSync
	r.decode(t, &resp)
	return &resp
}

// messages runs GET /rooms/{roomId}/messages for cli with the given query and decodes the answer.
func (ts *testServer) messages(t *testing.T, cli *mautrix.Client, roomID id.RoomID, query url.Values) *mautrix.RespMessages {
	t.Helper()
	r := ts.do(t, http.MethodGet, roomPath(roomID, "/messages?"+query.Encode()), cli.AccessToken, nil)
	wantOK(t, r)
	var resp mautrix.RespMessages
	r.decode(t, &resp)
	return &resp
}

// allBodies pages backwards through the whole room as cli and returns the message bodies,
// oldest first.
func (ts *testServer) allBodies(t *testing.T, cli *mautrix.Client, roomID id.RoomID) []string {
	t.Helper()
	var out []string
	from := ""
	for range 100 {
		q := url.Values{"dir": {"b"}, "limit": {"50"}}
		if from != "" {
			q.Set("from", from)
		}
		page := ts.messages(t, cli, roomID, q)
		b := bodies(page.Chunk)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		out = append(b, out...)
		if page.End == "" {
			return out
		}
		from = page.End
	}
	t.Fatal("pagination did not end")
	return nil
}

// joinedRooms lists cli's joined rooms.
func joinedRooms(t *testing.T, cli *mautrix.Client) []id.RoomID {
	t.Helper()
	resp, err := cli.JoinedRooms(context.Background())
	if err != nil {
		t.Fatalf("joined rooms of %s: %v", cli.UserID, err)
	}
	return resp.JoinedRooms
}

// memberEvent finds the last m.room.member event about user in evs.
func memberEvent(evs []*event.Event, user id.UserID) *event.Event {
	var found *event.Event
	for _, ev := range evs {
		if ev.Type == event.StateMember && ev.GetStateKey() == string(user) {
			found = ev
		}
	}
	return found
}
