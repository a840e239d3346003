package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces ARCHITECTURE.md's arrows so reviewers need not: the
// homeserver never imports the bridges, migration or scheduler; the bridges never import the
// homeserver; domain packages never import the API layer; leaf packages stay leaves.
func TestDependencyDirection(t *testing.T) {
	rules := []struct {
		pkgs      string // go list pattern
		forbidden []string
	}{
		{"causeway/homeserver/...", []string{"causeway/appservice", "causeway/bridges", "causeway/migration", "causeway/scheduler", "causeway/cmd"}},
		{"causeway/homeserver/storage/...", []string{"causeway/homeserver/rooms", "causeway/homeserver/syncapi", "causeway/homeserver/accounts", "causeway/homeserver/clientapi", "causeway/homeserver/web", "causeway/homeserver/media"}},
		{"causeway/homeserver/rooms", []string{"causeway/homeserver/syncapi", "causeway/homeserver/clientapi", "causeway/homeserver/accounts", "causeway/homeserver/web", "causeway/homeserver/server"}},
		{"causeway/homeserver/syncapi", []string{"causeway/homeserver/clientapi", "causeway/homeserver/server", "causeway/homeserver/web"}},
		{"causeway/homeserver/accounts", []string{"causeway/homeserver/rooms", "causeway/homeserver/clientapi", "causeway/homeserver/server", "causeway/homeserver/web"}},
		{"causeway/homeserver/clientapi", []string{"causeway/homeserver/server", "causeway/homeserver/storage/storagetest"}},
		{"causeway/homeserver/media/...", []string{"causeway/homeserver/clientapi", "causeway/homeserver/server", "causeway/homeserver/rooms", "causeway/homeserver/syncapi"}},
		{"causeway/homeserver/admin", []string{"causeway/homeserver/clientapi", "causeway/homeserver/server"}},
		{"causeway/appservice", []string{"causeway/bridges", "causeway/migration", "causeway/scheduler", "causeway/cmd"}},
		{"causeway/homeserver/mxerr", []string{"causeway/"}},
		{"causeway/internal/sqldb", []string{"causeway/"}},
		// History import reaches the homeserver only through the appservice API, like the bridges.
		{"causeway/migration/...", []string{"causeway/homeserver", "causeway/appservice", "causeway/scheduler", "causeway/cmd"}},
		// Bridges reach the homeserver only through the appservice API, over HTTP or the
		// in-process transport that cmd hands them.
		{"causeway/bridges/...", []string{"causeway/homeserver", "causeway/appservice", "causeway/migration", "causeway/scheduler", "causeway/cmd"}},
	}
	for _, rule := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}`, rule.pkgs).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", rule.pkgs, err)
		}
		roots, err := exec.Command("go", "list", rule.pkgs).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", rule.pkgs, err)
		}
		self := map[string]bool{}
		for _, p := range strings.Fields(string(roots)) {
			self[p] = true
		}
		for _, dep := range strings.Fields(string(out)) {
			if self[dep] {
				continue
			}
			for _, f := range rule.forbidden {
				if dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
					t.Errorf("%s depends on %s, which ARCHITECTURE.md forbids", rule.pkgs, dep)
				}
			}
		}
	}
}
