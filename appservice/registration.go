package appservice

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// Registration is one application service's registration, parsed and validated
// (content/application-service-api.md, "Registration";
// data/api/application-service/definitions/registration.yaml).
//
// A Registration must not be modified once it has been handed to a Registry: the registry gives
// the same pointer to every concurrent reader.
//
// It formats (String) and logs (LogValue) as its ID, so tokens never reach a log line.
type Registration struct {
	// File names the registration in error messages: the path it was read from, as given
	// to ParseRegistration. Registrations built in code may leave it empty.
	File string

	// ID uniquely names the application service and never changes (key "id").
	ID string
	// URL is where transactions are pushed and queries sent, with any trailing slash
	// removed (key "url"). It is empty when the registration says "url: null" (or ""):
	// the application service then receives no pushes and no queries.
	URL string
	// ASToken is the secret the application service authenticates to us with (key "as_token").
	ASToken string
	// HSToken is the secret we authenticate to the application service with (key "hs_token").
	HSToken string
	// SenderLocalpart is the localpart of the application service's own user
	// (key "sender_localpart"); see SenderUserID.
	SenderLocalpart string
	// Namespaces are the users, aliases and rooms the application service claims (key "namespaces").
	Namespaces Namespaces
	// RateLimited says whether requests from masqueraded users are rate-limited; the sender
	// never is (key "rate_limited"). Nil means the registration did not say, and the spec's
	// default, true, applies: see IsRateLimited.
	RateLimited *bool
	// Protocols lists the third-party protocols the application service provides (key "protocols").
	Protocols []string

	// ReceiveEphemeral asks for typing, receipts and presence in transactions
	// (content/application-service-api.md, "Pushing ephemeral data"). Set by the stable key
	// "receive_ephemeral" or the MSC2409 names "push_ephemeral" and
	// "de.sorunome.msc2409.push_ephemeral"; any of them being true turns it on, since
	// mautrix bridges write both the stable and the unstable key.
	ReceiveEphemeral bool
	// ReceiveToDevice asks for to-device messages to the application service's users in
	// transactions (MSC4203). MSC4203 defines no registration key, and neither mautrix nor
	// Synapse has one: Synapse sends to-device messages to exactly the application services
	// that asked for ephemeral data, and mautrix's bridges and Meowlnir rely on that. A parsed
	// registration therefore has ReceiveToDevice equal to ReceiveEphemeral; registrations
	// built in code may set it on its own.
	ReceiveToDevice bool
	// MSC3202 asks for device-list changes, one-time-key counts and unused fallback key types
	// of the application service's users in transactions (key "org.matrix.msc3202").
	MSC3202 bool
	// MSC4190 lets the application service create and delete its users' devices without
	// logging in and without user-interactive auth (key "io.element.msc4190"; the spec has
	// since adopted this, content/application-service-api.md "Device management").
	MSC4190 bool
	// IPRangeWhitelist, when not empty, limits the addresses the as_token is accepted from
	// (key "ip_range_whitelist", a Synapse extension, kept so that a registration moved over
	// from Synapse does not silently lose its restriction); see AllowsIP.
	IPRangeWhitelist []netip.Prefix
}

// Registration keys. Keys not listed here are ignored: bridges add their own.
const (
	keyID                = "id"
	keyURL               = "url"
	keyASToken           = "as_token"
	keyHSToken           = "hs_token"
	keySenderLocalpart   = "sender_localpart"
	keyNamespaces        = "namespaces"
	keyRateLimited       = "rate_limited"
	keyProtocols         = "protocols"
	keyReceiveEphemeral  = "receive_ephemeral"
	keyPushEphemeral     = "push_ephemeral"                     // MSC2409's earlier name
	keyMSC2409Ephemeral  = "de.sorunome.msc2409.push_ephemeral" // MSC2409's unstable name, still written by mautrix
	keyMSC3202           = "org.matrix.msc3202"
	keyMSC4190           = "io.element.msc4190"
	keyIPRangeWhitelist  = "ip_range_whitelist"
	keyNamespaceRegex    = "regex"
	keyNamespaceExcl     = "exclusive"
	namespaceKindUsers   = "users"
	namespaceKindAliases = "aliases"
	namespaceKindRooms   = "rooms"
)

