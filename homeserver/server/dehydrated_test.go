package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// mautrix v0.32's client has no methods for the dehydrated-device endpoints of MSC3814; the
// tests call them through its MakeRequest, so that requests and answers still pass its
// encoding and error handling.

// dehydratedPath is the path of an MSC3814 endpoint, each part escaped.
func dehydratedPath(parts ...string) string {
	escaped := make([]string, len(parts))
	for i, p := range parts {
		escaped[i] = url.PathEscape(p)
	}
	return "/_matrix/client/unstable/org.matrix.msc3814.v1/" + strings.Join(escaped, "/")
}

// dehydratedURL is the URL of an MSC3814 endpoint as mautrix's client builds it.
func dehydratedURL(cli *mautrix.Client, parts ...any) string {
	return cli.BuildClientURL(append([]any{"unstable", "org.matrix.msc3814.v1", "dehydrated_device"}, parts...)...)
}

// dehydratedDevice is a device a client dehydrates: its ID is its curve25519 identity key, as
// MSC3814 asks, so it holds '+' and '/' that the events path must carry escaped.
type dehydratedDevice struct {
	owner id.UserID
	id    id.DeviceID
	key   signingKey // the ed25519 identity key
}

func newDehydratedDevice(t *testing.T, owner id.UserID) *dehydratedDevice {
	t.Helper()
	for {
		curve := newSigningKey(t).pub
		if slices.ContainsFunc([]byte(curve), func(c byte) bool { return c == '/' || c == '+' }) {
			return &dehydratedDevice{owner: owner, id: id.DeviceID(curve), key: newSigningKey(t)}
		}
	}
}

// deviceKeys returns the device's device_keys object, marked dehydrated and self-signed.
func (d *dehydratedDevice) deviceKeys(t *testing.T) *mautrix.DeviceKeys {
	t.Helper()
	dk := &mautrix.DeviceKeys{
		UserID:     d.owner,
		DeviceID:   d.id,
		Algorithms: []id.Algorithm{id.AlgorithmOlmV1, id.AlgorithmMegolmV1},
		Keys: mautrix.KeyMap{
			id.NewDeviceKeyID(id.KeyAlgorithmEd25519, d.id):    d.key.pub,
			id.NewDeviceKeyID(id.KeyAlgorithmCurve25519, d.id): string(d.id),
		},
		Dehydrated: true,
	}
	dk.Signatures = signatures.NewSingleSignature(d.owner, id.KeyAlgorithmEd25519, string(d.id), d.key.sign(t, dk))
	return dk
}

// signedKey returns a signed curve25519 key object; fallback marks a fallback key.
func (d *dehydratedDevice) signedKey(t *testing.T, fallback bool) map[string]any {
	t.Helper()
	k := map[string]any{"key": newSigningKey(t).pub}
	if fallback {
		k["fallback"] = true
	}
	k["signatures"] = map[id.UserID]map[string]string{d.owner: {"ed25519:" + string(d.id): d.key.sign(t, k)}}
	return k
}

// request returns the body of PUT /dehydrated_device for the device with two one-time keys
// and a fallback key.
func (d *dehydratedDevice) request(t *testing.T) map[string]any {
	t.Helper()
	return map[string]any{
		"device_id":                   d.id,
		"device_data":                 map[string]any{"algorithm": "org.matrix.msc3814.v1.olm", "device_pickle": "pickle of " + string(d.id)},
		"initial_device_display_name": "Dehydrated device",
		"device_keys":                 d.deviceKeys(t),
		"one_time_keys":               map[string]any{"signed_curve25519:AAAA": d.signedKey(t, false), "signed_curve25519:AAAB": d.signedKey(t, false)},
		"fallback_keys":               map[string]any{"signed_curve25519:AAAC": d.signedKey(t, true)},
	}
}

// put dehydrates the device through mautrix's client.
func (d *dehydratedDevice) put(t *testing.T, cli *mautrix.Client) {
	t.Helper()
	var resp struct {
		DeviceID id.DeviceID `json:"device_id"`
	}
	if _, err := cli.MakeRequest(context.Background(), http.MethodPut, dehydratedURL(cli), d.request(t), &resp); err != nil {
		t.Fatalf("PUT dehydrated_device: %v", err)
	}
	if resp.DeviceID != d.id {
		t.Fatalf("PUT dehydrated_device answered device_id %q, want %q", resp.DeviceID, d.id)
	}
}

