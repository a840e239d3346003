package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	policy := NewPolicy(nil, nil)
	tests := []struct {
		addr    string
		allowed bool
	}{
		// IPv4 special-purpose ranges.
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.0.0.1", false},
		{"100.64.0.1", false},
		{"100.127.255.254", false},
		{"127.0.0.1", false},
		{"127.0.0.2", false},
		{"169.254.169.254", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"192.168.1.1", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"224.0.0.251", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},

		// IPv6 special-purpose ranges.
		{"::", false},
		{"::1", false},
		{"::127.0.0.1", false}, // IPv4-compatible
		{"fe80::1", false},
		{"fe80::1%eth0", false}, // zones must not hide an address from the prefixes
		{"fc00::1", false},
		{"fd12:3456:789a::1", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"2001::1", false},      // Teredo
		{"2002:a00:1::", false}, // 6to4 for 10.0.0.1
		{"100::1", false},
		{"64:ff9b:1::1", false},

		// Embedded IPv4 addresses are judged as IPv4.
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::a00:1", false},  // NAT64 of 10.0.0.1
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8

		// Public addresses, including neighbours of blocked ranges.
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"9.255.255.255", true},
		{"11.0.0.0", true},
		{"100.128.0.0", true},
		{"172.32.0.1", true},
		{"192.169.0.1", true},
		{"198.20.0.1", true},
		{"223.255.255.255", true},
		{"2001:4860::8888", true},
		{"2001:4860:4860::8888", true},
		{"2606:4700:4700::1111", true},
		{"2a00:1450:4001::1", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			addr := netip.MustParseAddr(tt.addr)
			if got := policy.Allowed(addr); got != tt.allowed {
				t.Errorf("allowed(%s) = %v, want %v", addr, got, tt.allowed)
			}
		})
	}
}

func TestPolicyConfig(t *testing.T) {
	t.Parallel()
	policy := NewPolicy(
		[]netip.Prefix{
			netip.MustParsePrefix("127.0.0.1/32"),
			netip.MustParsePrefix("10.1.2.3/16"), // not masked: still means 10.1.0.0/16
			netip.MustParsePrefix("8.8.4.4/32"),  // allowing wins over blocking
		},
		[]netip.Prefix{
			netip.MustParsePrefix("8.8.0.0/16"),
			netip.MustParsePrefix("2001:4860::/32"),
		},
	)
	tests := []struct {
		addr    string
		allowed bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"127.0.0.2", false},
		{"::1", false},
		{"10.1.200.1", true},
		{"10.2.0.1", false},
		{"8.8.8.8", false},
		{"8.8.4.4", true},
		{"2001:4860::8888", false},
		{"1.1.1.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			if got := policy.Allowed(netip.MustParseAddr(tt.addr)); got != tt.allowed {
				t.Errorf("allowed(%s) = %v, want %v", tt.addr, got, tt.allowed)
			}
		})
	}
	if policy.Allowed(netip.Addr{}) {
		t.Error("the zero Addr is allowed")
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	policy := NewPolicy(nil, nil)
	tests := []struct {
		address string
		want    error
	}{
		{"8.8.8.8:443", nil},
		{"[2001:4860::8888]:80", nil},
		{"127.0.0.1:80", ErrForbidden},
		{"[::1]:80", ErrForbidden},
		{"[fe80::1%eth0]:80", ErrForbidden},
		{"not-an-address:80", ErrForbidden},
	}
	for _, tt := range tests {
		err := policy.Control("tcp", tt.address, nil)
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("control(%q) = %v, want %v", tt.address, err, tt.want)
		}
	}
}
