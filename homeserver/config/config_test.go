package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// errLines splits a joined error into its messages; nil gives none.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestDefault(t *testing.T) {
	t.Parallel()
	// The defaults are part of the operating contract: users rely on them.
	want := Config{
		ServerName:     "localhost:8008",
		Listen:         "127.0.0.1:8008",
		BaseURL:        "",
		DataDir:        "./data",
		SigningKeyPath: "",
		Appservices:    []string{},
		Database:       Database{URL: "", MaxOpenConns: 10},
		Registration:   Registration{Mode: RegistrationToken, EnableGuests: false},
		Rooms:          Rooms{DefaultVersion: "11"},
		ClientAPI: ClientAPI{
			LegacyR0Prefix:        true,
			AccessTokenQueryParam: true,
			MaxRequestBodyBytes:   131072,
			CORSAllowedOrigins:    []string{"*"},
			RateLimit: RateLimit{Enabled: true, PerSecond: 10, Burst: 50,
				Message: Bucket{PerSecond: 0.5, Burst: 20}, Registration: Bucket{PerSecond: 0.17, Burst: 10},
				Login: Bucket{PerSecond: 0.17, Burst: 5}, Join: Bucket{PerSecond: 0.1, Burst: 10},
				Invite: Bucket{PerSecond: 0.3, Burst: 10}, ExemptAdmins: true},
			AccessTokenLifetime:        0,
			RefreshTokenAccessLifetime: Duration(5 * time.Minute),
			Support:                    Support{Contacts: []SupportContact{}},
			TURN:                       TURN{URIs: []string{}, Lifetime: Duration(24 * time.Hour)},
		},
		Media: Media{
			MaxUploadBytes:              100 << 20,
			UserQuotaBytes:              0,
			UnusedAsyncExpiry:           Duration(24 * time.Hour),
			FreezeLegacyUnauthenticated: true,
			ThumbnailSizes: []ThumbnailSize{
				{32, 32, "crop"}, {96, 96, "crop"}, {320, 240, "scale"}, {640, 480, "scale"}, {800, 600, "scale"},
			},
			URLPreview: URLPreview{
				AllowedCIDRs: []string{}, BlockedCIDRs: []string{}, MaxBytes: 10 << 20,
				Timeout: Duration(10 * time.Second), CacheLifetime: Duration(time.Hour),
			},
		},
		Push: Push{GatewayAllowedCIDRs: []string{}, GatewayBlockedCIDRs: []string{}},
		Log:  Log{Level: LogInfo, Format: LogAuto},
	}
	got := Default()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Default() mismatch (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	c := Default()
	c.ServerName = "bad name"
	c.Listen = "8008"
	c.BaseURL = "matrix.example.com"
	c.DataDir = ""
	c.Database.URL = "mysql://root:hunter2@db/causeway"
	c.Database.MaxOpenConns = 0
	c.Registration.Mode = "x"
	c.Rooms.DefaultVersion = "13"
	c.ClientAPI.MaxRequestBodyBytes = -1
	c.ClientAPI.CORSAllowedOrigins = []string{"*", "https://app.example.com", "app.example.com"}
	c.ClientAPI.RateLimit.PerSecond = 0
	c.ClientAPI.RateLimit.Burst = -5
	c.ClientAPI.RateLimit.Login = Bucket{PerSecond: -1, Burst: 3}
	c.ClientAPI.RateLimit.Join = Bucket{PerSecond: 1, Burst: 0}
	c.ClientAPI.AccessTokenLifetime = Duration(-time.Second)
	c.ClientAPI.RefreshTokenAccessLifetime = 0
	c.ClientAPI.Support = Support{Contacts: []SupportContact{{Role: "m.role.admin"}, {MatrixID: "admin", Email: "a@example.org"}}, Page: "support.html"}
	c.ClientAPI.TURN = TURN{URIs: []string{"turn:turn.example.org", "stun:stun.example.org"}}
	c.Media.MaxUploadBytes = 0
	c.Media.UserQuotaBytes = -1
	c.Media.UnusedAsyncExpiry = 0
	c.Media.ThumbnailSizes = []ThumbnailSize{{32, 32, "crop"}, {0, 10, "scale"}, {64, 64, "zoom"}}
	c.Media.URLPreview.AllowedCIDRs = []string{"10.0.0.0/8", "intranet"}
	c.Media.URLPreview.BlockedCIDRs = []string{"300.0.0.0/8"}
	c.Media.URLPreview.MaxBytes = 10
	c.Media.URLPreview.Timeout = 0
	c.Push.GatewayAllowedCIDRs = []string{"sygnal"}
	c.Log.Level = "verbose"
	c.Log.Format = "xml"

	want := []string{
		`server_name: must be a hostname, IPv4 address or [IPv6] literal with an optional :port, like example.com or matrix.example.com:8448 (got "bad name")`,
		`listen: must be host:port, like "127.0.0.1:8008" or ":8008" (got "8008")`,
		`public_baseurl: must be an absolute http or https URL, like "https://matrix.example.com/" (got "matrix.example.com")`,
		`data_dir: must not be empty`,
		`database.url: must be empty, a postgres:// or postgresql:// URL, sqlite://PATH or file:PATH (got "mysql://…")`,
		`database.max_open_conns: must be greater than 0 (got 0)`,
		`registration.mode: must be one of closed, token, open (got "x")`,
		`rooms.default_version: must be a room version from "1" to "12" (got "13")`,
		`client_api.max_request_body_bytes: must be greater than 0 (got -1)`,
		`client_api.cors_allowed_origins[2]: must be "*" or an origin like "https://app.example.com" (got "app.example.com")`,
		`client_api.rate_limit.per_second: must be a number greater than 0 when enabled (got 0)`,
		`client_api.rate_limit.burst: must be greater than 0 when enabled (got -5)`,
		`client_api.rate_limit.login.per_second: must be 0 (no limit) or a number greater than 0 (got -1)`,
		`client_api.rate_limit.join.burst: must be greater than 0 when per_second is (got 0)`,
		`client_api.access_token_lifetime: must not be negative (got "-1s")`,
		`client_api.refresh_token_access_lifetime: must be greater than 0 (got "0s")`,
		`client_api.support.contacts[0]: needs a matrix_id or an email_address`,
		`client_api.support.contacts[1].matrix_id: must be a Matrix user ID like @admin:example.org (got "admin")`,
		`client_api.support.contacts[1].role: must be set: m.role.admin, m.role.security or a namespaced role`,
		`client_api.support.page: must be an http(s) URL (got "support.html")`,
		`client_api.turn.uris[1]: must be a turn: or turns: URI (got "stun:stun.example.org")`,
		`client_api.turn.shared_secret: must be set when uris are`,
		`client_api.turn.lifetime: must be greater than 0 (got "0s")`,
		`media.max_upload_bytes: must be at least 1 (got 0)`,
		`media.user_quota_bytes: must be 0 (no quota) or more (got -1)`,
		`media.unused_async_expiry: must be at least 1s (got 0s)`,
		`media.thumbnail_sizes[1]: width and height must be 1 to 4096 (got 0x10)`,
		`media.thumbnail_sizes[2].method: must be crop or scale (got "zoom")`,
		`media.url_preview.allowed_cidrs[1]: must be an address range such as 10.0.0.0/8 or fd00::/8 (got "intranet")`,
		`media.url_preview.blocked_cidrs[0]: must be an address range such as 10.0.0.0/8 or fd00::/8 (got "300.0.0.0/8")`,
		`media.url_preview.max_bytes: must be at least 1024 (got 10)`,
		`media.url_preview.timeout: must be at least 1s (got 0s)`,
		`push.gateway_allowed_cidrs[0]: must be an address range such as 10.0.0.0/8 or fd00::/8 (got "sygnal")`,
		`log.level: must be one of debug, info, warn, error (got "verbose")`,
		`log.format: must be one of auto, text, json (got "xml")`,
	}
	if diff := cmp.Diff(want, errLines(c.Validate())); diff != "" {
		t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
	}
}

