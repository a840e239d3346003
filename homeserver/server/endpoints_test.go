package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"causeway/homeserver/config"
	"causeway/homeserver/server"
	"causeway/homeserver/storage/storagetest"
)

// update makes TestClientServerEndpointTable rewrite the table instead of checking it.
var update = flag.Bool("update", false, "rewrite docs/client-server-endpoints.md from the matrix-spec copy and the server")

const (
	// endpointTableName is the table of client-server endpoints, relative to the repository.
	endpointTableName = "docs/client-server-endpoints.md"
	// updateCommand regenerates the table, run from the repository root.
	updateCommand = "go test ./homeserver/server -run TestClientServerEndpointTable -update"
	// specEnv names the variable that points at the matrix-spec directory.
	specEnv = "CAUSEWAY_MATRIX_SPEC"
	// clientServerDir holds the client-server OpenAPI files inside the matrix-spec directory.
	clientServerDir = "data/api/client-server"
	// probeTimeout bounds each probe request, so that no endpoint can hang the test.
	probeTimeout = 5 * time.Second
	// tableHeader is the first line of the table.
	tableHeader = "| Method | Path | Spec file | Deprecated | Served |"
	// commitPrefix starts the line of the document that names the spec commit.
	commitPrefix = "Generated from matrix-org/matrix-spec at commit "
)

// endpointTablePath is the table relative to this package, where go test runs.
var endpointTablePath = filepath.Join("..", "..", endpointTableName)

// e2eeFiles are the spec files of the end-to-end encryption endpoints, tracked by one issue.
var e2eeFiles = map[string]bool{
	"keys.yaml":          true,
	"cross_signing.yaml": true,
	"key_backup.yaml":    true,
	"to_device.yaml":     true,
}

// e2eeReason is the Served cell of an E2EE endpoint the server does not serve.
const e2eeReason = "no (E2EE: issue 8)"

// noOAuthReason is the Served cell of GET /auth_metadata: a server without the OAuth 2.0 API
// answers it 404 M_UNRECOGNIZED, as oauth_server_metadata.yaml says.
const noOAuthReason = "no (by the spec: no OAuth 2.0 API)"

// httpMethods are the keys of an OpenAPI path item that name operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// endpoint is one operation of the client-server API.
type endpoint struct {
	Method     string // upper case, as HTTP writes it
	Path       string // the whole path, base path included
	File       string // the spec file, such as rooms.yaml
	Deprecated bool
}

// key identifies an endpoint by method, path and file: two files may describe the same method
// and path (GET /events in old_sync.yaml and peeking_events.yaml).
func (e endpoint) key() string { return e.Method + " " + e.Path + " (" + e.File + ")" }

// tableRow is one row of the table: an endpoint and its Served cell.
type tableRow struct {
	endpoint
	Served string
}

// endpointTable is the content of docs/client-server-endpoints.md.
type endpointTable struct {
	Commit string // the matrix-spec commit the rows come from, "" when unknown
	Rows   []tableRow
}

// TestClientServerEndpointTable checks docs/client-server-endpoints.md, the list of every
// client-server operation with whether the server serves it: its rows must be the spec's
// operations (when the matrix-spec copy is reachable; CI has none, so the table is the
// repository's copy of the list), and each Served cell must be what a request to the server
// finds. With -update it rewrites the table instead.
func TestClientServerEndpointTable(t *testing.T) {
	text, current := readEndpointTable(t)
	commit, eps := listedEndpoints(t, current)
	want := endpointTable{Commit: commit, Rows: probeEndpoints(t, eps)}
	rendered := renderEndpointTable(want)
	if *update {
		writeEndpointTable(t, rendered)
		return
	}
	if diffs := diffRows(current.Rows, want.Rows); len(diffs) > 0 {
		t.Fatalf("%s is out of date; run %s (with %s set when the spec is not found). Differing rows:\n%s",
			endpointTableName, updateCommand, specEnv, strings.Join(diffs, "\n"))
	}
	if diff := cmp.Diff(strings.Split(rendered, "\n"), strings.Split(text, "\n")); diff != "" {
		t.Fatalf("%s has the right rows but differs from its generated form; run %s (-want +got):\n%s",
			endpointTableName, updateCommand, diff)
	}
}

