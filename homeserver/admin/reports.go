package admin

import (
	"net/http"
	"strconv"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// Bounds on a page of reports.
const (
	defaultReportsLimit = 100
	maxReportsLimit     = 1000
)

// handleReports serves GET /_causeway/admin/v1/reports[?from=…&limit=…]: what users reported,
// newest first, a page at a time; next_token, when present, is the from of the next page.
func (a *API) handleReports(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := defaultReportsLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxReportsLimit {
			return mxerr.InvalidParam.WithMessage("limit must be 1 to %d", maxReportsLimit)
		}
		limit = n
	}
	var from int64
	if s := q.Get("from"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return mxerr.InvalidParam.WithMessage("from must be a next_token of this endpoint")
		}
		from = n
	}
	reports, next, err := a.moderation.Reports(r.Context(), from, limit)
	if err != nil {
		return err
	}
	body := map[string]any{"reports": reports}
	if next != 0 {
		body["next_token"] = strconv.FormatInt(next, 10)
	}
	return web.WriteJSON(w, http.StatusOK, body)
}
