package appservice_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"
	mxappservice "maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/appservice"
	"causeway/homeserver/server"
	"causeway/homeserver/storage/storagetest"
)

const inProcHost = "bridge.appservice.internal"

// inProcFallback stands in for the network: it notes the hosts it was asked for and, unless
// next is set, answers 502 so that a test never leaves the machine.
type inProcFallback struct {
	mu    sync.Mutex
	hosts []string
	next  http.RoundTripper
}

func (f *inProcFallback) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.hosts = append(f.hosts, r.URL.Host)
	f.mu.Unlock()
	if f.next != nil {
		return f.next.RoundTrip(r)
	}
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusBadGateway, Status: "502 Bad Gateway", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: r,
	}, nil
}

func (f *inProcFallback) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.hosts...)
}

// inProcLog records the transport's log lines.
type inProcLog struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *inProcLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *inProcLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *inProcLog) WithGroup(string) slog.Handler            { return h }
func (h *inProcLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}

// attrs returns the attributes of the records with message msg.
func (h *inProcLog) attrs(msg string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.records {
		if r.Message != msg {
			continue
		}
		m := map[string]string{"level": r.Level.String()}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	return out
}

func newInProcTransport(t *testing.T, h http.Handler) (*appservice.InProcessTransport, *inProcFallback, *inProcLog) {
	t.Helper()
	fallback := &inProcFallback{}
	log := &inProcLog{}
	tr := appservice.NewInProcessTransport(fallback, slog.New(log))
	tr.Handle(inProcHost, h)
	return tr, fallback, log
}

func TestInProcessTransportRouting(t *testing.T) {
	t.Parallel()
	served := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("in-process")) }
	tr, fallback, _ := newInProcTransport(t, http.HandlerFunc(served))
	tr.Handle("other.internal:8008", http.HandlerFunc(served))
	cli := tr.Client()
	tests := []struct {
		url        string
		inProcess  bool
		wantStatus int
	}{
		{url: "http://bridge.appservice.internal/_matrix/app/v1/ping", inProcess: true},
		{url: "https://bridge.appservice.internal/x", inProcess: true},
		{url: "http://Bridge.AppService.Internal:80/x", inProcess: true},
		{url: "https://bridge.appservice.internal:443/x", inProcess: true},
		{url: "http://other.internal:8008/x", inProcess: true},
		{url: "http://other.internal/x"},
		{url: "http://bridge.appservice.internal:8080/x"},
		{url: "http://elsewhere.example/x"},
	}
	for _, tc := range tests {
		before := len(fallback.seen())
		resp, err := cli.Get(tc.url)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fellBack := len(fallback.seen()) > before
		if tc.inProcess && (fellBack || string(body) != "in-process") {
			t.Errorf("GET %s: fell back %v, body %q; want it served in-process", tc.url, fellBack, body)
		}
		if !tc.inProcess && (!fellBack || resp.StatusCode != http.StatusBadGateway) {
			t.Errorf("GET %s: fell back %v, status %d; want the fallback", tc.url, fellBack, resp.StatusCode)
		}
	}
}

func TestInProcessTransportDefaultFallback(t *testing.T) {
	t.Parallel()
	real := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("over a socket")) }))
	defer real.Close()
	tr := appservice.NewInProcessTransport(nil, nil)
	tr.Handle(inProcHost, http.NotFoundHandler())
	defer tr.CloseIdleConnections()
	resp, err := tr.Client().Get(real.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); string(body) != "over a socket" {
		t.Errorf("body %q from the fallback", body)
	}
}

func TestInProcessTransportHandlePanics(t *testing.T) {
	t.Parallel()
	tr := appservice.NewInProcessTransport(nil, nil)
	for _, tc := range []struct {
		host string
		h    http.Handler
	}{
		{"", http.NotFoundHandler()},
		{"http://x.internal", http.NotFoundHandler()},
		{"x.internal/path", http.NotFoundHandler()},
		{"x.internal", nil},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q, %v) did not panic", tc.host, tc.h)
				}
			}()
			tr.Handle(tc.host, tc.h)
		}()
	}
}

