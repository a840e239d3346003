package slack

import (
	"net/http"
	"strings"
)

// EventsPath is where Slack sends the events of a workspace whose app has Socket Mode off
// (the Events API over HTTP), below the server's public URL: the app's Request URL is
// <public URL>/_causeway/bridges/slack/events/<workspace name>.
const EventsPath = "/_causeway/bridges/slack/events/"

// EventsHandler serves EventsPath: POST {workspace name}, verified with that workspace's
// signing secret (see slackconn.Conn.EventsHandler). An unknown name is 404.
func (b *Bridge) EventsHandler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, EventsPath)
		for _, w := range b.workspaces {
			if w.cfg.Name == name {
				w.conn.EventsHandler().ServeHTTP(rw, r)
				return
			}
		}
		http.NotFound(rw, r)
	})
}

// eventsURL is the Request URL to enter in the settings of a workspace's app.
func (w *workspace) eventsURL() string {
	return strings.TrimSuffix(w.b.publicURL, "/") + EventsPath + w.cfg.Name
}
