package clientapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
)

// authDict is the "auth" object of a request protected by user-interactive auth
// (content/client-server-api/_index.md, "User-interactive authentication API").
type authDict struct {
	Type       mautrix.AuthType       `json:"type"`
	Session    string                 `json:"session"`
	Identifier mautrix.UserIdentifier `json:"identifier"`
	User       string                 `json:"user"`
	Password   string                 `json:"password"`
	Token      string                 `json:"token"`
}

// uiaChallenge is the 401 answer that tells the client which stages remain. wrap writes it.
type uiaChallenge struct {
	Flows     []mautrix.UIAFlow  `json:"flows"`
	Params    map[string]any     `json:"params"`
	Session   string             `json:"session"`
	Completed []mautrix.AuthType `json:"completed"`
	ErrCode   string             `json:"errcode,omitempty"`
	Message   string             `json:"error,omitempty"`
}

func (c *uiaChallenge) Error() string { return "user-interactive auth required" }

// uia runs user-interactive auth for the request: it starts or continues the session, completes
// the stage the client submitted, and returns the session once a flow is satisfied. Until then
// it returns a *uiaChallenge. userID is the user to authenticate ("" for registration).
func (a *API) uia(r *http.Request, auth *authDict, userID id.UserID, flows []mautrix.UIAFlow) (accounts.UIASession, error) {
	if auth == nil {
		auth = &authDict{}
	}
	ctx := r.Context()
	sess, err := a.accounts.BeginOrContinue(ctx, auth.Session, userID, requestHash(r))
	if err != nil {
		return accounts.UIASession{}, err
	}
	challenge := &uiaChallenge{Flows: flows, Params: map[string]any{}, Session: sess.ID}
	if auth.Type != "" {
		if err := a.completeStage(r, &sess, auth, userID, flows); err != nil {
			var re mautrix.RespError
			if !errors.As(err, &re) {
				return accounts.UIASession{}, err
			}
			challenge.ErrCode, challenge.Message = re.ErrCode, re.Err
		}
	}
	if accounts.FlowsSatisfied(flows, sess.Completed) {
		return sess, nil
	}
	challenge.Completed = sess.Completed
	if challenge.Completed == nil {
		challenge.Completed = []mautrix.AuthType{}
	}
	return accounts.UIASession{}, challenge
}

func (a *API) completeStage(r *http.Request, sess *accounts.UIASession, auth *authDict, userID id.UserID, flows []mautrix.UIAFlow) error {
	ctx := r.Context()
	switch auth.Type {
	case mautrix.AuthTypePassword:
		who, err := accounts.ResolveIdentifier(auth.Identifier, auth.User, a.serverName)
		if err != nil {
			return err
		}
		if who != userID {
			return errWrongUser
		}
		if err := a.accounts.CheckPassword(ctx, userID, auth.Password); err != nil {
			return err
		}
	case mautrix.AuthTypeDummy, accounts.AuthTypeRegistrationToken:
	default:
		return errUnknownStage
	}
	return a.accounts.CompleteStage(ctx, sess, flows, auth.Type, auth.Token)
}

// requestHash names the operation a UIA session authorises: the method and path. A session
// cannot be carried over to another endpoint.
func requestHash(r *http.Request) string {
	sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path))
	return hex.EncodeToString(sum[:])
}

var (
	errWrongUser    = mautrix.MForbidden.WithMessage("You may only authenticate as yourself")
	errUnknownStage = mautrix.MUnrecognized.WithMessage("Unknown authentication stage").WithStatus(http.StatusBadRequest)
)

// passwordFlows is the UIA flow of operations on one's own account.
var passwordFlows = []mautrix.UIAFlow{{Stages: []mautrix.AuthType{mautrix.AuthTypePassword}}}
