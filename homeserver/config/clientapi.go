package config

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"
)

// ClientAPI is the client_api: section, read by homeserver/clientapi.
type ClientAPI struct {
	// LegacyR0Prefix serves /_matrix/client/r0 as an alias of /v3, for
	// old clients.
	LegacyR0Prefix bool `yaml:"legacy_r0_prefix"`
	// AccessTokenQueryParam accepts ?access_token= as well as the
	// Authorization header. The spec deprecates it, but some clients and
	// appservices still send it.
	AccessTokenQueryParam bool `yaml:"access_token_query_param"`
	// MaxRequestBodyBytes caps the size of a JSON request body. Media
	// uploads have their own limit.
	MaxRequestBodyBytes int64 `yaml:"max_request_body_bytes"`
	// CORSAllowedOrigins lists the origins browsers may call from: "*" or
	// origins like "https://app.example.com".
	CORSAllowedOrigins []string `yaml:"cors_allowed_origins"`
	// RateLimit limits requests per client.
	RateLimit RateLimit `yaml:"rate_limit"`
	// AccessTokenLifetime is how long an access token issued without a
	// refresh token lives; 0 means forever.
	AccessTokenLifetime Duration `yaml:"access_token_lifetime"`
	// RefreshTokenAccessLifetime is how long an access token issued
	// together with a refresh token lives.
	RefreshTokenAccessLifetime Duration `yaml:"refresh_token_access_lifetime"`
	// Support is who to contact about this server (/.well-known/matrix/support).
	Support Support `yaml:"support"`
	// TURN is the TURN server that VoIP calls use (/voip/turnServer).
	TURN TURN `yaml:"turn"`
}

// Support is the client_api.support section: the server's contacts and support page, which
// clients show in their help (data/api/client-server/support.yaml). Empty: none published.
type Support struct {
	Contacts []SupportContact `yaml:"contacts"`
	Page     string           `yaml:"page"`
}

// SupportContact is one way to reach the server's administrators.
type SupportContact struct {
	MatrixID string `yaml:"matrix_id"`
	Email    string `yaml:"email_address"`
	// Role is m.role.admin (any question), m.role.security (vulnerabilities) or a
	// namespaced role of the admin's choosing.
	Role string `yaml:"role"`
}

// TURN is the client_api.turn section: a TURN server sharing a secret with Causeway, which
// hands clients short-lived credentials made with it (the "TURN REST API" scheme coturn's
// use-auth-secret implements). No URIs: clients get no TURN server.
type TURN struct {
	URIs         []string `yaml:"uris"`
	SharedSecret string   `yaml:"shared_secret"`
	// Lifetime is how long the credentials handed out stay valid.
	Lifetime Duration `yaml:"lifetime"`
}

// RateLimit is the client_api.rate_limit: section, a token bucket per client (a user, or an
// address before login) for every limited request, and one per action on top.
type RateLimit struct {
	Enabled bool `yaml:"enabled"`
	// PerSecond is the rate at which the bucket refills.
	PerSecond float64 `yaml:"per_second"`
	// Burst is the bucket's size: how many requests may arrive at once.
	Burst int `yaml:"burst"`
	// Message limits sending messages and redactions, Registration registering, Login
	// logging in (per address), Join joining and knocking, Invite inviting.
	Message      Bucket `yaml:"message"`
	Registration Bucket `yaml:"registration"`
	Login        Bucket `yaml:"login"`
	Join         Bucket `yaml:"join"`
	Invite       Bucket `yaml:"invite"`
	// ExemptAdmins lets server admins past every limit.
	ExemptAdmins bool `yaml:"exempt_admins"`
}

// Bucket is the token bucket of one action: PerSecond 0 turns the action's limit off.
type Bucket struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// Defaults sets c to its defaults, including the rate_limit subsection.
func (c *ClientAPI) Defaults() {
	*c = ClientAPI{
		LegacyR0Prefix:             true,
		AccessTokenQueryParam:      true,
		MaxRequestBodyBytes:        128 << 10,
		CORSAllowedOrigins:         []string{"*"},
		AccessTokenLifetime:        0,
		RefreshTokenAccessLifetime: Duration(5 * time.Minute),
		Support:                    Support{Contacts: []SupportContact{}},
		TURN:                       TURN{URIs: []string{}, Lifetime: Duration(24 * time.Hour)},
	}
	c.RateLimit.Defaults()
}

