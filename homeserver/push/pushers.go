package push

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
	"causeway/internal/netguard"
)

// gatewayPath is the path every push gateway URL has (push_notifier.yaml).
const gatewayPath = "/_matrix/push/v1/notify"

// Limits of pusher fields (pusher.yaml).
const (
	maxPushKeyBytes = 512
	maxAppIDChars   = 64
)

// Pushers keeps users' HTTP pushers (data/api/client-server/pusher.yaml) and delivers their
// notifications to push gateways (delivery.go).
type Pushers struct {
	db     *storage.DB
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	policy DeliveryPolicy

	wake    chan struct{} // an event was stored: workers look for notifications
	changed chan struct{} // a pusher was set or deleted: the workers are reconciled
}

// PushersOptions configures Pushers.
type PushersOptions struct {
	// Guard says which addresses gateways may be at: users name the URL, so by default the
	// server posts to public addresses only.
	Guard  netguard.Policy
	Log    *slog.Logger
	Now    func() time.Time // nil: time.Now
	Policy DeliveryPolicy   // zero: DefaultDeliveryPolicy
}

// NewPushers returns the pusher service over db.
func NewPushers(db *storage.DB, opts PushersOptions) *Pushers {
	p := &Pushers{db: db, client: gatewayClient(opts.Guard), log: opts.Log, now: opts.Now, policy: opts.Policy,
		wake: make(chan struct{}, 1), changed: make(chan struct{}, 1)}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.policy == (DeliveryPolicy{}) {
		p.policy = DefaultDeliveryPolicy
	}
	return p
}

// gatewayClient is the HTTP client notifications go out with: it connects only where guard
// allows, checked in the dialer after name resolution, through no proxy (which would hide the
// target's address), and it does not follow redirects: a gateway answers, it does not send the
// server elsewhere.
func gatewayClient(guard netguard.Policy) *http.Client {
	return &http.Client{
		Timeout: GatewayTimeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         guard.Dialer(GatewayTimeout).DialContext,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: GatewayTimeout,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// PusherData is a pusher's data object: url and format, and whatever else the client keeps
// there for its gateway.
type PusherData map[string]any

// WirePusher is a pusher as POST /pushers/set takes it and GET /pushers lists it.
type WirePusher struct {
	PushKey           string     `json:"pushkey"`
	Kind              *string    `json:"kind"`
	AppID             string     `json:"app_id"`
	AppDisplayName    string     `json:"app_display_name"`
	DeviceDisplayName string     `json:"device_display_name"`
	ProfileTag        string     `json:"profile_tag,omitempty"`
	Lang              string     `json:"lang"`
	Data              PusherData `json:"data"`
	Append            bool       `json:"append,omitzero"`
}

// Set creates, replaces or (kind null) deletes one of the user's pushers, as device, the
// device the request came from (the pusher goes when the device does).
func (p *Pushers) Set(ctx context.Context, userID id.UserID, deviceID id.DeviceID, req WirePusher) error {
	if err := checkPusherKey(req); err != nil {
		return err
	}
	defer p.poke(p.changed)
	if req.Kind == nil {
		return p.db.DeletePusher(ctx, userID, req.AppID, req.PushKey)
	}
	if err := checkPusher(req); err != nil {
		return err
	}
	data, _ := json.Marshal(req.Data)
	pos, err := p.db.Counter(ctx, "events")
	if err != nil {
		return err
	}
	pusher := storage.Pusher{UserID: userID, AppID: req.AppID, PushKey: req.PushKey, DeviceID: deviceID, Kind: *req.Kind,
		AppDisplayName: req.AppDisplayName, DeviceDisplayName: req.DeviceDisplayName, ProfileTag: req.ProfileTag,
		Lang: req.Lang, Data: data, CreatedTS: p.now().UnixMilli(), DeliveredPos: pos}
	return p.db.InTx(ctx, func(tx *storage.Tx) error {
		if !req.Append {
			if err := tx.DeletePushersOfOthers(ctx, userID, req.AppID, req.PushKey); err != nil {
				return err
			}
		}
		return tx.PutPusher(ctx, pusher)
	})
}

// checkPusherKey checks what identifies a pusher, which deleting one needs too.
func checkPusherKey(req WirePusher) error {
	switch {
	case req.AppID == "" || req.PushKey == "":
		return mxerr.MissingParam.WithMessage("app_id and pushkey are required")
	case len(req.PushKey) > maxPushKeyBytes:
		return mxerr.InvalidParam.WithMessage("pushkey is longer than %d bytes", maxPushKeyBytes)
	case len([]rune(req.AppID)) > maxAppIDChars:
		return mxerr.InvalidParam.WithMessage("app_id is longer than %d characters", maxAppIDChars)
	}
	return nil
}

// checkPusher checks a pusher to create: an http pusher with the fields the spec requires and
// a gateway URL with the gateway path. Email pushers are refused: this server sends no email.
func checkPusher(req WirePusher) error {
	var missing []string
	for name, v := range map[string]string{"app_display_name": req.AppDisplayName, "device_display_name": req.DeviceDisplayName, "lang": req.Lang} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if req.Data == nil {
		missing = append(missing, "data")
	}
	if len(missing) > 0 {
		return mxerr.MissingParam.WithMessage("missing parameters: %s", strings.Join(missing, ", "))
	}
	if *req.Kind != "http" {
		return mxerr.InvalidParam.WithMessage("pusher kind %q is not supported: only http pushers are", *req.Kind)
	}
	raw, ok := req.Data["url"].(string)
	if !ok {
		return mxerr.MissingParam.WithMessage("data.url is required for an http pusher")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != gatewayPath {
		return mxerr.InvalidParam.WithMessage("data.url must be an http(s) URL with the path %s", gatewayPath)
	}
	if format, ok := req.Data["format"]; ok && format != "event_id_only" && format != "" {
		return mxerr.InvalidParam.WithMessage("data.format may only be event_id_only")
	}
	return nil
}

// List returns the user's pushers as GET /pushers has them.
func (p *Pushers) List(ctx context.Context, userID id.UserID) ([]WirePusher, error) {
	pushers, err := p.db.PushersOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []WirePusher{}
	for _, ps := range pushers {
		var data PusherData
		if err := json.Unmarshal(ps.Data, &data); err != nil {
			return nil, err
		}
		out = append(out, WirePusher{PushKey: ps.PushKey, Kind: &ps.Kind, AppID: ps.AppID, AppDisplayName: ps.AppDisplayName,
			DeviceDisplayName: ps.DeviceDisplayName, ProfileTag: ps.ProfileTag, Lang: ps.Lang, Data: data})
	}
	return out, nil
}

// OnEvent wakes the delivery workers after an event is stored: it may have notified someone.
func (p *Pushers) OnEvent(*storage.Event) { p.poke(p.wake) }

// poke signals c without blocking; a signal already pending covers this one.
func (p *Pushers) poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
