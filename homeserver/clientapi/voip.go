package clientapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"
)

// handleTurnServer serves GET /_matrix/client/v3/voip/turnServer (data/api/client-server/voip.yaml):
// credentials for the TURN server of client_api.turn, valid for its lifetime, made as the TURN
// REST API scheme says (coturn's use-auth-secret): the username is the expiry time and the
// user ID, the password the base64 HMAC-SHA1 of the username keyed with the shared secret.
// With no TURN server configured the answer is an empty object, which clients read as none.
func (a *API) handleTurnServer(w http.ResponseWriter, r *http.Request) error {
	turn := a.cfg.TURN
	if len(turn.URIs) == 0 {
		return ok(w, nil)
	}
	lifetime := turn.Lifetime.Std()
	username := strconv.FormatInt(time.Now().Add(lifetime).Unix(), 10) + ":" + string(requester(r).UserID)
	mac := hmac.New(sha1.New, []byte(turn.SharedSecret))
	mac.Write([]byte(username))
	return ok(w, map[string]any{
		"username": username,
		"password": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		"uris":     turn.URIs,
		"ttl":      int64(lifetime.Seconds()),
	})
}
