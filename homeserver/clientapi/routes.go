package clientapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"causeway/homeserver/web"
)

// Handler returns the whole client API: every route, with CORS, request IDs and the
// spec's answers for unknown endpoints and methods.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(web.AssignRequestID, web.CORS(a.cfg.CORSAllowedOrigins))
	r.NotFound(web.NotFound)
	r.MethodNotAllowed(web.MethodNotAllowed)

	r.Get("/.well-known/matrix/client", a.wrap(a.handleWellKnown))
	r.Get("/.well-known/matrix/support", a.wrap(a.handleSupport))
	r.Get("/.well-known/matrix/policy_server", a.wrap(a.handleNoPolicyServer))
	r.Get("/_matrix/client/versions", a.wrap(a.handleVersions))
	r.Route("/_matrix/client/v3", a.routesV3)
	r.Route("/_matrix/client/v1", a.routesV1)
	r.Route("/_matrix/client/unstable/io.causeway", a.routesCauseway)
	r.Route("/_matrix/client/unstable/org.matrix.msc3814.v1", a.routesDehydration)
	if a.cfg.LegacyR0Prefix {
		// Clients and bots older than v1.1 still speak r0; the endpoints are v3's.
		r.Route("/_matrix/client/r0", a.routesV3)
	}
	return r
}

// routesV1 holds the endpoints the spec introduced under /v1.
func (a *API) routesV1(r chi.Router) {
	r.Get("/register/m.login.registration_token/validity", a.wrap(a.limited(a.handleRegistrationTokenValidity)))
	r.Get("/admin/lock/{userId}", a.authed(a.handleGetLock))
	r.Put("/admin/lock/{userId}", a.authed(a.handlePutLock))
	r.Get("/admin/suspend/{userId}", a.authed(a.handleGetSuspension))
	r.Put("/admin/suspend/{userId}", a.authed(a.handlePutSuspension))
	r.Post("/appservice/{appserviceId}/ping", a.authed(a.handleAppservicePing))
	r.Post("/login/get_token", a.authed(a.limited(a.handleGetLoginToken)))
	r.Get("/mutual_rooms", a.authed(a.handleMutualRooms))
	r.Get("/rooms/{roomId}/timestamp_to_event", a.authed(a.handleTimestampToEvent))
	r.Get("/rooms/{roomId}/hierarchy", a.authed(a.handleHierarchy))
	r.Get("/rooms/{roomId}/relations/{eventId}", a.authed(a.handleRelations))
	r.Get("/rooms/{roomId}/relations/{eventId}/{relType}", a.authed(a.handleRelations))
	r.Get("/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", a.authed(a.handleRelations))
	r.Get("/rooms/{roomId}/threads", a.authed(a.handleThreads))
	r.Get("/room_summary/{roomIdOrAlias}", a.authed(a.handleRoomSummary))
}

// routesCauseway holds Causeway's own client endpoints, under an unstable prefix of its own.
func (a *API) routesCauseway(r chi.Router) {
	r.Get("/appservice_grants", a.authed(a.handleListGrants))
	r.Put("/appservice_grants/{appserviceId}", a.authed(a.handlePutGrant))
	r.Delete("/appservice_grants/{appserviceId}", a.authed(a.handleDeleteGrant))
}

// routesDehydration holds the dehydrated-device endpoints of MSC3814 (dehydrated.go).
func (a *API) routesDehydration(r chi.Router) {
	r.Put("/dehydrated_device", a.authed(a.handlePutDehydratedDevice))
	r.Get("/dehydrated_device", a.authed(a.handleGetDehydratedDevice))
	r.Delete("/dehydrated_device", a.authed(a.handleDeleteDehydratedDevice))
	r.Post("/dehydrated_device/{deviceId}/events", a.authed(a.handleDehydratedDeviceEvents))
}

