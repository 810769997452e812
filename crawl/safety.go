package crawl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is wrapped by the error of a connection refused because
// the address it would go to is private, loopback, link-local or otherwise
// not on the public internet (and Config.AllowPrivate is off).
var ErrPrivateAddress = errors.New("private address refused")

// sharedSpace is 100.64.0.0/10 (RFC 6598, carrier-grade NAT), which
// netip's IsPrivate leaves out.
var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports whether a is an address a crawler may connect to
// without --allow-private: not private (RFC 1918, RFC 4193), not
// loopback, not link-local, not unspecified, not multicast, not shared
// address space, with IPv4-mapped IPv6 addresses judged as IPv4.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !sharedSpace.Contains(a) &&
		!(a.Is4() && a.As4()[0] == 0)
}

// newDialer returns the dialer of the crawler's connections. Its Control
// runs after DNS, on the address about to be connected to, so a host name
// that resolves to a private address is refused as surely as a literal
// one, after a redirect too, and a DNS answer that changes between
// lookups (rebinding) is checked each time.
func newDialer(allowPrivate bool, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrPrivateAddress, address, err)
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
			}
			return nil
		}
	}
	return d
}
