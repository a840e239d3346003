// Package netguard decides which addresses the server may connect to when a user names the
// place: URL previews fetch pages users link, pushers post to gateways users register. By
// default only globally reachable unicast addresses are allowed, so that no user can make the
// server reach its own network (loopback, private ranges, cloud metadata). The check runs in
// the dialer, after name resolution, so DNS tricks and redirects cannot get around it.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbidden is what a refused connection's error matches.
var ErrForbidden = errors.New("address not allowed")

// blockedPrefixes are the address ranges no connection may go to unless a policy's allowed
// ranges list them: everything that is not a globally reachable unicast address, after the IANA
// special-purpose registries (RFC 6890 and its updates). A policy's blocked ranges add to it.
//
// IPv4-mapped IPv6 addresses (::ffff:0:0/96) are not listed: Policy.Allowed unmaps them and
// checks the embedded IPv4 address, so ::ffff:127.0.0.1 is loopback and ::ffff:8.8.8.8 is not.
// Addresses in the NAT64 well-known prefix (64:ff9b::/96) likewise are checked by their embedded
// IPv4 address, so that IPv6-only hosts behind NAT64 can still preview public sites.
var blockedPrefixes = []netip.Prefix{
	// IPv4.
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network"; 0.0.0.0 reaches the local host on Linux (RFC 791)
	netip.MustParsePrefix("10.0.0.0/8"),         // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),      // shared address space, carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),        // loopback (RFC 1122)
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local, including cloud metadata at 169.254.169.254 (RFC 3927)
	netip.MustParsePrefix("172.16.0.0/12"),      // private (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("192.0.2.0/24"),       // documentation, TEST-NET-1 (RFC 5737)
	netip.MustParsePrefix("192.88.99.0/24"),     // deprecated 6to4 relay anycast (RFC 7526)
	netip.MustParsePrefix("192.168.0.0/16"),     // private (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking (RFC 2544)
	netip.MustParsePrefix("198.51.100.0/24"),    // documentation, TEST-NET-2 (RFC 5737)
	netip.MustParsePrefix("203.0.113.0/24"),     // documentation, TEST-NET-3 (RFC 5737)
	netip.MustParsePrefix("224.0.0.0/4"),        // multicast (RFC 5771)
	netip.MustParsePrefix("240.0.0.0/4"),        // reserved for future use (RFC 1112)
	netip.MustParsePrefix("255.255.255.255/32"), // limited broadcast (RFC 919); inside 240.0.0.0/4, listed for clarity

	// IPv6.
	netip.MustParsePrefix("::/128"),         // unspecified (RFC 4291)
	netip.MustParsePrefix("::1/128"),        // loopback (RFC 4291)
	netip.MustParsePrefix("::/96"),          // deprecated IPv4-compatible addresses (RFC 4291 2.5.5.1)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use IPv4/IPv6 translation (RFC 8215)
	netip.MustParsePrefix("100::/64"),       // discard-only (RFC 6666)
	netip.MustParsePrefix("2001::/23"),      // IETF protocol assignments, including Teredo 2001::/32 (RFC 2928, RFC 4380)
	netip.MustParsePrefix("2001:db8::/32"),  // documentation (RFC 3849)
	netip.MustParsePrefix("2002::/16"),      // 6to4, which embeds any IPv4 address, private ones included (RFC 3056, RFC 7526)
	netip.MustParsePrefix("3fff::/20"),      // documentation (RFC 9637)
	netip.MustParsePrefix("5f00::/16"),      // segment routing SIDs (RFC 9602)
	netip.MustParsePrefix("fc00::/7"),       // unique local (RFC 4193)
	netip.MustParsePrefix("fe80::/10"),      // link-local (RFC 4291)
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local (RFC 3879)
	netip.MustParsePrefix("ff00::/8"),       // multicast (RFC 4291)
}

// nat64Prefix is the NAT64 well-known prefix (RFC 6052); its last 32 bits are an IPv4 address.
var nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")

// Policy decides which addresses a connection may go to.
type Policy struct {
	blockList []netip.Prefix // blockedPrefixes plus the configured blocked ranges
	allowList []netip.Prefix // the configured allowed ranges, which win over blockList
}

// NewPolicy returns the default policy with allowed ranges let through and blocked ones added.
func NewPolicy(allowed, blocked []netip.Prefix) Policy {
	blockList := make([]netip.Prefix, 0, len(blockedPrefixes)+len(blocked))
	blockList = append(blockList, blockedPrefixes...)
	for _, p := range blocked {
		blockList = append(blockList, p.Masked())
	}
	allowList := make([]netip.Prefix, 0, len(allowed))
	for _, p := range allowed {
		allowList = append(allowList, p.Masked())
	}
	return Policy{blockList: blockList, allowList: allowList}
}

// Allowed reports whether a connection to addr is permitted. An address is judged by what it
// really reaches: the zone is dropped (netip.Prefix.Contains never matches a zoned address),
// and IPv4-mapped and NAT64 addresses are judged by their embedded IPv4 address. An invalid
// address is never allowed.
func (p Policy) Allowed(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = canonicalAddr(addr)
	if containsAddr(p.allowList, addr) {
		return true
	}
	return !containsAddr(p.blockList, addr)
}

// canonicalAddr returns the address addr really reaches, for classification.
func canonicalAddr(addr netip.Addr) netip.Addr {
	addr = addr.WithZone("").Unmap()
	if nat64Prefix.Contains(addr) {
		b := addr.As16()
		return netip.AddrFrom4([4]byte(b[12:16]))
	}
	return addr
}

func containsAddr(prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control function. It runs after name resolution, just before each
// connection attempt, with the IP address about to be dialled, so it also catches a host name
// that resolves to a private address (including DNS rebinding between checks, since no check
// happens earlier than the connection it guards) and every address a redirect leads to.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q: %w", ErrForbidden, address, err)
	}
	if !p.Allowed(ap.Addr()) {
		return &forbiddenError{addr: ap.Addr()}
	}
	return nil
}

// Dialer returns a dialer that connects only where p allows, checked by Control. Use it with
// no proxy: a proxy would make the connection, and the check would see the proxy's address.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.Control}
}

// forbiddenError is the error for an address the policy refuses. It matches ErrForbidden.
type forbiddenError struct{ addr netip.Addr }

func (e *forbiddenError) Error() string {
	return fmt.Sprintf("address %s is not allowed", e.addr)
}

func (e *forbiddenError) Is(target error) bool { return target == ErrForbidden }
