package config

import "fmt"

// A KeyError is a problem with the value of one configuration key. Validate
// methods return them so that every message names where to look.
type KeyError struct {
	// Key is the dotted path of the key from the top of the file, such as
	// "client_api.rate_limit.burst", or from the top of a section before
	// Nest has prefixed it.
	Key string
	// Err says what is wrong, e.g. "must be greater than 0 (got -1)".
	Err error
}

// Error returns "key: problem".
func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }

// Unwrap returns e.Err.
func (e *KeyError) Unwrap() error { return e.Err }

// keyErrorf returns a *KeyError for key with a formatted message.
func keyErrorf(key, format string, args ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}

// Nest places a section's problems under the section's key: a *KeyError for
// "mode" becomes one for "registration.mode", and any other error becomes a
// *KeyError for the section itself. A composing Validate calls it once per
// section, so sections never need to know where they sit in the file.
func Nest(section string, errs []error) []error {
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		// A plain type assertion, not errors.As: an error that merely wraps
		// a *KeyError carries context that must not be dropped.
		if ke, ok := err.(*KeyError); ok {
			out = append(out, &KeyError{Key: section + "." + ke.Key, Err: ke.Err})
			continue
		}
		out = append(out, &KeyError{Key: section, Err: err})
	}
	return out
}