// seenRequest is what a handler sees of a request, minus what differs between a socket and
// none: the peer's port, the Host (an address there, a name here) and Accept-Encoding
// (net/http's transport asks for gzip, which it decompresses itself).
type seenRequest struct {
	Method, RequestURI, Path, RawPath, RawQuery string
	Proto                                       string
	ContentLength                               int64
	TransferEncoding                            []string
	Header                                      http.Header
	Body                                        string
	BodyErr                                     string
	LoopbackPeer                                bool
}

func seeRequest(r *http.Request) seenRequest {
	body, err := io.ReadAll(r.Body)
	header := r.Header.Clone()
	header.Del("Accept-Encoding")
	host, _, splitErr := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	s := seenRequest{
		Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
		Proto: r.Proto, ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding,
		Header: header, Body: string(body), LoopbackPeer: splitErr == nil && ip != nil && ip.IsLoopback(),
	}
	if err != nil {
		s.BodyErr = err.Error()
	}
	return s
}

// seenResponse is what a client sees of a response, minus the Date.
type seenResponse struct {
	Status           string
	StatusCode       int
	Proto            string
	ContentLength    int64
	TransferEncoding []string
	Header           http.Header
	Body             string
	BodyErr          string
}

func seeResponse(resp *http.Response) seenResponse {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	header := resp.Header.Clone()
	header.Del("Date")
	s := seenResponse{
		Status: resp.Status, StatusCode: resp.StatusCode, Proto: resp.Proto, ContentLength: resp.ContentLength,
		TransferEncoding: resp.TransferEncoding, Header: header, Body: string(body),
	}
	if err != nil {
		s.BodyErr = err.Error()
	}
	return s
}

// overBoth runs the same exchange over a real loopback server and over the transport and
// returns both views: the handler's of the request and the client's of the response.
func overBoth(t *testing.T, handler http.HandlerFunc, newReq func(base string) *http.Request) (real, inProc struct {
	req  seenRequest
	resp seenResponse
}) {
	t.Helper()
	seen := make(chan seenRequest, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- seeRequest(r)
		handler(w, r)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	realClient := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer realClient.CloseIdleConnections()
	tr, _, _ := newInProcTransport(t, h)

	resp, err := realClient.Do(newReq(srv.URL))
	if err != nil {
		t.Fatalf("over a socket: %v", err)
	}
	real.resp = seeResponse(resp)
	real.req = <-seen
	resp, err = tr.Client().Do(newReq("http://" + inProcHost))
	if err != nil {
		t.Fatalf("in-process: %v", err)
	}
	inProc.resp = seeResponse(resp)
	inProc.req = <-seen
	return real, inProc
}

// TestInProcessTransportRequestsAsOverASocket checks that a handler sees an in-process
// request as it would see the same request sent over a socket.
func TestInProcessTransportRequestsAsOverASocket(t *testing.T) {
	t.Parallel()
	echo := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }
	tests := []struct {
		name   string
		newReq func(base string) *http.Request
	}{
		{"get with escapes and query", func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, base+"/_matrix/app/v1/users/%40_bridge_bob%3Alocalhost?user_id=%40a%3Ab&x=1", nil)
			return r
		}},
		{"put with a body of known length", func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodPut, base+"/_matrix/app/v1/transactions/42", strings.NewReader(`{"events":[]}`))
			r.Header.Set("Authorization", "Bearer hs-token")
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{"post with a body of unknown length", func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, base+"/stream", io.NopCloser(strings.NewReader("streamed body")))
			return r
		}},
		{"post without a body", func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, base+"/_matrix/app/v1/ping", nil)
			return r
		}},
		{"own user agent and repeated headers", func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodDelete, base+"/x", nil)
			r.Header.Set("User-Agent", "mautrix-go")
			r.Header.Add("X-Many", "1")
			r.Header.Add("X-Many", "2")
			return r
		}},
		{"head", func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodHead, base+"/x", nil)
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			real, inProc := overBoth(t, echo, tc.newReq)
			if diff := cmp.Diff(real.req, inProc.req); diff != "" {
				t.Errorf("request as the handler sees it (-socket +in-process):\n%s", diff)
			}
			if diff := cmp.Diff(real.resp, inProc.resp); diff != "" {
				t.Errorf("response as the client sees it (-socket +in-process):\n%s", diff)
			}
		})
	}
}

