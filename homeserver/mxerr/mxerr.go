// Package mxerr holds every Matrix error code (M_*) that Causeway's client-server, federation
// and media APIs answer with, each as a mautrix.RespError that carries its HTTP status.
//
// It is a leaf: it imports only mautrix. Domain and storage code return plain Go errors; only
// code whose failure is itself a protocol answer returns these values, usually with a message:
//
//	return mxerr.Forbidden.WithMessage("%s may not redact events in %s", sender, roomID)
//
// Turning an error into an HTTP response is not done here but in homeserver/web (WriteError).
//
// Codes and their meanings come from content/client-server-api/_index.md ("Standard error
// response", "Common error codes", "Other error codes"); the statuses come from the endpoint
// definitions in data/api/ and, where the spec leaves a status open, from what Synapse sends.
package mxerr

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// Codes mautrix already defines (mautrix error.go), re-exported under short names. Where
// mautrix leaves StatusCode at 0 we set the status the spec's endpoints use.
var (
	// Unknown is M_UNKNOWN: a server-side failure with no more specific code (500).
	Unknown = mautrix.MUnknown
	// Forbidden is M_FORBIDDEN: access denied, e.g. joining without permission or a failed login (403).
	Forbidden = mautrix.MForbidden
	// Unrecognized is M_UNRECOGNIZED for an endpoint that is not implemented (404).
	// Use UnrecognizedMethod when the path is known but the method is not.
	Unrecognized = mautrix.MUnrecognized
	// UnknownToken is M_UNKNOWN_TOKEN: the access or refresh token was not recognised (401).
	// An expired token that may be refreshed or re-logged-in uses UnknownTokenSoftLogout.
	UnknownToken = mautrix.MUnknownToken
	// MissingToken is M_MISSING_TOKEN: the request carried no access token (401).
	MissingToken = mautrix.MMissingToken
	// BadJSON is M_BAD_JSON: valid JSON of the wrong shape, e.g. a missing key or a wrong type (400).
	BadJSON = mautrix.MBadJSON
	// NotJSON is M_NOT_JSON: the body was not valid JSON (400).
	NotJSON = mautrix.MNotJSON
	// NotFound is M_NOT_FOUND: no resource was found for this request (404).
	NotFound = mautrix.MNotFound
	// LimitExceeded is M_LIMIT_EXCEEDED: rate limited (429). Prefer LimitExceededAfter, which
	// also tells the client when to retry.
	LimitExceeded = mautrix.MLimitExceeded
	// UserDeactivated is M_USER_DEACTIVATED: the account has been deactivated (403, data/api/client-server/login.yaml).
	UserDeactivated = mautrix.MUserDeactivated.WithStatus(http.StatusForbidden)
	// UserInUse is M_USER_IN_USE: the requested user ID is taken (400).
	UserInUse = mautrix.MUserInUse
	// InvalidUsername is M_INVALID_USERNAME: the requested user ID is not valid (400).
	InvalidUsername = mautrix.MInvalidUsername
	// RoomInUse is M_ROOM_IN_USE: the alias given to createRoom is taken (400).
	RoomInUse = mautrix.MRoomInUse
	// BadState is M_BAD_STATE: the requested state change cannot be performed, e.g.
	// unbanning a user who is not banned (400; the spec gives no status).
	BadState = mautrix.MBadState.WithStatus(http.StatusBadRequest)
	// TooLarge is M_TOO_LARGE: the request or entity was too large (413).
	TooLarge = mautrix.MTooLarge
	// Exclusive is M_EXCLUSIVE: the resource is reserved by an application service, or the
	// application service did not create it (400).
	Exclusive = mautrix.MExclusive
	// UnsupportedRoomVersion is M_UNSUPPORTED_ROOM_VERSION: createRoom or an upgrade asked for a
	// room version this server does not support (400, data/api/client-server/create_room.yaml).
	UnsupportedRoomVersion = mautrix.MUnsupportedRoomVersion.WithStatus(http.StatusBadRequest)
	// IncompatibleRoomVersion is M_INCOMPATIBLE_ROOM_VERSION: a join to a room whose version the
	// joining server does not support (400, data/api/server-server/joins-v1.yaml). The body must
	// name the room's version: use IncompatibleRoomVersionFor.
	IncompatibleRoomVersion = mautrix.MIncompatibleRoomVersion.WithStatus(http.StatusBadRequest)
	// InvalidParam is M_INVALID_PARAM: a parameter has the wrong value (400).
	InvalidParam = mautrix.MInvalidParam
	// WrongRoomKeysVersion is M_WRONG_ROOM_KEYS_VERSION: the key backup version is not the
	// current one (403, data/api/client-server/key_backup.yaml). The body must name the
	// current version: use WrongRoomKeysVersionCurrent.
	WrongRoomKeysVersion = mautrix.MWrongRoomKeysVersion
	// URLNotSet is M_URL_NOT_SET: an appservice ping for a registration without a URL
	// (400, data/api/client-server/appservice_ping.yaml).
	URLNotSet = mautrix.MURLNotSet.WithStatus(http.StatusBadRequest)
	// BadStatus is M_BAD_STATUS: a remote (application service, remote media) answered with
	// an error status (502, data/api/client-server/appservice_ping.yaml).
	BadStatus = mautrix.MBadStatus.WithStatus(http.StatusBadGateway)
	// ConnectionFailed is M_CONNECTION_FAILED: a remote could not be reached (502).
	ConnectionFailed = mautrix.MConnectionFailed.WithStatus(http.StatusBadGateway)
	// ConnectionTimeout is M_CONNECTION_TIMEOUT: a remote did not answer in time (504).
	ConnectionTimeout = mautrix.MConnectionTimeout.WithStatus(http.StatusGatewayTimeout)
)

