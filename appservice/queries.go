package appservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
)

// QueryUser asks the appservices whose namespace covers userID whether they provide it
// (GET /_matrix/app/v1/users/{userId}); an appservice that answers 200 has created the user.
// A client touching a user that does not exist yet calls this first, so that bridges can
// provision ghosts on demand.
func (s *Service) QueryUser(ctx context.Context, userID id.UserID) bool {
	for _, reg := range s.registry.InterestedInUser(userID) {
		if s.query(ctx, reg, "/_matrix/app/v1/users/"+url.PathEscape(string(userID))) {
			return true
		}
	}
	return false
}

// QueryAlias asks the appservices whose namespace covers alias whether they provide it
// (GET /_matrix/app/v1/rooms/{roomAlias}); an appservice that answers 200 has created the room
// and the alias (auto-provisioned portals).
func (s *Service) QueryAlias(ctx context.Context, alias id.RoomAlias) bool {
	for _, reg := range s.registry.InterestedInAlias(alias) {
		if s.query(ctx, reg, "/_matrix/app/v1/rooms/"+url.PathEscape(string(alias))) {
			return true
		}
	}
	return false
}

// query sends one GET to an appservice and reports whether it answered 2xx. Failures are the
// appservice's problem, logged, and answered as "no such thing".
func (s *Service) query(ctx context.Context, reg *Registration, path string) bool {
	if reg.URL == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	resp, err := s.do(ctx, reg, http.MethodGet, path, nil)
	if err != nil {
		s.log.WarnContext(ctx, "appservice query failed", "appservice_id", reg.ID, "path", path, "err", err)
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode/100 == 2
}

// do sends a request to the appservice, authenticated with its hs_token.
func (s *Service) do(ctx context.Context, reg *Registration, method, path string, body any) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, reg.URL+path, reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+reg.HSToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.client.Do(req)
}

// Ping checks that the homeserver can reach an appservice (POST /_matrix/app/v1/ping) on that
// appservice's request, and returns the round trip (data/api/client-server/appservice_ping.yaml).
// requester is the appservice that asked; it may only ping itself.
func (s *Service) Ping(ctx context.Context, appserviceID, requester, txnID string) (time.Duration, error) {
	if appserviceID != requester {
		return 0, mxerr.Forbidden.WithMessage("an application service may only ping itself")
	}
	reg, ok := s.registry.ByID(appserviceID)
	if !ok {
		return 0, mxerr.Forbidden.WithMessage("no application service %s", appserviceID)
	}
	if reg.URL == "" {
		return 0, mxerr.URLNotSet.WithMessage("application service %s has no URL", appserviceID)
	}
	body := map[string]string{}
	if txnID != "" {
		body["transaction_id"] = txnID
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	start := time.Now()
	resp, err := s.do(ctx, reg, http.MethodPost, "/_matrix/app/v1/ping", body)
	elapsed := time.Since(start)
	if errors.Is(err, context.DeadlineExceeded) {
		return 0, mxerr.ConnectionTimeout.WithMessage("application service %s did not answer in %s", appserviceID, queryTimeout)
	} else if err != nil {
		return 0, mxerr.ConnectionFailed.WithMessage("could not reach application service %s: %v", appserviceID, err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return 0, mxerr.BadStatus.WithMessage("application service %s answered %d", appserviceID, resp.StatusCode).
			WithExtraData(map[string]any{"status": resp.StatusCode, "body": string(respBody)})
	}
	return elapsed, nil
}
