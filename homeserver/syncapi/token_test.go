package syncapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStreamTokenRoundTrip(t *testing.T) {
	for _, tok := range []StreamToken{{}, {Events: 7}, {Events: 12, Typing: 1_764_201_234_567, Receipts: 3, AccountData: 9, Presence: 4}} {
		got, err := ParseStreamToken(tok.String())
		if err != nil {
			t.Fatalf("parse %q: %v", tok, err)
		}
		if got != tok {
			t.Errorf("%q reads back as %+v, want %+v", tok, got, tok)
		}
	}
	if got := (StreamToken{Events: 12, Typing: 5, Receipts: 3, AccountData: 2, Presence: 7, ToDevice: 4, DeviceLists: 1}).String(); got != "s12_5_3_2_7_4_1" {
		t.Errorf("String = %q, want s12_5_3_2_7_4_1", got)
	}
}

func TestParseStreamToken(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    StreamToken
		wantErr bool
	}{
		{"events only, as older servers wrote", "s42", StreamToken{Events: 42}, false},
		{"events and typing", "s42_9", StreamToken{Events: 42, Typing: 9}, false},
		{"before account data", "s42_9_4", StreamToken{Events: 42, Typing: 9, Receipts: 4}, false},
		{"before presence", "s42_9_4_8", StreamToken{Events: 42, Typing: 9, Receipts: 4, AccountData: 8}, false},
		{"before the end-to-end encryption streams", "s42_9_4_8_6", StreamToken{Events: 42, Typing: 9, Receipts: 4, AccountData: 8, Presence: 6}, false},
		{"every stream", "s42_9_4_8_6_3_2", StreamToken{Events: 42, Typing: 9, Receipts: 4, AccountData: 8, Presence: 6, ToDevice: 3, DeviceLists: 2}, false},
		{"a newer server's extra stream is ignored", "s42_9_4_8_6_3_2_1", StreamToken{Events: 42, Typing: 9, Receipts: 4, AccountData: 8, Presence: 6, ToDevice: 3, DeviceLists: 2}, false},
		{"no prefix", "42_9_4", StreamToken{}, true},
		{"empty", "", StreamToken{}, true},
		{"prefix only", "s", StreamToken{}, true},
		{"empty field", "s42__4", StreamToken{}, true},
		{"negative", "s42_-1_4", StreamToken{}, true},
		{"not a number", "s42_x", StreamToken{}, true},
		{"a topological token", "t3_7", StreamToken{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStreamToken(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseStreamToken(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseStreamToken(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
