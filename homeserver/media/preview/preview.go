// Package preview fetches web pages for URL previews and extracts their OpenGraph data
// (data/api/client-server/authed-content-repo.yaml, GET /_matrix/client/v1/media/preview_url).
//
// It owns the safe fetch and the parsing: an HTTP client that connects only to allowed
// addresses, follows a bounded number of redirects (each one re-checked), ignores proxies from
// the environment, and limits every fetch in bytes and time; and an HTML reader that turns
// <meta property="og:*"> tags, with fallbacks, into the properties the endpoint returns. It does
// not own whether previews are enabled (they are off by default, which is the config's and the
// router's business), the cache of previews, storing images in the media repository, or M_*
// errors: those belong to homeserver/media and homeserver/storage. oEmbed is not supported.
//
// # Addresses
//
// Every connection is checked on the resolved IP address just before it is made, so a host
// name that resolves to, or a redirect that leads to, a private address is refused as surely
// as a literal one, and a DNS answer that changes between a check and the connection cannot
// slip through. The built-in blocked list (blockedPrefixes in addr.go) covers loopback,
// RFC 1918, link-local, CGNAT, unique-local, multicast, documentation and the other
// special-purpose ranges of IPv4 and IPv6; IPv4-mapped and NAT64 addresses are judged by the
// IPv4 address they embed. Config.BlockedCIDRs adds to the list and Config.AllowedCIDRs makes
// exceptions that win over both.
//
// # Page properties
//
// Only text/html and application/xhtml+xml are parsed, as far as Config.MaxBytes: a page's
// <head> nearly always fits, and what lies past the limit is ignored rather than an error.
// Properties come from <meta property="og:*"> (or name="og:*"), the first of repeated ones
// winning. When they are missing, og:title falls back to twitter:title, <title>, then the first
// <h1>; og:description to twitter:description, then <meta name="description">; and the image
// to twitter:image, <link rel="image_src">, the largest <img> declaring a size of at least
// 32×32 (else the first <img> declaring none), <link rel="apple-touch-icon">, then
// <link rel="icon">. URLs are resolved against the page's URL after redirects (or its
// <base href>) and dropped unless http or https. Text is cleaned of invalid UTF-8 and runs of
// white space; og:description is cut to 500 characters and other text to 1000, on a rune
// boundary. The charset comes from a byte order mark, the Content-Type header or a <meta>
// declaration; UTF-8 and windows-1252 (which all ISO-8859-1 and ASCII labels mean, as in
// browsers) are decoded, and any other charset is read as UTF-8.
//
// Other content gives a minimal preview: an image gives og:title (its file name) and
// og:image:type, with its body in Preview.Image; anything else only og:title (its file name,
// from Content-Disposition or the URL's last path segment), if there is one.
//
// # Using a preview
//
// The endpoint calls Previewer.Preview. The returned Properties never contain og:image, because
// the spec wants an mxc:// URI there: when ImageURL is set the endpoint gets the image (from
// Preview.Image when the URL was itself an image, otherwise with Previewer.FetchImage), stores
// it with its media upload, and calls Preview.SetImage. If that fails, it answers without an
// image. It must always Close the Preview and any Image it fetched. The image's
// og:image:width and og:image:height are the caller's to set when it learns them (for
// example with image.DecodeConfig, or from its thumbnailer); a page's own are kept.
//
// # Errors
//
// Every error from Preview and FetchImage matches exactly one of the sentinels below. The HTTP
// layer should answer:
//
//   - ErrInvalidURL: 400 M_INVALID_PARAM: the url parameter is not an absolute http or https
//     URL with a host and without user information. (A redirect to such a URL is the
//     upstream's fault, and gives ErrFetchFailed.)
//   - ErrForbiddenAddress: 403 M_FORBIDDEN, with a message such as "IP address blocked"
//     (Synapse answers 403 M_UNKNOWN "IP address blocked by IP blacklist entry"; the spec
//     names no code, and M_FORBIDDEN says more).
//   - ErrTooLarge: 502 M_TOO_LARGE, as the spec's security considerations ask for remote
//     content that is too large (content/client-server-api/modules/content_repo.md). Only
//     images give it: an oversized page is parsed as far as the limit.
//   - ErrFetchFailed: 502 M_UNKNOWN: DNS failure, refused connection, TLS error, a non-2xx
//     status, too many redirects, or the Config.Timeout deadline. It wraps the cause, so
//     errors.Is(err, context.Canceled) tells a client that went away from an upstream that
//     failed, and errors.Is(err, context.DeadlineExceeded) a timeout (504 would also fit).
//
// The messages name the URL and the address, so they suit logs better than a client.
package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/internal/netguard"
)