// TestInProcessTransportResponsesAsOverASocket checks that a client sees what a handler
// writes as it would over a socket: status, headers, Content-Length or chunking, body.
func TestInProcessTransportResponsesAsOverASocket(t *testing.T) {
	t.Parallel()
	large := strings.Repeat("0123456789", 2000)
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{}`))
		}},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}},
		{"sniffed content type", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html><body>hi</body></html>")) }},
		{"large, in small writes", func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(large); i += 100 {
				w.Write([]byte(large[i : i+100]))
			}
		}},
		{"large, in one write", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(large)) }},
		{"declared length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		}},
		{"declared length, large", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(large)))
			w.Write([]byte(large))
		}},
		{"shorter than declared", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			w.Write([]byte("abc"))
		}},
		{"longer than declared", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			if _, err := w.Write([]byte("abcdef")); !errors.Is(err, http.ErrContentLength) {
				panic(fmt.Sprintf("write past Content-Length: %v", err))
			}
			w.Write([]byte("abc"))
		}},
		{"no content", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic(fmt.Sprintf("write with 204: %v", err))
			}
		}},
		{"unusual status", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(599)
			w.Write([]byte("odd"))
		}},
		{"teapot", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("short and stout"))
		}},
		{"http.Error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusForbidden) }},
		{"headers changed after WriteHeader", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Before", "1")
			w.WriteHeader(http.StatusAccepted)
			w.Header().Set("X-After", "1")
			w.Write([]byte("x"))
		}},
		{"flushed", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		}},
		{"flushed through ResponseController", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("a"))
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}},
		{"informational first", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusProcessing)
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte("made"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			real, inProc := overBoth(t, tc.handler, func(base string) *http.Request {
				r, _ := http.NewRequest(http.MethodGet, base+"/x", nil)
				return r
			})
			if diff := cmp.Diff(real.resp, inProc.resp); diff != "" {
				t.Errorf("response as the client sees it (-socket +in-process):\n%s", diff)
			}
		})
	}
}

// closeRecorder is a request body that notes being closed.
type closeRecorder struct {
	io.Reader
	closed chan struct{}
	once   sync.Once
}

func newCloseRecorder(r io.Reader) *closeRecorder {
	return &closeRecorder{Reader: r, closed: make(chan struct{})}
}

func (c *closeRecorder) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *closeRecorder) waitClosed(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(10 * time.Second):
		t.Errorf("%s: the request body was never closed", what)
	}
}

// TestInProcessTransportClosesRequestBodies checks the RoundTripper contract: the request
// body is closed, whether the handler reads it or not, and on errors.
func TestInProcessTransportClosesRequestBodies(t *testing.T) {
	t.Parallel()
	tr, _, _ := newInProcTransport(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			io.ReadAll(r.Body)
		}
	}))
	for _, path := range []string{"/read", "/ignore"} {
		body := newCloseRecorder(strings.NewReader("body"))
		req, _ := http.NewRequest(http.MethodPost, "http://"+inProcHost+path, body)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		body.waitClosed(t, path)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	body := newCloseRecorder(strings.NewReader("body"))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+inProcHost+"/read", body)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request: %v, want context.Canceled", err)
	}
	body.waitClosed(t, "cancelled request")

	body = newCloseRecorder(strings.NewReader("body"))
	req, _ = http.NewRequest(http.MethodPost, "http://"+inProcHost+"/read", body)
	req.Header["Bad Name"] = []string{"x"}
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "invalid header field name") {
		t.Errorf("invalid header name: %v", err)
	}
	body.waitClosed(t, "invalid header")
}

// TestInProcessTransportPanics checks that a panicking handler fails its request with an error
// wrapping ErrHandlerPanic, before or after the response started, is logged with its stack
// (except for http.ErrAbortHandler), and leaves the transport serving.
func TestInProcessTransportPanics(t *testing.T) {
	t.Parallel()
	tr, _, log := newInProcTransport(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/before":
			panic("boom before")
		case "/after":
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			panic("boom after")
		case "/abort":
			panic(http.ErrAbortHandler)
		default:
			w.Write([]byte("fine"))
		}
	}))
	cli := tr.Client()
	base := "http://" + inProcHost

	_, err := cli.Get(base + "/before")
	if !errors.Is(err, appservice.ErrHandlerPanic) || !strings.Contains(err.Error(), "boom before") {
		t.Errorf("panic before the response: %v, want ErrHandlerPanic with the value", err)
	}

	resp, err := cli.Get(base + "/after")
	if err != nil {
		t.Fatalf("panic after the response started: %v, want the response", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "partial" || !errors.Is(err, appservice.ErrHandlerPanic) || !strings.Contains(err.Error(), "boom after") {
		t.Errorf("body after a panic: %q, %v; want the flushed part, then ErrHandlerPanic", body, err)
	}

	if _, err := cli.Get(base + "/abort"); !errors.Is(err, appservice.ErrHandlerPanic) {
		t.Errorf("ErrAbortHandler: %v, want ErrHandlerPanic", err)
	}

	resp, err = cli.Get(base + "/fine")
	if err != nil {
		t.Fatalf("after the panics: %v", err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "fine" {
		t.Errorf("after the panics: %q", body)
	}
	resp.Body.Close()

	logged := log.attrs("in-process handler panicked")
	if len(logged) != 2 {
		t.Fatalf("logged %d panics, want 2 (not the aborted one): %v", len(logged), logged)
	}
	for i, want := range []struct{ path, panic string }{{"/before", "boom before"}, {"/after", "boom after"}} {
		got := logged[i]
		if got["level"] != "ERROR" || got["path"] != want.path || got["panic"] != want.panic || got["host"] != inProcHost ||
			!strings.Contains(got["stack"], "TestInProcessTransportPanics") {
			t.Errorf("log of panic %d: %v", i, got)
		}
	}
}

// TestInProcessTransportCancellation checks that the client's context reaches the handler,
// that a client giving up does not wait for the handler, and that closing the body early
// stops the handler's writes.
func TestInProcessTransportCancellation(t *testing.T) {
	t.Parallel()
	handlerDone := make(chan error, 1)
	writeErr := make(chan error, 1)
	tr, _, _ := newInProcTransport(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/park":
			<-r.Context().Done()
			handlerDone <- r.Context().Err()
		case "/stream-then-park":
			w.Write([]byte("head"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			handlerDone <- r.Context().Err()
		case "/stream-forever":
			chunk := bytes.Repeat([]byte("x"), 1024)
			for {
				if _, err := w.Write(chunk); err != nil {
					writeErr <- err
					<-r.Context().Done()
					handlerDone <- r.Context().Err()
					return
				}
			}
		}
	}))
	cli := tr.Client()
	base := "http://" + inProcHost

	t.Run("before the response", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/park", nil)
		if _, err := cli.Do(req); !errors.Is(err, context.Canceled) {
			t.Errorf("Do: %v, want context.Canceled", err)
		}
		if err := waitErr(t, handlerDone); !errors.Is(err, context.Canceled) {
			t.Errorf("handler's context: %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/park", nil)
		if _, err := cli.Do(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do: %v, want context.DeadlineExceeded", err)
		}
		if err := waitErr(t, handlerDone); err == nil {
			t.Error("handler's context did not end")
		}
	})
	t.Run("while reading the body", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/stream-then-park", nil)
		resp, err := cli.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		head := make([]byte, 4)
		if _, err := io.ReadFull(resp.Body, head); err != nil || string(head) != "head" {
			t.Fatalf("first part: %q, %v", head, err)
		}
		time.AfterFunc(20*time.Millisecond, cancel)
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
			t.Errorf("reading on: %v, want context.Canceled", err)
		}
		if err := waitErr(t, handlerDone); !errors.Is(err, context.Canceled) {
			t.Errorf("handler's context: %v", err)
		}
	})
	t.Run("closing the body early", func(t *testing.T) {
		resp, err := cli.Get(base + "/stream-forever")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 10_000)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
			t.Error("read after Close succeeded")
		}
		if err := waitErr(t, writeErr); err == nil {
			t.Error("handler's write succeeded")
		}
		if err := waitErr(t, handlerDone); !errors.Is(err, context.Canceled) {
			t.Errorf("handler's context: %v", err)
		}
	})
}

func waitErr(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not notice")
		return nil
	}
}

// TestInProcessTransportLargeBodies echoes 8 MiB bodies of known and unknown length.
func TestInProcessTransportLargeBodies(t *testing.T) {
	t.Parallel()
	tr, _, _ := newInProcTransport(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Length", fmt.Sprint(r.ContentLength))
		if _, err := io.Copy(w, r.Body); err != nil {
			panic(err)
		}
	}))
	payload := make([]byte, 8<<20)
	for i := range payload {
		payload[i] = byte(i * 7 / 3)
	}
	for _, tc := range []struct {
		name   string
		body   io.Reader
		length string
	}{
		{"known length", bytes.NewReader(payload), fmt.Sprint(len(payload))},
		{"unknown length", io.MultiReader(bytes.NewReader(payload[:1<<20]), bytes.NewReader(payload[1<<20:])), "-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, "http://"+inProcHost+"/echo", tc.body)
			resp, err := tr.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != sha256.Sum256(payload) {
				t.Errorf("echoed %d bytes, not the %d sent", len(got), len(payload))
			}
			if l := resp.Header.Get("X-Request-Length"); l != tc.length {
				t.Errorf("handler saw ContentLength %s, want %s", l, tc.length)
			}
			if resp.ContentLength != -1 {
				t.Errorf("response ContentLength %d, want -1 (streamed)", resp.ContentLength)
			}
		})
	}
}

// TestInProcessTransportConcurrent runs many requests at once against one handler; run it
// with -race.
func TestInProcessTransportConcurrent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	tr, _, _ := newInProcTransport(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Header.Get("X-Caller")]++
		mu.Unlock()
		w.Header().Set("X-Caller", r.Header.Get("X-Caller"))
		// Some answers fit the held-back buffer, others stream.
		w.Write(bytes.Repeat(body, 1+len(body)%7*200))
	}))
	cli := tr.Client()
	const callers, each = 32, 40
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			caller := fmt.Sprint(c)
			for i := range each {
				body := fmt.Sprintf("%s/%d;", caller, i)
				req, _ := http.NewRequest(http.MethodPost, "http://"+inProcHost+"/echo", strings.NewReader(body))
				req.Header.Set("X-Caller", caller)
				resp, err := cli.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := strings.Repeat(body, 1+len(body)%7*200)
				if err != nil || string(got) != want || resp.Header.Get("X-Caller") != caller {
					t.Errorf("caller %s request %d: %d bytes, %v, header %q", caller, i, len(got), err, resp.Header.Get("X-Caller"))
					return
				}
			}
		})
	}
	wg.Wait()
	for c := range callers {
		if n := seen[fmt.Sprint(c)]; n != each {
			t.Errorf("caller %d: handler saw %d requests, want %d", c, n, each)
		}
	}
}

// asHop is how the homeserver and the appservice reach each other.
type asHop string

const (
	hopLoopback  asHop = "loopback"  // both listen on loopback sockets
	hopInProcess asHop = "inprocess" // both are served by an InProcessTransport, no socket
)

const (
	inProcHSHost = "causeway.internal"
	inProcASHost = "testbridge.appservice.internal"
)

// hopEnv is a Causeway server with the appservice layer and a mautrix-go appservice
// registered with it in code, as cmd registers a built-in bridge, the two reaching each other
// over hop.
type hopEnv struct {
	as     *mxappservice.AppService
	events chan *event.Event // what the appservice received, in order
	done   chan struct{}     // closed first at cleanup: from then on received events are dropped

	userURL  string       // where ordinary users reach the homeserver
	userHTTP *http.Client // and how
	// fallback sees the requests the in-process transport did not serve itself.
	fallback *inProcFallback
}

// startHopEnv starts the server and the appservice on a fresh database. Ordinary users reach
// the server in-process too, unless usersOverLoopback: then they use a loopback socket, as
// real clients would, whatever the hop between the server and the appservice.
func startHopEnv(tb testing.TB, driver, dsn string, hop asHop, usersOverLoopback bool) *hopEnv {
	tb.Helper()
	const asToken, hsToken = "as-token-testbridge-0123456789", "hs-token-testbridge-0123456789"
	users, err := appservice.NewNamespace(`@_bridge_.*:localhost`, true)
	if err != nil {
		tb.Fatal(err)
	}
	aliases, err := appservice.NewNamespace(`#_bridge_.*:localhost`, true)
	if err != nil {
		tb.Fatal(err)
	}
	notRateLimited := false
	mxreg := &mxappservice.Registration{
		ID: "testbridge", AppToken: asToken, ServerToken: hsToken, SenderLocalpart: "bridgebot", RateLimited: &notRateLimited,
		Namespaces: mxappservice.Namespaces{
			UserIDs:     mxappservice.NamespaceList{{Regex: users.Source, Exclusive: true}},
			RoomAliases: mxappservice.NamespaceList{{Regex: aliases.Source, Exclusive: true}},
		},
	}
	// The homeserver URL is set below, before any client or intent exists.
	as, err := mxappservice.CreateFull(mxappservice.CreateOpts{
		Registration: mxreg, HomeserverDomain: "localhost", HomeserverURL: "http://" + inProcHSHost,
	})
	if err != nil {
		tb.Fatal(err)
	}

	env := &hopEnv{as: as, events: make(chan *event.Event, 1024), done: make(chan struct{}), fallback: &inProcFallback{}}
	transport := appservice.NewInProcessTransport(env.fallback, nil)
	var hsClient *http.Client // the homeserver's, to the appservice
	switch hop {
	case hopInProcess:
		transport.Handle(inProcASHost, as.Router)
		mxreg.URL = "http://" + inProcASHost
		hsClient = transport.Client()
	case hopLoopback:
		asServer := httptest.NewServer(as.Router)
		tb.Cleanup(asServer.Close)
		mxreg.URL = asServer.URL
		hsClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		tb.Cleanup(hsClient.CloseIdleConnections)
	}
	registry := appservice.NewRegistry("localhost")
	err = registry.Register(&appservice.Registration{
		ID: mxreg.ID, URL: mxreg.URL, ASToken: asToken, HSToken: hsToken, SenderLocalpart: mxreg.SenderLocalpart,
		Namespaces: appservice.Namespaces{Users: []appservice.Namespace{users}, Aliases: []appservice.Namespace{aliases}}, RateLimited: &notRateLimited,
	})
	if err != nil {
		tb.Fatal(err)
	}

	cfg := testConfig(tb.TempDir(), dsn)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler),
		appservice.Layer(registry, hsClient, appservice.SenderOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}))
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	var hs *httptest.Server
	if hop == hopLoopback || usersOverLoopback {
		hs = httptest.NewServer(srv.Handler())
	}
	switch hop {
	case hopInProcess:
		transport.Handle(inProcHSHost, srv.Handler())
		// After CreateFull, which set the client that SetHomeserverURL makes, and before any
		// intent or client copies it.
		as.HTTPClient = transport.Client()
	case hopLoopback:
		if err := as.SetHomeserverURL(hs.URL); err != nil {
			tb.Fatal(err)
		}
	}
	if usersOverLoopback {
		env.userURL = hs.URL
		env.userHTTP = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	} else {
		env.userURL = "http://" + inProcHSHost
		env.userHTTP = transport.Client()
	}
	bgDone := make(chan struct{})
	go func() { srv.RunBackground(ctx); close(bgDone) }()
	tb.Cleanup(func() {
		cancel()
		<-bgDone
		if hs != nil {
			hs.Close()
		}
		env.userHTTP.CloseIdleConnections()
		srv.Close()
	})

	go func() {
		for {
			select {
			case ev := <-as.Events:
				select {
				case env.events <- ev:
				case <-env.done:
				}
			case <-env.done:
				// Keep the appservice's handler from blocking on a full channel while the
				// servers shut down.
				for {
					select {
					case <-as.Events:
					case <-time.After(time.Second):
						return
					}
				}
			}
		}
	}()
	// Registered last, so run first.
	tb.Cleanup(func() { close(env.done) })
	return env
}

