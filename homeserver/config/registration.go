package config

import "fmt"

// RegistrationMode says who may create an account through the client API.
type RegistrationMode string

// The registration modes.
const (
	// RegistrationClosed lets nobody register; admins create accounts.
	RegistrationClosed RegistrationMode = "closed"
	// RegistrationToken lets anyone holding a registration token register.
	RegistrationToken RegistrationMode = "token"
	// RegistrationOpen lets anyone register.
	RegistrationOpen RegistrationMode = "open"
)

// Registration is the registration: section.
type Registration struct {
	// Mode says who may register.
	Mode RegistrationMode `yaml:"mode"`
	// EnableGuests allows guest access. It is read but not acted on yet.
	EnableGuests bool `yaml:"enable_guests"`
}

// Defaults sets r to token-only registration without guests.
func (r *Registration) Defaults() {
	*r = Registration{Mode: RegistrationToken, EnableGuests: false}
}

// Validate reports every problem in r, keyed relative to the section.
func (r Registration) Validate() []error {
	switch r.Mode {
	case RegistrationClosed, RegistrationToken, RegistrationOpen:
		return nil
	}
	return []error{&KeyError{Key: "mode", Err: fmt.Errorf("must be one of closed, token, open (got %q)", string(r.Mode))}}
}
