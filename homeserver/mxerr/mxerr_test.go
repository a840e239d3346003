package mxerr

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"
)

// all lists every exported RespError variable; TestAllListed keeps it complete.
var all = map[string]struct {
	err    mautrix.RespError
	code   string
	status int
}{
	"Unknown":                     {Unknown, "M_UNKNOWN", 500},
	"Forbidden":                   {Forbidden, "M_FORBIDDEN", 403},
	"Unrecognized":                {Unrecognized, "M_UNRECOGNIZED", 404},
	"UnrecognizedMethod":          {UnrecognizedMethod, "M_UNRECOGNIZED", 405},
	"UnknownToken":                {UnknownToken, "M_UNKNOWN_TOKEN", 401},
	"MissingToken":                {MissingToken, "M_MISSING_TOKEN", 401},
	"BadJSON":                     {BadJSON, "M_BAD_JSON", 400},
	"NotJSON":                     {NotJSON, "M_NOT_JSON", 400},
	"NotFound":                    {NotFound, "M_NOT_FOUND", 404},
	"LimitExceeded":               {LimitExceeded, "M_LIMIT_EXCEEDED", 429},
	"UserDeactivated":             {UserDeactivated, "M_USER_DEACTIVATED", 403},
	"UserInUse":                   {UserInUse, "M_USER_IN_USE", 400},
	"InvalidUsername":             {InvalidUsername, "M_INVALID_USERNAME", 400},
	"RoomInUse":                   {RoomInUse, "M_ROOM_IN_USE", 400},
	"BadState":                    {BadState, "M_BAD_STATE", 400},
	"TooLarge":                    {TooLarge, "M_TOO_LARGE", 413},
	"Exclusive":                   {Exclusive, "M_EXCLUSIVE", 400},
	"UnsupportedRoomVersion":      {UnsupportedRoomVersion, "M_UNSUPPORTED_ROOM_VERSION", 400},
	"IncompatibleRoomVersion":     {IncompatibleRoomVersion, "M_INCOMPATIBLE_ROOM_VERSION", 400},
	"InvalidParam":                {InvalidParam, "M_INVALID_PARAM", 400},
	"WrongRoomKeysVersion":        {WrongRoomKeysVersion, "M_WRONG_ROOM_KEYS_VERSION", 403},
	"URLNotSet":                   {URLNotSet, "M_URL_NOT_SET", 400},
	"BadStatus":                   {BadStatus, "M_BAD_STATUS", 502},
	"ConnectionFailed":            {ConnectionFailed, "M_CONNECTION_FAILED", 502},
	"ConnectionTimeout":           {ConnectionTimeout, "M_CONNECTION_TIMEOUT", 504},
	"Unauthorized":                {Unauthorized, "M_UNAUTHORIZED", 401},
	"MissingParam":                {MissingParam, "M_MISSING_PARAM", 400},
	"WeakPassword":                {WeakPassword, "M_WEAK_PASSWORD", 400},
	"UserLocked":                  {UserLocked, "M_USER_LOCKED", 401},
	"UserSuspended":               {UserSuspended, "M_USER_SUSPENDED", 403},
	"ResourceLimitExceeded":       {ResourceLimitExceeded, "M_RESOURCE_LIMIT_EXCEEDED", 403},
	"UserLimitExceeded":           {UserLimitExceeded, "M_USER_LIMIT_EXCEEDED", 403},
	"GuestAccessForbidden":        {GuestAccessForbidden, "M_GUEST_ACCESS_FORBIDDEN", 403},
	"UnknownDevice":               {UnknownDevice, "M_UNKNOWN_DEVICE", 400},
	"AppserviceLoginUnsupported":  {AppserviceLoginUnsupported, "M_APPSERVICE_LOGIN_UNSUPPORTED", 400},
	"ThreepidInUse":               {ThreepidInUse, "M_THREEPID_IN_USE", 400},
	"ThreepidNotFound":            {ThreepidNotFound, "M_THREEPID_NOT_FOUND", 400},
	"ThreepidAuthFailed":          {ThreepidAuthFailed, "M_THREEPID_AUTH_FAILED", 403},
	"ThreepidDenied":              {ThreepidDenied, "M_THREEPID_DENIED", 403},
	"ThreepidMediumNotSupported":  {ThreepidMediumNotSupported, "M_THREEPID_MEDIUM_NOT_SUPPORTED", 400},
	"ServerNotTrusted":            {ServerNotTrusted, "M_SERVER_NOT_TRUSTED", 400},
	"CaptchaNeeded":               {CaptchaNeeded, "M_CAPTCHA_NEEDED", 400},
	"CaptchaInvalid":              {CaptchaInvalid, "M_CAPTCHA_INVALID", 400},
	"InvalidRoomState":            {InvalidRoomState, "M_INVALID_ROOM_STATE", 400},
	"BadAlias":                    {BadAlias, "M_BAD_ALIAS", 400},
	"InviteBlocked":               {InviteBlocked, "M_INVITE_BLOCKED", 403},
	"CannotLeaveServerNoticeRoom": {CannotLeaveServerNoticeRoom, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM", 403},
	"UnableToAuthoriseJoin":       {UnableToAuthoriseJoin, "M_UNABLE_TO_AUTHORISE_JOIN", 400},
	"UnableToGrantJoin":           {UnableToGrantJoin, "M_UNABLE_TO_GRANT_JOIN", 400},
	"DuplicateAnnotation":         {DuplicateAnnotation, "M_DUPLICATE_ANNOTATION", 400},
	"InvalidSignature":            {InvalidSignature, "M_INVALID_SIGNATURE", 400},
	"ProfileTooLarge":             {ProfileTooLarge, "M_PROFILE_TOO_LARGE", 400},
	"KeyTooLarge":                 {KeyTooLarge, "M_KEY_TOO_LARGE", 400},
	"NotYetUploaded":              {NotYetUploaded, "M_NOT_YET_UPLOADED", 504},
	"CannotOverwriteMedia":        {CannotOverwriteMedia, "M_CANNOT_OVERWRITE_MEDIA", 409},
	"UnknownPos":                  {UnknownPos, "M_UNKNOWN_POS", 400},
	"TokenIncorrect":              {TokenIncorrect, "M_TOKEN_INCORRECT", 400},
	"SessionExpired":              {SessionExpired, "M_SESSION_EXPIRED", 400},
	"SessionNotValidated":         {SessionNotValidated, "M_SESSION_NOT_VALIDATED", 400},
	"NoValidSession":              {NoValidSession, "M_NO_VALID_SESSION", 404},
}

func TestCodesAndStatuses(t *testing.T) {
	t.Parallel()
	for name, tc := range all {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if tc.err.ErrCode != tc.code {
				t.Errorf("ErrCode = %q, want %q", tc.err.ErrCode, tc.code)
			}
			if tc.err.StatusCode != tc.status {
				t.Errorf("StatusCode = %d, want %d", tc.err.StatusCode, tc.status)
			}
			if http.StatusText(tc.err.StatusCode) == "" {
				t.Errorf("StatusCode %d is not an HTTP status", tc.err.StatusCode)
			}
		})
	}
}