// The errors of this package. Each error returned by Preview and FetchImage matches exactly one
// of them with errors.Is; see the package documentation for the HTTP answers they suggest.
var (
	// ErrInvalidURL means the URL asked for is not an absolute http or https URL with a host,
	// a valid port and no user information.
	ErrInvalidURL = errors.New("preview: invalid URL")
	// ErrForbiddenAddress means the host resolved to an address that previews may not reach
	// (internal/netguard).
	ErrForbiddenAddress = netguard.ErrForbidden
	// ErrTooLarge means an image is larger than Config.MaxBytes.
	ErrTooLarge = errors.New("preview: content too large")
	// ErrFetchFailed means the fetch failed upstream: network error, non-2xx status, too many
	// redirects or one to an unusable URL, wrong content type for an image, or timeout. It
	// wraps the cause.
	ErrFetchFailed = errors.New("preview: fetch failed")
)

// Config is how the previewer fetches. The zero value of each field means its default.
type Config struct {
	// BlockedCIDRs are blocked in addition to the built-in special-purpose ranges.
	BlockedCIDRs []netip.Prefix
	// AllowedCIDRs are allowed even when blocked, e.g. 127.0.0.1/32 for a local test server.
	AllowedCIDRs []netip.Prefix
	// MaxBytes bounds what is read of a page or an image (default 10 MiB).
	MaxBytes int64
	// Timeout bounds a whole fetch: connecting, redirects, and reading the body (default 10 s).
	// An Image's body stays under the same deadline until it is closed.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed (default 5; negative means none).
	MaxRedirects int
	// UserAgent is the User-Agent header sent (default DefaultUserAgent).
	UserAgent string
}

// DefaultUserAgent is the User-Agent sent when Config.UserAgent is empty. Saying "bot" makes
// more sites answer with their OpenGraph tags instead of a JavaScript application.
const DefaultUserAgent = "Causeway (bot; URL preview)"

// Defaults sets every field to its default.
func (c *Config) Defaults() {
	*c = Config{
		BlockedCIDRs: []netip.Prefix{},
		AllowedCIDRs: []netip.Prefix{},
		MaxBytes:     10 << 20,
		Timeout:      10 * time.Second,
		MaxRedirects: 5,
		UserAgent:    DefaultUserAgent,
	}
}

// withDefaults returns c with each zero field replaced by its default.
func (c Config) withDefaults() Config {
	var d Config
	d.Defaults()
	if c.MaxBytes <= 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	switch {
	case c.MaxRedirects == 0:
		c.MaxRedirects = d.MaxRedirects
	case c.MaxRedirects < 0:
		c.MaxRedirects = 0
	}
	if c.UserAgent == "" {
		c.UserAgent = d.UserAgent
	}
	return c
}

// Previewer fetches URL previews. It is safe for concurrent use.
type Previewer struct {
	cfg    Config
	policy netguard.Policy
	client *http.Client
}

// New returns a Previewer. Zero fields of cfg take their defaults.
func New(cfg Config) *Previewer {
	cfg = cfg.withDefaults()
	policy := netguard.NewPolicy(cfg.AllowedCIDRs, cfg.BlockedCIDRs)
	return &Previewer{cfg: cfg, policy: policy, client: newClient(cfg, policy)}
}

