package config

import (
	"fmt"
	"net/netip"
)

// Push is the push section: where pushers may deliver notifications. Users name their push
// gateway's URL, so, as for URL previews, the server never posts to private or special-purpose
// addresses (internal/netguard) unless they are allowed here, e.g. a Sygnal on the intranet.
type Push struct {
	// GatewayAllowedCIDRs are address ranges push gateways may be at although they are private
	// or otherwise blocked.
	GatewayAllowedCIDRs []string `yaml:"gateway_allowed_cidrs"`
	// GatewayBlockedCIDRs are blocked in addition to the private and special-purpose ranges.
	GatewayBlockedCIDRs []string `yaml:"gateway_blocked_cidrs"`
}

// Defaults sets every key of p to its default: only public addresses.
func (p *Push) Defaults() {
	*p = Push{GatewayAllowedCIDRs: []string{}, GatewayBlockedCIDRs: []string{}}
}

// Validate lists p's problems.
func (p Push) Validate() []error {
	var errs []error
	for _, list := range []struct {
		key   string
		cidrs []string
	}{{"gateway_allowed_cidrs", p.GatewayAllowedCIDRs}, {"gateway_blocked_cidrs", p.GatewayBlockedCIDRs}} {
		for i, c := range list.cidrs {
			if _, err := netip.ParsePrefix(c); err != nil {
				errs = append(errs, keyErrorf(fmt.Sprintf("%s[%d]", list.key, i), "must be an address range such as 10.0.0.0/8 or fd00::/8 (got %q)", c))
			}
		}
	}
	return errs
}