// requiredKeys are the keys registration.yaml requires. "url" must be present but may be null,
// which Synapse enforces too, so that a forgotten url does not silently stop all pushes.
var requiredKeys = []string{keyID, keyURL, keyASToken, keyHSToken, keySenderLocalpart, keyNamespaces}

// FieldError is a problem with one field of one registration.
type FieldError struct {
	// File names the registration: its file, or for a registration built in code,
	// `registration "<id>"`.
	File string
	// Field is the path of the field, like "namespaces.users[1].regex"; empty when the
	// problem is with the registration as a whole.
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// ParseRegistration parses and validates one registration file. filename names it in errors.
//
// The file is YAML (so JSON works too). Required keys must be present with the right type;
// "url" may be null. Unknown top-level keys are ignored, because bridges and MSCs add their
// own, but an unknown key under "namespaces" is an error: a misspelt "user:" would otherwise
// silently drop a namespace the operator thinks is exclusive. Every problem is reported, each
// as a *FieldError, joined with errors.Join.
func ParseRegistration(filename string, data []byte) (*Registration, error) {
	p := &parser{file: filename}
	reg := p.parse(data)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	reg.File = filename
	return reg, nil
}

// Validate checks a registration built in code against the rules ParseRegistration applies
// to files. Namespaces must come from NewNamespace.
func (r *Registration) Validate() error {
	p := &parser{file: r.name()}
	check := func(field string, err error) {
		if err != nil {
			p.failErr(field, err)
		}
	}
	check(keyID, checkID(r.ID))
	if r.URL != "" {
		_, err := checkURL(r.URL)
		check(keyURL, err)
	}
	check(keyASToken, checkToken(r.ASToken))
	check(keyHSToken, checkToken(r.HSToken))
	check(keySenderLocalpart, checkLocalpart(r.SenderLocalpart))
	for _, kind := range []struct {
		name string
		list []Namespace
	}{
		{namespaceKindUsers, r.Namespaces.Users},
		{namespaceKindAliases, r.Namespaces.Aliases},
		{namespaceKindRooms, r.Namespaces.Rooms},
	} {
		for i, ns := range kind.list {
			if ns.Regex == nil || ns.Regex.String() != anchored(ns.Source) {
				p.fail(fmt.Sprintf("%s.%s[%d].%s", keyNamespaces, kind.name, i, keyNamespaceRegex),
					"not built with NewNamespace")
			}
		}
	}
	for i, proto := range r.Protocols {
		check(fmt.Sprintf("%s[%d]", keyProtocols, i), checkProtocol(proto))
	}
	return errors.Join(p.errs...)
}

// IsRateLimited reports whether requests from the application service's masqueraded users are
// rate-limited: RateLimited, defaulting to true.
func (r *Registration) IsRateLimited() bool {
	return r.RateLimited == nil || *r.RateLimited
}

// AllowsIP reports whether the as_token may be used from addr: always when there is no
// ip_range_whitelist.
func (r *Registration) AllowsIP(addr netip.Addr) bool {
	if len(r.IPRangeWhitelist) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range r.IPRangeWhitelist {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// String returns a description naming the registration by its ID, never its tokens.
func (r *Registration) String() string {
	return fmt.Sprintf("appservice %q", r.ID)
}

// LogValue logs the registration as its ID, for slog's appservice_id key.
func (r *Registration) LogValue() slog.Value {
	return slog.StringValue(r.ID)
}

// name is how errors refer to the registration.
func (r *Registration) name() string {
	if r.File != "" {
		return r.File
	}
	return fmt.Sprintf("registration %q", r.ID)
}

// parser walks the YAML node tree rather than decoding into a struct, so that it can tell a
// missing key from a null one, insist on types (Synapse rejects `id: 123`, and so do we), catch
// duplicate keys, and report every problem with its field path.
type parser struct {
	file string
	errs []error
}

func (p *parser) fail(field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{File: p.file, Field: field, Err: fmt.Errorf(format, args...)})
}

func (p *parser) failErr(field string, err error) {
	p.errs = append(p.errs, &FieldError{File: p.file, Field: field, Err: err})
}

func (p *parser) parse(data []byte) *Registration {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.failErr("", err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.fail("", "the file is empty")
		return nil
	}
	entries, ok := p.mapping(doc.Content[0], "")
	if !ok {
		return nil
	}

	reg := &Registration{}
	present := make(map[string]bool)
	for _, e := range entries {
		present[e.key] = true
		switch e.key {
		case keyID:
			if s, ok := p.str(e.val, e.key); ok {
				p.check(e.key, checkID(s))
				reg.ID = s
			}
		case keyURL:
			if isNull(e.val) {
				break
			}
			if s, ok := p.str(e.val, e.key); ok && s != "" {
				u, err := checkURL(s)
				p.check(e.key, err)
				reg.URL = u
			}
		case keyASToken:
			if s, ok := p.str(e.val, e.key); ok {
				p.check(e.key, checkToken(s))
				reg.ASToken = s
			}
		case keyHSToken:
			if s, ok := p.str(e.val, e.key); ok {
				p.check(e.key, checkToken(s))
				reg.HSToken = s
			}
		case keySenderLocalpart:
			if s, ok := p.str(e.val, e.key); ok {
				p.check(e.key, checkLocalpart(s))
				reg.SenderLocalpart = s
			}
		case keyNamespaces:
			reg.Namespaces = p.namespaces(e.val)
		case keyRateLimited:
			if isNull(e.val) {
				break
			}
			if b, ok := p.boolean(e.val, e.key); ok {
				reg.RateLimited = &b
			}
		case keyProtocols:
			for i, s := range p.strs(e.val, e.key) {
				p.check(fmt.Sprintf("%s[%d]", e.key, i), checkProtocol(s))
				reg.Protocols = append(reg.Protocols, s)
			}
		case keyReceiveEphemeral, keyPushEphemeral, keyMSC2409Ephemeral:
			reg.ReceiveEphemeral = p.optBool(e.val, e.key) || reg.ReceiveEphemeral
		case keyMSC3202:
			reg.MSC3202 = p.optBool(e.val, e.key)
		case keyMSC4190:
			reg.MSC4190 = p.optBool(e.val, e.key)
		case keyIPRangeWhitelist:
			for i, s := range p.strs(e.val, e.key) {
				prefix, err := parsePrefix(s)
				if err != nil {
					p.failErr(fmt.Sprintf("%s[%d]", e.key, i), err)
					continue
				}
				reg.IPRangeWhitelist = append(reg.IPRangeWhitelist, prefix)
			}
		}
	}
	for _, key := range requiredKeys {
		if !present[key] {
			p.fail(key, "missing (required)")
		}
	}
	reg.ReceiveToDevice = reg.ReceiveEphemeral
	return reg
}

func (p *parser) namespaces(n *yaml.Node) Namespaces {
	var out Namespaces
	entries, ok := p.mapping(n, keyNamespaces)
	if !ok {
		return out
	}
	for _, e := range entries {
		field := keyNamespaces + "." + e.key
		switch e.key {
		case namespaceKindUsers:
			out.Users = p.namespaceList(e.val, field)
		case namespaceKindAliases:
			out.Aliases = p.namespaceList(e.val, field)
		case namespaceKindRooms:
			out.Rooms = p.namespaceList(e.val, field)
		default:
			p.fail(field, "unknown namespace (want %s, %s or %s)", namespaceKindUsers, namespaceKindAliases, namespaceKindRooms)
		}
	}
	return out
}

// namespaceList reads one namespace list. Null is taken as an empty list. Keys other than
// regex and exclusive are ignored inside an entry, where MSCs (MSC3395) add their own.
func (p *parser) namespaceList(n *yaml.Node, field string) []Namespace {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(field, "must be a list, got %s", describe(n))
		return nil
	}
	var out []Namespace
	for i, item := range n.Content {
		itemField := fmt.Sprintf("%s[%d]", field, i)
		entries, ok := p.mapping(item, itemField)
		if !ok {
			continue
		}
		regexField, exclusiveField := itemField+"."+keyNamespaceRegex, itemField+"."+keyNamespaceExcl
		var regexNode, exclusiveNode *yaml.Node
		for _, e := range entries {
			switch e.key {
			case keyNamespaceRegex:
				regexNode = e.val
			case keyNamespaceExcl:
				exclusiveNode = e.val
			}
		}
		var exclusive bool
		if exclusiveNode == nil {
			p.fail(exclusiveField, "missing (required)")
			ok = false
		} else {
			exclusive, ok = p.boolean(exclusiveNode, exclusiveField)
		}
		if regexNode == nil {
			p.fail(regexField, "missing (required)")
			continue
		}
		source, strOK := p.str(regexNode, regexField)
		if !strOK {
			continue
		}
		ns, err := NewNamespace(source, exclusive)
		if err != nil {
			p.failErr(regexField, err)
			continue
		}
		if ok {
			out = append(out, ns)
		}
	}
	return out
}

func (p *parser) check(field string, err error) {
	if err != nil {
		p.failErr(field, err)
	}
}

type entry struct {
	key string
	val *yaml.Node
}

// mapping returns n's key/value pairs in order, failing on anything but a mapping and on a
// key that appears twice (which would leave it unclear which value counts).
func (p *parser) mapping(n *yaml.Node, field string) ([]entry, bool) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		if field == "" {
			p.fail("", "must be a mapping of registration keys, got %s", describe(n))
		} else {
			p.fail(field, "must be a mapping, got %s", describe(n))
		}
		return nil, false
	}
	seen := make(map[string]bool, len(n.Content)/2)
	out := make([]entry, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		key, path := k.Value, k.Value
		if field != "" {
			path = field + "." + key
		}
		if k.Kind != yaml.ScalarNode {
			p.fail(field, "has a key that is %s, not a string", describe(k))
			continue
		}
		if seen[key] {
			p.fail(path, "appears more than once (line %d)", k.Line)
			continue
		}
		seen[key] = true
		out = append(out, entry{key: key, val: resolve(n.Content[i+1])})
	}
	return out, true
}

