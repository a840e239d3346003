package clientapi

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"

	"causeway/homeserver/config"
)

// TestLockedRoutesExist checks that every entry of lockedRoutes is a method and route of the
// table, so that renaming a logout route cannot silently keep locked accounts from logging out.
func TestLockedRoutesExist(t *testing.T) {
	cfg := config.Default().ClientAPI
	cfg.LegacyR0Prefix = true
	routes, ok := New(Options{Config: cfg}).Handler().(chi.Routes)
	if !ok {
		t.Fatal("Handler is not a chi router")
	}
	served := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for route := range lockedRoutes {
		if !served[route] {
			t.Errorf("lockedRoutes names %q, which the table does not serve", route)
		}
	}
}
