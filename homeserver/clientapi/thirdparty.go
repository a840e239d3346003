package clientapi

import (
	"encoding/json"
	"net/http"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// handleThirdPartyProtocols serves GET /_matrix/client/v3/thirdparty/protocols
// (data/api/client-server/third_party_lookup.yaml).
func (a *API) handleThirdPartyProtocols(w http.ResponseWriter, r *http.Request) error {
	if a.appservices == nil {
		return ok(w, map[string]json.RawMessage{})
	}
	protocols, err := a.appservices.ThirdPartyProtocols(r.Context())
	if err != nil {
		return err
	}
	return ok(w, protocols)
}

// handleThirdPartyProtocol serves GET /_matrix/client/v3/thirdparty/protocol/{protocol}.
func (a *API) handleThirdPartyProtocol(w http.ResponseWriter, r *http.Request) error {
	protocol, err := web.PathParam(r, "protocol")
	if err != nil {
		return err
	}
	if a.appservices == nil {
		return mxerr.NotFound.WithMessage("no application service serves protocol %q", protocol)
	}
	meta, err := a.appservices.ThirdPartyProtocol(r.Context(), protocol)
	if err != nil {
		return err
	}
	return ok(w, meta)
}

// thirdPartyLookup serves the location and user lookups, for one protocol
// (/thirdparty/{kind}/{protocol}) or across appservices (/thirdparty/{kind}?alias= or ?userid=).
func (a *API) thirdPartyLookup(kind string) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		protocol, err := web.PathParam(r, "protocol")
		if err != nil {
			return err
		}
		q := r.URL.Query()
		if protocol == "" {
			reverseKey := map[string]string{"location": "alias", "user": "userid"}[kind]
			if q.Get(reverseKey) == "" {
				return mxerr.MissingParam.WithMessage("%s is required", reverseKey)
			}
		}
		if a.appservices == nil {
			return ok(w, []json.RawMessage{})
		}
		results, err := a.appservices.ThirdPartyLookup(r.Context(), kind, protocol, q)
		if err != nil {
			return err
		}
		return ok(w, results)
	}
}
