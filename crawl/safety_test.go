package crawl

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1::1": true, "8.8.8.8": true,
		"127.0.0.1": false, "127.1.2.3": false, "::1": false, // loopback
		"10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false, "fd00::1": false, // private
		"169.254.169.254": false, "fe80::1": false, // link-local (cloud metadata among them)
		"100.64.0.1": false, "0.0.0.0": false, "0.1.2.3": false, "::": false, // shared, unspecified, "this network"
		"224.0.0.1": false, "ff02::1": false, "255.255.255.255": false, // multicast, broadcast
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:93.184.216.34": true, // IPv4-mapped
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// A name that resolves to loopback is refused on the address it resolves
// to, as a redirect to it would be: the check is in the dialer.
func TestPrivateAfterDNS(t *testing.T) {
	s := newServer(t, linkedSite(2))
	port := s.URL[strings.LastIndexByte(s.URL, ':'):]
	cfg := testConfig(t, "http://localhost"+port+"/p/0")
	cfg.AllowPrivate = false
	cfg.Retries = 1
	st := runCrawl(t, cfg)
	if s.total() != 0 || st.Skipped[ReasonPrivate] != 1 {
		t.Errorf("hits %d, stats %+v", s.total(), st)
	}

	d := newDialer(false, time.Second)
	_, err := d.DialContext(context.Background(), "tcp", s.Listener.Addr().String())
	if !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("dial loopback: %v", err)
	}
}

func TestRobotsCacheTTL(t *testing.T) {
	var fetches atomic.Int32
	fetch := func(ctx context.Context, origin string) (*Robots, error) {
		fetches.Add(1)
		r := ParseRobots([]byte("user-agent: *\ndisallow: /x"))
		r.rules = r.For("foobot")
		return r, nil
	}
	c := newRobotsCache(50 * time.Millisecond)
	for range 3 {
		rules, _, _, err := c.get(context.Background(), "http://a", fetch)
		if err != nil || rules.Allowed("/x") {
			t.Fatalf("rules %v, %v", rules, err)
		}
	}
	if fetches.Load() != 1 {
		t.Errorf("%d fetches within the TTL", fetches.Load())
	}
	time.Sleep(60 * time.Millisecond)
	c.get(context.Background(), "http://a", fetch)
	if fetches.Load() != 2 {
		t.Errorf("%d fetches after the TTL", fetches.Load())
	}
	// A failure is not cached.
	fail := func(ctx context.Context, origin string) (*Robots, error) {
		fetches.Add(1)
		return nil, errRobotsUnavailable
	}
	c.get(context.Background(), "http://b", fail)
	c.get(context.Background(), "http://b", fail)
	if fetches.Load() != 4 {
		t.Errorf("%d fetches: failure cached", fetches.Load())
	}
}
