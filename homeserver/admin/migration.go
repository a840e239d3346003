package admin

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/web"
)

// Migration walks a workspace's conversations through their migration to Matrix
// (migration/cutover, wired by cmd). workspace is a configured workspace's name or a team
// ID, channel a conversation's ID or name. Values are JSON-encodable; errors are answered as
// importError says.
type Migration interface {
	MigrationStatus(ctx context.Context, workspace string) (any, error)
	MigrationSummary(ctx context.Context, workspace string) (any, error)
	// MigrateChannel takes a step: bridge, cutover, archive or rollback.
	MigrateChannel(ctx context.Context, workspace, channel, action string) (any, error)
}

func (a *API) migrationRoutes(r chi.Router) {
	r.Get("/_causeway/admin/v1/migration/{workspace}", a.admin(a.handleMigrationStatus))
	r.Get("/_causeway/admin/v1/migration/{workspace}/summary", a.admin(a.handleMigrationSummary))
	r.Post("/_causeway/admin/v1/migration/{workspace}/channels/{channel}/{action}", a.admin(a.handleMigrateChannel))
}

// handleMigrationStatus serves GET /_causeway/admin/v1/migration/{workspace}: each
// conversation's migration state and figures.
func (a *API) handleMigrationStatus(w http.ResponseWriter, r *http.Request) error {
	return a.onWorkspace(w, r, a.migration.MigrationStatus)
}

// handleMigrationSummary serves GET /_causeway/admin/v1/migration/{workspace}/summary:
// conversations per state, and people active on Matrix per week.
func (a *API) handleMigrationSummary(w http.ResponseWriter, r *http.Request) error {
	return a.onWorkspace(w, r, a.migration.MigrationSummary)
}

func (a *API) onWorkspace(w http.ResponseWriter, r *http.Request, op func(context.Context, string) (any, error)) error {
	if a.migration == nil {
		return mxerr.NotFound.WithMessage("This server runs no Slack migration")
	}
	workspace, err := web.PathParam(r, "workspace")
	if err != nil {
		return err
	}
	v, err := op(r.Context(), workspace)
	if err != nil {
		return importError(err)
	}
	return web.WriteJSON(w, http.StatusOK, v)
}

// handleMigrateChannel serves POST /_causeway/admin/v1/migration/{workspace}/channels/
// {channel}/{action}: one step of a conversation's migration.
func (a *API) handleMigrateChannel(w http.ResponseWriter, r *http.Request) error {
	if a.migration == nil {
		return mxerr.NotFound.WithMessage("This server runs no Slack migration")
	}
	var params [3]string
	for i, name := range []string{"workspace", "channel", "action"} {
		v, err := web.PathParam(r, name)
		if err != nil {
			return err
		}
		params[i] = v
	}
	v, err := a.migration.MigrateChannel(r.Context(), params[0], params[1], params[2])
	if err != nil {
		return importError(err)
	}
	return web.WriteJSON(w, http.StatusOK, v)
}