// Preview is what a URL showed.
type Preview struct {
	// URL is where the content was found, after redirects.
	URL string
	// ContentType is the media type of the content, without parameters (e.g. "text/html").
	ContentType string
	// Properties are the OpenGraph properties the endpoint returns. Values are strings, except
	// og:image:width and og:image:height (and other *:width and *:height), which are int64.
	// og:image is never set here: see ImageURL and SetImage. The package documentation says
	// where they come from.
	Properties map[string]any
	// ImageURL is the absolute http(s) URL of the preview's image, or "": the page's og:image
	// (or its fallback), or URL itself when the URL is an image.
	ImageURL string
	// Image is the body of the URL when it is itself an image, and nil otherwise. Close the
	// Preview to release it.
	Image *Image
}

// SetImage records that the preview's image was stored at uri, with the given media type
// (left as it was when empty) and size in bytes.
func (p *Preview) SetImage(uri id.ContentURI, contentType string, size int64) {
	p.Properties["og:image"] = uri.String()
	p.Properties["matrix:image:size"] = size
	if contentType != "" {
		p.Properties["og:image:type"] = contentType
	}
}

// Close releases the preview's Image, if any. It is safe to call more than once and on a
// Preview without an image.
func (p *Preview) Close() error {
	if p == nil || p.Image == nil {
		return nil
	}
	return p.Image.Close()
}

// Image is an image being downloaded, to be passed to the media repository's upload. Reading
// it yields at most Config.MaxBytes bytes: past that, Read fails with ErrTooLarge, so that a
// truncated image is never stored, and it fails with ErrFetchFailed when the download does
// (including when the fetch's deadline passes, which applies until Close). The caller must
// call Close.
type Image struct {
	// URL is where the image was found, after redirects.
	URL string
	// ContentType is the image's media type, without parameters, e.g. "image/png".
	ContentType string
	// Length is the announced size in bytes, or -1 when unknown.
	Length int64

	body   *limitedBody
	cancel context.CancelFunc
}

// Read reads the image's bytes.
func (i *Image) Read(b []byte) (int, error) { return i.body.Read(b) }

// Close ends the download. It is safe to call more than once.
func (i *Image) Close() error {
	err := i.body.Close()
	i.cancel()
	return err
}

// BytesRead is how many bytes have been read; once Read has returned io.EOF it is the image's
// size, for matrix:image:size.
func (i *Image) BytesRead() int64 { return i.body.n }

// Preview fetches rawURL and returns what it shows. An HTML page is read only as far as
// Config.MaxBytes: the tags before the limit still make a preview. When the URL is an image, the
// returned Preview holds its open body in Image, so it must be closed; see the package
// documentation for the errors.
func (pv *Previewer) Preview(ctx context.Context, rawURL string) (_ *Preview, err error) {
	ctx, cancel := context.WithTimeout(ctx, pv.cfg.Timeout)
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	resp, err := pv.get(ctx, rawURL, "text/html, application/xhtml+xml;q=0.9, image/*;q=0.8, */*;q=0.5")
	if err != nil {
		return nil, err
	}
	body := newLimitedBody(resp.Body, pv.cfg.MaxBytes, false)
	mediaType, params, err := contentType(resp, body)
	if err != nil {
		body.Close()
		return nil, fetchFailed(err)
	}
	p := &Preview{URL: resp.Request.URL.String(), ContentType: mediaType, Properties: map[string]any{}}

	switch {
	case isHTML(mediaType):
		// The whole parse happens now, so the deadline can end with this call.
		defer cancel()
		defer body.Close()
		props, image, err := parseHTML(body, params["charset"], resp.Request.URL)
		if err != nil {
			return nil, fetchFailed(err)
		}
		p.Properties, p.ImageURL = props, image
		return p, nil
	case strings.HasPrefix(mediaType, "image/"):
		if err := checkLength(resp, pv.cfg.MaxBytes); err != nil {
			body.Close()
			return nil, err
		}
		body.failPastLimit = true
		p.Image = &Image{URL: p.URL, ContentType: mediaType, Length: resp.ContentLength, body: body, cancel: cancel}
		p.ImageURL = p.URL
		if name := fileName(resp); name != "" {
			p.Properties["og:title"] = name
		}
		p.Properties["og:image:type"] = mediaType
		return p, nil
	default:
		defer cancel()
		body.Close()
		if name := fileName(resp); name != "" {
			p.Properties["og:title"] = name
		}
		return p, nil
	}
}