// Validate reports every problem in c, keyed relative to the section.
func (c ClientAPI) Validate() []error {
	var errs []error
	if c.MaxRequestBodyBytes <= 0 {
		errs = append(errs, keyErrorf("max_request_body_bytes", "must be greater than 0 (got %d)", c.MaxRequestBodyBytes))
	}
	for i, o := range c.CORSAllowedOrigins {
		if err := validateOrigin(o); err != nil {
			errs = append(errs, &KeyError{Key: fmt.Sprintf("cors_allowed_origins[%d]", i), Err: err})
		}
	}
	errs = append(errs, Nest("rate_limit", c.RateLimit.Validate())...)
	if c.AccessTokenLifetime < 0 {
		errs = append(errs, keyErrorf("access_token_lifetime", "must not be negative (got %q)", c.AccessTokenLifetime))
	}
	if c.RefreshTokenAccessLifetime <= 0 {
		errs = append(errs, keyErrorf("refresh_token_access_lifetime", "must be greater than 0 (got %q)", c.RefreshTokenAccessLifetime))
	}
	errs = append(errs, Nest("support", c.Support.Validate())...)
	errs = append(errs, Nest("turn", c.TURN.Validate())...)
	return errs
}

// Validate reports every problem in s, keyed relative to the section.
func (s Support) Validate() []error {
	var errs []error
	for i, c := range s.Contacts {
		key := fmt.Sprintf("contacts[%d]", i)
		if c.MatrixID == "" && c.Email == "" {
			errs = append(errs, keyErrorf(key, "needs a matrix_id or an email_address"))
		}
		if c.MatrixID != "" {
			if _, _, err := id.UserID(c.MatrixID).Parse(); err != nil {
				errs = append(errs, keyErrorf(key+".matrix_id", "must be a Matrix user ID like @admin:example.org (got %q)", c.MatrixID))
			}
		}
		if c.Role == "" {
			errs = append(errs, keyErrorf(key+".role", "must be set: m.role.admin, m.role.security or a namespaced role"))
		}
	}
	if s.Page != "" {
		if u, err := url.Parse(s.Page); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, keyErrorf("page", "must be an http(s) URL (got %q)", s.Page))
		}
	}
	return errs
}

// Validate reports every problem in t, keyed relative to the section.
func (t TURN) Validate() []error {
	var errs []error
	for i, uri := range t.URIs {
		if !strings.HasPrefix(uri, "turn:") && !strings.HasPrefix(uri, "turns:") {
			errs = append(errs, keyErrorf(fmt.Sprintf("uris[%d]", i), "must be a turn: or turns: URI (got %q)", uri))
		}
	}
	if len(t.URIs) > 0 && t.SharedSecret == "" {
		errs = append(errs, keyErrorf("shared_secret", "must be set when uris are"))
	}
	if t.Lifetime <= 0 {
		errs = append(errs, keyErrorf("lifetime", "must be greater than 0 (got %q)", t.Lifetime))
	}
	return errs
}

// Defaults sets r to 10 requests a second with bursts of 50, and per action: a message every
// two seconds in bursts of 20, a registration request or a login every six seconds in bursts
// of 10 and 5 (registering takes two or three requests: user-interactive authentication), a
// join every ten seconds in bursts of 10, an invite every three seconds in bursts of 10; admins
// exempt.
func (r *RateLimit) Defaults() {
	*r = RateLimit{Enabled: true, PerSecond: 10, Burst: 50,
		Message:      Bucket{PerSecond: 0.5, Burst: 20},
		Registration: Bucket{PerSecond: 0.17, Burst: 10},
		Login:        Bucket{PerSecond: 0.17, Burst: 5},
		Join:         Bucket{PerSecond: 0.1, Burst: 10},
		Invite:       Bucket{PerSecond: 0.3, Burst: 10},
		ExemptAdmins: true,
	}
}

// Validate reports every problem in r, keyed relative to the section. The
// rate and burst are only checked when the limit is enabled.
func (r RateLimit) Validate() []error {
	if !r.Enabled {
		return nil
	}
	var errs []error
	if !(r.PerSecond > 0) || math.IsInf(r.PerSecond, 1) {
		errs = append(errs, keyErrorf("per_second", "must be a number greater than 0 when enabled (got %v)", r.PerSecond))
	}
	if r.Burst <= 0 {
		errs = append(errs, keyErrorf("burst", "must be greater than 0 when enabled (got %d)", r.Burst))
	}
	for _, b := range []struct {
		name   string
		bucket Bucket
	}{{"message", r.Message}, {"registration", r.Registration}, {"login", r.Login}, {"join", r.Join}, {"invite", r.Invite}} {
		errs = append(errs, Nest(b.name, b.bucket.Validate())...)
	}
	return errs
}

// Validate reports every problem in b, keyed relative to the section.
func (b Bucket) Validate() []error {
	var errs []error
	if b.PerSecond < 0 || math.IsInf(b.PerSecond, 1) || math.IsNaN(b.PerSecond) {
		errs = append(errs, keyErrorf("per_second", "must be 0 (no limit) or a number greater than 0 (got %v)", b.PerSecond))
	}
	if b.PerSecond > 0 && b.Burst <= 0 {
		errs = append(errs, keyErrorf("burst", "must be greater than 0 when per_second is (got %d)", b.Burst))
	}
	return errs
}

// validateOrigin accepts "*" or a browser origin: scheme://host[:port] with
// nothing after it.
func validateOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
		u.Path != "" || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf(`must be "*" or an origin like "https://app.example.com" (got %q)`, o)
	}
	return nil
}
