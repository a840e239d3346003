package media

import (
	"mime"
	"net/http"
	"strings"
)

// contentSecurityPolicy sandboxes anything a browser renders from the media origin, so that an
// uploaded HTML or SVG file cannot run script with the homeserver's cookies or storage.
const contentSecurityPolicy = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; " +
	"style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"

// inlineTypes are the content types safe to show inline: they cannot run script. SVG is not
// among them. The list follows Synapse's INLINE_CONTENT_TYPES.
var inlineTypes = map[string]bool{
	"text/css": true, "text/plain": true, "text/csv": true,
	"application/json": true, "application/ld+json": true,
	"image/jpeg": true, "image/gif": true, "image/png": true, "image/apng": true, "image/webp": true, "image/avif": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
	"audio/mp4": true, "audio/webm": true, "audio/aac": true, "audio/mpeg": true, "audio/ogg": true,
	"audio/wave": true, "audio/wav": true, "audio/x-wav": true, "audio/x-pn-wav": true, "audio/flac": true, "audio/x-flac": true,
}

// setDownloadHeaders sets the headers that make serving user content safe: the type as
// uploaded but never sniffed, inline only for inlineTypes, and a sandboxing CSP.
func setDownloadHeaders(h http.Header, contentType, fileName string) {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", contentDisposition(contentType, fileName))
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Cache-Control", "private, max-age=86400, immutable") // an mxc:// URI's bytes never change
}

// contentDisposition returns "inline" or "attachment" with the file name encoded per RFC 6266:
// quoted when ASCII, as filename*=utf-8”... (RFC 5987) otherwise.
func contentDisposition(contentType, fileName string) string {
	disposition := "attachment"
	if inlineTypes[mediaType(contentType)] {
		disposition = "inline"
	}
	if fileName == "" {
		return disposition
	}
	if v := mime.FormatMediaType(disposition, map[string]string{"filename": fileName}); v != "" {
		return v
	}
	return disposition // a name mime cannot encode is dropped
}

// mediaType returns contentType without parameters, lower-cased; "" if it does not parse.
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}
