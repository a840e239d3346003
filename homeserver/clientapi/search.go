package clientapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
	"causeway/homeserver/syncapi"
)

// searchBody is the body of /search. Categories are read one by one so that an unknown one
// can be told from a malformed one.
type searchBody struct {
	SearchCategories map[string]json.RawMessage `json:"search_categories"`
}

// roomEventsCriteria is the room_events category of a /search body.
type roomEventsCriteria struct {
	SearchTerm   *string         `json:"search_term"`
	Keys         []string        `json:"keys"`
	Filter       json.RawMessage `json:"filter"`
	OrderBy      string          `json:"order_by"`
	EventContext *struct {
		BeforeLimit    *int `json:"before_limit"`
		AfterLimit     *int `json:"after_limit"`
		IncludeProfile bool `json:"include_profile"`
	} `json:"event_context"`
	IncludeState bool `json:"include_state"`
	Groupings    *struct {
		GroupBy []struct {
			Key string `json:"key"`
		} `json:"group_by"`
	} `json:"groupings"`
}

// handleSearch serves POST /_matrix/client/v3/search (data/api/client-server/search.yaml).
// room_events is the only category the spec defines; others beside it are ignored, and a
// body with others only is refused with M_INVALID_PARAM.
func (a *API) handleSearch(w http.ResponseWriter, r *http.Request) error {
	var body searchBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	raw, found := body.SearchCategories["room_events"]
	switch {
	case body.SearchCategories == nil:
		return mxerr.MissingParam.WithMessage("search_categories is required")
	case !found || isJSONNull(raw):
		for name := range body.SearchCategories {
			if name != "room_events" {
				return mxerr.InvalidParam.WithMessage("unknown search category %q", name)
			}
		}
		return mxerr.MissingParam.WithMessage("search_categories.room_events is required")
	}
	var criteria roomEventsCriteria
	if err := json.Unmarshal(raw, &criteria); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return mxerr.BadJSON.WithMessage("search_categories.room_events.%s has the wrong type", typeErr.Field)
		}
		return mxerr.BadJSON.WithMessage("search_categories.room_events must be an object")
	}
	req := requester(r)
	sreq, err := searchRequest(criteria)
	if err != nil {
		return err
	}
	sreq.UserID, sreq.DeviceID, sreq.NextBatch = req.UserID, req.DeviceID, r.URL.Query().Get("next_batch")
	resp, err := a.sync.Search(r.Context(), sreq)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// searchRequest checks the criteria of room_events against search.yaml and turns them into a
// syncapi.SearchRequest.
func searchRequest(c roomEventsCriteria) (syncapi.SearchRequest, error) {
	var sreq syncapi.SearchRequest
	if c.SearchTerm == nil {
		return sreq, mxerr.MissingParam.WithMessage("search_term is required")
	}
	sreq.Term, sreq.Keys, sreq.IncludeState = *c.SearchTerm, c.Keys, c.IncludeState
	for _, k := range c.Keys {
		if !slices.Contains([]string{storage.SearchKeyBody, storage.SearchKeyName, storage.SearchKeyTopic}, k) {
			return sreq, mxerr.InvalidParam.WithMessage("unknown search key %q", k)
		}
	}
	switch c.OrderBy {
	case "", syncapi.SearchOrderRank:
		sreq.OrderBy = syncapi.SearchOrderRank
	case syncapi.SearchOrderRecent:
		sreq.OrderBy = syncapi.SearchOrderRecent
	default:
		return sreq, mxerr.InvalidParam.WithMessage("order_by must be rank or recent")
	}
	if len(c.Filter) > 0 && !isJSONNull(c.Filter) {
		filter, err := syncapi.ParseRoomEventFilter(c.Filter)
		if err != nil {
			return sreq, err
		}
		sreq.Filter = filter
	}
	if ec := c.EventContext; ec != nil {
		before, err := contextLimit("before_limit", ec.BeforeLimit)
		if err != nil {
			return sreq, err
		}
		after, err := contextLimit("after_limit", ec.AfterLimit)
		if err != nil {
			return sreq, err
		}
		sreq.Context = &syncapi.SearchContextParams{BeforeLimit: before, AfterLimit: after, IncludeProfile: ec.IncludeProfile}
	}
	if c.Groupings != nil {
		for _, g := range c.Groupings.GroupBy {
			switch g.Key {
			case syncapi.SearchGroupRoom:
				sreq.GroupByRoom = true
			case syncapi.SearchGroupSender:
				sreq.GroupBySender = true
			default:
				return sreq, mxerr.InvalidParam.WithMessage("unknown group key %q", g.Key)
			}
		}
	}
	return sreq, nil
}

// contextLimit reads before_limit or after_limit of event_context: 5 when absent, at most
// syncapi.MaxSearchContext.
func contextLimit(name string, v *int) (int, error) {
	switch {
	case v == nil:
		return syncapi.DefaultSearchContext, nil
	case *v < 0:
		return 0, mxerr.InvalidParam.WithMessage("%s must not be negative", name)
	}
	return min(*v, syncapi.MaxSearchContext), nil
}

func isJSONNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }
