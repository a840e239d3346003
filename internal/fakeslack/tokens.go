package fakeslack

import (
	"fmt"
	"slices"
)

// tokenKind is what a token may do. Slack tells them apart by prefix, and so does the fake.
type tokenKind int

const (
	botToken        tokenKind = iota + 1 // xoxb-: the app's bot user
	appToken                             // xapp-: app-level, only for apps.connections.open
	userToken                            // xoxp-: a user who installed the app (double puppeting)
	exportTokenKind                      // xoxe-: signs the file links of an export, for those files only
)

// token is an issued token and whom it acts for.
type token struct {
	kind    tokenKind
	userID  string // the bot user or the user; empty for the app-level token
	revoked bool
}

// issueToken creates a token of the given kind for userID.
func (w *workspace) issueToken(kind tokenKind, userID string) string {
	prefix := map[tokenKind]string{botToken: "xoxb", appToken: "xapp", userToken: "xoxp", exportTokenKind: "xoxe"}[kind]
	value := fmt.Sprintf("%s-1-%s-%s", prefix, w.team.id, randomHex(12))
	w.tokens[value] = &token{kind: kind, userID: userID}
	return value
}

// authenticate finds the token a call presents and checks that it may be used.
func (w *workspace) authenticate(value string) (*token, error) {
	if value == "" {
		return nil, errNotAuthed
	}
	tok, ok := w.tokens[value]
	if !ok {
		return nil, errInvalidAuth
	}
	if tok.revoked {
		return nil, errTokenRevoked
	}
	return tok, nil
}

// IssueUserToken issues a user token (xoxp-…) for userID, as installing the app as that
// user does. Messages posted with it are authored by the user.
func (s *Server) IssueUserToken(userID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.ws.user(userID); err != nil {
		return "", err
	}
	return s.ws.issueToken(userToken, userID), nil
}

// revoke revokes toks. For the bot and user tokens among them it first sends
// tokens_revoked (https://docs.slack.dev/reference/events/tokens_revoked), which names the
// users the tokens belonged to, never the tokens: "oauth" for user tokens, "bot" for the
// bot user's. A kind with no revoked token is left out, as in Slack's example.
func (w *workspace) revoke(toks []*token) {
	var oauth, bot []string
	for _, tok := range toks {
		switch {
		case tok.revoked:
		case tok.kind == userToken && !slices.Contains(oauth, tok.userID):
			oauth = append(oauth, tok.userID)
		case tok.kind == botToken && !slices.Contains(bot, tok.userID):
			bot = append(bot, tok.userID)
		}
	}
	if len(oauth)+len(bot) > 0 {
		slices.Sort(oauth)
		slices.Sort(bot)
		lists := obj{}
		if len(oauth) > 0 {
			lists["oauth"] = oauth
		}
		if len(bot) > 0 {
			lists["bot"] = bot
		}
		w.emit(nil, obj{"type": "tokens_revoked", "tokens": lists})
	}
	for _, tok := range toks {
		tok.revoked = true
	}
}

// RevokeToken revokes a token: later calls with it fail with token_revoked. Revoking the
// bot token or a user token sends tokens_revoked first; revoking the app-level token
// closes its open Socket Mode connections.
func (s *Server) RevokeToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.ws.tokens[value]
	if !ok {
		return
	}
	s.ws.revoke([]*token{tok})
	if tok.kind == appToken {
		s.hub.dropAll()
	}
}

// Uninstall removes the app from the workspace, as an admin does in Slack: it sends
// tokens_revoked for the bot token and every user token still valid, then app_uninstalled
// (https://docs.slack.dev/reference/events/app_uninstalled), and every token of the app,
// the app-level one included, stops working. (Slack sends both events; their order is the
// fake's choice.) Each Socket Mode connection closes once everything sent on it is
// acknowledged, or after five seconds at most, and no new one can open. Over HTTP,
// app_uninstalled is the last event posted to the Request URL.
func (s *Server) Uninstall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var toks []*token
	for _, tok := range s.ws.tokens {
		toks = append(toks, tok)
	}
	s.ws.revoke(toks)
	s.ws.emit(nil, obj{"type": "app_uninstalled"})
	s.poster.setRequestURL("") // later events wait on the hub, for a socket that cannot open
	s.hub.closeWhenAcked(socketWriteTimeout)
}
