package media

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"causeway/homeserver/accounts"
	"causeway/homeserver/web"
)

// Authenticator resolves a request's access token (or appservice token) to its requester. The
// client API implements it, so that media requests are authenticated exactly as other requests.
type Authenticator interface {
	// Authenticate returns the requester, or an M_MISSING_TOKEN / M_UNKNOWN_TOKEN error.
	Authenticate(r *http.Request) (accounts.Requester, error)
	// CheckRateLimit counts the request against the requester's rate limit, and answers
	// M_LIMIT_EXCEEDED when it is used up.
	CheckRateLimit(r *http.Request, req accounts.Requester) error
}

// API serves the media repository's HTTP endpoints.
type API struct {
	repo        *Repository
	auth        Authenticator
	corsOrigins []string
	legacyR0    bool
	log         *slog.Logger
}

// APIOptions are what NewAPI needs.
type APIOptions struct {
	Repository  *Repository
	Auth        Authenticator
	CORSOrigins []string
	LegacyR0    bool // also serve /_matrix/media/r0
	Log         *slog.Logger
}

// NewAPI returns the media HTTP API.
func NewAPI(opts APIOptions) *API {
	return &API{repo: opts.Repository, auth: opts.Auth, corsOrigins: opts.CORSOrigins, legacyR0: opts.LegacyR0, log: opts.Log}
}

// Handler returns every media route. Mount it at /_matrix/media/ and /_matrix/client/v1/media/.
// HEAD is answered wherever GET is, without a body.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(web.AssignRequestID, web.CORS(a.corsOrigins), middleware.GetHead)
	r.NotFound(web.NotFound)
	r.MethodNotAllowed(web.MethodNotAllowed)

	// Authenticated media (authed-content-repo.yaml).
	r.Route("/_matrix/client/v1/media", func(r chi.Router) {
		r.Get("/config", a.authed(a.handleGetConfig))
		r.Get("/download/{serverName}/{mediaId}", a.authed(a.handleDownload))
		r.Get("/download/{serverName}/{mediaId}/{fileName}", a.authed(a.handleDownload))
		r.Get("/thumbnail/{serverName}/{mediaId}", a.limited(a.handleThumbnail))
		if a.repo.PreviewsEnabled() {
			r.Get("/preview_url", a.limited(a.handlePreviewURL))
		}
	})
	r.Post("/_matrix/media/v1/create", a.limited(a.handleCreate))
	r.Route("/_matrix/media/v3", a.routesV3)
	if a.legacyR0 {
		r.Route("/_matrix/media/r0", a.routesV3)
	}
	return r
}

// routesV3 holds the endpoints under /_matrix/media/v3 (and r0): uploads, and the legacy
// unauthenticated downloads (content-repo.yaml).
func (a *API) routesV3(r chi.Router) {
	r.Post("/upload", a.limited(a.handleUpload))
	r.Put("/upload/{serverName}/{mediaId}", a.limited(a.handleUploadPending))
	r.Get("/config", a.authed(a.handleGetConfig))
	r.Get("/download/{serverName}/{mediaId}", a.wrap(a.handleLegacyDownload))
	r.Get("/download/{serverName}/{mediaId}/{fileName}", a.wrap(a.handleLegacyDownload))
	r.Get("/thumbnail/{serverName}/{mediaId}", a.wrap(a.handleLegacyThumbnail))
	if a.repo.PreviewsEnabled() {
		r.Get("/preview_url", a.limited(a.handlePreviewURL))
	}
}
