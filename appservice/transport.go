package appservice

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// InProcessTransport is an http.RoundTripper that serves requests for the hosts given to
// Handle by calling their http.Handler in this process, and passes every other request to a
// fallback RoundTripper. cmd plugs it into both directions between the homeserver and the
// built-in bridges: the homeserver's sender and queries reach a bridge's mautrix AppService
// (its Router), and the bridge's mautrix clients reach the homeserver (server.Handler()). Only
// the socket is skipped: the requests carry the same URLs, tokens and bodies, and go through
// the same authentication and namespace checks, as an external appservice's.
//
// # Addresses
//
// A registration's URL must be http or https (checkURL), and mautrix's clients take any
// absolute URL, so in-process peers get ordinary http URLs whose host names nothing on the
// network: by convention "causeway.internal" for the homeserver and "<id>.appservice.internal"
// for a bridge. ".internal" is reserved for private use and never delegated publicly. A host
// given to Handle stays in-process for the transport's life, so a request for it never
// reaches DNS and a token never leaves the process, even if its handler misbehaves. Hosts
// match case-insensitively; a port is part of the host, except the scheme's default port.
//
// # Wiring a mautrix appservice
//
// For a bridge built on mautrix's appservice package, serve its Router (wrapped in its
// Middleware, if any) with Handle under the host of its registration's URL, and give it a
// client from Client as its HTTPClient: after CreateFull or SetHomeserverURL (which replace
// HTTPClient) and before the first Intent or Client call (which copy it). Its homeserver URL
// is then "http://causeway.internal", served with the homeserver's Handler.
//
// # HTTP semantics
//
// The handler sees a request as net/http's server would give it: method, request URI,
// headers with Host moved to Request.Host, Content-Length or chunked transfer encoding, a body
// that yields exactly the declared length (io.ErrUnexpectedEOF if the client's body is
// shorter), RemoteAddr on the loopback address, TLS set for https, and a context that carries
// none of the client's values but ends when the client's does, when the client closes the
// response body, or when the handler returns.
//
// The client gets a response as net/http's client would: the status line, the headers as of
// WriteHeader plus Date, a Content-Type sniffed from the body's start if the handler set none,
// a Content-Length if the handler finished within the first 4 KiB without declaring one
// (otherwise the body streams as it is written, each Write past those 4 KiB or Flush reaching
// the client without waiting for the handler to return), and a body
// that can be read once, ends in io.ErrUnexpectedEOF when the handler wrote less than the
// Content-Length it declared, and fails with the request context's error once that ends.
// Writes block until the client reads them, as they would on a full socket; closing the body
// unblocks them with an error. There is no Expect: 100-continue, no trailers, no Hijack (so no
// websockets) and no transparent gzip.
//
// # Panics
//
// A handler that panics fails only its own request, as under net/http's server, and never
// silently: the client's RoundTrip (or, once the response has started, its body Read) returns
// an error wrapping ErrHandlerPanic with the panic value, and the transport logs the panic
// with its stack at Error. A panic with http.ErrAbortHandler aborts the response without a
// log line, as net/http does.
type InProcessTransport struct {
	fallback http.RoundTripper
	log      *slog.Logger

	mu       sync.RWMutex
	handlers map[string]http.Handler // by lower-case host
}

// ErrHandlerPanic is wrapped by the error a client gets when the in-process handler serving
// its request panicked.
var ErrHandlerPanic = errors.New("in-process handler panicked")

var (
	// errReadOnClosedBody is what net/http's client answers a read after Close.
	errReadOnClosedBody = errors.New("http: read on closed response body")
	// errClientGone is what a handler's Write returns once the client has closed the body
	// or given up; on a socket it would be a broken pipe.
	errClientGone = errors.New("in-process client closed the response")
)

// sniffSize is how much of a response is held back so that a handler that finishes within it
// gets a Content-Length; net/http's server holds back about as much. sniffLen is how much of
// the start of a body http.DetectContentType looks at.
const (
	sniffSize = 4096
	sniffLen  = 512
)

// inProcessRemoteAddr is the peer address handlers see: the request comes from this host,
// as it would over a loopback connection.
const inProcessRemoteAddr = "127.0.0.1:0"

