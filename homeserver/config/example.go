package config

import (
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// exampleHeader opens the example file.
const exampleHeader = `# Causeway configuration (causeway.yaml).
#
# Every key is shown with its default, and every key may be left out: with no
# file at all Causeway runs on SQLite under ./data. Unknown keys are errors.
# Durations are written like "30s", "5m" or "1h30m".

`

// keyDocs documents each key of Config by its path; WriteExample prints
// them as comments. A test checks that every key has one.
var keyDocs = map[string]string{
	"server_name": "The server's Matrix name: the part after the colon in user IDs\n" +
		"(@alice:example.com) and room aliases. It cannot change once users and\n" +
		"rooms exist. A hostname, IPv4 address or [IPv6] literal, optionally with :port.",
	"listen": "The address the HTTP listener binds, as host:port. An empty host\n" +
		"(\":8008\") listens on all interfaces.",
	"public_baseurl": "The URL at which clients reach this server, e.g.\n" +
		"https://matrix.example.com/ behind a reverse proxy that terminates TLS.\n" +
		"Empty means http://<server_name>/.",
	"data_dir": "The directory for the server's files: the default SQLite database and\n" +
		"the default signing key. Relative paths are from the working directory.",
	"signing_key_path": "The file holding the server's signing key, which other servers use to\n" +
		"verify its events. Keep it safe and never share it. Empty means\n" +
		"<data_dir>/signing.key.",

	"admin_listen": "The host:port of the admin listener, which serves Prometheus metrics at\n" +
		"/metrics without authentication: bind it to a private address. Empty: off.",
	"appservices": "Application-service registration files (bridges, bots), as YAML in the\n" +
		"format of the Matrix spec; globs such as /etc/causeway/appservices/*.yaml\n" +
		"are allowed. Re-read on SIGHUP.",

	"database": "Where Causeway keeps its data.",
	"database.url": "Empty: an SQLite database at <data_dir>/causeway.db.\n" +
		"postgres://user:password@host:5432/dbname (or postgresql://): PostgreSQL,\n" +
		"for production and for running several instances.\n" +
		"sqlite://PATH or file:PATH: an SQLite database at PATH.",
	"database.max_open_conns": "The most connections open to the database at once.",

	"registration": "Who may create an account.",
	"registration.mode": "closed: nobody; an admin creates accounts.\n" +
		"token: anyone holding a registration token from an admin.\n" +
		"open: anyone at all, which on a public server invites spam.",
	"registration.enable_guests": "Allow guest access. Not supported yet; read but ignored.",

	"rooms":                 "Room creation.",
	"rooms.default_version": "The room version of new rooms whose creator does not choose one (\"1\" to \"12\").",

	"client_api": "The client-server API.",
	"client_api.legacy_r0_prefix": "Also serve /_matrix/client/r0/... as an alias of /_matrix/client/v3/...,\n" +
		"for old clients.",
	"client_api.access_token_query_param": "Accept the access token as ?access_token= as well as in the\n" +
		"Authorization header. Deprecated by the spec, still sent by some clients.",
	"client_api.max_request_body_bytes": "The largest JSON request body accepted, in bytes. Media uploads have\n" +
		"their own limit.",
	"client_api.cors_allowed_origins": "The origins from which web clients may call the API: \"*\" for any, or\n" +
		"origins such as https://app.example.com.",
	"client_api.rate_limit":            "Per-client request rate limiting, as a token bucket.",
	"client_api.rate_limit.enabled":    "Whether requests are rate limited at all.",
	"client_api.rate_limit.per_second": "Requests a second allowed over time.",
	"client_api.rate_limit.burst":      "Requests allowed at once before the limit applies.",
	"client_api.rate_limit.message": "Messages and redactions a user may send, on top of the general limit:\n" +
		"per_second 0 turns this limit off.",
	"client_api.rate_limit.message.per_second":      "Actions a second allowed over time; 0 for no limit.",
	"client_api.rate_limit.message.burst":           "Actions allowed at once.",
	"client_api.rate_limit.registration":            "Registration requests from one address (an account takes two or three).",
	"client_api.rate_limit.registration.per_second": "Actions a second allowed over time; 0 for no limit.",
	"client_api.rate_limit.registration.burst":      "Actions allowed at once.",
	"client_api.rate_limit.login":                   "Logins from one address.",
	"client_api.rate_limit.login.per_second":        "Actions a second allowed over time; 0 for no limit.",
	"client_api.rate_limit.login.burst":             "Actions allowed at once.",
	"client_api.rate_limit.join":                    "Joins and knocks of a user.",
	"client_api.rate_limit.join.per_second":         "Actions a second allowed over time; 0 for no limit.",
	"client_api.rate_limit.join.burst":              "Actions allowed at once.",
	"client_api.rate_limit.invite":                  "Invites a user sends.",
	"client_api.rate_limit.invite.per_second":       "Actions a second allowed over time; 0 for no limit.",
	"client_api.rate_limit.invite.burst":            "Actions allowed at once.",
	"client_api.rate_limit.exempt_admins": "Let server admins past every limit. Appservices registered with\n" +
		"rate_limited: false are never limited.",
	"client_api.access_token_lifetime": "How long an access token lives when the client did not ask for a refresh\n" +
		"token. 0s means it never expires.",
	"client_api.refresh_token_access_lifetime": "How long an access token lives when it is issued with a refresh token;\n" +
		"the client then refreshes it.",
	"client_api.support": "Who to contact about this server, which clients show in their help\n" +
		"(/.well-known/matrix/support). Empty: nothing is published.",
	"client_api.support.contacts": "A list of contacts, each with role (m.role.admin for any question,\n" +
		"m.role.security for vulnerabilities) and a matrix_id or an email_address, or both.",
	"client_api.support.page": "The address of a web page about getting support for this server.",
	"client_api.turn": "The TURN server of voice and video calls: Causeway gives clients short-lived\n" +
		"credentials made with the secret it shares with the TURN server (coturn's\n" +
		"use-auth-secret and static-auth-secret).",
	"client_api.turn.uris": "The TURN server's URIs, e.g. turn:turn.example.org:3478?transport=udp; none\n" +
		"gives clients no TURN server.",
	"client_api.turn.shared_secret": "The secret shared with the TURN server.",
	"client_api.turn.lifetime":      "How long the credentials given to a client stay valid.",

	"media":                  "The media repository: uploads and downloads of files.",
	"media.max_upload_bytes": "The largest file accepted by an upload, in bytes (100 MiB by default).",
	"media.user_quota_bytes": "The most bytes one user may have uploaded in all; 0 means no quota.",
	"media.unused_async_expiry": "How long a media ID created for an asynchronous upload\n" +
		"(POST /_matrix/media/v1/create) waits for its content before it expires.",
	"media.freeze_legacy_unauthenticated": "Serve media uploaded from now on only through the authenticated\n" +
		"/_matrix/client/v1/media endpoints: the legacy unauthenticated\n" +
		"/_matrix/media/v3/download endpoints keep serving only older media, as the spec's\n" +
		"\"freeze\" asks.",
	"media.thumbnail_sizes": "The thumbnails made when an image is uploaded. A thumbnail request is\n" +
		"served from the smallest of these at least as large as the size asked for\n" +
		"(with the same method where possible), or from the original image when\n" +
		"none is large enough.",
	"push": "Push notifications: pushers post to the push gateways their apps name (such as\n" +
		"Sygnal). Like URL previews, never to private or special-purpose addresses\n" +
		"unless allowed here.",
	"push.gateway_allowed_cidrs": "Address ranges push gateways may be at although they are private or\n" +
		"otherwise blocked, e.g. 10.1.0.0/16 for a gateway on the intranet.",
	"push.gateway_blocked_cidrs": "More address ranges push gateways may never be at.",
	"media.url_preview": "URL previews (GET /preview_url): the server fetches a page that a user\n" +
		"names and returns its title, description and image. Off by default.",
	"media.url_preview.enabled": "Whether previews are served at all.",
	"media.url_preview.allowed_cidrs": "Address ranges previews may fetch although they are private or\n" +
		"otherwise blocked, e.g. 10.1.0.0/16 for an intranet wiki. Loopback, private,\n" +
		"link-local and the other special-purpose ranges are always blocked otherwise.",
	"media.url_preview.blocked_cidrs": "More address ranges previews may never fetch.",
	"media.url_preview.max_bytes":     "The most bytes read of a page or of its image.",
	"media.url_preview.timeout":       "How long one fetch may take, redirects included.",
	"media.url_preview.cache_lifetime": "How long a preview is served from the cache before the page is\n" +
		"fetched again.",

	"log":        "Logging, to standard error.",
	"log.level":  "The lowest level logged: debug, info, warn or error.",
	"log.format": "auto (text on a terminal, JSON otherwise), text or json.",
}

// WriteExample writes the fully-defaulted configuration as YAML, with a
// comment above each key explaining it. It is the reference for the file:
// `causeway config example` prints it, and Load reads it back as Default().
func WriteExample(w io.Writer) error {
	return WriteComposedExample(w, &onlyHomeserver{Config: Default()}, nil)
}

// WriteComposedExample is WriteExample for a composed file: v holds every
// section at its defaults, and docs documents the other sections' keys by
// their dotted paths.
func WriteComposedExample(w io.Writer, v Composed, docs map[string]string) error {
	all := make(map[string]string, len(keyDocs)+len(docs))
	for k, d := range keyDocs {
		all[k] = d
	}
	for k, d := range docs {
		all[k] = d
	}
	for _, o := range envOverrides {
		all[o.key] += "\nEnvironment variable " + o.name + " overrides it."
	}
	if _, err := io.WriteString(w, exampleHeader); err != nil {
		return err
	}
	return WriteCommented(w, v, all)
}

// WriteCommented writes v as YAML with comments[path] above each key, where
// path is the key's dotted path ("client_api.rate_limit.burst"). Top-level
// keys are separated by blank lines. Packages composing their own sections
// into the file use it to print their part of the example.
func WriteCommented(w io.Writer, v any, comments map[string]string) error {
	var root yaml.Node
	if err := root.Encode(v); err != nil {
		return fmt.Errorf("encode example: %w", err)
	}
	comment(&root, "", comments)
	if root.Kind != yaml.MappingNode {
		return encodeYAML(w, &root)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		pair := &yaml.Node{Kind: yaml.MappingNode, Content: root.Content[i : i+2]}
		if err := encodeYAML(w, pair); err != nil {
			return err
		}
	}
	return nil
}

// comment sets the head comment of every key in the mapping n (at path) that
// has an entry in comments, recursing into nested mappings. Mappings inside
// lists are written on one line ("- {width: 32, height: 32}"): the list's
// comment covers them.
func comment(n *yaml.Node, path string, comments map[string]string) {
	if n.Kind == yaml.SequenceNode {
		for _, item := range n.Content {
			if item.Kind == yaml.MappingNode {
				item.Style = yaml.FlowStyle
			}
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if c := comments[p]; c != "" {
			k.HeadComment = strings.TrimSpace(c)
		}
		comment(v, p, comments)
	}
}

// encodeYAML writes n with two-space indentation.
func encodeYAML(w io.Writer, n *yaml.Node) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return fmt.Errorf("write example: %w", err)
	}
	return enc.Close()
}
