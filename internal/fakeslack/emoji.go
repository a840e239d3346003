package fakeslack

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
)

// emoji is a custom emoji: an image, or an alias of another emoji.
type emoji struct {
	name   string
	target string // the emoji this one is an alias of; "" for an image
	hash   string // of the image, in its URL as in Slack's
	image  []byte
}

// emojiValue is the emoji as emoji.list maps it: the image URL, or "alias:target".
func (w *workspace) emojiValue(e *emoji) string {
	if e.target != "" {
		return "alias:" + e.target
	}
	return w.baseURL + "/emoji/" + e.name + "/" + e.hash
}

// addEmoji stores e, replacing an emoji of the same name.
func (w *workspace) addEmoji(e *emoji) {
	w.emoji = slices.DeleteFunc(w.emoji, func(old *emoji) bool { return old.name == e.name })
	w.emoji = append(w.emoji, e)
}

// handleListEmoji serves emoji.list: custom emoji name to image URL or "alias:name".
func (w *workspace) handleListEmoji(*call) (obj, error) {
	list := obj{}
	for _, e := range w.emoji {
		list[e.name] = w.emojiValue(e)
	}
	return obj{"emoji": list, "cache_ts": formatTS(w.clock.lastTS)}, nil
}

// serveEmoji serves GET /emoji/{name}/{hash}: custom emoji images, without authentication
// as Slack's emoji CDN.
func (s *Server) serveEmoji(rw http.ResponseWriter, r *http.Request) {
	var image []byte
	s.mu.Lock()
	for _, e := range s.ws.emoji {
		if e.name == r.PathValue("name") && e.hash == r.PathValue("hash") {
			image = e.image
		}
	}
	s.mu.Unlock()
	if image == nil {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", http.DetectContentType(image))
	_, _ = rw.Write(image)
}

// AddEmoji adds a custom emoji with its image, as it exists before the test starts: no
// event is sent.
func (s *Server) AddEmoji(name string, image []byte) {
	sum := sha256.Sum256(image)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ws.addEmoji(&emoji{name: name, hash: hex.EncodeToString(sum[:8]), image: image})
}

// AddEmojiAlias adds alias as another name of the custom emoji target.
func (s *Server) AddEmojiAlias(alias, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ws.addEmoji(&emoji{name: alias, target: target})
}