// NewInProcessTransport returns a transport with no in-process hosts yet, which sends requests
// for other hosts through fallback (nil: a clone of http.DefaultTransport). log receives the
// panics of in-process handlers; nil discards them (the clients still get the error).
func NewInProcessTransport(fallback http.RoundTripper, log *slog.Logger) *InProcessTransport {
	if fallback == nil {
		fallback = http.DefaultTransport.(*http.Transport).Clone()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &InProcessTransport{fallback: fallback, log: log, handlers: make(map[string]http.Handler)}
}

// Handle serves requests for host (like "slack.appservice.internal", or "name:port") with h
// from now on, replacing the handler host had, if any. It panics if host is empty or has a
// scheme or path, or if h is nil. It is safe to call while requests are in flight; those
// already started finish with the old handler.
func (t *InProcessTransport) Handle(host string, h http.Handler) {
	if host == "" || strings.ContainsAny(host, "/?#@") {
		panic(fmt.Sprintf("appservice: in-process host %q is not a bare host name", host))
	}
	if h == nil {
		panic("appservice: nil in-process handler for " + host)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.handlers[strings.ToLower(host)] = h
}

// Client returns a new client that sends its requests through t. It has no timeout (callers
// set a deadline per request) and no cookie jar; the caller may set both.
func (t *InProcessTransport) Client() *http.Client {
	return &http.Client{Transport: t}
}

// CloseIdleConnections closes the fallback's idle connections; in-process hosts hold none.
func (t *InProcessTransport) CloseIdleConnections() {
	if c, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip implements http.RoundTripper.
func (t *InProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeRequestBody(req)
		return nil, errors.New("http: nil Request.URL")
	}
	h, host := t.handler(req.URL)
	if h == nil {
		return t.fallback.RoundTrip(req)
	}
	return t.serve(h, host, req)
}

// handler finds the in-process handler for u, if any.
func (t *InProcessTransport) handler(u *url.URL) (http.Handler, string) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, ""
	}
	host := strings.ToLower(u.Host)
	if name, port, err := net.SplitHostPort(host); err == nil &&
		(u.Scheme == "http" && port == "80" || u.Scheme == "https" && port == "443") {
		host = name
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.handlers[host], host
}

// serve runs one exchange with an in-process handler. The handler runs on its own goroutine,
// as under a server, so that the client can stream the response and give up on it.
func (t *InProcessTransport) serve(h http.Handler, host string, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := checkRequest(req); err != nil {
		closeRequestBody(req)
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		closeRequestBody(req)
		return nil, err
	}
	// The handler's context is not the client's: over a socket it would carry none of the
	// client's values or deadline. It ends when the client's does, through abandon, which
	// first settles what the client's body read returns.
	handlerCtx, cancelHandler := context.WithCancel(context.Background())
	sreq, body, err := serverRequest(handlerCtx, req)
	if err != nil {
		cancelHandler()
		closeRequestBody(req)
		return nil, err
	}
	pr, pw := io.Pipe()
	ex := &exchange{
		clientReq:     req,
		cancelHandler: cancelHandler,
		pr:            pr,
		pw:            pw,
		ready:         make(chan roundTripResult, 1),
	}
	// The client giving up ends the handler's context and any body read or write under way.
	ex.stopWatch = context.AfterFunc(ctx, func() { ex.abandon(ctx.Err()) })
	w := &responseWriter{ex: ex, sreq: sreq, pw: pw, header: make(http.Header), declared: -1}
	go t.run(h, host, w, sreq, body)

	select {
	case res := <-ex.ready:
		if res.err != nil {
			ex.release()
		}
		return res.resp, res.err
	case <-ctx.Done():
		// A response sent at the same moment is dropped: its pipe is closed by then, and a
		// complete one holds nothing to release.
		ex.release()
		return nil, ctx.Err()
	}
}

// run calls the handler and completes the exchange: the response, or the panic's error.
func (t *InProcessTransport) run(h http.Handler, host string, w *responseWriter, r *http.Request, body *requestBody) {
	defer func() {
		// net/http's server ends the request's context when the handler returns, and the
		// RoundTripper contract says the request body is closed by the transport.
		w.ex.cancelHandler()
		body.closeSource()
	}()
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v != http.ErrAbortHandler {
			t.log.ErrorContext(r.Context(), "in-process handler panicked",
				"host", host, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
		w.abort(fmt.Errorf("%w serving %s %s%s: %v", ErrHandlerPanic, r.Method, host, r.URL.Path, v))
	}()
	h.ServeHTTP(w, r)
	w.finish()
}

// checkRequest rejects what net/http's client would refuse to send.
func checkRequest(req *http.Request) error {
	if req.Header == nil {
		return errors.New("http: nil Request.Header")
	}
	if (req.Body == nil || req.Body == http.NoBody) && req.ContentLength > 0 {
		return fmt.Errorf("http: Request.ContentLength=%d with nil Body", req.ContentLength)
	}
	if req.Method != "" && !validToken(req.Method) {
		return fmt.Errorf("net/http: invalid method %q", req.Method)
	}
	for name, values := range req.Header {
		if !validToken(name) {
			return fmt.Errorf("net/http: invalid header field name %q", name)
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				return fmt.Errorf("net/http: invalid header field value for %q", name)
			}
		}
	}
	return nil
}

// validToken reports whether s is an RFC 9110 token (a method or header field name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v may travel as a header field value: no control
// characters but horizontal tab.
func validHeaderValue(v string) bool {
	for i := range len(v) {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// serverRequest builds the request as the handler sees it: what net/http's server would parse
// from what net/http's client would write for req.
func serverRequest(ctx context.Context, req *http.Request) (*http.Request, *requestBody, error) {
	requestURI := req.URL.RequestURI()
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		return nil, nil, fmt.Errorf("net/http: invalid request URI %q: %w", requestURI, err)
	}
	method := cmpOr(req.Method, http.MethodGet)
	header := req.Header.Clone()
	header.Del("Host")
	if _, ok := header["User-Agent"]; !ok {
		header.Set("User-Agent", "Go-http-client/1.1")
	}
	host := cmpOr(req.Host, req.URL.Host)

	body := &requestBody{src: req.Body, remaining: 0}
	contentLength := req.ContentLength
	var transferEncoding []string
	hasBody := req.Body != nil && req.Body != http.NoBody
	switch {
	case hasBody && contentLength <= 0:
		// Unknown length (for a client request, 0 with a body means unknown): net/http's
		// client sends it chunked.
		contentLength = -1
		transferEncoding = []string{"chunked"}
		body.remaining = -1
		header.Del("Content-Length")
	case hasBody && contentLength > 0:
		body.remaining = contentLength
		header.Set("Content-Length", strconv.FormatInt(contentLength, 10))
	default:
		// net/http's client sends "Content-Length: 0" for an empty body on the methods that
		// usually have one.
		contentLength = 0
		header.Del("Content-Length")
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			header.Set("Content-Length", "0")
		}
	}
	header.Del("Transfer-Encoding")

	var state *tls.ConnectionState
	if req.URL.Scheme == "https" {
		name, _, err := net.SplitHostPort(host)
		if err != nil {
			name = host
		}
		state = &tls.ConnectionState{HandshakeComplete: true, ServerName: name}
	}
	sreq := (&http.Request{
		Method:           method,
		URL:              u,
		Proto:            "HTTP/1.1",
		ProtoMajor:       1,
		ProtoMinor:       1,
		Header:           header,
		Body:             body,
		ContentLength:    contentLength,
		TransferEncoding: transferEncoding,
		Close:            req.Close,
		Host:             host,
		RemoteAddr:       inProcessRemoteAddr,
		RequestURI:       requestURI,
		TLS:              state,
	}).WithContext(ctx)
	return sreq, body, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// requestBody is the request body as the handler reads it: the client's body, cut at the
// declared length.
type requestBody struct {
	src       io.ReadCloser // nil or http.NoBody: no body
	remaining int64         // bytes still to come; -1: until the client's body ends
	closed    atomic.Bool   // the handler closed it
	srcOnce   sync.Once
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if b.remaining > 0 && int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.src.Read(p)
	if b.remaining > 0 {
		b.remaining -= int64(n)
		if errors.Is(err, io.EOF) && b.remaining > 0 {
			// The client's body was shorter than its Content-Length.
			err = io.ErrUnexpectedEOF
		} else if err == nil && b.remaining == 0 {
			err = io.EOF
		}
	}
	return n, err
}

// Close is the handler's Close: later reads fail, as on a server. The client's body is closed
// when the handler returns.
func (b *requestBody) Close() error {
	b.closed.Store(true)
	return nil
}

func (b *requestBody) closeSource() {
	b.srcOnce.Do(func() {
		if b.src != nil {
			b.src.Close()
		}
	})
}

// exchange is what the client side and the handler side of one request share.
type exchange struct {
	clientReq     *http.Request
	cancelHandler context.CancelFunc
	pr            *io.PipeReader // the streamed response body, read by the client
	pw            *io.PipeWriter // written by the handler
	ready         chan roundTripResult
	stopWatch     func() bool // stops the AfterFunc watching the client's context
	released      atomic.Bool
}

type roundTripResult struct {
	resp *http.Response
	err  error
}

// release ends the exchange from the client's side, once: it closed the body, gave up
// waiting for the response, or got an error instead of one.
func (ex *exchange) release() {
	if ex.released.Swap(true) {
		return
	}
	ex.stopWatch()
	ex.abandon(errReadOnClosedBody)
}

// abandon ends the exchange for the client: a body read under way returns readErr, the
// handler's context ends, and its writes fail from now on.
func (ex *exchange) abandon(readErr error) {
	// The first error a pipe is closed with sticks, so the reader keeps readErr even though
	// the handler, woken by its context, closes the pipe right after. A write blocked in the
	// pipe or coming later fails.
	ex.pw.CloseWithError(readErr)
	ex.cancelHandler()
}

// responseWriter is the handler's http.ResponseWriter. Like net/http's, it is not safe for
// concurrent use: only the handler's goroutine calls it (and finish and abort, after the
// handler).
type responseWriter struct {
	ex   *exchange
	sreq *http.Request
	pw   *io.PipeWriter

	header   http.Header
	status   int         // 0 until WriteHeader
	sent     http.Header // the headers as of WriteHeader
	declared int64       // the Content-Length the handler set, or -1
	// written counts the bytes the handler asked to write, refused ones included, as
	// net/http's server counts them against Content-Length.
	written int64
	// accepted counts the body bytes taken: held back, sent, or (for HEAD) discarded.
	accepted  int64
	buf       []byte // body held back until sniffSize, Flush or the handler's return
	headSniff []byte // for HEAD, the start of the discarded body, to sniff a Content-Type from
	committed bool   // the response has gone to the client, its body through the pipe
	failed    error  // a write to the pipe failed: the client is gone
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.status != 0 {
		return // superfluous, as net/http ignores it
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return // an informational response; the client never sees it (no Got1xxResponse)
	}
	w.status = code
	w.sent = w.header.Clone()
	if cl := w.sent.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			w.sent.Del("Content-Length") // net/http's server drops an invalid one too
		}
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.declared >= 0 && w.written > w.declared {
		return 0, http.ErrContentLength
	}
	w.accepted += int64(len(p))
	if w.sreq.Method == http.MethodHead {
		// Counted for Content-Length and sniffed for Content-Type, never sent.
		if n := min(len(p), sniffLen-len(w.headSniff)); n > 0 {
			w.headSniff = append(w.headSniff, p[:n]...)
		}
		return len(p), nil
	}
	if !w.committed {
		if len(w.buf)+len(p) <= sniffSize {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		w.commit(p)
	}
	return w.writePipe(p)
}

// Flush sends what has been written so far, and the headers if they have not gone yet.
func (w *responseWriter) Flush() {
	w.FlushError()
}

// FlushError is Flush with its error, for http.ResponseController.
func (w *responseWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(nil)
	}
	return w.failed
}

// commit hands the response to the client, its body to come through the pipe, and sends the
// held-back body. next is what the handler is writing now, if anything, which follows the
// held-back body (for sniffing).
func (w *responseWriter) commit(next []byte) {
	w.committed = true
	held := w.buf
	w.buf = nil
	first := held
	if w.sreq.Method == http.MethodHead {
		first = w.headSniff
	} else if len(first) < sniffLen && len(next) > 0 {
		first = append(slices.Clip(held), next[:min(len(next), sniffLen-len(held))]...)
	}
	resp := w.response(first)
	switch {
	case !bodyAllowedForStatus(w.status):
	case w.declared >= 0:
		resp.ContentLength = w.declared
	case w.sreq.Method == http.MethodHead:
		resp.ContentLength = -1
	default:
		resp.ContentLength = -1
		resp.TransferEncoding = []string{"chunked"}
	}
	if resp.Body == nil {
		resp.Body = &responseBody{ex: w.ex, r: w.ex.pr}
	}
	w.ex.ready <- roundTripResult{resp: resp}
	if len(held) > 0 {
		w.writePipe(held)
	}
}

func (w *responseWriter) writePipe(p []byte) (int, error) {
	if w.failed != nil {
		return 0, w.failed
	}
	n, err := w.pw.Write(p)
	if err != nil {
		// Only the client's side closes the pipe while the handler runs.
		w.failed = errClientGone
		err = w.failed
	}
	return n, err
}

// finish completes the response after the handler returned.
func (w *responseWriter) finish() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	isHEAD := w.sreq.Method == http.MethodHead
	short := w.declared >= 0 && w.accepted < w.declared && !isHEAD && bodyAllowedForStatus(w.status)
	if w.committed {
		if short {
			w.pw.CloseWithError(io.ErrUnexpectedEOF)
		} else {
			w.pw.Close()
		}
		return
	}
	w.pw.Close()
	first := w.buf
	if isHEAD {
		first = w.headSniff
	}
	resp := w.response(first)
	switch {
	case !bodyAllowedForStatus(w.status):
		resp.ContentLength = 0
	case w.declared >= 0:
		resp.ContentLength = w.declared
	case isHEAD && w.accepted == 0:
		resp.ContentLength = -1
	default:
		resp.ContentLength = w.accepted
		resp.Header.Set("Content-Length", strconv.FormatInt(w.accepted, 10))
	}
	if resp.Body == nil {
		end := io.EOF
		if short {
			end = io.ErrUnexpectedEOF
		}
		resp.Body = &responseBody{ex: w.ex, r: &bytesThen{r: bytes.NewReader(w.buf), end: end}}
	}
	w.ex.ready <- roundTripResult{resp: resp}
}

