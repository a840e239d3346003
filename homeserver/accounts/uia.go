package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// AuthTypeRegistrationToken is the m.login.registration_token stage, which mautrix does not name
// ("Token-authenticated registration" in content/client-server-api/_index.md).
const AuthTypeRegistrationToken mautrix.AuthType = "m.login.registration_token"

// UIASessionLifetime is how long a user-interactive auth session lives after it starts. An
// older session is unknown, and ExpireUIASessions removes it and gives back the registration
// token use it held.
const UIASessionLifetime = 30 * time.Minute

const uiaSessionIDLength = 24

// UIASession is the server's record of one user-interactive authentication: which request it
// authorises and which stages are done. With the endpoint's flows and params it holds all a
// handler needs for the 401 response: session = ID, completed = Completed.
type UIASession struct {
	ID string
	// UserID is the user the session authenticates; empty for registration.
	UserID id.UserID
	// RequestHash identifies the request the session authorises: a session authorises one
	// operation and cannot be reused for another. What goes into it is the caller's choice.
	RequestHash string
	// Completed lists the stages done, in order.
	Completed []mautrix.AuthType
	// RegistrationToken is the token whose use the m.login.registration_token stage reserved.
	RegistrationToken string
	Created           time.Time
}

// errUnknownSession answers a session ID that does not exist, has expired or belongs to someone
// else. The spec names no code; the session parameter has a wrong value.
var errUnknownSession = mxerr.InvalidParam.WithMessage("Unknown or expired UIA session")

// errNoSession is finishUIASession's report of a session that is not there.
var errNoSession = errors.New("no such uia session")

// BeginOrContinue starts a UIA session when sessionID is empty, and otherwise returns the
// session with that ID. A session that is unknown, expired or another user's is M_INVALID_PARAM;
// one started for a different request (another requestHash) is M_FORBIDDEN, as in Synapse
// ("Requested operation has changed during the UI authentication session").
func (s *Service) BeginOrContinue(ctx context.Context, sessionID string, userID id.UserID, requestHash string) (UIASession, error) {
	now := s.now()
	if sessionID == "" {
		sess := UIASession{ID: randomString(registrationTokenAlphabet[:62], uiaSessionIDLength), UserID: userID,
			RequestHash: requestHash, Created: time.UnixMilli(now.UnixMilli())}
		err := s.db.InsertUIASession(ctx, storage.UIASession{ID: sess.ID, UserID: userID, RequestHash: requestHash,
			CreatedTS: now.UnixMilli()})
		if err != nil {
			return UIASession{}, opError("begin uia session", err)
		}
		return sess, nil
	}
	row, err := s.db.UIASessionByID(ctx, sessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return UIASession{}, errUnknownSession
	}
	if err != nil {
		return UIASession{}, opError("continue uia session", err)
	}
	sess, err := uiaSessionOf(row)
	if err != nil {
		return UIASession{}, opError("continue uia session", err)
	}
	if s.expired(sess) {
		if err := s.EndSession(ctx, sess.ID); err != nil {
			s.log.WarnContext(ctx, "end expired uia session", "err", err)
		}
		return UIASession{}, errUnknownSession
	}
	if sess.UserID != userID {
		return UIASession{}, errUnknownSession
	}
	if sess.RequestHash != requestHash {
		return UIASession{}, mxerr.Forbidden.WithMessage("Requested operation has changed during the UI authentication session")
	}
	return sess, nil
}

func (s *Service) expired(sess UIASession) bool {
	return !s.now().Before(sess.Created.Add(UIASessionLifetime))
}

func uiaSessionOf(row storage.UIASession) (UIASession, error) {
	sess := UIASession{ID: row.ID, UserID: row.UserID, RequestHash: row.RequestHash,
		RegistrationToken: row.RegistrationToken, Created: time.UnixMilli(row.CreatedTS)}
	if err := json.Unmarshal([]byte(row.Completed), &sess.Completed); err != nil {
		return UIASession{}, fmt.Errorf("uia session %s: completed stages: %w", row.ID, err)
	}
	return sess, nil
}

