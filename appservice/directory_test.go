package appservice_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// setNetworkVisibility runs PUT /directory/list/appservice/{networkId}/{roomId} as cli.
func setNetworkVisibility(ctx context.Context, cli *mautrix.Client, networkID string, roomID id.RoomID, body any) error {
	_, err := cli.MakeRequest(ctx, http.MethodPut, cli.BuildClientURL("v3", "directory", "list", "appservice", networkID, roomID), body, nil)
	return err
}

// listed returns the rooms of one /publicRooms page.
func listed(t *testing.T, cli *mautrix.Client, req *mautrix.ReqPublicRooms) []id.RoomID {
	t.Helper()
	resp, err := cli.PublicRooms(context.Background(), req)
	if err != nil {
		t.Fatalf("publicRooms %+v: %v", req, err)
	}
	var out []id.RoomID
	for _, r := range resp.Chunk {
		out = append(out, r.RoomID)
	}
	return out
}

// TestAppserviceRoomDirectory has the bridge publish a portal in its directory for a Slack
// workspace (data/api/client-server/appservice_room_directory.yaml), and a client find it there
// by the network's protocol instance ID, apart from the server's own directory.
func TestAppserviceRoomDirectory(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		env := startBridgeEnv(t, driver, dsn)
		bot := env.as.BotIntent()
		if err := bot.EnsureRegistered(ctx); err != nil {
			t.Fatal(err)
		}
		portal, err := bot.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat", Name: "slack general"})
		if err != nil {
			t.Fatal(err)
		}
		alice := env.user(t, "alice")
		mustJoinRoom(t, alice, portal.RoomID)
		plaza, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Visibility: "public", Name: "plaza"})
		if err != nil {
			t.Fatal(err)
		}
		ghost := env.as.Intent("@_bridge_lurker:localhost")
		if err := ghost.EnsureRegistered(ctx); err != nil {
			t.Fatal(err)
		}

		public := map[string]any{"visibility": "public"}
		refusals := []struct {
			name    string
			cli     *mautrix.Client
			network string
			room    id.RoomID
			body    any
			errcode string
		}{
			{"an ordinary user", alice, "workspace-1", portal.RoomID, public, "M_FORBIDDEN"},
			{"a ghost not in the room", ghost.Client, "workspace-1", portal.RoomID, public, "M_FORBIDDEN"},
			{"an unknown room", bot.Client, "workspace-1", "!nosuchroom:localhost", public, "M_NOT_FOUND"},
			{"no visibility", bot.Client, "workspace-1", portal.RoomID, map[string]any{}, "M_MISSING_PARAM"},
			{"an invalid visibility", bot.Client, "workspace-1", portal.RoomID, map[string]any{"visibility": "listed"}, "M_INVALID_PARAM"},
		}
		for _, tc := range refusals {
			t.Run(tc.name, func(t *testing.T) {
				if err := setNetworkVisibility(ctx, tc.cli, tc.network, tc.room, tc.body); errCode(err) != tc.errcode {
					t.Errorf("got %v, want %s", err, tc.errcode)
				}
			})
		}

		for _, network := range []string{"workspace-1", "workspace-1", "workspace-2"} { // listing twice changes nothing
			if err := setNetworkVisibility(ctx, bot.Client, network, portal.RoomID, public); err != nil {
				t.Fatalf("the bridge lists the portal under %s: %v", network, err)
			}
		}
		const instance1, instance2 = "testbridge|workspace-1", "testbridge|workspace-2"
		type listing struct {
			name string
			req  *mautrix.ReqPublicRooms
			want []id.RoomID
		}
		check := func(t *testing.T, listings []listing) {
			t.Helper()
			for _, l := range listings {
				got := listed(t, alice, l.req)
				slices.Sort(got)
				slices.Sort(l.want)
				if !slices.Equal(got, l.want) {
					t.Errorf("%s lists %v, want %v", l.name, got, l.want)
				}
			}
		}
		check(t, []listing{
			{"the server's directory", &mautrix.ReqPublicRooms{}, []id.RoomID{plaza.RoomID}},
			{"workspace-1", &mautrix.ReqPublicRooms{ThirdPartyInstanceID: instance1}, []id.RoomID{portal.RoomID}},
			{"workspace-2", &mautrix.ReqPublicRooms{ThirdPartyInstanceID: instance2}, []id.RoomID{portal.RoomID}},
			{"another bridge's workspace", &mautrix.ReqPublicRooms{ThirdPartyInstanceID: "otherbridge|workspace-1"}, nil},
			{"all networks", &mautrix.ReqPublicRooms{IncludeAllNetworks: true}, []id.RoomID{plaza.RoomID, portal.RoomID}},
		})

		// POST takes the network too, and filters within it.
		var resp mautrix.RespPublicRooms
		body := map[string]any{"third_party_instance_id": instance1, "filter": map[string]any{"generic_search_term": "GENERAL"}}
		if _, err := alice.MakeRequest(ctx, http.MethodPost, alice.BuildClientURL("v3", "publicRooms"), body, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Chunk) != 1 || resp.Chunk[0].RoomID != portal.RoomID || resp.Chunk[0].NumJoinedMembers != 2 || resp.TotalRoomCountEstimate != 1 {
			t.Errorf("POST /publicRooms in %s: %+v", instance1, resp)
		}

		// Listing under a network leaves the server's directory alone.
		var vis struct {
			Visibility string `json:"visibility"`
		}
		if _, err := alice.MakeRequest(ctx, http.MethodGet, alice.BuildClientURL("v3", "directory", "list", "room", portal.RoomID), nil, &vis); err != nil || vis.Visibility != "private" {
			t.Errorf("the portal's visibility in the server's directory: %q, %v; want private", vis.Visibility, err)
		}

		// Unlisting takes the portal out of one network only; it needs no membership.
		if err := setNetworkVisibility(ctx, ghost.Client, "workspace-1", portal.RoomID, map[string]any{"visibility": "private"}); err != nil {
			t.Fatalf("the bridge unlists the portal from workspace-1: %v", err)
		}
		check(t, []listing{
			{"workspace-1 after unlisting", &mautrix.ReqPublicRooms{ThirdPartyInstanceID: instance1}, nil},
			{"workspace-2 after unlisting workspace-1", &mautrix.ReqPublicRooms{ThirdPartyInstanceID: instance2}, []id.RoomID{portal.RoomID}},
			{"all networks after unlisting workspace-1", &mautrix.ReqPublicRooms{IncludeAllNetworks: true}, []id.RoomID{plaza.RoomID, portal.RoomID}},
		})
	})
}

func mustJoinRoom(t *testing.T, cli *mautrix.Client, roomID id.RoomID) {
	t.Helper()
	if _, err := cli.JoinRoomByID(context.Background(), roomID); err != nil {
		t.Fatalf("%s joins %s: %v", cli.UserID, roomID, err)
	}
}
