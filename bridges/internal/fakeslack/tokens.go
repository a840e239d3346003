package fakeslack

import "fmt"

// tokenKind is what a token may do. Slack tells them apart by prefix, and so does the fake.
type tokenKind int

const (
	botToken  tokenKind = iota + 1 // xoxb-: the app's bot user
	appToken                       // xapp-: app-level, only for apps.connections.open
	userToken                      // xoxp-: a user who installed the app (double puppeting)
)

// token is an issued token and whom it acts for.
type token struct {
	kind    tokenKind
	userID  string // the bot user or the user; empty for the app-level token
	revoked bool
}

// issueToken creates a token of the given kind for userID.
func (w *workspace) issueToken(kind tokenKind, userID string) string {
	prefix := map[tokenKind]string{botToken: "xoxb", appToken: "xapp", userToken: "xoxp"}[kind]
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

// RevokeToken revokes a token: later calls with it fail with token_revoked. Revoking the
// app-level token also closes its open Socket Mode connections.
func (s *Server) RevokeToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.ws.tokens[value]
	if !ok {
		return
	}
	tok.revoked = true
	if tok.kind == appToken {
		s.hub.dropAll()
	}
}