// abort fails the exchange after a panic: RoundTrip returns err, or, if the response has
// started, its body ends with err.
func (w *responseWriter) abort(err error) {
	w.pw.CloseWithError(err)
	if !w.committed {
		w.ex.ready <- roundTripResult{err: err}
	}
}

// response builds the client's response from the headers as of WriteHeader; first is the
// start of the body, for sniffing. Body is set to http.NoBody when there can be none.
func (w *responseWriter) response(first []byte) *http.Response {
	header := w.sent
	if _, ok := header["Date"]; !ok {
		header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	if !bodyAllowedForStatus(w.status) {
		// net/http's server drops these for 1xx, 204 and 304.
		header.Del("Content-Type")
		header.Del("Content-Length")
		header.Del("Transfer-Encoding")
	} else if _, ok := header["Content-Type"]; !ok && len(first) > 0 && header.Get("Content-Encoding") == "" {
		header.Set("Content-Type", http.DetectContentType(first))
	}
	text := http.StatusText(w.status)
	if text == "" {
		text = "status code " + strconv.Itoa(w.status)
	}
	resp := &http.Response{
		Status:     strconv.Itoa(w.status) + " " + text,
		StatusCode: w.status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Request:    w.ex.clientReq,
		TLS:        w.sreq.TLS,
	}
	if w.sreq.Method == http.MethodHead || !bodyAllowedForStatus(w.status) {
		resp.Body = http.NoBody
		// Nothing to read: the client's side of the exchange is over.
		w.ex.stopWatch()
	}
	return resp
}

// bodyAllowedForStatus reports whether a response with status may have a body (RFC 9110 §6.4.1).
func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199, status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

// bytesThen reads r, then fails with end (io.EOF, or io.ErrUnexpectedEOF for a body shorter
// than its Content-Length).
type bytesThen struct {
	r   *bytes.Reader
	end error
}

func (b *bytesThen) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = b.end
	}
	return n, err
}

// responseBody is the body the client reads: once, until the request context ends or the
// client closes it. Close may be called concurrently with Read, to unblock it.
type responseBody struct {
	ex     *exchange
	r      io.Reader
	closed atomic.Bool
}

func (b *responseBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errReadOnClosedBody
	}
	if err := b.ex.clientReq.Context().Err(); err != nil {
		return 0, err
	}
	n, err := b.r.Read(p)
	if err != nil {
		// The body is over (or failed): the client's context no longer concerns the handler,
		// which has returned or been cancelled.
		b.ex.stopWatch()
	}
	return n, err
}

func (b *responseBody) Close() error {
	if !b.closed.Swap(true) {
		b.ex.release()
	}
	return nil
}
