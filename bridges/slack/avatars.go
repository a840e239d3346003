package slack

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"

	"maunium.net/go/mautrix/id"
)

// AvatarPath is where the bridge serves relayed users' avatars to Slack, below the server's
// public URL: Slack shows a relayed message with the sender's avatar only from a URL it can
// fetch without a token, and media is authenticated. Each URL carries a signature of the media
// it names, so that only avatars the bridge chose to show can be fetched through it, and no
// other media can be enumerated.
const AvatarPath = "/_causeway/bridges/slack/avatar/"

// avatarSigner signs and checks avatar URLs with a key kept in the bridge store.
type avatarSigner struct {
	once sync.Once
	key  []byte
	err  error
}

func (b *Bridge) avatarKey(ctx context.Context) ([]byte, error) {
	b.avatars.once.Do(func() {
		var secret string
		secret, b.avatars.err = b.store.Secret(ctx, "slack.avatar_url_key", rand.Text)
		b.avatars.key = []byte(secret)
	})
	return b.avatars.key, b.avatars.err
}

// signature is the URL-safe HMAC of a media item's server and ID.
func signature(key []byte, uri id.ContentURI) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(uri.Homeserver + "/" + uri.FileID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))[:22]
}

// avatarURL is the public URL of a Matrix avatar for Slack's icon_url, "" when the bridge has
// no public URL or the user no avatar.
func (b *Bridge) avatarURL(ctx context.Context, avatar id.ContentURIString) string {
	uri, err := avatar.Parse()
	if err != nil || b.publicURL == "" {
		return ""
	}
	key, err := b.avatarKey(ctx)
	if err != nil {
		b.log.WarnContext(ctx, "no key for avatar URLs", "error", err)
		return ""
	}
	return strings.TrimSuffix(b.publicURL, "/") + AvatarPath + signature(key, uri) + "/" + uri.Homeserver + "/" + uri.FileID
}

// AvatarHandler serves the avatars of AvatarPath: GET {signature}/{server}/{mediaID}. A wrong
// signature is 404, like unknown media; only images are served.
func (b *Bridge) AvatarHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, AvatarPath), "/")
		if r.Method != http.MethodGet || len(parts) != 3 {
			http.NotFound(w, r)
			return
		}
		uri := id.ContentURI{Homeserver: parts[1], FileID: parts[2]}
		key, err := b.avatarKey(r.Context())
		if err != nil || !hmac.Equal([]byte(parts[0]), []byte(signature(key, uri))) {
			http.NotFound(w, r)
			return
		}
		resp, err := b.as.BotIntent().Download(r.Context(), uri)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer resp.Body.Close()
		contentType := resp.Header.Get("Content-Type")
		if !strings.HasPrefix(contentType, "image/") || strings.HasPrefix(contentType, "image/svg") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "sandbox")
		copyBody(w, resp.Body)
	})
}

// maxAvatarServe bounds what the avatar endpoint sends.
const maxAvatarServe = 10 << 20

// copyBody sends an avatar's bytes, at most maxAvatarServe of them.
func copyBody(w io.Writer, body io.Reader) {
	_, _ = io.Copy(w, io.LimitReader(body, maxAvatarServe))
}
