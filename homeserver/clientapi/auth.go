package clientapi

import (
	"context"
	"net/http"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

type requesterKey struct{}

// requester returns the authenticated requester that authed put in the request context.
func requester(r *http.Request) accounts.Requester {
	return r.Context().Value(requesterKey{}).(accounts.Requester)
}

// authed requires a valid access token before running h. A locked account's token is
// refused with M_USER_LOCKED except on the endpoints in lockedMayCall (adminlock.go).
func (a *API) authed(h web.HandlerFunc) http.HandlerFunc {
	return a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		req, err := a.authenticateAllowLocked(r)
		if err != nil {
			return err
		}
		if !lockedMayCall(r) {
			if err := req.CheckNotLocked(); err != nil {
				return err
			}
		}
		ctx := context.WithValue(r.Context(), requesterKey{}, req)
		ctx = web.WithUser(ctx, req.UserID, req.DeviceID)
		return h(w, r.WithContext(ctx))
	})
}

// Authenticate resolves the request's access token (header, or query parameter when allowed)
// to its requester. Other APIs with their own routes (media) authenticate through it, so that
// every endpoint accepts the same tokens, appservice masquerading included, and refuses those
// of locked accounts with M_USER_LOCKED.
func (a *API) Authenticate(r *http.Request) (accounts.Requester, error) {
	req, err := a.authenticateAllowLocked(r)
	if err != nil {
		return accounts.Requester{}, err
	}
	if err := req.CheckNotLocked(); err != nil {
		return accounts.Requester{}, err
	}
	return req, nil
}

// authenticateAllowLocked is Authenticate without the lock check.
func (a *API) authenticateAllowLocked(r *http.Request) (accounts.Requester, error) {
	token, err := web.AccessToken(r, a.cfg.AccessTokenQueryParam)
	if err != nil {
		return accounts.Requester{}, err
	}
	if token == "" {
		return accounts.Requester{}, mxerr.MissingToken.WithMessage("Missing access token")
	}
	return a.authenticate(r, token)
}

// authenticate resolves an access token, or an appservice's as_token with its masquerading
// parameters (content/application-service-api.md, "Identity assertion"), without refusing a
// locked account: the requester carries Locked, for the caller to check.
func (a *API) authenticate(r *http.Request, token string) (accounts.Requester, error) {
	if a.appservices != nil {
		q := r.URL.Query()
		deviceID := q.Get("device_id")
		if deviceID == "" {
			deviceID = q.Get("org.matrix.msc3202.device_id")
		}
		req, ok, err := a.appservices.Authenticate(r.Context(), token, id.UserID(q.Get("user_id")), id.DeviceID(deviceID))
		if ok || err != nil {
			return req, err
		}
	}
	return a.accounts.AuthenticateAllowLocked(r.Context(), token, web.RemoteIP(r))
}

// limited applies the per-user (or, unauthenticated, per-IP) rate limit to h.
// limitedAs is limited with the action's own limit on top (ratelimit.go).
func (a *API) limitedAs(action string, h web.HandlerFunc) web.HandlerFunc {
	return a.limited(func(w http.ResponseWriter, r *http.Request) error {
		req, _ := r.Context().Value(requesterKey{}).(accounts.Requester)
		if err := a.checkLimit(a.actions[action], r, req); err != nil {
			return err
		}
		return h(w, r)
	})
}

func (a *API) limited(h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, _ := r.Context().Value(requesterKey{}).(accounts.Requester)
		if err := a.CheckRateLimit(r, req); err != nil {
			return err
		}
		return h(w, r)
	}
}

// CheckRateLimit counts a request against its requester's rate limit (the client's IP when req
// is the zero Requester) and answers M_LIMIT_EXCEEDED when it is used up. Appservices registered
// with rate_limited: false are exempt, and admins when exempt_admins says so. Other APIs
// (media) call it so that one limit covers all.
func (a *API) CheckRateLimit(r *http.Request, req accounts.Requester) error {
	return a.checkLimit(a.limiter, r, req)
}

// checkLimit counts a request against one limiter, keyed by the requester (or the client's IP).
func (a *API) checkLimit(l *web.RateLimiter, r *http.Request, req accounts.Requester) error {
	if l == nil || a.exempt(req) {
		return nil
	}
	key := web.RemoteIP(r)
	if req.UserID != "" {
		key = string(req.UserID)
	}
	return l.Check(key)
}

// exempt reports whether a requester passes every rate limit.
func (a *API) exempt(req accounts.Requester) bool {
	if req.AppserviceID != "" && !a.appservices.RateLimited(req.AppserviceID) {
		return true
	}
	return req.IsAdmin && a.cfg.RateLimit.ExemptAdmins
}
