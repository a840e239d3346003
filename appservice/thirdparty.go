package appservice

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"

	"causeway/homeserver/mxerr"
)

// Third-party lookups (data/api/client-server/third_party_lookup.yaml) are answered by the
// appservices that declare the protocol in their registration, through their
// /_matrix/app/v1/thirdparty endpoints (data/api/application-service/protocols.yaml).

// ThirdPartyProtocols returns the metadata of every protocol an appservice declares, keyed by
// protocol. Protocols whose appservice does not answer are left out.
func (s *Service) ThirdPartyProtocols(ctx context.Context) (map[string]json.RawMessage, error) {
	var protocols []string
	for _, reg := range s.registry.All() {
		for _, p := range reg.Protocols {
			if !slices.Contains(protocols, p) {
				protocols = append(protocols, p)
			}
		}
	}
	out := map[string]json.RawMessage{}
	for _, p := range protocols {
		if meta, err := s.ThirdPartyProtocol(ctx, p); err == nil {
			out[p] = meta
		}
	}
	return out, nil
}

// ThirdPartyProtocol returns one protocol's metadata, with the instances of every appservice
// that serves it. Each instance gets the instance_id clients use to name it:
// "<appservice id>|<network_id>".
func (s *Service) ThirdPartyProtocol(ctx context.Context, protocol string) (json.RawMessage, error) {
	var merged map[string]any
	var instances []any
	for _, reg := range s.protocolServers(protocol) {
		var meta map[string]any
		if !s.getJSON(ctx, reg, "/_matrix/app/v1/thirdparty/protocol/"+url.PathEscape(protocol), nil, &meta) {
			continue
		}
		if merged == nil {
			merged = meta
		}
		list, _ := meta["instances"].([]any)
		for _, inst := range list {
			if m, ok := inst.(map[string]any); ok {
				network, _ := m["network_id"].(string)
				m["instance_id"] = reg.ID + "|" + network
				instances = append(instances, m)
			}
		}
	}
	if merged == nil {
		return nil, mxerr.NotFound.WithMessage("no application service serves protocol %q", protocol)
	}
	if instances == nil {
		instances = []any{}
	}
	merged["instances"] = instances
	return json.Marshal(merged)
}

// ThirdPartyLookup runs a location or user lookup (kind "location" or "user") with query:
// for one protocol when protocol is set, or across every appservice (the alias and userid
// reverse lookups) when it is "". The answers are concatenated.
func (s *Service) ThirdPartyLookup(ctx context.Context, kind, protocol string, query url.Values) ([]json.RawMessage, error) {
	path := "/_matrix/app/v1/thirdparty/" + kind
	regs := s.registry.All()
	if protocol != "" {
		path += "/" + url.PathEscape(protocol)
		if regs = s.protocolServers(protocol); len(regs) == 0 {
			return nil, mxerr.NotFound.WithMessage("no application service serves protocol %q", protocol)
		}
	}
	out := []json.RawMessage{}
	for _, reg := range regs {
		var results []json.RawMessage
		if s.getJSON(ctx, reg, path, query, &results) {
			out = append(out, results...)
		}
	}
	return out, nil
}

func (s *Service) protocolServers(protocol string) []*Registration {
	var out []*Registration
	for _, reg := range s.registry.All() {
		if reg.URL != "" && slices.Contains(reg.Protocols, protocol) {
			out = append(out, reg)
		}
	}
	return out
}

// getJSON GETs path from the appservice and decodes a 2xx answer into into; failures are
// logged and reported as false, since one appservice's failure must not fail the lookup.
func (s *Service) getJSON(ctx context.Context, reg *Registration, path string, query url.Values, into any) bool {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	resp, err := s.do(ctx, reg, http.MethodGet, path, nil)
	if err != nil {
		s.log.WarnContext(ctx, "appservice third-party lookup failed", "appservice_id", reg.ID, "err", err)
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return false
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(into); err != nil {
		s.log.WarnContext(ctx, "appservice third-party answer is not JSON", "appservice_id", reg.ID, "err", err)
		return false
	}
	return true
}
