package main

import (
	"flag"
	"io"

	slackbridge "causeway/bridges/slack"
	"causeway/homeserver/config"
)

// fileConfig is causeway.yaml: the homeserver's sections and the bridges'.
type fileConfig struct {
	config.Config `yaml:",inline"`
	Bridges       bridgesConfig `yaml:"bridges"`
}

// bridgesConfig is the bridges section.
type bridgesConfig struct {
	Slack slackbridge.Config `yaml:"slack"`
}

// defaultFileConfig is the whole file at its defaults.
func defaultFileConfig() *fileConfig {
	f := &fileConfig{Config: config.Default()}
	f.Bridges.Slack.Defaults()
	return f
}

func (f *fileConfig) Homeserver() *config.Config { return &f.Config }

func (f *fileConfig) ValidateSections() []error {
	return config.Nest("bridges.slack", f.Bridges.Slack.Validate())
}

// loadConfig parses the --config flag (the only flag every command has) and loads the file.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (*fileConfig, error) {
	path := fs.String("config", "", "configuration file (default ./causeway.yaml when it exists)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	f := defaultFileConfig()
	if err := config.LoadComposed(*path, getenv, f); err != nil {
		return nil, err
	}
	return f, nil
}

// writeExample prints the example configuration: every key of every section, documented.
func writeExample(w io.Writer) error {
	docs := map[string]string{"bridges": "The built-in bridges."}
	for k, d := range slackbridge.KeyDocs {
		key := "bridges.slack"
		if k != "" {
			key += "." + k
		}
		docs[key] = d
	}
	return config.WriteComposedExample(w, defaultFileConfig(), docs)
}
