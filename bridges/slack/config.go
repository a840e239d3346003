package slack

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the bridges.slack section of causeway.yaml.
type Config struct {
	// UsernameTemplate makes the localpart of a Slack user's ghost: {workspace} is the Slack
	// team ID, {user} the Slack user ID; the result is lower-cased. Both IDs are Slack's own,
	// so that ghosts stay the same when the configuration renames a workspace, and so that an
	// export's history lands on the same ghosts as the live bridge's.
	UsernameTemplate string `yaml:"username_template"`
	// PublicPortals lists the portals of public channels in the room directory.
	PublicPortals bool `yaml:"public_portals"`
	// Workspaces are the Slack workspaces to bridge.
	Workspaces []WorkspaceConfig `yaml:"workspaces"`
	// Cutover is what moving a channel to Matrix does (causeway migrate cutover).
	Cutover CutoverConfig `yaml:"cutover"`
}

// CutoverConfig says what the cutover of a channel to Matrix does in Slack, besides posting
// and pinning a notice with the Matrix room's link.
type CutoverConfig struct {
	// Message is added to the notice.
	Message string `yaml:"message"`
	// SetTopic makes the channel's topic point to the Matrix room.
	SetTopic bool `yaml:"set_topic"`
	// Archive archives the Slack channel, which leaves it read-only.
	Archive bool `yaml:"archive"`
	// RelayStragglers keeps bridging into Matrix what people still write in the Slack channel;
	// nothing goes from Matrix to Slack any more either way.
	RelayStragglers bool `yaml:"relay_stragglers"`
}

// WorkspaceConfig is one Slack workspace, reached through the Slack app its team created.
type WorkspaceConfig struct {
	// Name is a short name of the admin's choosing, used in logs, status and commands.
	Name string `yaml:"name"`
	// AppToken is the app-level token (xapp-…) that opens Socket Mode connections. A
	// workspace has it or a SigningSecret, not both.
	AppToken Secret `yaml:"app_token"`
	// SigningSecret is the app's signing secret, for an app that has Socket Mode off and sends
	// its events over HTTP to EventsPath (the Events API): it verifies Slack's requests.
	SigningSecret Secret `yaml:"signing_secret"`
	// BotToken is the bot user's OAuth token (xoxb-…).
	BotToken Secret `yaml:"bot_token"`
	// APIURL is where the Web API is; tests and Slack-compatible servers point it elsewhere.
	APIURL string `yaml:"api_url"`
	// Channels are the channels to bridge, by name or ID; "all" means every channel the bot is in.
	Channels ChannelList `yaml:"channels"`
	// Relay posts the messages of Matrix users who have not logged in with their own Slack
	// token through the bot, with their name and avatar.
	Relay bool `yaml:"relay"`
}

// Defaults sets c to no workspaces, the default template, public portals listed, and a
// cutover that sets the topic and relays stragglers without archiving.
func (c *Config) Defaults() {
	*c = Config{UsernameTemplate: "slack_{workspace}_{user}", PublicPortals: true, Workspaces: []WorkspaceConfig{},
		Cutover: CutoverConfig{SetTopic: true, RelayStragglers: true}}
}

// UnmarshalYAML gives each workspace entry its defaults before the file's keys apply.
func (w *WorkspaceConfig) UnmarshalYAML(unmarshal func(any) error) error {
	type plain WorkspaceConfig
	p := plain{APIURL: "https://slack.com/api/", Channels: []string{"all"}, Relay: true}
	if err := unmarshal(&p); err != nil {
		return err
	}
	*w = WorkspaceConfig(p)
	return nil
}

// workspaceName is what a workspace's name may be: short and plain, for logs and commands.
var workspaceName = regexp.MustCompile(`^[a-z0-9][a-z0-9._=-]{0,31}$`)