// CompleteStage records that the client completed stage, after the caller verified it (with
// CheckPassword for m.login.password; m.login.dummy needs nothing). For
// m.login.registration_token it verifies registrationToken itself and reserves one use of it,
// so that concurrent registrations cannot overuse the token; the use becomes completed when
// Register creates the account, or is given back by EndSession or expiry.
//
// Stages must be completed in the order of some flow ("Failing to follow the flows in order
// must result in an HTTP 401 response"): a stage that is not the next one of any flow is
// M_FORBIDDEN. An invalid, expired or used-up registration token is M_UNAUTHORIZED, as in
// Synapse. These answers, like CheckPassword's, belong in the errcode and error of the 401 UIA
// response rather than in a plain error response. Completing a stage already completed changes
// nothing.
//
// On success sess.Completed (and sess.RegistrationToken) are updated.
func (s *Service) CompleteStage(ctx context.Context, sess *UIASession, flows []mautrix.UIAFlow, stage mautrix.AuthType, registrationToken string) error {
	if slices.Contains(sess.Completed, stage) {
		return nil
	}
	if s.expired(*sess) {
		return errUnknownSession
	}
	if !StageAllowed(flows, sess.Completed, stage) {
		return mxerr.Forbidden.WithMessage("%s is not the next stage of any flow", stage)
	}
	completed := append(slices.Clone(sess.Completed), stage)
	encoded, err := json.Marshal(completed)
	if err != nil {
		return opError("complete uia stage", err)
	}
	token := sess.RegistrationToken
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		if stage == AuthTypeRegistrationToken {
			if registrationToken == "" {
				return mxerr.MissingParam.WithMessage("Missing registration token")
			}
			err := tx.ReserveRegistrationToken(ctx, registrationToken, s.nowMS())
			if errors.Is(err, storage.ErrNotFound) {
				return mxerr.Unauthorized.WithMessage("Invalid registration token")
			}
			if err != nil {
				return err
			}
			token = registrationToken
		}
		err := tx.UpdateUIASession(ctx, storage.UIASession{ID: sess.ID, Completed: string(encoded), RegistrationToken: token})
		if errors.Is(err, storage.ErrNotFound) {
			return errUnknownSession // ended meanwhile; the rollback gives the reservation back
		}
		return err
	})
	if err != nil {
		return opError("complete uia stage", err)
	}
	sess.Completed, sess.RegistrationToken = completed, token
	return nil
}

// StageAllowed reports whether stage may be completed next: some flow begins with the stages
// completed so far, in order, and continues with stage.
func StageAllowed(flows []mautrix.UIAFlow, completed []mautrix.AuthType, stage mautrix.AuthType) bool {
	for _, f := range flows {
		if len(f.Stages) > len(completed) && slices.Equal(f.Stages[:len(completed)], completed) &&
			f.Stages[len(completed)] == stage {
			return true
		}
	}
	return false
}

// FlowsSatisfied reports whether the completed stages make up one of the flows, in order: the
// request may then proceed.
func FlowsSatisfied(flows []mautrix.UIAFlow, completed []mautrix.AuthType) bool {
	for _, f := range flows {
		if len(f.Stages) > 0 && slices.Equal(f.Stages, completed) {
			return true
		}
	}
	return false
}

// EndSession ends a UIA session once its request has been performed or abandoned, giving back
// the registration token use it reserved, if any. Register ends its session itself (see
// RegisterParams.UIASession). An unknown session is no error.
func (s *Service) EndSession(ctx context.Context, sessionID string) error {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		return s.finishUIASession(ctx, tx, sessionID, false)
	})
	if errors.Is(err, errNoSession) {
		return nil
	}
	return opError("end uia session", err)
}

// ExpireUIASessions ends every session older than UIASessionLifetime, giving back the
// registration token uses they held, and reports how many it ended. Run it periodically.
func (s *Service) ExpireUIASessions(ctx context.Context) (int, error) {
	const batch = 100
	cutoff := s.now().Add(-UIASessionLifetime).UnixMilli() + 1 // as expired: created <= now - lifetime
	total := 0
	for {
		rows, err := s.db.UIASessionsOlderThan(ctx, cutoff, batch)
		if err != nil {
			return total, opError("expire uia sessions", err)
		}
		err = s.db.InTx(ctx, func(tx *storage.Tx) error {
			for _, row := range rows {
				if err := s.finishUIASession(ctx, tx, row.ID, false); err != nil && !errors.Is(err, errNoSession) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, opError("expire uia sessions", err)
		}
		total += len(rows)
		if len(rows) < batch {
			return total, nil
		}
	}
}

// finishUIASession deletes a session inside tx. The registration token use it reserved is
// completed (an account was created) or released (the session was abandoned). An unknown session
// is errNoSession.
func (s *Service) finishUIASession(ctx context.Context, tx *storage.Tx, sessionID string, complete bool) error {
	row, err := tx.UIASessionByID(ctx, sessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return errNoSession
	}
	if err != nil {
		return err
	}
	if row.RegistrationToken != "" {
		if complete {
			err := tx.CompleteRegistrationToken(ctx, row.RegistrationToken)
			if errors.Is(err, storage.ErrNotFound) {
				return mxerr.Unauthorized.WithMessage("Invalid registration token") // deleted meanwhile
			}
			if err != nil {
				return err
			}
		} else if err := tx.ReleaseRegistrationToken(ctx, row.RegistrationToken); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return tx.DeleteUIASession(ctx, sessionID)
}
