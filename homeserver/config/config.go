// Package config owns Causeway's configuration file: the homeserver's
// sections, their defaults and validation, the loader (one YAML file plus a
// few CAUSEWAY_* environment overrides), strict decoding that rejects unknown
// keys, and the commented example file that documents every key.
//
// Every key has a default that runs, so no file at all gives a working server
// on SQLite under ./data. Each section is a struct with Defaults and Validate;
// Config.Validate reports every problem at once, each naming its key path.
//
// Sections of the bridges, migration and scheduler do not belong here: they
// are declared in their own packages and composed with this one in
// cmd/causeway, using DecodeStrict, Nest and WriteCommented. There is no
// global configuration: each package receives its own section as a value.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/id"
)

// Config is the homeserver's configuration, as read from causeway.yaml.
type Config struct {
	// ServerName is the server's Matrix name, the part after the colon in
	// user IDs and room aliases.
	ServerName string `yaml:"server_name"`
	// Listen is the host:port the HTTP listener binds.
	Listen string `yaml:"listen"`
	// BaseURL is public_baseurl as written; empty means derive it from
	// ServerName. Use PublicBaseURL for the effective value.
	BaseURL string `yaml:"public_baseurl"`
	// DataDir holds the server's files: the default SQLite database and
	// the default signing key.
	DataDir string `yaml:"data_dir"`
	// SigningKeyPath is signing_key_path as written; empty means a file in
	// DataDir. Use SigningKeyFile for the effective value.
	SigningKeyPath string `yaml:"signing_key_path"`

	// AdminListen is the host:port of the admin listener (Prometheus /metrics); empty: none.
	AdminListen string `yaml:"admin_listen"`

	// Appservices lists application-service registration files; globs are allowed.
	Appservices []string `yaml:"appservices"`

	Database     Database     `yaml:"database"`
	Registration Registration `yaml:"registration"`
	Rooms        Rooms        `yaml:"rooms"`
	ClientAPI    ClientAPI    `yaml:"client_api"`
	Media        Media        `yaml:"media"`
	Push         Push         `yaml:"push"`
	Log          Log          `yaml:"log"`
}

// Default returns the configuration used when no file is given: every key
// at its default.
func Default() Config {
	var c Config
	c.Defaults()
	return c
}

// Defaults sets every key of c, including all sections, to its default.
func (c *Config) Defaults() {
	*c = Config{
		ServerName:     "localhost:8008",
		Listen:         "127.0.0.1:8008",
		BaseURL:        "",
		DataDir:        "./data",
		SigningKeyPath: "",
		Appservices:    []string{},
	}
	c.Database.Defaults()
	c.Registration.Defaults()
	c.Rooms.Defaults()
	c.ClientAPI.Defaults()
	c.Media.Defaults()
	c.Push.Defaults()
	c.Log.Defaults()
}

// Validate reports every problem in c together, joined with errors.Join.
// Each problem is a *KeyError naming the key path, e.g.
// `registration.mode: must be one of closed, token, open (got "x")`.
// It returns nil when c is usable.
func (c Config) Validate() error {
	return errors.Join(c.problems()...)
}

// problems lists what Validate reports, in file order.
func (c Config) problems() []error {
	var errs []error
	if err := validateServerName(c.ServerName); err != nil {
		errs = append(errs, &KeyError{Key: "server_name", Err: err})
	}
	if err := validateListen(c.Listen); err != nil {
		errs = append(errs, &KeyError{Key: "listen", Err: err})
	}
	if c.BaseURL != "" {
		if err := validateBaseURL(c.BaseURL); err != nil {
			errs = append(errs, &KeyError{Key: "public_baseurl", Err: err})
		}
	}
	if c.DataDir == "" {
		errs = append(errs, keyErrorf("data_dir", "must not be empty"))
	}
	if c.AdminListen != "" {
		if err := validateListen(c.AdminListen); err != nil {
			errs = append(errs, &KeyError{Key: "admin_listen", Err: err})
		}
	}
	for i, path := range c.Appservices {
		if path == "" {
			errs = append(errs, keyErrorf(fmt.Sprintf("appservices[%d]", i), "must not be empty"))
		}
	}
	errs = append(errs, Nest("database", c.Database.Validate())...)
	errs = append(errs, Nest("registration", c.Registration.Validate())...)
	errs = append(errs, Nest("rooms", c.Rooms.Validate())...)
	errs = append(errs, Nest("client_api", c.ClientAPI.Validate())...)
	errs = append(errs, Nest("media", c.Media.Validate())...)
	errs = append(errs, Nest("push", c.Push.Validate())...)
	errs = append(errs, Nest("log", c.Log.Validate())...)
	return errs
}

