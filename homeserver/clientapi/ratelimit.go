package clientapi

import (
	"causeway/homeserver/config"
	"causeway/homeserver/web"
)

// The actions with a rate limit of their own (client_api.rate_limit), on top of the limit of
// every limited request. Before login a client is its address.
const (
	actionMessage      = "message"      // sending a message or a redaction
	actionRegistration = "registration" // registering an account
	actionLogin        = "login"        // logging in
	actionJoin         = "join"         // joining or knocking
	actionInvite       = "invite"       // inviting
)

// actionLimiters makes the limiters of the actions.
func actionLimiters(rl config.RateLimit) map[string]*web.RateLimiter {
	buckets := map[string]config.Bucket{actionMessage: rl.Message, actionRegistration: rl.Registration,
		actionLogin: rl.Login, actionJoin: rl.Join, actionInvite: rl.Invite}
	out := make(map[string]*web.RateLimiter, len(buckets))
	for action, b := range buckets {
		out[action] = web.NewRateLimiter(b.PerSecond, b.Burst)
	}
	return out
}
