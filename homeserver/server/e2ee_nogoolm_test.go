//go:build !goolm

package server_test

import "testing"

// TestEndToEndEncryption needs mautrix-go's pure-Go olm (the goolm build tag), which `make test`
// sets; without it mautrix's crypto package wants the C libolm.
func TestEndToEndEncryption(t *testing.T) {
	t.Skip("needs -tags goolm (make test sets it through GOFLAGS)")
}

// TestDehydratedDeviceReceivesRoomKey needs goolm for the same reason.
func TestDehydratedDeviceReceivesRoomKey(t *testing.T) {
	t.Skip("needs -tags goolm (make test sets it through GOFLAGS)")
}
