package web

import (
	"net/http"
	"slices"
	"strings"
)

// CORS returns middleware that sends the CORS headers recommended by "Web Browser Clients" in
// content/client-server-api/_index.md on every response, and answers every OPTIONS request
// itself with 200 and an empty JSON object: the spec forbids running endpoint logic (including
// authentication) for OPTIONS. Install it before routing, authentication and rate limiting.
//
// allowedOrigins lists the origins (scheme://host[:port]) that may call the API; "*" allows any.
// For a listed origin the request's Origin is echoed back with Vary: Origin; for any other
// origin no Access-Control-Allow-Origin is sent and the browser refuses the response.
func CORS(allowedOrigins []string) func(http.Handler) http.Handler {
	anyOrigin := slices.Contains(allowedOrigins, "*")
	allowed := make(map[string]bool, len(allowedOrigins))
	for _, o := range allowedOrigins {
		allowed[normalizeOrigin(o)] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			if anyOrigin {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Add("Vary", "Origin")
				if origin := r.Header.Get("Origin"); origin != "" && allowed[normalizeOrigin(origin)] {
					h.Set("Access-Control-Allow-Origin", origin)
				}
			}
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization")
			// Not in the spec's list, but a browser client cannot read the Retry-After of a 429
			// ("Rate limiting") unless it is exposed.
			h.Set("Access-Control-Expose-Headers", "Retry-After")
			if r.Method == http.MethodOptions {
				_ = WriteJSON(w, http.StatusOK, struct{}{})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// normalizeOrigin makes configured and received origins comparable: scheme and host are
// case-insensitive, and a configured origin may carry a trailing slash.
func normalizeOrigin(o string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
}