// readEndpointTable reads the table's text and parses it. A missing table is empty under
// -update and fails the test otherwise.
func readEndpointTable(t *testing.T) (string, endpointTable) {
	t.Helper()
	text, err := os.ReadFile(endpointTablePath)
	switch {
	case errors.Is(err, os.ErrNotExist) && *update:
		return "", endpointTable{}
	case err != nil:
		t.Fatalf("%v (run %s)", err, updateCommand)
	}
	tab, err := parseEndpointTable(string(text))
	if err != nil {
		t.Fatalf("%s: %v", endpointTableName, err)
	}
	return string(text), tab
}

// listedEndpoints returns the spec's operations and commit when the spec copy is reachable,
// and the table's own otherwise (which -update refuses).
func listedEndpoints(t *testing.T, current endpointTable) (string, []endpoint) {
	t.Helper()
	dir, ok := specDir(t)
	if !ok {
		if *update {
			t.Fatalf("-update needs the matrix-spec copy: set %s to its directory", specEnv)
		}
		t.Logf("no matrix-spec copy (set %s to check the table against the spec); probing the table's own rows", specEnv)
		return current.Commit, endpointsOf(current.Rows)
	}
	eps, err := specEndpoints(dir)
	if err != nil {
		t.Fatalf("read the spec at %s: %v", dir, err)
	}
	return specCommit(dir), eps
}

// probeEndpoints sends each endpoint to a fresh server and returns the table's rows.
func probeEndpoints(t *testing.T, eps []endpoint) []tableRow {
	t.Helper()
	h := newProbeHandler(t)
	rows := make([]tableRow, len(eps))
	for i, ep := range eps {
		served, err := probe(h, ep)
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = tableRow{endpoint: ep, Served: servedCell(ep, served)}
	}
	return rows
}

