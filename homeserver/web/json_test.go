package web

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

type createRoomBody struct {
	Name   string    `json:"name"`
	RoomID id.RoomID `json:"room_id"`
	Power  struct {
		Users map[string]int `json:"users"`
	} `json:"power"`
	Invite []id.UserID `json:"invite"`
	Public bool        `json:"public"`
}

// strictField refuses any value but "ok", like a mautrix type with its own UnmarshalJSON.
type strictField string

func (s *strictField) UnmarshalJSON(b []byte) error {
	if string(b) != `"ok"` {
		return errors.New("strict field must be ok")
	}
	*s = "ok"
	return nil
}

func TestReadJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        io.Reader // nil means http.NoBody
		maxBytes    int64
		wantCode    string // "" for success
		wantStatus  int
		wantMessage string // a substring of the message
		want        createRoomBody
	}{
		{
			name: "valid, unknown fields ignored",
			body: strings.NewReader(`{"name":"Lobby","room_id":"!r:hs","power":{"users":{"@a:hs":100}},"invite":["@b:hs"],"public":true,"com.example.extra":{"x":1}}`),
			want: createRoomBody{Name: "Lobby", RoomID: "!r:hs", Power: struct {
				Users map[string]int `json:"users"`
			}{Users: map[string]int{"@a:hs": 100}}, Invite: []id.UserID{"@b:hs"}, Public: true},
		},
		{name: "empty object", body: strings.NewReader(` {} `)},
		{name: "HTML characters are fine", body: strings.NewReader(`{"name":"<b>&</b>"}`), want: createRoomBody{Name: "<b>&</b>"}},
		{name: "exactly the limit", body: strings.NewReader(`{"name":"ab"}`), maxBytes: 13, want: createRoomBody{Name: "ab"}},
		{name: "one byte over the limit", body: strings.NewReader(`{"name":"abc"}`), maxBytes: 13,
			wantCode: "M_TOO_LARGE", wantStatus: 413, wantMessage: "larger than 13 bytes"},
		{name: "far over the limit", body: strings.NewReader(`{"name":"` + strings.Repeat("a", 1<<20) + `"}`), maxBytes: 1024,
			wantCode: "M_TOO_LARGE", wantStatus: 413},
		{name: "no body", body: nil, wantCode: "M_NOT_JSON", wantStatus: 400, wantMessage: "empty"},
		{name: "empty body", body: strings.NewReader(""), wantCode: "M_NOT_JSON", wantStatus: 400, wantMessage: "empty"},
		{name: "whitespace only", body: strings.NewReader(" \n\t"), wantCode: "M_NOT_JSON", wantStatus: 400, wantMessage: "empty"},
		{name: "not JSON", body: strings.NewReader(`name=Lobby`), wantCode: "M_NOT_JSON", wantStatus: 400, wantMessage: "not valid JSON"},
		{name: "truncated", body: strings.NewReader(`{"name":"Lobby"`), wantCode: "M_NOT_JSON", wantStatus: 400},
		{name: "trailing garbage", body: strings.NewReader(`{} x`), wantCode: "M_NOT_JSON", wantStatus: 400},
		{name: "two objects", body: strings.NewReader(`{}{}`), wantCode: "M_NOT_JSON", wantStatus: 400},
		{name: "type error after a syntax error is still not JSON", body: strings.NewReader(`{"name":5,}`),
			wantCode: "M_NOT_JSON", wantStatus: 400},
		{name: "invalid UTF-8", body: strings.NewReader("{\"name\":\"\xff\"}"), wantCode: "M_NOT_JSON", wantStatus: 400, wantMessage: "UTF-8"},
		{name: "wrong type", body: strings.NewReader(`{"name": 5}`),
			wantCode: "M_BAD_JSON", wantStatus: 400, wantMessage: `Field "name" must be a string, not number`},
		{name: "wrong nested type", body: strings.NewReader(`{"power":{"users":{"@a:hs":"100"}}}`),
			wantCode: "M_BAD_JSON", wantStatus: 400, wantMessage: `"power.users.@a:hs" must be an integer`},
		{name: "wrong type in array", body: strings.NewReader(`{"invite":["@b:hs", 7]}`),
			wantCode: "M_BAD_JSON", wantStatus: 400, wantMessage: `"invite.1" must be a string`},
		{name: "fraction for integer", body: strings.NewReader(`{"power":{"users":{"@a:hs":1.5}}}`),
			wantCode: "M_BAD_JSON", wantStatus: 400, wantMessage: "must be an integer"},
		{name: "object for boolean", body: strings.NewReader(`{"public":{}}`),
			wantCode: "M_BAD_JSON", wantStatus: 400, wantMessage: `"public" must be a boolean`},
		{name: "array at top level", body: strings.NewReader(`[1]`), wantCode: "M_BAD_JSON", wantStatus: 400, wantMessage: "JSON object"},
		{name: "string at top level", body: strings.NewReader(`"x"`), wantCode: "M_BAD_JSON", wantStatus: 400, wantMessage: "JSON object"},
		{name: "null at top level", body: strings.NewReader(`null`), wantCode: "M_BAD_JSON", wantStatus: 400, wantMessage: "JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tc.body
			if body == nil {
				body = http.NoBody
			}
			maxBytes := tc.maxBytes
			if maxBytes == 0 {
				maxBytes = 1 << 16
			}
			req := httptest.NewRequest(http.MethodPost, "/createRoom", body)
			var got createRoomBody
			err := ReadJSON(httptest.NewRecorder(), req, maxBytes, &got)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("ReadJSON: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("decoded (-want +got):\n%s", diff)
				}
				return
			}
			var resp mautrix.RespError
			if !errors.As(err, &resp) {
				t.Fatalf("ReadJSON error %v is not a RespError", err)
			}
			if resp.ErrCode != tc.wantCode || resp.StatusCode != tc.wantStatus {
				t.Errorf("got %s %d, want %s %d (%s)", resp.ErrCode, resp.StatusCode, tc.wantCode, tc.wantStatus, resp.Err)
			}
			if !strings.Contains(resp.Err, tc.wantMessage) {
				t.Errorf("message %q does not contain %q", resp.Err, tc.wantMessage)
			}
		})
	}
}