// FetchImage starts downloading the image at rawURL, typically a Preview's ImageURL, through
// the same checks and limits as Preview. It fails with ErrFetchFailed when the content is not
// an image/* type, and with ErrTooLarge when its announced length exceeds Config.MaxBytes.
// The caller must Close the Image.
func (pv *Previewer) FetchImage(ctx context.Context, rawURL string) (_ *Image, err error) {
	ctx, cancel := context.WithTimeout(ctx, pv.cfg.Timeout)
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	resp, err := pv.get(ctx, rawURL, "image/*")
	if err != nil {
		return nil, err
	}
	body := newLimitedBody(resp.Body, pv.cfg.MaxBytes, true)
	mediaType, _, err := contentType(resp, body)
	if err != nil {
		body.Close()
		return nil, fetchFailed(err)
	}
	if !strings.HasPrefix(mediaType, "image/") {
		body.Close()
		return nil, fmt.Errorf("%w: %s is %s, not an image", ErrFetchFailed, resp.Request.URL, mediaType)
	}
	if err := checkLength(resp, pv.cfg.MaxBytes); err != nil {
		body.Close()
		return nil, err
	}
	return &Image{URL: resp.Request.URL.String(), ContentType: mediaType, Length: resp.ContentLength, body: body, cancel: cancel}, nil
}

// checkLength fails with ErrTooLarge when resp announces more than limit bytes.
func checkLength(resp *http.Response, limit int64) error {
	if resp.ContentLength > limit {
		return fmt.Errorf("%w: %s announces %d bytes, more than the limit of %d", ErrTooLarge, resp.Request.URL, resp.ContentLength, limit)
	}
	return nil
}

// isHTML reports whether mediaType is parsed for OpenGraph tags.
func isHTML(mediaType string) bool {
	return mediaType == "text/html" || mediaType == "application/xhtml+xml"
}

// limitedBody reads at most limit bytes of a response body. Past the limit it reports io.EOF,
// so a page is parsed as far as the limit, or, with failPastLimit, ErrTooLarge, so a truncated
// image is never stored. Reads can be peeked at through peek, for content sniffing.
type limitedBody struct {
	rc            io.ReadCloser
	limit         int64
	failPastLimit bool
	n             int64  // bytes returned by Read
	peeked        []byte // read from rc by peek and not yet returned by Read
}

func newLimitedBody(rc io.ReadCloser, limit int64, failPastLimit bool) *limitedBody {
	return &limitedBody{rc: rc, limit: limit, failPastLimit: failPastLimit}
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.n >= b.limit {
		if b.failPastLimit {
			// One more byte tells an image of exactly limit bytes from a larger one.
			var one [1]byte
			if n, _ := io.ReadFull(b.rc, one[:]); n > 0 {
				return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, b.limit)
			}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.limit-b.n {
		p = p[:b.limit-b.n]
	}
	var n int
	var err error
	if len(b.peeked) > 0 {
		n = copy(p, b.peeked)
		b.peeked = b.peeked[n:]
	} else {
		n, err = b.rc.Read(p)
	}
	b.n += int64(n)
	if err != nil && err != io.EOF {
		err = fetchFailed(err)
	}
	return n, err
}

// peek returns up to n of the next bytes without consuming them. It reads only once, so it may
// return fewer bytes than are available.
func (b *limitedBody) peek(n int) ([]byte, error) {
	if len(b.peeked) == 0 {
		buf := make([]byte, min(int64(n), b.limit))
		m, err := io.ReadFull(b.rc, buf)
		b.peeked = buf[:m]
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return b.peeked, err
		}
	}
	return b.peeked[:min(n, len(b.peeked))], nil
}

func (b *limitedBody) Close() error { return b.rc.Close() }