// PublicBaseURL returns the URL at which clients reach this server, always
// ending in a slash: public_baseurl if set, else http://<server_name>/.
func (c Config) PublicBaseURL() string {
	u := c.BaseURL
	if u == "" {
		u = "http://" + c.ServerName + "/"
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// SigningKeyFile returns the path of the server's signing key file:
// signing_key_path if set, else signing.key inside data_dir.
func (c Config) SigningKeyFile() string {
	if c.SigningKeyPath != "" {
		return c.SigningKeyPath
	}
	return filepath.Join(c.DataDir, "signing.key")
}

// validateServerName checks a Matrix server name against the grammar in
// shared/matrix-spec/content/appendices.md ("Server Name"), a little more
// strictly than the grammar alone: IPv4 and IPv6 literals must be real
// addresses, DNS labels must not be empty, and the port must be 1-65535.
// Stricter is right here because this is our own name, which cannot change
// once users and rooms exist.
func validateServerName(name string) error {
	const want = "must be a hostname, IPv4 address or [IPv6] literal with an optional :port, like example.com or matrix.example.com:8448"
	bad := func(why string) error {
		if why != "" {
			return fmt.Errorf("%s (got %q: %s)", want, name, why)
		}
		return fmt.Errorf("%s (got %q)", want, name)
	}
	if name == "" {
		return errors.New("must not be empty")
	}
	parsed := id.ParseServerName(name)
	if parsed == nil {
		return bad("")
	}
	hasPort := strings.Contains(name, "]:") || (parsed.Type != id.ServerNameIPv6 && strings.Contains(name, ":"))
	if hasPort {
		if parsed.Port < 1 || parsed.Port > 65535 {
			return bad("port out of range")
		}
	}
	switch parsed.Type {
	case id.ServerNameIPv6:
		if a, err := netip.ParseAddr(parsed.Host); err != nil || !a.Is6() || a.Zone() != "" {
			return bad("invalid IPv6 address")
		}
	case id.ServerNameIPv4:
		if a, err := netip.ParseAddr(parsed.Host); err != nil || !a.Is4() {
			return bad("invalid IPv4 address")
		}
	case id.ServerNameDNS:
		if strings.Trim(parsed.Host, "0123456789.") == "" {
			return bad("invalid IPv4 address")
		}
		for label := range strings.SplitSeq(parsed.Host, ".") {
			if label == "" {
				return bad("empty DNS label")
			}
			if len(label) > 63 {
				return bad("DNS label longer than 63 characters")
			}
		}
	}
	return nil
}

// validateListen checks a listen address: host:port, where the host may be
// empty (all interfaces), an IP address or a hostname, and port 0 asks the
// kernel for a free port (useful in tests).
func validateListen(addr string) error {
	const want = `must be host:port, like "127.0.0.1:8008" or ":8008"`
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s (got %q)", want, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s (got %q: port must be a number from 0 to 65535)", want, addr)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
			return fmt.Errorf("%s (got %q: invalid host)", want, addr)
		}
	}
	return nil
}

// validateBaseURL checks that public_baseurl is an absolute http(s) URL
// without query or fragment.
func validateBaseURL(raw string) error {
	const want = `must be an absolute http or https URL, like "https://matrix.example.com/"`
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s (got %q)", want, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%s, without user info, query or fragment (got %q)", want, raw)
	}
	return nil
}
