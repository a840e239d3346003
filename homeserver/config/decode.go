package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DecodeStrict decodes the YAML document data into the struct that into
// points to, refusing anything the struct does not declare. filename only
// labels messages.
//
// Every problem is reported, joined with errors.Join, each as
// "filename:line: message":
//
//	causeway.yaml:7: unknown key "server_nmae" (did you mean "server_name"?)
//	causeway.yaml:12: client_api.max_request_body_bytes: cannot unmarshal !!str `lots` into int64
//
// Keys are matched against yaml struct tags, following `,inline` fields,
// maps, slices and merge keys (<<). A value whose type implements
// yaml.Unmarshaler is checked by its UnmarshalYAML, whose error is reported
// with the key and line. Keys absent from data leave the fields of into as
// they were, so callers fill in defaults first. Empty data, or data holding
// only comments or null, is not an error and changes nothing.
//
// Packages that compose their own sections into causeway.yaml use it on a
// struct that embeds config.Config with `yaml:",inline"`.
func DecodeStrict(filename string, data []byte, into any) error {
	rv := reflect.ValueOf(into)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config.DecodeStrict: into must be a non-nil pointer, not %T", into)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return syntaxError(filename, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return fmt.Errorf("%s:%d: a second YAML document (after ---) is not allowed", filename, extra.Line)
	case !errors.Is(err, io.EOF):
		return syntaxError(filename, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil
	}

	c := checker{file: filename}
	c.walk(doc.Content[0], rv.Type().Elem(), "")
	if len(c.errs) > 0 {
		return errors.Join(c.errs...)
	}
	// The walk has already decoded every leaf, so this should not fail; if
	// it does, its message at least names the file.
	if err := doc.Decode(into); err != nil {
		return syntaxError(filename, err)
	}
	return nil
}

// checker walks a YAML node tree against a Go type, collecting unknown keys
// and values that do not decode, with their key path and line.
type checker struct {
	file string
	errs []error
}

// errorf records a problem at n's line.
func (c *checker) errorf(n *yaml.Node, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s:%d: %s", c.file, n.Line, fmt.Sprintf(format, args...)))
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// walk checks n, found at key path path, against type t.
func (c *checker) walk(n *yaml.Node, t reflect.Type, path string) {
	n = resolveAlias(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) {
		return // null leaves the field as it was (or nil for pointers, maps, slices)
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		c.leaf(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.leaf(n, t, path) // e.g. time.Time from a scalar, or a type error
			return
		}
		fields := fieldsOf(t)
		c.pairs(n, path, func(k, v *yaml.Node) {
			f, ok := fields.named[k.Value]
			switch {
			case k.Kind != yaml.ScalarNode:
				c.errorf(k, "%s: keys must be plain names", describe(path))
			case ok:
				c.walk(v, f, join(path, k.Value))
			case fields.rest != nil:
				c.leaf(k, fields.rest.Key(), join(path, k.Value))
				c.walk(v, fields.rest.Elem(), join(path, k.Value))
			default:
				msg := fmt.Sprintf("unknown key %q", join(path, k.Value))
				if s := suggest(k.Value, fields.names); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				c.errorf(k, "%s", msg)
			}
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.leaf(n, t, path)
			return
		}
		c.pairs(n, path, func(k, v *yaml.Node) {
			c.leaf(k, t.Key(), join(path, k.Value))
			c.walk(v, t.Elem(), join(path, k.Value))
		})
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			c.leaf(n, t, path)
			return
		}
		for i, e := range n.Content {
			c.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		c.leaf(n, t, path)
	}
}

// leaf decodes n into a fresh value of type t and records why it failed,
// if it did.
func (c *checker) leaf(n *yaml.Node, t reflect.Type, path string) {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		c.errorf(n, "%s: %s", describe(path), strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	for _, msg := range te.Errors {
		c.errorf(n, "%s: %s", describe(path), linePrefix.ReplaceAllString(msg, ""))
	}
}

// linePrefix matches the "line N: " that yaml.v3 puts before each type error.
var linePrefix = regexp.MustCompile(`^line \d+: `)

// pairs calls fn for each key and value of mapping n at path, expanding
// merge keys (<<) in place as YAML prescribes. A key written twice in the
// same mapping is an error; a written key may override a merged one.
func (c *checker) pairs(n *yaml.Node, path string, fn func(k, v *yaml.Node)) {
	seen := map[string]int{} // key → line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			switch v.Kind {
			case yaml.MappingNode:
				c.pairs(v, path, fn)
			case yaml.SequenceNode:
				for _, m := range v.Content {
					if m = resolveAlias(m); m.Kind == yaml.MappingNode {
						c.pairs(m, path, fn)
					}
				}
			}
			continue
		}
		if k.Kind == yaml.ScalarNode {
			if line, dup := seen[k.Value]; dup {
				c.errorf(k, "key %q appears again (first at line %d)", join(path, k.Value), line)
				continue
			}
			seen[k.Value] = k.Line
		}
		fn(k, v)
	}
}

// structFields is what a mapping may hold when decoded into a struct.
type structFields struct {
	named map[string]reflect.Type // yaml key → field type
	names []string                // the keys, in field order, for suggestions
	rest  reflect.Type            // the map type of an `,inline` map field, or nil
}

// fieldsOf lists the keys struct type t accepts, following yaml.v3's rules:
// the tag name or else the lower-cased field name, "-" skipped, unexported
// fields skipped, and `,inline` structs and maps flattened.
func fieldsOf(t reflect.Type) structFields {
	fs := structFields{named: map[string]reflect.Type{}}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for f := range t.Fields() {
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "" && !strings.Contains(string(f.Tag), ":") {
				tag = string(f.Tag) // yaml.v3 accepts a bare tag as the yaml tag
			}
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if hasOpt(opts, "inline") {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				switch ft.Kind() {
				case reflect.Struct:
					add(ft)
				case reflect.Map:
					fs.rest = ft
				}
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fs.named[name] = f.Type
			fs.names = append(fs.names, name)
		}
	}
	add(t)
	return fs
}

// hasOpt reports whether the comma-separated tag options include opt.
func hasOpt(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// resolveAlias follows *alias nodes to the node they name.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty value or an explicit null.
func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// join appends key to a dotted path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names a key path in a message; the document root has none.
func describe(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// syntaxError turns yaml.v3's "yaml: line 3: could not find expected ':'"
// into "causeway.yaml:3: could not find expected ':'". Problems the parser
// reports as a *yaml.TypeError, such as a duplicate key, get one line each.
func syntaxError(filename string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, 0, len(te.Errors))
		for _, msg := range te.Errors {
			errs = append(errs, withLine(filename, msg))
		}
		return errors.Join(errs...)
	}
	return withLine(filename, strings.TrimPrefix(err.Error(), "yaml: "))
}

// withLine turns "line 3: message" into "filename:3: message", and any other
// message into "filename: message".
func withLine(filename, msg string) error {
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		if line, err := strconv.Atoi(m[1]); err == nil {
			return fmt.Errorf("%s:%d: %s", filename, line, m[2])
		}
	}
	return fmt.Errorf("%s: %s", filename, msg)
}

var syntaxLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// suggest returns the candidate closest to key when it is close enough to
// be a typo, or "".
func suggest(key string, candidates []string) string {
	best, bestDist := "", 3 // at most two edits
	for _, c := range candidates {
		if d := editDistance(key, c); d < bestDist && d < max(len(key), len(c))/2 {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes each cost 1.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
