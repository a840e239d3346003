package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// DefaultPath is the file Load reads when it is given no path, if the file
// exists in the working directory.
const DefaultPath = "causeway.yaml"

// envOverride is one environment variable that overrides one key.
type envOverride struct {
	name string // e.g. CAUSEWAY_SERVER_NAME
	key  string // the key path it sets, e.g. server_name
	set  func(c *Config, v string)
}

// envOverrides lists the environment variables Load honours, in file order.
// WriteExample mentions each under its key.
var envOverrides = []envOverride{
	{"CAUSEWAY_SERVER_NAME", "server_name", func(c *Config, v string) { c.ServerName = v }},
	{"CAUSEWAY_LISTEN", "listen", func(c *Config, v string) { c.Listen = v }},
	{"CAUSEWAY_DATA_DIR", "data_dir", func(c *Config, v string) { c.DataDir = v }},
	{"CAUSEWAY_DATABASE_URL", "database.url", func(c *Config, v string) { c.Database.URL = v }},
	{"CAUSEWAY_REGISTRATION", "registration.mode", func(c *Config, v string) { c.Registration.Mode = RegistrationMode(v) }},
}

// Load returns the configuration: defaults, then the YAML file at path
// (decoded with DecodeStrict, so unknown keys are errors), then environment
// overrides, then Validate.
//
// With path "", Load reads DefaultPath if it exists and otherwise uses the
// defaults alone. A path given explicitly must exist. An empty file is fine.
//
// getenv is os.Getenv in production; nil means no environment. These
// variables, when set and not empty, win over the file:
//
//	CAUSEWAY_SERVER_NAME   server_name
//	CAUSEWAY_LISTEN        listen
//	CAUSEWAY_DATA_DIR      data_dir
//	CAUSEWAY_DATABASE_URL  database.url
//	CAUSEWAY_REGISTRATION  registration.mode
//
// A validation problem with a value that came from the environment says so.
// On error Load returns the zero Config.
func Load(path string, getenv func(string) string) (Config, error) {
	var c onlyHomeserver
	if err := LoadComposed(path, getenv, &c); err != nil {
		return Config{}, err
	}
	return c.Config, nil
}

// Composed is a whole configuration file: a struct that embeds Config with
// `yaml:",inline"` and adds the sections of other packages (bridges, jobs).
type Composed interface {
	// Homeserver returns the embedded Config.
	Homeserver() *Config
	// ValidateSections reports the problems of the other sections, each keyed
	// by its full path (use Nest).
	ValidateSections() []error
}

// onlyHomeserver is the file of a server without other sections.
type onlyHomeserver struct {
	Config `yaml:",inline"`
}

func (o *onlyHomeserver) Homeserver() *Config       { return &o.Config }
func (o *onlyHomeserver) ValidateSections() []error { return nil }

// LoadComposed is Load for a file with other packages' sections: into holds
// their defaults on entry; the homeserver's are set here. It reports every
// problem of every section at once.
func LoadComposed(path string, getenv func(string) string, into Composed) error {
	c := into.Homeserver()
	*c = Default()
	if path == "" {
		if _, err := os.Stat(DefaultPath); err == nil {
			path = DefaultPath
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config: %w", err)
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := DecodeStrict(path, data, into); err != nil {
			return err
		}
	}

	fromEnv := map[string]string{} // key path → variable that set it
	if getenv != nil {
		for _, o := range envOverrides {
			if v := getenv(o.name); v != "" {
				o.set(c, v)
				fromEnv[o.key] = o.name
			}
		}
	}

	problems := append(c.problems(), into.ValidateSections()...)
	for i, err := range problems {
		if ke, ok := err.(*KeyError); ok && fromEnv[ke.Key] != "" {
			problems[i] = &KeyError{Key: ke.Key, Err: fmt.Errorf("%w (set by %s)", ke.Err, fromEnv[ke.Key])}
		}
	}
	return errors.Join(problems...)
}
