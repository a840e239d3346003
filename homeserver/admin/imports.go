package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// Imports runs history imports as jobs in the server (migration/importer.Jobs, wired by cmd).
// Values are JSON-encodable job descriptions. Errors with a NotFound, Conflict or BadRequest
// method that reports true are answered 404, 409 and 400.
type Imports interface {
	StartImport(ctx context.Context, options json.RawMessage) (any, error)
	ImportJob(ctx context.Context, jobID string) (any, error)
	CancelImport(ctx context.Context, jobID string) (any, error)
}

// maxImportOptionsBytes bounds the options of an import (a long user map included).
const maxImportOptionsBytes = 4 << 20

func (a *API) importRoutes(r chi.Router) {
	r.Post("/_causeway/admin/v1/imports", a.admin(a.handleStartImport))
	r.Get("/_causeway/admin/v1/imports/{jobId}", a.admin(a.handleImportJob))
	r.Post("/_causeway/admin/v1/imports/{jobId}/cancel", a.admin(a.handleCancelImport))
}

// handleStartImport serves POST /_causeway/admin/v1/imports: start an import (the body is
// importer.Options) and answer 202 with the job.
func (a *API) handleStartImport(w http.ResponseWriter, r *http.Request) error {
	if a.imports == nil {
		return mxerr.NotFound.WithMessage("This server runs no importer")
	}
	var options json.RawMessage
	if err := web.ReadJSON(w, r, maxImportOptionsBytes, &options); err != nil {
		return err
	}
	job, err := a.imports.StartImport(r.Context(), options)
	if err != nil {
		return importError(err)
	}
	return web.WriteJSON(w, http.StatusAccepted, job)
}

// handleImportJob serves GET /_causeway/admin/v1/imports/{jobId}: a job's state, progress
// and, once it ended, its report.
func (a *API) handleImportJob(w http.ResponseWriter, r *http.Request) error {
	return a.onImportJob(w, r, a.imports.ImportJob)
}

// handleCancelImport serves POST /_causeway/admin/v1/imports/{jobId}/cancel.
func (a *API) handleCancelImport(w http.ResponseWriter, r *http.Request) error {
	return a.onImportJob(w, r, a.imports.CancelImport)
}

func (a *API) onImportJob(w http.ResponseWriter, r *http.Request, op func(context.Context, string) (any, error)) error {
	if a.imports == nil {
		return mxerr.NotFound.WithMessage("This server runs no importer")
	}
	jobID, err := web.PathParam(r, "jobId")
	if err != nil {
		return err
	}
	job, err := op(r.Context(), jobID)
	if err != nil {
		return importError(err)
	}
	return web.WriteJSON(w, http.StatusOK, job)
}

// importError answers for a refused import or migration request.
func importError(err error) error {
	var (
		nf interface{ NotFound() bool }
		cf interface{ Conflict() bool }
		br interface{ BadRequest() bool }
	)
	switch {
	case errors.As(err, &nf) && nf.NotFound():
		return mxerr.NotFound.WithMessage("%s", err)
	case errors.As(err, &cf) && cf.Conflict():
		return mxerr.Unknown.WithStatus(http.StatusConflict).WithMessage("%s", err)
	case errors.As(err, &br) && br.BadRequest():
		return mxerr.InvalidParam.WithMessage("%s", err)
	}
	return err
}