// writeEndpointTable replaces the table with text.
func writeEndpointTable(t *testing.T, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(endpointTablePath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(endpointTablePath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// specDir finds the matrix-spec copy: $CAUSEWAY_MATRIX_SPEC, else /work/shared/matrix-spec,
// else shared/matrix-spec next to the repository. It fails the test when the variable names a
// directory without client-server files.
func specDir(t *testing.T) (string, bool) {
	t.Helper()
	if dir := os.Getenv(specEnv); dir != "" {
		if !isDir(filepath.Join(dir, clientServerDir)) {
			t.Fatalf("%s=%s has no %s", specEnv, dir, clientServerDir)
		}
		return dir, true
	}
	for _, dir := range []string{"/work/shared/matrix-spec", "../../../shared/matrix-spec"} {
		if isDir(filepath.Join(dir, clientServerDir)) {
			return dir, true
		}
	}
	return "", false
}

// isDir reports whether path is a directory.
func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// specCommit returns the matrix-spec commit named by the copy's VERSION file, "" without one.
func specCommit(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// openAPIFile is the part of a client-server OpenAPI file that names its operations.
type openAPIFile struct {
	Servers []struct {
		Variables map[string]struct {
			Default *string `yaml:"default"`
		} `yaml:"variables"`
	} `yaml:"servers"`
	Paths map[string]map[string]yaml.Node `yaml:"paths"`
}

// openAPIOperation is the part of an operation the table lists.
type openAPIOperation struct {
	OperationID string `yaml:"operationId"`
	Deprecated  bool   `yaml:"deprecated"`
}

// specEndpoints reads every operation of the client-server OpenAPI files under dir, sorted.
func specEndpoints(dir string) ([]endpoint, error) {
	files, err := filepath.Glob(filepath.Join(dir, clientServerDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no OpenAPI files in %s", clientServerDir)
	}
	var all []endpoint
	for _, file := range files {
		eps, err := fileEndpoints(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(file), err)
		}
		all = append(all, eps...)
	}
	sortEndpoints(all)
	return all, nil
}

// fileEndpoints reads the operations of one OpenAPI file, with their paths prefixed by the
// file's base path.
func fileEndpoints(file string) ([]endpoint, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc openAPIFile
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	base, err := basePath(doc)
	if err != nil {
		return nil, err
	}
	var eps []endpoint
	for path, item := range doc.Paths {
		for _, method := range httpMethods {
			node, ok := item[method]
			if !ok {
				continue
			}
			var op openAPIOperation
			if err := node.Decode(&op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			// Some paths end in a space: "/rooms/{roomId}/invite " in inviting.yaml, and
			// "/events " in peeking_events.yaml, to tell it from old_sync.yaml's GET /events.
			eps = append(eps, endpoint{
				Method:     strings.ToUpper(method),
				Path:       base + strings.TrimSpace(path),
				File:       filepath.Base(file),
				Deprecated: op.Deprecated,
			})
		}
	}
	return eps, nil
}

// basePath returns the default of the basePath variable of the file's only server.
func basePath(doc openAPIFile) (string, error) {
	if len(doc.Servers) != 1 {
		return "", fmt.Errorf("want one server, found %d", len(doc.Servers))
	}
	v, ok := doc.Servers[0].Variables["basePath"]
	if !ok || v.Default == nil {
		return "", errors.New("the server has no basePath default")
	}
	return strings.TrimSuffix(*v.Default, "/"), nil
}

// sortEndpoints sorts by path, then method, then file.
func sortEndpoints(eps []endpoint) {
	slices.SortFunc(eps, func(a, b endpoint) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		if c := strings.Compare(a.Method, b.Method); c != 0 {
			return c
		}
		return strings.Compare(a.File, b.File)
	})
}

// endpointsOf returns the endpoints of rows, sorted.
func endpointsOf(rows []tableRow) []endpoint {
	eps := make([]endpoint, len(rows))
	for i, r := range rows {
		eps[i] = r.endpoint
	}
	sortEndpoints(eps)
	return eps
}

// newProbeHandler builds a server on a fresh SQLite database as the default configuration
// does, with URL previews on so that their optional endpoints count as served, and no rate
// limits so that the probes' answers do not depend on their order.
func newProbeHandler(t *testing.T) http.Handler {
	t.Helper()
	cfg := config.Default()
	cfg.ServerName = "localhost"
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = storagetest.DatabaseURL(t, config.DriverSQLite)
	cfg.ClientAPI.RateLimit.Enabled = false
	cfg.Media.URLPreview.Enabled = true
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv.Handler()
}

// probe sends the endpoint's method and path, its parameters filled in, to h without an
// access token, and reports whether the server serves it: whether it answers anything but
// M_UNRECOGNIZED 404 or 405, its answer for unknown endpoints and methods (web.NotFound and
// web.MethodNotAllowed, behind every router the top-level mux reaches, "/" included).
func probe(h http.Handler, ep endpoint) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	var body io.Reader
	if ep.Method == http.MethodPost || ep.Method == http.MethodPut {
		body = strings.NewReader("{}")
	}
	req := httptest.NewRequestWithContext(ctx, ep.Method, probePath(ep.Path), body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
	case <-time.After(probeTimeout + time.Second):
		return false, fmt.Errorf("%s: no answer within %s", ep.key(), probeTimeout)
	}
	return !isUnrecognized(rec.Code, rec.Body.Bytes()), nil
}

// isUnrecognized reports whether an answer is the server's answer for an unknown endpoint or
// method.
func isUnrecognized(status int, body []byte) bool {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return false
	}
	var e struct {
		ErrCode string `json:"errcode"`
	}
	return json.Unmarshal(body, &e) == nil && e.ErrCode == "M_UNRECOGNIZED"
}

// pathParam matches a {parameter} in a spec path.
var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// probePath fills every parameter of a spec path with a plausible value, escaped.
func probePath(path string) string {
	return pathParam.ReplaceAllStringFunc(path, func(p string) string {
		return url.PathEscape(paramValue(strings.Trim(p, "{}")))
	})
}

// paramValue returns a plausible value of a path parameter, by its name.
func paramValue(name string) string {
	switch name {
	case "roomId", "roomIdOrAlias":
		return "!room:localhost"
	case "userId":
		return "@user:localhost"
	case "eventId":
		return "$event"
	case "roomAlias":
		return "#alias:localhost"
	case "eventType":
		return "m.room.message"
	case "type":
		return "m.direct"
	case "txnId":
		return "txn1"
	case "serverName":
		return "localhost"
	case "mediaId":
		return "media1"
	case "fileName":
		return "file.png"
	case "deviceId":
		return "DEVICE"
	case "filterId", "version":
		return "1"
	case "keyName":
		return "displayname"
	case "kind":
		return "override"
	case "ruleId":
		return "rule1"
	case "receiptType":
		return "m.read"
	case "relType":
		return "m.thread"
	case "tag":
		return "m.favourite"
	case "protocol":
		return "irc"
	case "loginType", "authType":
		return "m.login.sso"
	}
	return "x"
}

// servedCell is the Served cell of an endpoint, given whether the server serves it.
func servedCell(ep endpoint, served bool) string {
	switch {
	case served:
		return "yes"
	case e2eeFiles[ep.File]:
		return e2eeReason
	case ep.File == "oauth_server_metadata.yaml":
		return noOAuthReason
	}
	return "no"
}

// diffRows describes each row that differs between the table and what it should be.
func diffRows(got, want []tableRow) []string {
	gotByKey := map[string]tableRow{}
	for _, r := range got {
		gotByKey[r.key()] = r
	}
	wantKeys := map[string]bool{}
	var diffs []string
	for _, w := range want {
		wantKeys[w.key()] = true
		g, ok := gotByKey[w.key()]
		switch {
		case !ok:
			diffs = append(diffs, "missing: "+formatRow(w))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("changed: %s\n    want: %s", formatRow(g), formatRow(w)))
		}
	}
	for _, g := range got {
		if !wantKeys[g.key()] {
			diffs = append(diffs, "not in the spec: "+formatRow(g))
		}
	}
	return diffs
}

// renderEndpointTable writes the whole document.
func renderEndpointTable(tab endpointTable) string {
	var b strings.Builder
	b.WriteString(`# Client-server endpoints

Every operation of the Matrix client-server API, as the OpenAPI files in
` + "`data/api/client-server/`" + ` of the matrix-spec repository list them, and whether Causeway
serves it. This file is generated: do not edit it by hand.

- **Path** is the whole path, the file's base path included; **Spec file** is the OpenAPI file
  in ` + "`data/api/client-server/`" + `; **Deprecated** is the operation's ` + "`deprecated`" + ` flag.
- **Served** is what ` + "`TestClientServerEndpointTable`" + ` (` + "`homeserver/server/endpoints_test.go`" + `)
  finds when it sends the operation, parameters filled in and without an access token, to a
  server with the default configuration plus URL previews: ` + "`yes`" + ` unless the server answers
  404 or 405 with ` + "`M_UNRECOGNIZED`" + `, its answer for endpoints and methods it does not have.
  ` + "`" + e2eeReason + "`" + ` marks the end-to-end encryption endpoints (keys.yaml,
  cross_signing.yaml, key_backup.yaml, to_device.yaml); ` + "`" + noOAuthReason + "`" + ` the
  endpoint a server without the OAuth 2.0 API answers so. ` + "`yes`" + ` says that the server routes
  the method and path, not that it handles every form of the request: POST
  ` + "`/rooms/{roomId}/invite`" + ` counts for third_party_membership.yaml as for inviting.yaml.

The test runs in CI with the rest of the suite (` + "`make test`" + `) and fails when a Served cell is
not what the server does; where it finds the spec copy, it also checks that the rows are exactly
the spec's operations. After adding or removing an endpoint, or updating the spec copy,
regenerate this file from the repository root:

` + "```sh" + `
GOTOOLCHAIN=go1.27.3 ` + specEnv + `=/path/to/matrix-spec ` + updateCommand + `
` + "```" + `

` + "`" + specEnv + "`" + ` (an absolute path) may be left out when the spec copy is at
` + "`/work/shared/matrix-spec`" + ` or at ` + "`shared/matrix-spec`" + ` next to the repository.

`)
	if tab.Commit != "" {
		b.WriteString(commitPrefix + "`" + tab.Commit + "`.\n\n")
	}
	b.WriteString(summaryLine(tab.Rows) + "\n\n")
	b.WriteString(tableHeader + "\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, r := range tab.Rows {
		b.WriteString(formatRow(r) + "\n")
	}
	return b.String()
}

// summaryLine counts the rows by Served cell, "yes" first, and the deprecated ones.
func summaryLine(rows []tableRow) string {
	counts := map[string]int{}
	deprecated := 0
	for _, r := range rows {
		counts[r.Served]++
		if r.Deprecated {
			deprecated++
		}
	}
	cells := make([]string, 0, len(counts))
	for cell := range counts {
		cells = append(cells, cell)
	}
	slices.SortFunc(cells, func(a, b string) int {
		if (a == "yes") != (b == "yes") {
			if a == "yes" {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(cells))
	for i, cell := range cells {
		parts[i] = fmt.Sprintf("%d `%s`", counts[cell], cell)
	}
	return fmt.Sprintf("**%d operations:** %s; %d deprecated.", len(rows), strings.Join(parts, ", "), deprecated)
}

// formatRow writes one row of the table.
func formatRow(r tableRow) string {
	return fmt.Sprintf("| %s | `%s` | %s | %s | %s |", r.Method, r.Path, r.File, yesNo(r.Deprecated), r.Served)
}

// yesNo writes a flag as the table does.
func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// parseEndpointTable reads the spec commit and the rows of the document.
func parseEndpointTable(text string) (endpointTable, error) {
	var tab endpointTable
	inTable := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, commitPrefix):
			tab.Commit = strings.Trim(strings.TrimSuffix(strings.TrimPrefix(line, commitPrefix), "."), "`")
		case line == tableHeader:
			inTable = true
		case inTable && strings.HasPrefix(line, "| ---"):
		case inTable && strings.HasPrefix(line, "|"):
			r, err := parseRow(line)
			if err != nil {
				return tab, fmt.Errorf("line %d: %w", n, err)
			}
			tab.Rows = append(tab.Rows, r)
		default:
			inTable = false
		}
	}
	if len(tab.Rows) == 0 {
		return tab, errors.New("no table rows")
	}
	return tab, sc.Err()
}

// parseRow reads one row of the table.
func parseRow(line string) (tableRow, error) {
	cells := strings.Split(strings.Trim(line, "|"), "|")
	if len(cells) != 5 {
		return tableRow{}, fmt.Errorf("want 5 cells, found %d: %s", len(cells), line)
	}
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	deprecated, err := parseYesNo(cells[3])
	if err != nil {
		return tableRow{}, fmt.Errorf("deprecated: %w", err)
	}
	return tableRow{
		endpoint: endpoint{
			Method:     cells[0],
			Path:       strings.Trim(cells[1], "`"),
			File:       cells[2],
			Deprecated: deprecated,
		},
		Served: cells[4],
	}, nil
}

// parseYesNo reads a flag as the table writes it.
func parseYesNo(s string) (bool, error) {
	switch s {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("want yes or no, found %s", strconv.Quote(s))
}