// Codes mautrix v0.32.0 lacks.
var (
	// UnrecognizedMethod is M_UNRECOGNIZED for a known path used with the wrong HTTP method
	// (405, per the code's definition in content/client-server-api/_index.md).
	UnrecognizedMethod = mautrix.MUnrecognized.WithStatus(http.StatusMethodNotAllowed)
	// Unauthorized is M_UNAUTHORIZED: the request was not correctly authorised, e.g. a failed
	// login or a bad X-Matrix signature (401).
	Unauthorized = mautrix.RespError{ErrCode: "M_UNAUTHORIZED", StatusCode: http.StatusUnauthorized}
	// MissingParam is M_MISSING_PARAM: a required parameter was missing (400).
	MissingParam = mautrix.RespError{ErrCode: "M_MISSING_PARAM", StatusCode: http.StatusBadRequest}
	// WeakPassword is M_WEAK_PASSWORD: the password does not meet the password policy (400).
	WeakPassword = mautrix.RespError{ErrCode: "M_WEAK_PASSWORD", StatusCode: http.StatusBadRequest}
	// UserLocked is M_USER_LOCKED: the account is locked. The spec requires 401 with
	// soft_logout set to true ("Account locking" in content/client-server-api/_index.md).
	UserLocked = mautrix.RespError{
		ErrCode:    "M_USER_LOCKED",
		StatusCode: http.StatusUnauthorized,
		ExtraData:  map[string]any{"soft_logout": true},
	}
	// UserSuspended is M_USER_SUSPENDED: the account is suspended and may only do limited
	// actions (403, "Account suspension").
	UserSuspended = mautrix.RespError{ErrCode: "M_USER_SUSPENDED", StatusCode: http.StatusForbidden}
	// ResourceLimitExceeded is M_RESOURCE_LIMIT_EXCEEDED: the homeserver hit a resource limit
	// (403, as Synapse). The body must carry admin_contact: use ResourceLimitExceededContact.
	ResourceLimitExceeded = mautrix.RespError{ErrCode: "M_RESOURCE_LIMIT_EXCEEDED", StatusCode: http.StatusForbidden}
	// UserLimitExceeded is M_USER_LIMIT_EXCEEDED: the user hit a limit of their account, such
	// as a storage quota. The spec leaves the status to the endpoint; 403 is the default here.
	// The body must carry info_uri: use UserLimitExceededInfo.
	UserLimitExceeded = mautrix.RespError{ErrCode: "M_USER_LIMIT_EXCEEDED", StatusCode: http.StatusForbidden}
	// GuestAccessForbidden is M_GUEST_ACCESS_FORBIDDEN: the room or resource does not admit guests (403).
	GuestAccessForbidden = mautrix.RespError{ErrCode: "M_GUEST_ACCESS_FORBIDDEN", StatusCode: http.StatusForbidden}
	// UnknownDevice is M_UNKNOWN_DEVICE: an application service asserted a device that does
	// not belong to the user (400, content/application-service-api.md "Identity assertion").
	UnknownDevice = mautrix.RespError{ErrCode: "M_UNKNOWN_DEVICE", StatusCode: http.StatusBadRequest}
	// AppserviceLoginUnsupported is M_APPSERVICE_LOGIN_UNSUPPORTED: an application service used
	// a login or register flow it may not use (400, data/api/client-server/login.yaml).
	AppserviceLoginUnsupported = mautrix.RespError{ErrCode: "M_APPSERVICE_LOGIN_UNSUPPORTED", StatusCode: http.StatusBadRequest}

	// ThreepidInUse is M_THREEPID_IN_USE: the third-party identifier is already in use (400).
	ThreepidInUse = mautrix.RespError{ErrCode: "M_THREEPID_IN_USE", StatusCode: http.StatusBadRequest}
	// ThreepidNotFound is M_THREEPID_NOT_FOUND: no record matches the third-party identifier (400).
	ThreepidNotFound = mautrix.RespError{ErrCode: "M_THREEPID_NOT_FOUND", StatusCode: http.StatusBadRequest}
	// ThreepidAuthFailed is M_THREEPID_AUTH_FAILED: the third-party identifier could not be
	// authenticated (403, data/api/client-server/administrative_contact.yaml).
	ThreepidAuthFailed = mautrix.RespError{ErrCode: "M_THREEPID_AUTH_FAILED", StatusCode: http.StatusForbidden}
	// ThreepidDenied is M_THREEPID_DENIED: the server does not permit this third-party identifier (403).
	ThreepidDenied = mautrix.RespError{ErrCode: "M_THREEPID_DENIED", StatusCode: http.StatusForbidden}
	// ThreepidMediumNotSupported is M_THREEPID_MEDIUM_NOT_SUPPORTED: the server does not support
	// third-party identifiers of this medium (400).
	ThreepidMediumNotSupported = mautrix.RespError{ErrCode: "M_THREEPID_MEDIUM_NOT_SUPPORTED", StatusCode: http.StatusBadRequest}
	// ServerNotTrusted is M_SERVER_NOT_TRUSTED: the request named an identity server this
	// server does not trust (400).
	ServerNotTrusted = mautrix.RespError{ErrCode: "M_SERVER_NOT_TRUSTED", StatusCode: http.StatusBadRequest}

	// CaptchaNeeded is M_CAPTCHA_NEEDED: a captcha is required (400, as Synapse).
	CaptchaNeeded = mautrix.RespError{ErrCode: "M_CAPTCHA_NEEDED", StatusCode: http.StatusBadRequest}
	// CaptchaInvalid is M_CAPTCHA_INVALID: the captcha response was wrong (400, as Synapse).
	CaptchaInvalid = mautrix.RespError{ErrCode: "M_CAPTCHA_INVALID", StatusCode: http.StatusBadRequest}

	// InvalidRoomState is M_INVALID_ROOM_STATE: the initial state given to createRoom is invalid (400).
	InvalidRoomState = mautrix.RespError{ErrCode: "M_INVALID_ROOM_STATE", StatusCode: http.StatusBadRequest}
	// BadAlias is M_BAD_ALIAS: an m.room.canonical_alias event names an alias that does not
	// exist or does not point at the room (400, data/api/client-server/room_state.yaml).
	BadAlias = mautrix.RespError{ErrCode: "M_BAD_ALIAS", StatusCode: http.StatusBadRequest}
	// InviteBlocked is M_INVITE_BLOCKED: the invitee's invite permission config blocks the
	// invite (403, content/client-server-api/modules/invite_permission.md).
	InviteBlocked = mautrix.RespError{ErrCode: "M_INVITE_BLOCKED", StatusCode: http.StatusForbidden}
	// CannotLeaveServerNoticeRoom is M_CANNOT_LEAVE_SERVER_NOTICE_ROOM: the user may not reject
	// the invite to or leave the server notices room (403, as Synapse).
	CannotLeaveServerNoticeRoom = mautrix.RespError{ErrCode: "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM", StatusCode: http.StatusForbidden}
	// UnableToAuthoriseJoin is M_UNABLE_TO_AUTHORISE_JOIN: a restricted join could not be
	// authorised because the resident server cannot check the allowed rooms (400,
	// data/api/server-server/joins-v1.yaml).
	UnableToAuthoriseJoin = mautrix.RespError{ErrCode: "M_UNABLE_TO_AUTHORISE_JOIN", StatusCode: http.StatusBadRequest}
	// UnableToGrantJoin is M_UNABLE_TO_GRANT_JOIN: the joining server should try another
	// resident server, since this one cannot issue a restricted join (400).
	UnableToGrantJoin = mautrix.RespError{ErrCode: "M_UNABLE_TO_GRANT_JOIN", StatusCode: http.StatusBadRequest}
	// DuplicateAnnotation is M_DUPLICATE_ANNOTATION: the user already sent this annotation
	// (reaction) to the event (400, data/api/client-server/room_send.yaml).
	DuplicateAnnotation = mautrix.RespError{ErrCode: "M_DUPLICATE_ANNOTATION", StatusCode: http.StatusBadRequest}

	// InvalidSignature is M_INVALID_SIGNATURE: a cross-signing key or signature did not verify
	// (400, data/api/client-server/cross_signing.yaml).
	InvalidSignature = mautrix.RespError{ErrCode: "M_INVALID_SIGNATURE", StatusCode: http.StatusBadRequest}
	// ProfileTooLarge is M_PROFILE_TOO_LARGE: the change would make the profile too large
	// (400, data/api/client-server/profile.yaml).
	ProfileTooLarge = mautrix.RespError{ErrCode: "M_PROFILE_TOO_LARGE", StatusCode: http.StatusBadRequest}
	// KeyTooLarge is M_KEY_TOO_LARGE: a profile key name is too long (400, data/api/client-server/profile.yaml).
	KeyTooLarge = mautrix.RespError{ErrCode: "M_KEY_TOO_LARGE", StatusCode: http.StatusBadRequest}

	// NotYetUploaded is M_NOT_YET_UPLOADED: an asynchronously created media ID has no content
	// yet (504, data/api/client-server/authed-content-repo.yaml).
	NotYetUploaded = mautrix.RespError{ErrCode: "M_NOT_YET_UPLOADED", StatusCode: http.StatusGatewayTimeout}
	// CannotOverwriteMedia is M_CANNOT_OVERWRITE_MEDIA: content was already uploaded to this
	// media ID (409, data/api/client-server/content-repo.yaml).
	CannotOverwriteMedia = mautrix.RespError{ErrCode: "M_CANNOT_OVERWRITE_MEDIA", StatusCode: http.StatusConflict}

	// UnknownPos is M_UNKNOWN_POS: a sliding sync (MSC4186) connection position is unknown or
	// expired and the client must start over (400, as Synapse). Not yet in the spec.
	UnknownPos = mautrix.RespError{ErrCode: "M_UNKNOWN_POS", StatusCode: http.StatusBadRequest}
)