// respDehydrated is the answer of GET /dehydrated_device.
type respDehydrated struct {
	DeviceID   id.DeviceID    `json:"device_id"`
	DeviceData map[string]any `json:"device_data"`
}

// respDehydratedEvents is the answer of POST /dehydrated_device/{deviceId}/events.
type respDehydratedEvents struct {
	Events    []*event.Event `json:"events"`
	NextBatch string         `json:"next_batch"`
}

// dehydratedEvents fetches a batch of the device's messages through mautrix's client.
func dehydratedEvents(t *testing.T, cli *mautrix.Client, deviceID id.DeviceID, nextBatch string, query url.Values) respDehydratedEvents {
	t.Helper()
	body := map[string]any{}
	if nextBatch != "" {
		body["next_batch"] = nextBatch
	}
	u := dehydratedURL(cli, deviceID, "events")
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var resp respDehydratedEvents
	if _, err := cli.MakeRequest(context.Background(), http.MethodPost, u, body, &resp); err != nil {
		t.Fatalf("POST dehydrated_device/%s/events: %v", deviceID, err)
	}
	if resp.Events == nil || resp.NextBatch == "" {
		t.Fatalf("events answer without events or next_batch: %+v", resp)
	}
	return resp
}

// eventNs returns the "n" of each to-device message (see toDeviceContent).
func eventNs(evs []*event.Event) []string {
	out := []string{}
	for _, ev := range evs {
		out = append(out, ev.Content.Raw["n"].(string))
	}
	return out
}

func deviceIDs(t *testing.T, cli *mautrix.Client) []id.DeviceID {
	t.Helper()
	resp, err := cli.GetDevicesInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []id.DeviceID
	for _, d := range resp.Devices {
		out = append(out, d.DeviceID)
	}
	return out
}