// Validate reports every problem in c, keyed relative to the section. Secrets are resolved to
// check them, and never shown.
func (c Config) Validate() []error {
	var errs []error
	if !strings.Contains(c.UsernameTemplate, "{user}") {
		errs = append(errs, fmt.Errorf("username_template: must contain {user} (got %q)", c.UsernameTemplate))
	}
	if len(c.Workspaces) > 1 && !strings.Contains(c.UsernameTemplate, "{workspace}") {
		errs = append(errs, errors.New("username_template: must contain {workspace} when several workspaces are bridged"))
	}
	names := map[string]bool{}
	for i, w := range c.Workspaces {
		key := fmt.Sprintf("workspaces[%d]", i)
		if !workspaceName.MatchString(w.Name) {
			errs = append(errs, fmt.Errorf("%s.name: must be 1 to 32 of a-z, 0-9, . _ = - (got %q)", key, w.Name))
		} else if names[w.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q is used twice", key, w.Name))
		}
		names[w.Name] = true
		errs = append(errs, checkEventSource(key, w)...)
		errs = append(errs, checkToken(key+".bot_token", w.BotToken, "xoxb-")...)
		if u, err := url.Parse(w.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !strings.HasSuffix(u.Path, "/") {
			errs = append(errs, fmt.Errorf("%s.api_url: must be an http(s) URL ending in / (got %q)", key, w.APIURL))
		}
		if len(w.Channels) == 0 {
			errs = append(errs, fmt.Errorf("%s.channels: must be all or a list of channel names or IDs", key))
		}
	}
	return errs
}

// checkEventSource checks that a workspace receives its events one way: over Socket Mode
// (app_token) or over HTTP (signing_secret).
func checkEventSource(key string, w WorkspaceConfig) []error {
	switch {
	case w.AppToken != "" && w.SigningSecret != "":
		return []error{fmt.Errorf("%s: set app_token (Socket Mode) or signing_secret (Events API over HTTP), not both", key)}
	case w.SigningSecret != "":
		if _, err := w.SigningSecret.Value(); err != nil {
			return []error{fmt.Errorf("%s.signing_secret: %w", key, err)}
		}
		return nil
	case w.AppToken == "":
		return []error{fmt.Errorf("%s.app_token: must be set (Socket Mode), or signing_secret for the Events API over HTTP", key)}
	}
	return checkToken(key+".app_token", w.AppToken, "xapp-")
}

func checkToken(key string, s Secret, prefix string) []error {
	v, err := s.Value()
	switch {
	case err != nil:
		return []error{fmt.Errorf("%s: %w", key, err)}
	case !strings.HasPrefix(v, prefix):
		return []error{fmt.Errorf("%s: must be a Slack token starting with %s", key, prefix)}
	}
	return nil
}

// ChannelList is the channels key: the word all, or a list of channel names and IDs.
type ChannelList []string

// UnmarshalYAML accepts a single name ("all") as well as a list.
func (c *ChannelList) UnmarshalYAML(value *yaml.Node) error {
	if value.Kind == yaml.ScalarNode {
		*c = ChannelList{value.Value}
		return nil
	}
	var list []string
	if err := value.Decode(&list); err != nil {
		return err
	}
	*c = list
	return nil
}

// MarshalYAML writes all as the word.
func (c ChannelList) MarshalYAML() (any, error) {
	if len(c) == 1 && c[0] == "all" {
		return "all", nil
	}
	return []string(c), nil
}

// AllChannels reports whether w bridges every channel its bot is in.
func (w WorkspaceConfig) AllChannels() bool {
	return len(w.Channels) == 1 && w.Channels[0] == "all"
}

// Secret is a token as written in the file: "env:NAME" reads the environment variable NAME,
// "file:PATH" the file at PATH (trailing white space trimmed), anything else is the token
// itself. It prints as its source, never its value, so that logs and errors cannot leak it.
type Secret string

// Value resolves the secret.
func (s Secret) Value() (string, error) {
	src := string(s)
	switch {
	case strings.HasPrefix(src, "env:"):
		name := strings.TrimPrefix(src, "env:")
		v := os.Getenv(name)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		return v, nil
	case strings.HasPrefix(src, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(src, "file:"))
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case src == "":
		return "", errors.New("must be set")
	}
	return src, nil
}

// String shows where the secret comes from, or that it is written in the file.
func (s Secret) String() string {
	if strings.HasPrefix(string(s), "env:") || strings.HasPrefix(string(s), "file:") {
		return string(s)
	}
	return "(secret)"
}

// KeyDocs documents the section's keys for the example configuration, by their paths below
// bridges.slack.
var KeyDocs = map[string]string{
	"": "The built-in Slack bridge. It connects to each workspace through a Slack app that the\n" +
		"workspace's team creates from bridges/slack/manifest.yaml (see the README, \"Connect\n" +
		"Slack\"), over Socket Mode: no public URL is needed. An app with Socket Mode off sends\n" +
		"its events over HTTP instead (signing_secret below).",
	"username_template": "The localpart of Slack users' Matrix accounts: {workspace} is the Slack\n" +
		"team ID, {user} the Slack user ID; lower-cased. Changing it later orphans existing ones.",
	"public_portals": "List the rooms of public Slack channels in the room directory.",
	"workspaces": "The workspaces to bridge, each a mapping with:\n" +
		"  name: a short name of your choosing (a-z, 0-9, . _ = -), used in logs and commands\n" +
		"  app_token: the app-level token, xapp-…: env:NAME, file:/path, or the token itself\n" +
		"  signing_secret: instead of app_token, for an app with Socket Mode off that sends its\n" +
		"    events over HTTP to <public_baseurl>/_causeway/bridges/slack/events/<name>; likewise\n" +
		"  bot_token: the bot token, xoxb-…, likewise\n" +
		"  api_url: the Slack Web API (default https://slack.com/api/)\n" +
		"  channels: all (every channel the bot is in, the default) or a list of names or IDs\n" +
		"  relay: post Matrix users' messages through the bot with their name (default true)",
	"cutover": "What moving a channel to Matrix (causeway migrate cutover) does in Slack, besides\n" +
		"posting and pinning a notice with the Matrix room's link.",
	"cutover.message":          "Text added to the notice.",
	"cutover.set_topic":        "Make the channel's topic point to the Matrix room.",
	"cutover.archive":          "Archive the Slack channel, which leaves it read-only.",
	"cutover.relay_stragglers": "Keep bridging into Matrix what people still write in Slack (nothing goes to Slack).",
}