func TestReadJSONCustomUnmarshaler(t *testing.T) {
	t.Parallel()
	var into struct {
		F strictField `json:"f"`
	}
	req := httptest.NewRequest(http.MethodPut, "/", strings.NewReader(`{"f":"no"}`))
	err := ReadJSON(httptest.NewRecorder(), req, 1024, &into)
	var resp mautrix.RespError
	if !errors.As(err, &resp) || resp.ErrCode != "M_BAD_JSON" || !strings.Contains(resp.Err, "strict field must be ok") {
		t.Errorf("ReadJSON = %v, want M_BAD_JSON naming the problem", err)
	}
}

func TestReadJSONIntoMap(t *testing.T) {
	t.Parallel()
	into := map[string]any{}
	req := httptest.NewRequest(http.MethodPut, "/", strings.NewReader(`{"body":"hi","n":1}`))
	if err := ReadJSON(httptest.NewRecorder(), req, 1024, &into); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"body": "hi", "n": 1.0}, into); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}

// Programming errors are internal errors, not the client's fault.
func TestReadJSONCallerBugs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		maxBytes int64
		into     any
	}{
		{"zero limit", 0, new(createRoomBody)},
		{"not a pointer", 1024, createRoomBody{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
			err := ReadJSON(httptest.NewRecorder(), req, tc.maxBytes, tc.into)
			var resp mautrix.RespError
			if err == nil || errors.As(err, &resp) {
				t.Errorf("ReadJSON = %v, want a plain (internal) error", err)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	if err := WriteJSON(rec, http.StatusAccepted, map[string]string{"body": "<b>a & b</b>"}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusAccepted {
		t.Errorf("status = %d, want 202", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if got, want := rec.Body.String(), "{\"body\":\"<b>a & b</b>\"}\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

func TestWriteJSONEncodeErrorWritesNothing(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	if err := WriteJSON(rec, http.StatusOK, map[string]any{"f": make(chan int)}); err == nil {
		t.Fatal("WriteJSON of a channel succeeded")
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("wrote %q with headers %v", rec.Body, rec.Header())
	}
}

func TestReadOptionalJSON(t *testing.T) {
	cases := []struct {
		name, body string
		wantCode   string
		wantName   string
	}{
		{"no body", "", "", ""},
		{"null", "null", "", ""},
		{"object", `{"name":"x"}`, "", "x"},
		{"not json", "{", "M_NOT_JSON", ""},
		{"too large", `{"name":"` + strings.Repeat("x", 100) + `"}`, "M_TOO_LARGE", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			var into struct {
				Name string `json:"name"`
			}
			err := ReadOptionalJSON(httptest.NewRecorder(), r, 64, &into)
			var re mautrix.RespError
			switch {
			case tc.wantCode == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantCode != "" && (!errors.As(err, &re) || re.ErrCode != tc.wantCode):
				t.Fatalf("err = %v, want %s", err, tc.wantCode)
			}
			if into.Name != tc.wantName {
				t.Errorf("name = %q, want %q", into.Name, tc.wantName)
			}
		})
	}
}