func (p *parser) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.fail(field, "must be a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) strs(n *yaml.Node, field string) []string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(field, "must be a list of strings, got %s", describe(n))
		return nil
	}
	var out []string
	for i, item := range n.Content {
		if s, ok := p.str(resolve(item), fmt.Sprintf("%s[%d]", field, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

// boolean accepts what yaml.v3 decodes as a bool: true and false in any case, and the YAML 1.1
// spellings yes/no/on/off that Python's yaml.safe_load (and so Synapse) accepts too.
func (p *parser) boolean(n *yaml.Node, field string) (bool, bool) {
	var b bool
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!bool" || n.ShortTag() == "!!str" && n.Style == 0) {
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.fail(field, "must be true or false, got %s", describe(n))
	return false, false
}

// optBool reads an optional flag: absent and null mean false.
func (p *parser) optBool(n *yaml.Node, field string) bool {
	if isNull(n) {
		return false
	}
	b, _ := p.boolean(n, field)
	return b
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!bool":
			return fmt.Sprintf("the boolean %s", n.Value)
		case "!!int", "!!float":
			return fmt.Sprintf("the number %s (quote it if it is meant as a string)", n.Value)
		}
		return fmt.Sprintf("%s %s", n.ShortTag(), n.Value)
	}
	return "an unexpected YAML node"
}

func checkID(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// checkURL accepts an absolute http or https URL and returns it without trailing slashes, as
// Synapse does, so that paths like /_matrix/app/v1/transactions append cleanly.
func checkURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q is not an http or https URL (use null for an application service that receives no pushes)", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// checkToken rejects tokens that cannot travel in an Authorization header as written.
func checkToken(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f {
			return errors.New("must not contain spaces or control characters")
		}
	}
	return nil
}

// checkLocalpart accepts what content/appendices.md ("Historical User IDs") still calls a
// compliant localpart, U+0021 to U+007E except ':', not only today's lower-case grammar,
// because mautrix bridges generate a random mixed-case sender_localpart.
func checkLocalpart(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	for _, c := range s {
		if c < 0x21 || c > 0x7e || c == ':' {
			return fmt.Errorf("%q is not a valid user ID localpart", s)
		}
	}
	return nil
}

func checkProtocol(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// parsePrefix reads a CIDR range or a single address, as Synapse's IPSet does.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}
