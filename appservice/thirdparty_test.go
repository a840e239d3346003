package appservice_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"causeway/homeserver/storage/storagetest"
)

// TestThirdPartyLookups answers the client's third-party endpoints from the appservice that
// declares the protocol.
func TestThirdPartyLookups(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		env := startBridgeEnv(t, driver, dsn)
		env.as.Router.HandleFunc("GET /_matrix/app/v1/thirdparty/protocol/slack", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"user_fields":["team","user"],"location_fields":["team","channel"],"icon":"mxc://x/y",
				"field_types":{},"instances":[{"desc":"Acme","fields":{"team":"acme"},"network_id":"acme"}]}`))
		})
		env.as.Router.HandleFunc("GET /_matrix/app/v1/thirdparty/location/slack", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("channel") != "general" {
				w.Write([]byte(`[]`))
				return
			}
			w.Write([]byte(`[{"alias":"#_bridge_general:localhost","protocol":"slack","fields":{"team":"acme","channel":"general"}}]`))
		})
		alice := env.user(t, "alice")

		var protocols map[string]struct {
			Instances []struct {
				InstanceID string `json:"instance_id"`
			} `json:"instances"`
		}
		getJSON(t, env.hsURL+"/_matrix/client/v3/thirdparty/protocols", alice.AccessToken, http.StatusOK, &protocols)
		if got := protocols["slack"].Instances; len(got) != 1 || got[0].InstanceID != "testbridge|acme" {
			t.Errorf("slack instances = %+v", got)
		}
		var locations []struct {
			Alias string `json:"alias"`
		}
		getJSON(t, env.hsURL+"/_matrix/client/v3/thirdparty/location/slack?team=acme&channel=general", alice.AccessToken, http.StatusOK, &locations)
		if len(locations) != 1 || locations[0].Alias != "#_bridge_general:localhost" {
			t.Errorf("locations = %+v", locations)
		}
		getJSON(t, env.hsURL+"/_matrix/client/v3/thirdparty/protocol/irc", alice.AccessToken, http.StatusNotFound, nil)
		getJSON(t, env.hsURL+"/_matrix/client/v3/thirdparty/location", alice.AccessToken, http.StatusBadRequest, nil)
	})
}

func getJSON(t *testing.T, url, token string, wantStatus int, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, wantStatus)
	}
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatal(err)
		}
	}
}