// TestDehydratedDevice runs a dehydrated device's life: advertised, stored with its keys,
// fetched, encrypted to by another user, its messages read in batches (and read again from the
// start), replaced and deleted, each replacement taking the old device's keys and messages.
func TestDehydratedDevice(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")
		roomID := mustCreateRoom(t, alice, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		mustJoin(t, bob, string(roomID))

		versions, err := alice.Versions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !versions.UnstableFeatures["org.matrix.msc3814"] {
			t.Errorf("unstable_features = %v, want org.matrix.msc3814", versions.UnstableFeatures)
		}

		// Nothing yet.
		wantError(t, ts.do(t, http.MethodGet, dehydratedPath("dehydrated_device"), alice.AccessToken, nil), 404, "M_NOT_FOUND")
		wantError(t, ts.do(t, http.MethodDelete, dehydratedPath("dehydrated_device"), alice.AccessToken, nil), 404, "M_NOT_FOUND")
		wantError(t, ts.do(t, http.MethodPost, dehydratedPath("dehydrated_device", "NOPE", "events"), alice.AccessToken, map[string]any{}), 403, "M_FORBIDDEN")

		bobSince := ts.sync(t, bob, url.Values{}).NextBatch
		first := newDehydratedDevice(t, alice.UserID)
		first.put(t, alice)

		var got respDehydrated
		if _, err := alice.MakeRequest(ctx, http.MethodGet, dehydratedURL(alice), nil, &got); err != nil {
			t.Fatal(err)
		}
		want := respDehydrated{DeviceID: first.id, DeviceData: map[string]any{"algorithm": "org.matrix.msc3814.v1.olm", "device_pickle": "pickle of " + string(first.id)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET dehydrated_device (-want +got):\n%s", diff)
		}

		// An ordinary device to the rest of the world: listed, its keys served and claimable,
		// and its arrival a change of alice's device list.
		if ids := deviceIDs(t, alice); !slices.Contains(ids, first.id) {
			t.Errorf("GET /devices = %v, want the dehydrated device %s", ids, first.id)
		}
		dk, ok := queryKeys(t, bob, alice.UserID).DeviceKeys[alice.UserID][first.id]
		if !ok || !dk.Dehydrated || dk.Keys.GetEd25519(first.id) != id.Ed25519(first.key.pub) {
			t.Errorf("/keys/query has %+v for the dehydrated device, want its keys marked dehydrated", dk)
		}
		if k := claimKey(t, bob, alice.UserID, first.id); len(k) != 1 {
			t.Errorf("claimed %v of the dehydrated device, want one key", k)
		}
		if resp := ts.sync(t, bob, url.Values{"since": {bobSince}}); !slices.Contains(resp.DeviceLists.Changed, alice.UserID) {
			t.Errorf("bob's device_lists = %+v, want alice changed", resp.DeviceLists)
		}

		// Bob sends it messages, to it by ID and to all of alice's devices.
		sendToDevice(t, bob, "m.room_key_test", map[id.UserID]map[id.DeviceID]*event.Content{alice.UserID: {first.id: toDeviceContent("1")}})
		sendToDevice(t, bob, "m.room_key_test", map[id.UserID]map[id.DeviceID]*event.Content{alice.UserID: {"*": toDeviceContent("2")}})
		sendToDevice(t, bob, "m.room_key_test", map[id.UserID]map[id.DeviceID]*event.Content{alice.UserID: {first.id: toDeviceContent("3")}})

		all := dehydratedEvents(t, alice, first.id, "", nil)
		if diff := cmp.Diff([]string{"1", "2", "3"}, eventNs(all.Events)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if ev := all.Events[0]; ev.Sender != bob.UserID || ev.Type.Type != "m.room_key_test" {
			t.Errorf("first event is %+v, want bob's m.room_key_test", ev)
		}
		if end := dehydratedEvents(t, alice, first.id, all.NextBatch, nil); len(end.Events) != 0 || end.NextBatch == "" {
			t.Errorf("after the last batch: %+v, want no events and a next_batch", end)
		}
		// In batches of two; a later call deletes nothing, so a rehydration can start over.
		var batched []string
		next := ""
		for range 3 {
			b := dehydratedEvents(t, alice, first.id, next, url.Values{"limit": {"2"}})
			if len(b.Events) > 2 {
				t.Fatalf("limit 2 gave %d events", len(b.Events))
			}
			batched = append(batched, eventNs(b.Events)...)
			next = b.NextBatch
		}
		if diff := cmp.Diff([]string{"1", "2", "3"}, batched); diff != "" {
			t.Errorf("events in batches of two (-want +got):\n%s", diff)
		}
		if again := dehydratedEvents(t, alice, first.id, "", nil); len(again.Events) != 3 {
			t.Errorf("starting over gave %d events, want the 3 messages kept", len(again.Events))
		}
		// Another device of alice's reads the same; bob may not read alice's.
		alice2 := ts.login(t, alice.UserID, password)
		if again := dehydratedEvents(t, alice2, first.id, "", nil); len(again.Events) != 3 {
			t.Errorf("alice's other device got %d events, want 3", len(again.Events))
		}
		wantError(t, ts.do(t, http.MethodPost, dehydratedPath("dehydrated_device", string(first.id), "events"), bob.AccessToken, map[string]any{}), 403, "M_FORBIDDEN")

		// Replacing it deletes the old device with its keys and messages.
		second := newDehydratedDevice(t, alice.UserID)
		second.put(t, alice)
		ids := deviceIDs(t, alice)
		if slices.Contains(ids, first.id) || !slices.Contains(ids, second.id) {
			t.Errorf("GET /devices = %v after the replacement, want %s and not %s", ids, second.id, first.id)
		}
		q := queryKeys(t, bob, alice.UserID).DeviceKeys[alice.UserID]
		if _, ok := q[first.id]; ok {
			t.Errorf("the replaced dehydrated device's keys are still served")
		}
		if k := claimKey(t, bob, alice.UserID, first.id); len(k) != 0 {
			t.Errorf("a key of the replaced device was claimed: %v", k)
		}
		wantError(t, ts.do(t, http.MethodPost, dehydratedPath("dehydrated_device", string(first.id), "events"), alice.AccessToken, map[string]any{}), 403, "M_FORBIDDEN")
		if fresh := dehydratedEvents(t, alice, second.id, "", nil); len(fresh.Events) != 0 {
			t.Errorf("the new dehydrated device has %d events, want none", len(fresh.Events))
		}

		// Putting the same device again replaces it with itself.
		second.put(t, alice)

		// DELETE answers its ID and takes it away.
		var deleted struct {
			DeviceID id.DeviceID `json:"device_id"`
		}
		if _, err := alice.MakeRequest(ctx, http.MethodDelete, dehydratedURL(alice), nil, &deleted); err != nil {
			t.Fatal(err)
		}
		if deleted.DeviceID != second.id {
			t.Errorf("DELETE answered %q, want %q", deleted.DeviceID, second.id)
		}
		wantError(t, ts.do(t, http.MethodGet, dehydratedPath("dehydrated_device"), alice.AccessToken, nil), 404, "M_NOT_FOUND")
		if ids := deviceIDs(t, alice); slices.Contains(ids, second.id) {
			t.Errorf("GET /devices = %v after DELETE, still with %s", ids, second.id)
		}
		if _, ok := queryKeys(t, bob, alice.UserID).DeviceKeys[alice.UserID][second.id]; ok {
			t.Errorf("the deleted dehydrated device's keys are still served")
		}
	})
}

// TestDehydratedDeviceNoLogin checks that no one logs in on a dehydrated device, and that
// deleting it as an ordinary device (DELETE /devices/{deviceId}) takes the mark too.
func TestDehydratedDeviceNoLogin(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		d := newDehydratedDevice(t, alice.UserID)
		d.put(t, alice)

		r := ts.do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
			"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": "alice"},
			"password": password, "device_id": d.id,
		})
		wantError(t, r, 400, "M_INVALID_PARAM")
		if ids := deviceIDs(t, alice); !slices.Contains(ids, d.id) {
			t.Errorf("the refused login took the dehydrated device away: %v", ids)
		}
		if _, ok := queryKeys(t, alice, alice.UserID).DeviceKeys[alice.UserID][d.id]; !ok {
			t.Errorf("the refused login took the dehydrated device's keys away")
		}

		err := alice.DeleteDevice(ctx, d.id, &mautrix.ReqDeleteDevice[any]{Auth: passwordAuth(alice.UserID, password, "")})
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, ts.do(t, http.MethodGet, dehydratedPath("dehydrated_device"), alice.AccessToken, nil), 404, "M_NOT_FOUND")
		// With the device gone, its ID is free for a login again.
		r = ts.do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
			"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": "alice"},
			"password": password, "device_id": d.id,
		})
		wantOK(t, r)
	})
}

