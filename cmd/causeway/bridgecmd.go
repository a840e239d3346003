package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

const bridgeUsage = `usage: causeway bridge slack COMMAND [flags] [WORKSPACE CHANNEL]

commands (they act on the running server through its admin API):
  status                                 each workspace's connection
  bridge [--room ID] WORKSPACE CHANNEL   bridge a channel (#name or ID) into a new room, or room ID
  unbridge WORKSPACE CHANNEL             stop bridging a channel
  resync WORKSPACE CHANNEL               refresh a portal's name and topic and catch it up

flags (before WORKSPACE):
  --url URL      the server (default: http:// and the configured listen address)
  --token TOKEN  a server admin's access token (default: $CAUSEWAY_ADMIN_TOKEN)
  --config FILE  the configuration file`

// runBridge runs "causeway bridge slack …": the bridge commands that the bot also takes in
// Matrix, for operators, over the admin API of the running server.
func runBridge(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) < 2 || args[0] != "slack" {
		return errors.New(bridgeUsage)
	}
	sub := args[1]
	fs := flag.NewFlagSet("bridge slack "+sub, flag.ContinueOnError)
	serverURL := fs.String("url", "", "the server's URL")
	token := fs.String("token", getenv("CAUSEWAY_ADMIN_TOKEN"), "a server admin's access token")
	room := fs.String("room", "", "bridge into this existing room")
	cfg, err := loadConfig(fs, args[2:], getenv)
	if err != nil {
		return err
	}
	if *token == "" {
		return errors.New("a server admin's access token is needed: --token or CAUSEWAY_ADMIN_TOKEN")
	}
	if *serverURL == "" {
		*serverURL = localURL(cfg.Listen)
	}
	api := adminClient{base: strings.TrimSuffix(*serverURL, "/") + "/_causeway/admin/v1/bridges/slack", token: *token}
	channelPath := func() (string, error) {
		if fs.NArg() != 2 {
			return "", errors.New(bridgeUsage)
		}
		return "/" + url.PathEscape(fs.Arg(0)) + "/channels/" + url.PathEscape(fs.Arg(1)), nil
	}
	switch sub {
	case "status":
		return api.call(ctx, http.MethodGet, "", nil, stdout)
	case "bridge":
		path, err := channelPath()
		if err != nil {
			return err
		}
		return api.call(ctx, http.MethodPut, path, map[string]string{"room_id": *room}, stdout)
	case "unbridge":
		path, err := channelPath()
		if err != nil {
			return err
		}
		return api.call(ctx, http.MethodDelete, path, nil, stdout)
	case "resync":
		path, err := channelPath()
		if err != nil {
			return err
		}
		return api.call(ctx, http.MethodPost, path+"/resync", nil, stdout)
	}
	return fmt.Errorf("unknown bridge command %q\n%s", sub, bridgeUsage)
}

// localURL is the server's own address from its listen setting, reachable from this machine.
func localURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// adminClient calls the admin API with an admin's token.
type adminClient struct {
	base, token string
}

// call sends one request and prints the answer's JSON, indented; a Matrix error becomes the
// command's error.
func (c adminClient) call(ctx context.Context, method, path string, body any, stdout io.Writer) error {
	data, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, data, "", "  "); err != nil {
		_, err = stdout.Write(data)
		return err
	}
	pretty.WriteByte('\n')
	_, err = pretty.WriteTo(stdout)
	return err
}

// do sends one request and returns the answer's body; a Matrix error becomes the error, and a
// server that does not answer is named as such.
func (c adminClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("no Causeway server answers at %s: start it (causeway serve, or make run), or give its address with --url", c.base)
	} else if err != nil {
		return nil, fmt.Errorf("the server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Code    string `json:"errcode"`
			Message string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Code != "" {
			return nil, fmt.Errorf("%s: %s", e.Code, e.Message)
		}
		return nil, fmt.Errorf("the server answered %s", resp.Status)
	}
	return data, nil
}