// TestAllListed fails when an exported variable of mxerr.go is missing from the table above,
// so that no code can ship without a checked status.
func TestAllListed(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "mxerr.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.VAR {
			continue
		}
		for _, spec := range gen.Specs {
			for _, name := range spec.(*ast.ValueSpec).Names {
				if _, ok := all[name.Name]; name.IsExported() && !ok {
					missing = append(missing, name.Name)
				}
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("exported variables missing from the test table: %s", strings.Join(missing, ", "))
	}
}

func TestMautrixInterop(t *testing.T) {
	t.Parallel()
	// A status set by us must not stop errors.Is matching mautrix's own value.
	err := error(UserDeactivated.WithMessage("gone"))
	if !errors.Is(err, mautrix.MUserDeactivated) {
		t.Errorf("errors.Is(UserDeactivated, mautrix.MUserDeactivated) = false")
	}
	if errors.Is(err, Forbidden) {
		t.Errorf("errors.Is(UserDeactivated, Forbidden) = true")
	}
}

func TestLimitExceededAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		d          time.Duration
		wantMS     int64
		wantHeader string
	}{
		{"whole seconds", 2 * time.Second, 2000, "2"},
		{"rounds seconds up", 1500 * time.Millisecond, 1500, "2"},
		{"sub-millisecond rounds up", 1*time.Millisecond + 1, 2, "1"},
		{"tiny", time.Nanosecond, 1, "1"},
		{"zero", 0, 0, "0"},
		{"negative is zero", -time.Second, 0, "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got mautrix.RespError
			if !errors.As(LimitExceededAfter(tc.d), &got) {
				t.Fatalf("LimitExceededAfter(%v) is not a RespError", tc.d)
			}
			if got.ErrCode != "M_LIMIT_EXCEEDED" || got.StatusCode != http.StatusTooManyRequests {
				t.Errorf("got %s %d, want M_LIMIT_EXCEEDED 429", got.ErrCode, got.StatusCode)
			}
			if diff := cmp.Diff(map[string]any{"retry_after_ms": tc.wantMS}, got.ExtraData); diff != "" {
				t.Errorf("ExtraData (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]string{"Retry-After": tc.wantHeader}, got.ExtraHeader); diff != "" {
				t.Errorf("ExtraHeader (-want +got):\n%s", diff)
			}
			if got.Err == "" {
				t.Errorf("empty error message")
			}
		})
	}
	if LimitExceeded.ExtraData != nil || LimitExceeded.ExtraHeader != nil {
		t.Errorf("LimitExceededAfter modified LimitExceeded")
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		got       mautrix.RespError
		wantCode  string
		wantExtra map[string]any
	}{
		{"UnknownTokenSoftLogout", UnknownTokenSoftLogout("expired"), "M_UNKNOWN_TOKEN",
			map[string]any{"soft_logout": true}},
		{"IncompatibleRoomVersionFor", IncompatibleRoomVersionFor("12"), "M_INCOMPATIBLE_ROOM_VERSION",
			map[string]any{"room_version": "12"}},
		{"ResourceLimitExceededContact", ResourceLimitExceededContact("mailto:admin@example.org"), "M_RESOURCE_LIMIT_EXCEEDED",
			map[string]any{"admin_contact": "mailto:admin@example.org"}},
		{"UserLimitExceededInfo", UserLimitExceededInfo("https://example.org/quota", true), "M_USER_LIMIT_EXCEEDED",
			map[string]any{"info_uri": "https://example.org/quota", "can_upgrade": true}},
		{"WrongRoomKeysVersionCurrent", WrongRoomKeysVersionCurrent("42"), "M_WRONG_ROOM_KEYS_VERSION",
			map[string]any{"current_version": "42"}},
		{"UserLocked carries soft_logout", UserLocked.WithMessage("locked"), "M_USER_LOCKED",
			map[string]any{"soft_logout": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.got.ErrCode != tc.wantCode {
				t.Errorf("ErrCode = %q, want %q", tc.got.ErrCode, tc.wantCode)
			}
			if tc.got.StatusCode == 0 {
				t.Errorf("StatusCode = 0")
			}
			if tc.got.Err == "" {
				t.Errorf("empty error message")
			}
			if diff := cmp.Diff(tc.wantExtra, tc.got.ExtraData); diff != "" {
				t.Errorf("ExtraData (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithExtraFieldDoesNotShareMaps(t *testing.T) {
	t.Parallel()
	_ = UserLocked.WithExtraField("other", 1)
	if diff := cmp.Diff(map[string]any{"soft_logout": true}, UserLocked.ExtraData); diff != "" {
		t.Errorf("UserLocked.ExtraData changed (-want +got):\n%s", diff)
	}
}
