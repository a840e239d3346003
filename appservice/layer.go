package appservice

import (
	"context"
	"net/http"

	"causeway/homeserver/server"
)

// Layer returns the server option that adds the application-service layer for the
// registrations in registry: appservice authentication and namespaces in the client API, and
// the persisted transaction sender. client carries every request to the appservices.
func Layer(registry *Registry, client *http.Client, senderOpts SenderOptions) server.Option {
	return server.WithAppservices(func(ctx context.Context, core server.Core) (server.AppserviceLayer, error) {
		log := core.Log.With("component", "appservice")
		svc := NewService(registry, core.DB, core.Accounts, client, log)
		if err := svc.EnsureSenderUsers(ctx); err != nil {
			return server.AppserviceLayer{}, err
		}
		if senderOpts.HTTPClient == nil {
			senderOpts.HTTPClient = client
		}
		if senderOpts.Log == nil {
			senderOpts.Log = log
		}
		sender := NewSender(core.DB, core.Rooms, registry, senderOpts)
		return server.AppserviceLayer{API: svc, Notifier: sender, Run: sender.Run, Statuses: sender, Grants: svc, Metrics: sender, Ephemeral: sender, Devices: sender, DeviceLists: sender}, nil
	})
}