// routesV3 holds the endpoints under /v3 (and r0).
func (a *API) routesV3(r chi.Router) {
	// Accounts and sessions.
	r.Get("/login", a.wrap(a.handleLoginFlows))
	r.Post("/login", a.wrap(a.limitedAs(actionLogin, a.handleLogin)))
	r.Get("/login/sso/redirect", a.wrap(a.handleSSORedirect))
	r.Get("/login/sso/redirect/{idpId}", a.wrap(a.handleSSORedirect))
	r.Post("/register", a.wrap(a.limitedAs(actionRegistration, a.handleRegister)))
	r.Get("/register/available", a.wrap(a.limited(a.handleRegisterAvailable)))
	r.Post("/refresh", a.wrap(a.limited(a.handleRefresh)))
	r.Post("/logout", a.authed(a.handleLogout))
	r.Post("/logout/all", a.authed(a.handleLogoutAll))
	r.Get("/account/whoami", a.authed(a.handleWhoami))
	r.Post("/account/password", a.authed(a.handleChangePassword))
	r.Post("/account/deactivate", a.authed(a.handleDeactivate))
	r.Get("/capabilities", a.authed(a.handleCapabilities))
	r.Get("/admin/whois/{userId}", a.authed(a.handleWhois))
	r.Post("/user/{userId}/openid/request_token", a.authed(a.limited(a.handleOpenIDToken)))

	// Third-party identifiers, which this server does not keep.
	r.Get("/account/3pid", a.authed(a.handleListThreepids))
	r.Post("/account/3pid", a.authed(a.handleAddThreepid))
	r.Post("/account/3pid/add", a.authed(a.handleAddThreepid))
	r.Post("/account/3pid/bind", a.authed(a.handleAddThreepid))
	r.Post("/account/3pid/delete", a.authed(a.handleRemoveThreepid))
	r.Post("/account/3pid/unbind", a.authed(a.handleRemoveThreepid))
	for _, medium := range []string{"email", "msisdn"} {
		r.Post("/account/3pid/"+medium+"/requestToken", a.wrap(a.limited(a.handleThreepidTokenForAccount)))
		r.Post("/register/"+medium+"/requestToken", a.wrap(a.limited(a.handleThreepidToken)))
		r.Post("/account/password/"+medium+"/requestToken", a.wrap(a.limited(a.handleThreepidToken)))
	}

	// Devices.
	r.Get("/devices", a.authed(a.handleListDevices))
	r.Get("/devices/{deviceId}", a.authed(a.handleGetDevice))
	r.Put("/devices/{deviceId}", a.authed(a.handleUpdateDevice))
	r.Delete("/devices/{deviceId}", a.authed(a.handleDeleteDevice))
	r.Post("/delete_devices", a.authed(a.handleDeleteDevices))

	// Profiles.
	r.Get("/profile/{userId}", a.wrap(a.handleGetProfile))
	r.Get("/profile/{userId}/{field}", a.wrap(a.handleGetProfileField))
	r.Put("/profile/{userId}/{field}", a.authed(a.limited(a.handleSetProfileField)))
	r.Delete("/profile/{userId}/{field}", a.authed(a.limited(a.handleDeleteProfileField)))

	// Rooms and membership.
	r.Post("/createRoom", a.authed(a.limited(a.handleCreateRoom)))
	r.Post("/join/{roomIdOrAlias}", a.authed(a.limitedAs(actionJoin, a.handleJoinByIDOrAlias)))
	r.Post("/knock/{roomIdOrAlias}", a.authed(a.limitedAs(actionJoin, a.handleKnock)))
	r.Get("/joined_rooms", a.authed(a.handleJoinedRooms))
	r.Route("/rooms/{roomId}", func(r chi.Router) {
		r.Post("/join", a.authed(a.limitedAs(actionJoin, a.handleJoinRoom)))
		r.Post("/invite", a.authed(a.limitedAs(actionInvite, a.membershipChange(a.rooms.Invite))))
		r.Post("/leave", a.authed(a.handleLeave))
		r.Post("/forget", a.authed(a.handleForget))
		r.Post("/upgrade", a.authed(a.limited(a.handleUpgrade)))
		r.Post("/kick", a.authed(a.membershipChange(a.rooms.Kick)))
		r.Post("/ban", a.authed(a.membershipChange(a.rooms.Ban)))
		r.Post("/unban", a.authed(a.membershipChange(a.rooms.Unban)))

		r.Put("/send/{eventType}/{txnId}", a.authed(a.limitedAs(actionMessage, a.handleSendMessage)))
		r.Put("/redact/{eventId}/{txnId}", a.authed(a.limitedAs(actionMessage, a.handleRedact)))
		r.Get("/state", a.authed(a.handleGetState))
		// chi matches no empty parameter, so the empty state key has routes of its own.
		r.Get("/state/{eventType}", a.authed(a.handleGetStateEvent))
		r.Get("/state/{eventType}/", a.authed(a.handleGetStateEvent))
		r.Get("/state/{eventType}/{stateKey}", a.authed(a.handleGetStateEvent))
		r.Put("/state/{eventType}", a.authed(a.limited(a.handleSetState)))
		r.Put("/state/{eventType}/", a.authed(a.limited(a.handleSetState)))
		r.Put("/state/{eventType}/{stateKey}", a.authed(a.limited(a.handleSetState)))
		r.Get("/event/{eventId}", a.authed(a.handleGetEvent))
		r.Get("/members", a.authed(a.handleGetMembers))
		r.Get("/joined_members", a.authed(a.handleJoinedMembers))
		r.Get("/messages", a.authed(a.handleMessages))
		r.Get("/context/{eventId}", a.authed(a.handleContext))
		r.Get("/initialSync", a.authed(a.handleRoomInitialSync))
		r.Get("/aliases", a.authed(a.handleGetRoomAliases))
		r.Put("/typing/{userId}", a.authed(a.handleTyping))
		r.Post("/receipt/{receiptType}/{eventId}", a.authed(a.handleReceipt))
		r.Post("/read_markers", a.authed(a.handleReadMarkers))
		r.Post("/report", a.authed(a.limited(a.handleReportRoom)))
		r.Post("/report/{eventId}", a.authed(a.limited(a.handleReportEvent)))
	})

	// Room aliases.
	r.Get("/directory/room/{roomAlias}", a.wrap(a.handleGetAlias))
	r.Put("/directory/room/{roomAlias}", a.authed(a.handlePutAlias))
	r.Delete("/directory/room/{roomAlias}", a.authed(a.handleDeleteAlias))

	// Published room directory, and the directories appservices keep for their networks.
	r.Get("/directory/list/room/{roomId}", a.wrap(a.handleGetDirectoryVisibility))
	r.Put("/directory/list/room/{roomId}", a.authed(a.handleSetDirectoryVisibility))
	r.Put("/directory/list/appservice/{networkId}/{roomId}", a.authed(a.handleSetAppserviceDirectoryVisibility))
	r.Get("/publicRooms", a.wrap(a.limited(a.handleGetPublicRooms)))
	r.Post("/publicRooms", a.authed(a.handleQueryPublicRooms))

	// Third-party lookups, answered by appservices.
	r.Get("/thirdparty/protocols", a.authed(a.handleThirdPartyProtocols))
	r.Get("/thirdparty/protocol/{protocol}", a.authed(a.handleThirdPartyProtocol))
	r.Get("/thirdparty/location", a.authed(a.thirdPartyLookup("location")))
	r.Get("/thirdparty/location/{protocol}", a.authed(a.thirdPartyLookup("location")))
	r.Get("/thirdparty/user", a.authed(a.thirdPartyLookup("user")))
	r.Get("/thirdparty/user/{protocol}", a.authed(a.thirdPartyLookup("user")))

	r.Post("/users/{userId}/report", a.authed(a.limited(a.handleReportUser)))
	r.Post("/user_directory/search", a.authed(a.limited(a.handleUserDirectorySearch)))
	r.Post("/search", a.authed(a.limited(a.handleSearch)))

	// Presence.
	r.Get("/presence/{userId}/status", a.authed(a.handleGetPresence))
	r.Put("/presence/{userId}/status", a.authed(a.limited(a.handleSetPresence)))

	// Push rules.
	r.Get("/notifications", a.authed(a.handleNotifications))
	r.Get("/pushers", a.authed(a.handleGetPushers))
	r.Post("/pushers/set", a.authed(a.limited(a.handleSetPusher)))
	r.Get("/pushrules/", a.authed(a.handleGetPushRules))
	r.Get("/pushrules/global/", a.authed(a.handleGetGlobalPushRules))
	r.Get("/pushrules/global/{kind}/{ruleId}", a.authed(a.handleGetPushRule))
	r.Put("/pushrules/global/{kind}/{ruleId}", a.authed(a.limited(a.handlePutPushRule)))
	r.Delete("/pushrules/global/{kind}/{ruleId}", a.authed(a.handleDeletePushRule))
	r.Get("/pushrules/global/{kind}/{ruleId}/enabled", a.authed(a.handleGetPushRuleEnabled))
	r.Put("/pushrules/global/{kind}/{ruleId}/enabled", a.authed(a.handlePutPushRuleEnabled))
	r.Get("/pushrules/global/{kind}/{ruleId}/actions", a.authed(a.handleGetPushRuleActions))
	r.Put("/pushrules/global/{kind}/{ruleId}/actions", a.authed(a.handlePutPushRuleActions))

	// Calls.
	r.Get("/voip/turnServer", a.authed(a.handleTurnServer))

	// Account data and room tags.
	r.Get("/user/{userId}/account_data/{type}", a.authed(a.handleGetAccountData))
	r.Put("/user/{userId}/account_data/{type}", a.authed(a.handleSetAccountData))
	r.Get("/user/{userId}/rooms/{roomId}/account_data/{type}", a.authed(a.handleGetRoomAccountData))
	r.Put("/user/{userId}/rooms/{roomId}/account_data/{type}", a.authed(a.handleSetRoomAccountData))
	r.Get("/user/{userId}/rooms/{roomId}/tags", a.authed(a.handleGetTags))
	r.Put("/user/{userId}/rooms/{roomId}/tags/{tag}", a.authed(a.handleSetTag))
	r.Delete("/user/{userId}/rooms/{roomId}/tags/{tag}", a.authed(a.handleDeleteTag))

	// Server-side key backups.
	r.Post("/room_keys/version", a.authed(a.handleCreateBackupVersion))
	r.Get("/room_keys/version", a.authed(a.handleGetLatestBackupVersion))
	r.Get("/room_keys/version/{version}", a.authed(a.handleGetBackupVersion))
	r.Put("/room_keys/version/{version}", a.authed(a.handleUpdateBackupVersion))
	r.Delete("/room_keys/version/{version}", a.authed(a.handleDeleteBackupVersion))
	for _, path := range []string{"/room_keys/keys", "/room_keys/keys/{roomId}", "/room_keys/keys/{roomId}/{sessionId}"} {
		r.Get(path, a.authed(a.handleGetRoomKeys))
		r.Put(path, a.authed(a.handlePutRoomKeys))
		r.Delete(path, a.authed(a.handleDeleteRoomKeys))
	}
	// Send-to-device messaging.
	r.Put("/sendToDevice/{eventType}/{txnId}", a.authed(a.handleSendToDevice))
	// End-to-end encryption keys.
	r.Post("/keys/upload", a.authed(a.handleUploadKeys))
	r.Post("/keys/query", a.authed(a.handleQueryKeys))
	r.Post("/keys/claim", a.authed(a.handleClaimKeys))
	r.Get("/keys/changes", a.authed(a.handleKeyChanges))
	r.Post("/keys/device_signing/upload", a.authed(a.handleUploadCrossSigningKeys))
	r.Post("/keys/signatures/upload", a.authed(a.handleUploadSignatures))

	// Sync and filters.
	r.Get("/sync", a.authed(a.handleSync))
	r.Get("/events", a.authed(a.handlePeek))
	r.Post("/user/{userId}/filter", a.authed(a.handleCreateFilter))
	r.Get("/user/{userId}/filter/{filterId}", a.authed(a.handleGetFilter))
}