// user registers an ordinary account.
func (env *hopEnv) user(tb testing.TB, localpart string) *mautrix.Client {
	tb.Helper()
	cli, err := mautrix.NewClient(env.userURL, "", "")
	if err != nil {
		tb.Fatal(err)
	}
	cli.Client = env.userHTTP
	resp, err := cli.RegisterDummy(context.Background(), &mautrix.ReqRegister[any]{Username: localpart, Password: "ordinary user password"})
	if err != nil {
		tb.Fatalf("register %s: %v", localpart, err)
	}
	cli.SetCredentials(resp.UserID, resp.AccessToken)
	return cli
}

// receive collects the room's events from the appservice until have says it has all.
func (env *hopEnv) receive(tb testing.TB, roomID id.RoomID, have func([]*event.Event) bool) []*event.Event {
	tb.Helper()
	var got []*event.Event
	timeout := time.After(30 * time.Second)
	for !have(got) {
		select {
		case ev := <-env.events:
			if ev.RoomID == roomID {
				got = append(got, ev)
			}
		case <-timeout:
			tb.Fatalf("appservice received %d events of %s before the timeout", len(got), roomID)
		}
	}
	return got
}

// TestInProcessBridgeFlow runs TestBridgeFlow's bridge with no socket at all: the homeserver
// reaches the appservice, and the appservice and the users reach the homeserver, through the
// transport, with the same tokens, namespaces and answers as over HTTP.
func TestInProcessBridgeFlow(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startHopEnv(t, driver, dsn, hopInProcess, false)
		runBridgeFlow(t, env.as, func(t *testing.T, localpart string) *mautrix.Client { return env.user(t, localpart) },
			func(t *testing.T, roomID id.RoomID, have func([]*event.Event) bool) []*event.Event {
				return env.receive(t, roomID, have)
			})

		// The authorization is the one every appservice gets.
		if _, err := env.as.Client("@alice:localhost").Whoami(ctx); errCode(err) != "M_FORBIDDEN" {
			t.Errorf("masquerading outside the namespace: %v, want M_FORBIDDEN", err)
		}
		impostor := env.as.NewMautrixClient("@_bridge_slackbob:localhost")
		impostor.AccessToken = "not-the-as-token"
		if _, err := impostor.Whoami(ctx); errCode(err) != "M_UNKNOWN_TOKEN" {
			t.Errorf("a wrong as_token: %v, want M_UNKNOWN_TOKEN", err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+inProcASHost+"/_matrix/app/v1/ping", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer not-the-hs-token")
		resp, err := env.userHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "M_UNKNOWN_TOKEN") {
			t.Errorf("the appservice answered a wrong hs_token with %s %s, want 401 M_UNKNOWN_TOKEN", resp.Status, body)
		}

		if hosts := env.fallback.seen(); len(hosts) > 0 {
			t.Errorf("requests left the process, to %v", hosts)
		}
	})
}