// TestDehydratedDeviceErrors sends PUT and POST .../events requests that must fail, each after
// a dehydrated device is in place, which every failure must leave as it was.
func TestDehydratedDeviceErrors(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		current := newDehydratedDevice(t, alice.UserID)
		current.put(t, alice)
		sendToDevice(t, alice, "m.test", map[id.UserID]map[id.DeviceID]*event.Content{alice.UserID: {current.id: toDeviceContent("kept")}})

		type body = map[string]any
		next := func(t *testing.T) (*dehydratedDevice, body) {
			d := newDehydratedDevice(t, alice.UserID)
			return d, d.request(t)
		}
		putCases := []struct {
			name    string
			body    func(t *testing.T) any
			status  int
			errcode string
		}{
			{"not JSON", func(t *testing.T) any { return rawBody("{") }, 400, "M_NOT_JSON"},
			{"no device_id", func(t *testing.T) any { _, b := next(t); delete(b, "device_id"); return b }, 400, "M_MISSING_PARAM"},
			{"device_id not a string", func(t *testing.T) any { _, b := next(t); b["device_id"] = 7; return b }, 400, "M_BAD_JSON"},
			{"no device_data", func(t *testing.T) any { _, b := next(t); delete(b, "device_data"); return b }, 400, "M_MISSING_PARAM"},
			{"device_data not an object", func(t *testing.T) any { _, b := next(t); b["device_data"] = "x"; return b }, 400, "M_BAD_JSON"},
			{"device_data without algorithm", func(t *testing.T) any { _, b := next(t); b["device_data"] = body{"device_pickle": "p"}; return b }, 400, "M_MISSING_PARAM"},
			{"no device_keys", func(t *testing.T) any { _, b := next(t); delete(b, "device_keys"); return b }, 400, "M_MISSING_PARAM"},
			{"device_keys of another device", func(t *testing.T) any {
				_, b := next(t)
				other, _ := next(t)
				b["device_keys"] = other.deviceKeys(t)
				return b
			}, 400, "M_INVALID_PARAM"},
			{"device_keys badly signed", func(t *testing.T) any {
				d, b := next(t)
				dk := d.deviceKeys(t)
				dk.Signatures = signatures.NewSingleSignature(alice.UserID, id.KeyAlgorithmEd25519, string(d.id), newSigningKey(t).sign(t, dk))
				b["device_keys"] = dk
				return b
			}, 400, "M_INVALID_SIGNATURE"},
			{"bad one-time key name", func(t *testing.T) any { _, b := next(t); b["one_time_keys"] = body{"nocolon": "k"}; return b }, 400, "M_INVALID_PARAM"},
			{"display name too long", func(t *testing.T) any {
				_, b := next(t)
				b["initial_device_display_name"] = string(make([]byte, 101))
				return b
			}, 400, "M_INVALID_PARAM"},
			{"an ID alice is logged in on", func(t *testing.T) any {
				// Found in the transaction, after the old dehydrated device was deleted: the
				// rollback must bring it back.
				d := &dehydratedDevice{owner: alice.UserID, id: alice.DeviceID, key: newSigningKey(t)}
				return d.request(t)
			}, 400, "M_INVALID_PARAM"},
		}
		for _, tt := range putCases {
			t.Run("PUT "+tt.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodPut, dehydratedPath("dehydrated_device"), alice.AccessToken, tt.body(t)), tt.status, tt.errcode)
			})
		}
		t.Run("PUT without a token", func(t *testing.T) {
			_, b := next(t)
			wantError(t, ts.do(t, http.MethodPut, dehydratedPath("dehydrated_device"), "", b), 401, "M_MISSING_TOKEN")
		})

		events := dehydratedPath("dehydrated_device", string(current.id), "events")
		eventCases := []struct {
			name    string
			path    string
			body    any
			status  int
			errcode string
		}{
			{"not JSON", events, rawBody("["), 400, "M_NOT_JSON"},
			{"next_batch not a string", events, body{"next_batch": 5}, 400, "M_BAD_JSON"},
			{"next_batch not ours", events, body{"next_batch": "s72_5"}, 400, "M_INVALID_PARAM"},
			{"negative next_batch", events, body{"next_batch": "-1"}, 400, "M_INVALID_PARAM"},
			{"limit zero", events + "?limit=0", body{}, 400, "M_INVALID_PARAM"},
			{"limit not a number", events + "?limit=many", body{}, 400, "M_INVALID_PARAM"},
			{"another device", dehydratedPath("dehydrated_device", string(alice.DeviceID), "events"), body{}, 403, "M_FORBIDDEN"},
		}
		for _, tt := range eventCases {
			t.Run("events "+tt.name, func(t *testing.T) {
				wantError(t, ts.do(t, http.MethodPost, tt.path, alice.AccessToken, tt.body), tt.status, tt.errcode)
			})
		}

		// Nothing changed: the device, its keys and its message are all there.
		var got respDehydrated
		if _, err := alice.MakeRequest(context.Background(), http.MethodGet, dehydratedURL(alice), nil, &got); err != nil {
			t.Fatal(err)
		}
		if got.DeviceID != current.id {
			t.Errorf("dehydrated device is %q after the failures, want %q", got.DeviceID, current.id)
		}
		if ids := deviceIDs(t, alice); len(ids) != 2 {
			t.Errorf("alice has devices %v after the failures, want her own and %s", ids, current.id)
		}
		if _, ok := queryKeys(t, alice, alice.UserID).DeviceKeys[alice.UserID][current.id]; !ok {
			t.Errorf("the dehydrated device's keys went in a failed request")
		}
		// An empty body is as good as {}.
		r := ts.do(t, http.MethodPost, events, alice.AccessToken, nil)
		wantOK(t, r)
		var evs respDehydratedEvents
		r.decode(t, &evs)
		if diff := cmp.Diff([]string{"kept"}, eventNs(evs.Events)); diff != "" {
			t.Errorf("events after the failures (-want +got):\n%s", diff)
		}
	})
}
