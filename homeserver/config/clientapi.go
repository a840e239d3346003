package config

import (
	"fmt"
	"math"
	"net/url"
	"time"
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
}

// RateLimit is the client_api.rate_limit: section, a token bucket per client.
type RateLimit struct {
	Enabled bool `yaml:"enabled"`
	// PerSecond is the rate at which the bucket refills.
	PerSecond float64 `yaml:"per_second"`
	// Burst is the bucket's size: how many requests may arrive at once.
	Burst int `yaml:"burst"`
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
	return errs
}

// Defaults sets r to 10 requests a second with bursts of 50.
func (r *RateLimit) Defaults() {
	*r = RateLimit{Enabled: true, PerSecond: 10, Burst: 50}
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
