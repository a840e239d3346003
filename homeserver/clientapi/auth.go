package clientapi

import (
	"context"
	"net/http"

	"causeway/homeserver/accounts"
	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

type requesterKey struct{}

// requester returns the authenticated requester that authed put in the request context.
func requester(r *http.Request) accounts.Requester {
	return r.Context().Value(requesterKey{}).(accounts.Requester)
}

// authed requires a valid access token before running h.
func (a *API) authed(h web.HandlerFunc) http.HandlerFunc {
	return a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		token, err := web.AccessToken(r, a.cfg.AccessTokenQueryParam)
		if err != nil {
			return err
		}
		if token == "" {
			return mxerr.MissingToken.WithMessage("Missing access token")
		}
		req, err := a.accounts.Authenticate(r.Context(), token)
		if err != nil {
			return err
		}
		ctx := context.WithValue(r.Context(), requesterKey{}, req)
		ctx = web.WithUser(ctx, req.UserID, req.DeviceID)
		return h(w, r.WithContext(ctx))
	})
}

// limited applies the per-user (or, unauthenticated, per-IP) rate limit to h.
func (a *API) limited(h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key := web.RemoteIP(r)
		if req, ok := r.Context().Value(requesterKey{}).(accounts.Requester); ok {
			key = string(req.UserID)
			if req.AppserviceID != "" {
				return h(w, r) // application services are not rate limited, as in Synapse
			}
		}
		if err := a.limiter.Check(key); err != nil {
			return err
		}
		return h(w, r)
	}
}
