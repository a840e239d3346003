package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestDurationRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"0s", 0, "0s"},
		{"0", 0, "0s"},
		{"5m", 5 * time.Minute, "5m"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"2h", 2 * time.Hour, "2h"},
		{"1h0m5s", time.Hour + 5*time.Second, "1h0m5s"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
		{"250ms", 250 * time.Millisecond, "250ms"},
		{"-1m", -time.Minute, "-1m"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var got struct {
				D Duration `yaml:"d"`
			}
			if err := DecodeStrict("test.yaml", []byte("d: "+tt.in), &got); err != nil {
				t.Fatalf("DecodeStrict(d: %s) = %v", tt.in, err)
			}
			if got.D.Std() != tt.want {
				t.Errorf("decoded %q as %v, want %v", tt.in, got.D.Std(), tt.want)
			}
			out, err := yaml.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff("d: "+tt.out+"\n", string(out)); diff != "" {
				t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDurationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"no unit", "client_api:\n  access_token_lifetime: 300\n",
			[]string{`causeway.yaml:2: client_api.access_token_lifetime: must be a duration such as "30s", "5m" or "1h30m" (got "300")`}},
		{"unknown unit", "client_api:\n  refresh_token_access_lifetime: 5 minutes\n",
			[]string{`causeway.yaml:2: client_api.refresh_token_access_lifetime: must be a duration such as "30s", "5m" or "1h30m" (got "5 minutes")`}},
		{"not a scalar", "client_api:\n  access_token_lifetime: [5m]\n",
			[]string{`causeway.yaml:2: client_api.access_token_lifetime: must be a duration such as "30s", "5m" or "1h30m"`}},
		{"both", "client_api:\n  access_token_lifetime: 1d\n  refresh_token_access_lifetime: soon\n",
			[]string{
				`causeway.yaml:2: client_api.access_token_lifetime: must be a duration such as "30s", "5m" or "1h30m" (got "1d")`,
				`causeway.yaml:3: client_api.refresh_token_access_lifetime: must be a duration such as "30s", "5m" or "1h30m" (got "soon")`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			err := DecodeStrict("causeway.yaml", []byte(tt.yaml), &c)
			if diff := cmp.Diff(tt.want, errLines(err)); diff != "" {
				t.Errorf("DecodeStrict errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