// Identity-service codes that a homeserver answers when it validates third-party identifiers
// itself: the submit_url it hands out follows data/api/identity/v2_email_associations.yaml.
var (
	// TokenIncorrect is M_TOKEN_INCORRECT: the validation token was wrong (400).
	TokenIncorrect = mautrix.RespError{ErrCode: "M_TOKEN_INCORRECT", StatusCode: http.StatusBadRequest}
	// SessionExpired is M_SESSION_EXPIRED: the validation session has expired (400).
	SessionExpired = mautrix.RespError{ErrCode: "M_SESSION_EXPIRED", StatusCode: http.StatusBadRequest}
	// SessionNotValidated is M_SESSION_NOT_VALIDATED: the validation session exists but the
	// token has not been submitted (400).
	SessionNotValidated = mautrix.RespError{ErrCode: "M_SESSION_NOT_VALIDATED", StatusCode: http.StatusBadRequest}
	// NoValidSession is M_NO_VALID_SESSION: no validated session matches (404).
	NoValidSession = mautrix.RespError{ErrCode: "M_NO_VALID_SESSION", StatusCode: http.StatusNotFound}
)

// LimitExceededAfter returns M_LIMIT_EXCEEDED (429) telling the client to retry after d: the
// Retry-After header in whole seconds, rounded up, and the deprecated retry_after_ms field for
// older clients ("Rate limiting" in content/client-server-api/_index.md).
func LimitExceededAfter(d time.Duration) error {
	d = max(d, 0)
	ms := int64(math.Ceil(float64(d) / float64(time.Millisecond)))
	secs := int64(math.Ceil(d.Seconds()))
	return LimitExceeded.
		WithMessage("Too many requests, retry in %ds", secs).
		WithExtraField("retry_after_ms", ms).
		WithExtraHeader("Retry-After", strconv.FormatInt(secs, 10))
}

