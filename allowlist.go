package devapi

import (
	"net"
	"net/netip"
)

// AllowedFrom reports whether a client at remote (host:port, as
// net.Conn.RemoteAddr and http.Request.RemoteAddr give it, or a bare address)
// may reach a database with the given IP allowlist:
// an empty list lets every address in; otherwise the address must fall in
// one of its CIDRs or equal one of its addresses. An IPv4 address mapped
// into IPv6 counts as the IPv4 address. Entries that parse as neither (the
// management API refuses them) match nothing, and neither does a remote
// address that does not parse.
func AllowedFrom(list []string, remote string) bool {
	if len(list) == 0 {
		return true
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, e := range list {
		if p, err := netip.ParsePrefix(e); err == nil {
			if p.Masked().Contains(addr) {
				return true
			}
		} else if a, err := netip.ParseAddr(e); err == nil && a.Unmap().WithZone("") == addr {
			return true
		}
	}
	return false
}
