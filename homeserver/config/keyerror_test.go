package config

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNest(t *testing.T) {
	t.Parallel()
	inner := Nest("rate_limit", []error{keyErrorf("burst", "must be greater than 0 (got 0)")})
	errs := Nest("client_api", append(inner,
		keyErrorf("max_request_body_bytes", "must be greater than 0 (got 0)"),
		errors.New("section-wide problem"),
		fmt.Errorf("context: %w", keyErrorf("kept", "whole")),
	))
	var got []string
	for _, err := range errs {
		if _, ok := err.(*KeyError); !ok {
			t.Errorf("Nest returned %T, want *KeyError", err)
		}
		got = append(got, err.Error())
	}
	want := []string{
		"client_api.rate_limit.burst: must be greater than 0 (got 0)",
		"client_api.max_request_body_bytes: must be greater than 0 (got 0)",
		"client_api: section-wide problem",
		"client_api: context: kept: whole",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Nest mismatch (-want +got):\n%s", diff)
	}
	if Nest("x", nil) != nil {
		t.Errorf("Nest(x, nil) != nil")
	}
}
