package rooms

import (
	"context"
	"strings"

	"github.com/tidwall/gjson"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage"
)

// maxMediaRefs bounds how many media references one event records.
const maxMediaRefs = 64

// recordMediaReferences records every mxc:// URI in an event's content in media_references, so
// that the media repository can find a room's media (quarantine, retention) and which media no
// event uses. The whole content is searched, not just the spec's url fields, so that custom
// event types of bridges and widgets count too.
func (rt *roomTx) recordMediaReferences(ctx context.Context, ev *storage.Event, content []byte) error {
	for _, uri := range contentURIs(content) {
		ref := storage.MediaReference{ServerName: uri.Homeserver, MediaID: uri.FileID, RoomID: ev.RoomID, EventID: ev.ID}
		if err := rt.tx.InsertMediaReference(ctx, ref); err != nil {
			return err
		}
	}
	return nil
}

// contentURIs returns the distinct valid mxc:// URIs among the string values of a JSON
// document, at most maxMediaRefs of them.
func contentURIs(content []byte) []id.ContentURI {
	var uris []id.ContentURI
	seen := map[id.ContentURI]bool{}
	var walk func(v gjson.Result) bool
	walk = func(v gjson.Result) bool {
		switch {
		case v.IsObject() || v.IsArray():
			v.ForEach(func(_, item gjson.Result) bool { return walk(item) })
		case v.Type == gjson.String && strings.HasPrefix(v.Str, "mxc://"):
			uri, err := id.ParseContentURI(v.Str)
			if err == nil && uri.IsValid() && !seen[uri] {
				seen[uri] = true
				uris = append(uris, uri)
			}
		}
		return len(uris) < maxMediaRefs
	}
	walk(gjson.ParseBytes(content))
	return uris
}