// UnknownTokenSoftLogout returns M_UNKNOWN_TOKEN (401) with soft_logout set, for a token that
// expired or was soft-logged-out: the client may refresh it or log in again on the same device
// and keep its keys ("Soft logout" in content/client-server-api/_index.md).
func UnknownTokenSoftLogout(msg string) mautrix.RespError {
	return UnknownToken.WithMessage(msg).WithExtraField("soft_logout", true)
}

// IncompatibleRoomVersionFor returns M_INCOMPATIBLE_ROOM_VERSION with the room_version field the
// spec requires.
func IncompatibleRoomVersionFor(version id.RoomVersion) mautrix.RespError {
	return IncompatibleRoomVersion.
		WithMessage("Your homeserver does not support room version %s", version).
		WithExtraField("room_version", string(version))
}

// ResourceLimitExceededContact returns M_RESOURCE_LIMIT_EXCEEDED with the admin_contact field the
// spec requires (a URI, such as a mailto: link, where the user can reach the server admin).
func ResourceLimitExceededContact(adminContact string) mautrix.RespError {
	return ResourceLimitExceeded.
		WithMessage("This homeserver has exceeded one of its resource limits").
		WithExtraField("admin_contact", adminContact)
}

// UserLimitExceededInfo returns M_USER_LIMIT_EXCEEDED with the info_uri field the spec requires
// and can_upgrade telling the client whether the limit can be raised.
func UserLimitExceededInfo(infoURI string, canUpgrade bool) mautrix.RespError {
	return UserLimitExceeded.
		WithMessage("You have exceeded a limit of your account").
		WithExtraData(map[string]any{"info_uri": infoURI, "can_upgrade": canUpgrade})
}

// WrongRoomKeysVersionCurrent returns M_WRONG_ROOM_KEYS_VERSION with the current_version field
// the spec requires.
func WrongRoomKeysVersionCurrent(current string) mautrix.RespError {
	return WrongRoomKeysVersion.
		WithMessage("Wrong backup version").
		WithExtraField("current_version", current)
}
