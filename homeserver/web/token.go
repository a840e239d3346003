package web

import (
	"net/http"
	"strings"

	"causeway/homeserver/mxerr"
)

// AccessToken returns the access token of r from its `Authorization: Bearer …` header or, when
// allowQueryParam is set, from the access_token query parameter ("Using access tokens" in
// content/client-server-api/_index.md). Since v1.20 the spec no longer supports the query
// parameter; allowQueryParam exists for legacy clients and application services.
//
// With no token at all it returns ("", nil), so that each endpoint decides between
// M_MISSING_TOKEN and anonymous access. A header that carries no usable bearer token (another
// scheme, an empty token, several Authorization headers) is M_MISSING_TOKEN, as in Synapse; so
// is a repeated access_token parameter. When both header and parameter are present, the spec
// says nothing and the header wins.
func AccessToken(r *http.Request, allowQueryParam bool) (string, error) {
	switch headers := r.Header.Values("Authorization"); len(headers) {
	case 0:
	case 1:
		scheme, token, _ := strings.Cut(strings.TrimSpace(headers[0]), " ")
		token = strings.TrimLeft(token, " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
			return "", mxerr.MissingToken.WithMessage("Invalid Authorization header, expected \"Bearer <token>\"")
		}
		return token, nil
	default:
		return "", mxerr.MissingToken.WithMessage("Too many Authorization headers")
	}
	if !allowQueryParam {
		return "", nil
	}
	switch values := r.URL.Query()["access_token"]; len(values) {
	case 0:
		return "", nil
	case 1:
		return values[0], nil
	default:
		return "", mxerr.MissingToken.WithMessage("Too many access_token query parameters")
	}
}