func TestValidateNoPasswordInMessages(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"mysql://root:hunter2@db/causeway",
		"postgres://root:hunter2@db/causeway%zz",
		"root:hunter2@db/causeway",
	} {
		c := Default()
		c.Database.URL = url
		err := c.Validate()
		if err == nil {
			t.Errorf("Validate() with database.url %q = nil, want an error", url)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Validate() with database.url %q = %q, which shows the password", url, err)
		}
	}
}

func TestRateLimitDisabledSkipsChecks(t *testing.T) {
	t.Parallel()
	c := Default()
	c.ClientAPI.RateLimit = RateLimit{Enabled: false}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() with rate limiting disabled = %v, want nil", err)
	}
}

func TestValidateServerName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"localhost:8008", true},
		{"example.com", true},
		{"matrix.example.com:8448", true},
		{"my-server.example.org", true},
		{"1.2.3.4", true},
		{"1.2.3.4:1234", true},
		{"[1234:5678::abcd]", true},
		{"[::1]:8448", true},
		{"", false},
		{"bad name", false},
		{"example.com:", false},
		{"example.com:0", false},
		{"example.com:65536", false},
		{"example.com:http", false},
		{"example..com", false},
		{".example.com", false},
		{"example.com.", false},
		{"exa_mple.com", false},
		{"256.1.1.1", false},
		{"1.2.3", false},
		{"[1.2.3.4]", false},
		{"[::1", false},
		{"::1", false},
		{"[::1]:", false},
		{"https://example.com", false},
		{"@alice:example.com", false},
		{strings.Repeat("a", 64) + ".com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := validateServerName(tt.name)
			if (err == nil) != tt.ok {
				t.Errorf("validateServerName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
		})
	}
}

func TestValidateListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8008", true},
		{":8008", true},
		{"0.0.0.0:0", true},
		{"[::]:8008", true},
		{"localhost:8008", true},
		{"8008", false},
		{"127.0.0.1", false},
		{"127.0.0.1:http", false},
		{"127.0.0.1:70000", false},
		{"bad host:8008", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			err := validateListen(tt.addr)
			if (err == nil) != tt.ok {
				t.Errorf("validateListen(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
			}
		})
	}
}

func TestValidateBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://matrix.example.com/", true},
		{"https://matrix.example.com", true},
		{"http://localhost:8008/matrix/", true},
		{"matrix.example.com", false},
		{"/matrix/", false},
		{"ftp://matrix.example.com/", false},
		{"https:///path", false},
		{"https://matrix.example.com/?x=1", false},
		{"https://user:pw@matrix.example.com/", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			err := validateBaseURL(tt.url)
			if (err == nil) != tt.ok {
				t.Errorf("validateBaseURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
			}
		})
	}
}

func TestPublicBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		serverName string
		baseURL    string
		want       string
	}{
		{"default", "localhost:8008", "", "http://localhost:8008/"},
		{"IPv6 server name", "[::1]:8448", "", "http://[::1]:8448/"},
		{"set with slash", "example.com", "https://matrix.example.com/", "https://matrix.example.com/"},
		{"set without slash", "example.com", "https://matrix.example.com", "https://matrix.example.com/"},
		{"set with path", "example.com", "https://example.com/matrix", "https://example.com/matrix/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			c.ServerName, c.BaseURL = tt.serverName, tt.baseURL
			if got := c.PublicBaseURL(); got != tt.want {
				t.Errorf("PublicBaseURL() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSigningKeyFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dataDir string
		path    string
		want    string
	}{
		{"default", "./data", "", "data/signing.key"},
		{"other data dir", "/var/lib/causeway", "", "/var/lib/causeway/signing.key"},
		{"set", "./data", "/etc/causeway/signing.key", "/etc/causeway/signing.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			c.DataDir, c.SigningKeyPath = tt.dataDir, tt.path
			if got := c.SigningKeyFile(); got != tt.want {
				t.Errorf("SigningKeyFile() = %q, want %q", got, tt.want)
			}
		})
	}
}
