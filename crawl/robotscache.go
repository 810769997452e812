package crawl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"
)

// errRobotsUnavailable is a robots.txt that answered 5xx (or 429), or
// could not be reached: RFC 9309 says to disallow everything then. The
// crawler backs off and asks again rather than dropping the host's URLs
// at once.
var errRobotsUnavailable = errors.New("robots.txt unavailable")

// robotsMaxRedirects is how many redirects of a robots.txt are followed
// (RFC 9309: at least five); past them the file counts as unavailable in
// the 4xx sense, and everything is allowed.
const robotsMaxRedirects = 5

// robotsCacheMax bounds the cache; older entries are dropped first.
const robotsCacheMax = 8192

// robotsCache holds the parsed robots.txt of each origin for a TTL of at
// most 24 hours, fetching each once however many workers ask at the same
// time. A failed fetch is not cached: the next ask fetches again.
type robotsCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*robotsEntry
}

type robotsEntry struct {
	done    chan struct{}
	robots  *Robots // nil when the file is unavailable (4xx): allow all
	rules   *Rules
	err     error
	expires time.Time
}

func newRobotsCache(ttl time.Duration) *robotsCache {
	return &robotsCache{ttl: ttl, m: map[string]*robotsEntry{}}
}

// get returns the rules for origin, fetching robots.txt with fetch when it
// is not cached. fetched says this call fetched it; fresh is then the
// parsed file (nil for a 4xx), so that its Sitemap lines are followed
// once.
func (c *robotsCache) get(ctx context.Context, origin string, fetch func(ctx context.Context, origin string) (*Robots, error)) (rules *Rules, fresh *Robots, fetched bool, err error) {
	c.mu.Lock()
	e := c.m[origin]
	if e != nil {
		select {
		case <-e.done:
			if time.Now().After(e.expires) {
				e = nil
			}
		default:
		}
	}
	if e != nil {
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, nil, false, ctx.Err()
		}
		if e.err != nil {
			return nil, nil, false, e.err
		}
		return e.rules, nil, false, nil
	}
	e = &robotsEntry{done: make(chan struct{})}
	c.m[origin] = e
	c.evict()
	c.mu.Unlock()

	e.robots, e.err = fetch(ctx, origin)
	e.expires = time.Now().Add(c.ttl)
	if e.err == nil {
		e.rules = AllowAll
		if e.robots != nil {
			e.rules = e.robots.rules
		}
	}
	close(e.done)
	if e.err != nil {
		c.mu.Lock()
		if c.m[origin] == e {
			delete(c.m, origin)
		}
		c.mu.Unlock()
		return nil, nil, true, e.err
	}
	return e.rules, e.robots, true, nil
}

// evict drops expired entries, then any finished ones, while the cache is
// over its bound. Called with mu held.
func (c *robotsCache) evict() {
	if len(c.m) <= robotsCacheMax {
		return
	}
	now := time.Now()
	for pass := 0; pass < 2 && len(c.m) > robotsCacheMax; pass++ {
		for k, e := range c.m {
			select {
			case <-e.done:
				if pass == 1 || now.After(e.expires) {
					delete(c.m, k)
				}
			default:
			}
			if len(c.m) <= robotsCacheMax*3/4 {
				return
			}
		}
	}
}

// fetchRobots fetches origin's robots.txt and applies RFC 9309's policy:
// 2xx is parsed (the first RobotsMaxBytes); redirects are followed up to
// five times; 4xx (or too many redirects) means no rules (nil, nil); 429,
// 5xx and network failures are errRobotsUnavailable; a refused private
// address is ErrPrivateAddress.
func (c *crawler) fetchRobots(ctx context.Context, origin string) (*Robots, error) {
	target := origin + "/robots.txt"
	for range robotsMaxRedirects + 1 {
		u, err := url.Parse(target)
		if err != nil {
			return nil, nil
		}
		c.requests.Add(1)
		f, err := c.fetcher.get(ctx, u, func(status int, _ string) int64 {
			if status >= 200 && status < 300 {
				return RobotsMaxBytes
			}
			return 0
		})
		switch {
		case err != nil && (errors.Is(err, ErrPrivateAddress) || ctx.Err() != nil):
			return nil, err
		case err != nil:
			return nil, fmt.Errorf("%w: %v", errRobotsUnavailable, err)
		case f.status >= 200 && f.status < 300:
			r := ParseRobots(f.payload)
			r.rules = r.For(c.agent)
			return r, nil
		case f.status >= 300 && f.status < 400:
			loc := f.header.Get("Location")
			if loc == "" {
				return nil, nil
			}
			if target, err = Resolve(u, loc); err != nil {
				return nil, nil
			}
		case f.status == 429 || f.status >= 500:
			return nil, fmt.Errorf("%w: status %d", errRobotsUnavailable, f.status)
		default: // 4xx
			return nil, nil
		}
	}
	return nil, nil
}
