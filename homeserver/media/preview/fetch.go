package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"time"

	"causeway/internal/netguard"
)

// newClient returns the HTTP client every fetch goes through. Its dialer checks each address
// against policy just before connecting, it follows at most cfg.MaxRedirects redirects, each to
// an http or https URL, and it never uses a proxy: a proxy would make the connection, so the
// address check would see the proxy's address instead of the target's.
func newClient(cfg Config, policy netguard.Policy) *http.Client {
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            policy.Dialer(cfg.Timeout).DialContext,
		ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off otherwise
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrFetchFailed, cfg.MaxRedirects)
			}
			err := checkURL(req.URL, policy)
			if errors.Is(err, ErrInvalidURL) {
				// The URL asked for was fine; the upstream answered with a bad one.
				return fmt.Errorf("%w: redirected to an unusable URL: %v", ErrFetchFailed, err)
			}
			return err
		},
	}
}

// get starts a GET of rawURL and returns the response if its status is 2xx. The caller closes
// the body. Errors match exactly one of the package's sentinels.
func (pv *Previewer) get(ctx context.Context, rawURL, accept string) (*http.Response, error) {
	u, err := parseURL(rawURL, pv.policy)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	req.Header.Set("User-Agent", pv.cfg.UserAgent)
	req.Header.Set("Accept", accept)
	resp, err := pv.client.Do(req)
	if err != nil {
		return nil, fetchFailed(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Read a little so that the connection can be reused, but never wait for much.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s answered %s", ErrFetchFailed, resp.Request.URL, resp.Status)
	}
	return resp, nil
}

// fetchFailed wraps err in ErrFetchFailed unless it already matches one of the sentinels, so
// that every returned error matches exactly one.
func fetchFailed(err error) error {
	for _, sentinel := range []error{ErrInvalidURL, ErrForbiddenAddress, ErrTooLarge, ErrFetchFailed} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrFetchFailed, err)
}

// parseURL parses and checks the URL a preview is asked for.
func parseURL(rawURL string, policy netguard.Policy) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	if err := checkURL(u, policy); err != nil {
		return nil, err
	}
	u.Fragment, u.RawFragment = "", "" // never sent; keeps cache keys and og:url tidy
	return u, nil
}

// checkURL checks a URL before it is requested, first or after a redirect: it must be an
// absolute http or https URL with a host, no user information and a valid port. A host that is
// an IP address is checked against policy here, to fail before any connection; host names are
// checked when their addresses are dialled.
func checkURL(u *url.URL, policy netguard.Policy) error {
	if u.Scheme != "http" && u.Scheme != "https" { // url.Parse lower-cases the scheme
		return fmt.Errorf("%w: scheme %q is not http or https", ErrInvalidURL, u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidURL, u.Redacted())
	}
	if u.User != nil {
		return fmt.Errorf("%w: %q has user information", ErrInvalidURL, u.Redacted())
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("%w: bad port %q", ErrInvalidURL, port)
		}
	}
	if addr, err := netip.ParseAddr(u.Hostname()); err == nil && !policy.Allowed(addr) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, addr)
	}
	return nil
}

// contentType returns the media type of resp and its parameters. A missing, unparseable or
// application/octet-stream Content-Type is replaced by one sniffed from the body
// (http.DetectContentType), keeping the header's parameters.
func contentType(resp *http.Response, body *limitedBody) (string, map[string]string, error) {
	header := resp.Header.Get("Content-Type")
	mediaType, params, err := mime.ParseMediaType(header)
	if header != "" && err == nil && mediaType != "application/octet-stream" {
		return mediaType, params, nil
	}
	if params == nil {
		params = map[string]string{}
	}
	head, err := body.peek(512)
	if err != nil {
		return "", nil, err
	}
	sniffed, _, err := mime.ParseMediaType(http.DetectContentType(head))
	if err != nil {
		return "application/octet-stream", params, nil
	}
	return sniffed, params, nil
}

// maxFileNameRunes bounds the file name used as og:title for content that is not HTML.
const maxFileNameRunes = 255

// fileName is the name of a non-HTML resource: the Content-Disposition file name, or else the
// last segment of the URL's path. It is "" when there is neither.
func fileName(resp *http.Response) string {
	var name string
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		name = params["filename"] // mime decodes RFC 2231 filename* into filename
	}
	if name == "" {
		name = path.Base(resp.Request.URL.Path)
	}
	name = path.Base("/" + name) // no directories, from either source
	if name == "/" || name == "." {
		return ""
	}
	return cleanText(name, maxFileNameRunes)
}
