package fakeslack

import (
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// apiFunc handles one Web API method. It returns the fields of a successful answer; the
// dispatcher adds "ok": true. It runs with Server.mu held.
type apiFunc func(w *workspace, c *call) (obj, error)

// obj is a JSON object in an answer or an event.
type obj = map[string]any

// apiMethod is an entry in the method table.
type apiMethod struct {
	handle  apiFunc
	appOnly bool // whether it takes the app-level token instead of a bot or user token
}

// apiMethods is the whole Web API the fake serves, by method name
// (https://docs.slack.dev/reference/methods).
var apiMethods = map[string]apiMethod{
	"apps.connections.open": {handle: (*workspace).handleOpenConnection, appOnly: true},

	"auth.test": {handle: (*workspace).handleAuthTest},
	"team.info": {handle: (*workspace).handleTeamInfo},

	"users.info":          {handle: (*workspace).handleUserInfo},
	"users.list":          {handle: (*workspace).handleListUsers},
	"users.conversations": {handle: (*workspace).handleUserConversations},
	"bots.info":           {handle: (*workspace).handleBotInfo},

	"conversations.info":       {handle: (*workspace).handleConversationInfo},
	"conversations.list":       {handle: (*workspace).handleListConversations},
	"conversations.members":    {handle: (*workspace).handleConversationMembers},
	"conversations.history":    {handle: (*workspace).handleHistory},
	"conversations.replies":    {handle: (*workspace).handleReplies},
	"conversations.join":       {handle: (*workspace).handleJoin},
	"conversations.open":       {handle: (*workspace).handleOpen},
	"conversations.setTopic":   {handle: (*workspace).handleSetTopic},
	"conversations.setPurpose": {handle: (*workspace).handleSetPurpose},
	"conversations.rename":     {handle: (*workspace).handleRename},
	"conversations.archive":    {handle: (*workspace).handleArchive},

	"chat.postMessage":  {handle: (*workspace).handlePostMessage},
	"chat.meMessage":    {handle: (*workspace).handleMeMessage},
	"chat.update":       {handle: (*workspace).handleUpdateMessage},
	"chat.delete":       {handle: (*workspace).handleDeleteMessage},
	"chat.getPermalink": {handle: (*workspace).handleGetPermalink},

	"reactions.add":    {handle: (*workspace).handleAddReaction},
	"reactions.remove": {handle: (*workspace).handleRemoveReaction},
	"reactions.get":    {handle: (*workspace).handleGetReactions},

	"pins.add":    {handle: (*workspace).handleAddPin},
	"pins.remove": {handle: (*workspace).handleRemovePin},
	"pins.list":   {handle: (*workspace).handleListPins},

	"files.getUploadURLExternal":   {handle: (*workspace).handleGetUploadURL},
	"files.completeUploadExternal": {handle: (*workspace).handleCompleteUpload},
	"files.info":                   {handle: (*workspace).handleFileInfo},

	"emoji.list":      {handle: (*workspace).handleListEmoji},
	"usergroups.list": {handle: (*workspace).handleListUserGroups},
}

// call is one authenticated Web API request.
type call struct {
	params url.Values
	token  *token
}

// param returns a parameter, or "" when it is absent.
func (c *call) param(name string) string { return c.params.Get(name) }

// has reports whether a parameter was sent at all, even empty.
func (c *call) has(name string) bool { return c.params.Has(name) }

// flag reads a boolean parameter the way Slack does: "true" and "1" are true.
func (c *call) flag(name string) bool {
	v := c.params.Get(name)
	return v == "true" || v == "1"
}

// actor is the user the token acts for: the bot user or a user.
func (c *call) actor() string { return c.token.userID }

// serveAPI serves POST and GET /api/{method}: it counts the call, applies injected rate
// limits, authenticates and dispatches. Every answer but a rate limit is HTTP 200.
func (s *Server) serveAPI(rw http.ResponseWriter, r *http.Request) {
	name := r.PathValue("method")
	params, err := readParams(r)
	if err != nil {
		writeJSON(rw, http.StatusOK, errorBody(errInvalidArguments))
		return
	}
	tokenValue := bearerToken(r)
	if tokenValue == "" {
		tokenValue = params.Get("token")
	}

	s.mu.Lock()
	s.faults.calls[name]++
	retryAfter, limited := s.faults.takeRateLimit(name)
	var payload []byte
	if !limited {
		// Encode under the lock: the answer may point into the workspace's state.
		payload, _ = json.Marshal(s.ws.dispatch(name, tokenValue, params))
	}
	s.mu.Unlock()

	if limited {
		// Slack sends whole seconds; slack-go turns the header into RateLimitedError.
		rw.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
		writeJSON(rw, http.StatusTooManyRequests, errorBody(Error("ratelimited")))
		return
	}
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = rw.Write(payload)
}

// dispatch authenticates a call and runs its method.
func (w *workspace) dispatch(name, tokenValue string, params url.Values) obj {
	m, ok := apiMethods[name]
	if !ok {
		return errorBody(errUnknownMethod)
	}
	tok, err := w.authenticate(tokenValue)
	if err != nil {
		return errorBody(err)
	}
	if m.appOnly != (tok.kind == appToken) || tok.kind == exportTokenKind {
		return errorBody(errNotAllowedToken)
	}
	answer, err := m.handle(w, &call{params: params, token: tok})
	if err != nil {
		return errorBody(err)
	}
	if answer == nil {
		answer = obj{}
	}
	answer["ok"] = true
	return answer
}

// errorBody is Slack's answer to a failed call. Errors that are not Slack codes do not occur:
// every handler returns an Error.
func errorBody(err error) obj {
	return obj{"ok": false, "error": err.Error()}
}

func writeJSON(rw http.ResponseWriter, status int, body any) {
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(body)
}

// bearerToken returns the token of an "Authorization: Bearer" header, or "".
func bearerToken(r *http.Request) string {
	value, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(value)
}

// readParams collects a call's arguments from the query string and from a form or JSON
// body, as Slack accepts all three. JSON values that are not strings keep their JSON text.
func readParams(r *http.Request) (url.Values, error) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "application/json" {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return r.Form, nil
	}
	params := r.URL.Query()
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(data)) == "" {
		return params, nil // slack-go's apps.connections.open sends no body
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	for name, raw := range fields {
		var text string
		if json.Unmarshal(raw, &text) != nil {
			text = string(raw)
		}
		params.Set(name, text)
	}
	return params, nil
}
