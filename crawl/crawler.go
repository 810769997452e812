// Package crawl is a polite, resumable web crawler that writes WARC.
//
// The pieces, each in its own file:
//
//   - robots.go: robots.txt parsing and matching (RFC 9309), checked by a
//     conformance table built from the RFC and Google's examples;
//     robotscache.go: fetching it (4xx allows all, 5xx and unreachable
//     disallow all, at most 24 hours cached, up to 5 redirects).
//   - url.go: URL normalization (the seen set's key) and scope.
//   - safety.go: refusal of private, loopback and link-local addresses,
//     checked on the address actually dialled.
//   - fetch.go: the HTTP client, body limits, content decoding, the
//     request and response as recorded.
//   - links.go: links, <base>, rel=nofollow, canonical, charset; sitemaps.
//   - frontier.go: the frontier and seen set in a bbolt file.
//   - warcout.go: WARC 1.1 output, to stdout or rolled files.
//   - crawler.go (this file): the scheduler. Per-host FIFO queues; a host
//     has one request in flight at a time (PerHostConnections) and waits
//     PerHostDelay (or its Crawl-delay) between requests; Concurrency
//     workers fetch for all hosts together.
//
// Resume: the store and the WARC file advance together. Every commit
// records, in one bbolt transaction, the pages fetched since the last one
// (taken out of the queue), the links they added, and the WARC offset
// after their records; a restart cuts the WARC file back to that offset.
// So a crawl killed with SIGKILL at any moment and restarted writes every
// page exactly once, and loses nothing it had queued.
package crawl

import (
	"container/heap"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipe-dev/pipe/warc"
)

// Config is a crawl. Zero fields take the defaults listed.
type Config struct {
	Seeds []string // absolute http(s) URLs
	// Scope is "host" (the default), "domain" or a regular expression; see
	// NewScope. Seeds are fetched whatever the scope.
	Scope    string
	MaxPages int64 // pages (2xx responses) to write, over all runs on the state; 0: no limit
	MaxDepth int   // links followed away from a seed: 0 fetches only the seeds; negative: no limit

	Concurrency        int           // requests in flight over all hosts (default 16)
	PerHostConnections int           // requests in flight per host (default 1)
	PerHostDelay       time.Duration // between the requests of one host; 0: none
	MaxCrawlDelay      time.Duration // the most of a robots.txt Crawl-delay honoured (default 60s)
	UserAgent          string        // default DefaultUserAgent; its product token is matched in robots.txt

	StateDir    string    // the frontier and seen set; "" uses a temporary directory, removed at the end
	OutDir      string    // WARC files go here; "" writes the WARC stream to Out
	Out         io.Writer // when OutDir is ""
	MaxFileSize int64     // a WARC file is completed past this size (default 1 GiB)
	FilePrefix  string    // WARC file names start with it (default crawl-TIME-RANK)

	Sitemaps     bool // follow robots.txt Sitemap: lines and the sitemaps they name
	AllowPrivate bool // allow private, loopback and link-local addresses

	MaxBodySize   int64         // bytes of a body kept (default 8 MiB); longer ones are cut and marked WARC-Truncated
	MaxRedirects  int           // redirects followed from a URL (default 5); negative: none
	Retries       int           // retries of a URL after 5xx, 429 or a network error (default 3); negative: none
	RetryWait     time.Duration // the first retry's wait, doubled each time (default 2s)
	MaxRetryAfter time.Duration // the longest Retry-After waited for (default 10m); longer gives up
	Timeout       time.Duration // per request, body included (default 30s)
	RobotsTTL     time.Duration // robots.txt cache lifetime, at most 24h (default 24h)
	TLSConfig     *tls.Config   // for tests; nil means the system's roots

	Rank, WorldSize int // this worker's share: hosts whose hash mod WorldSize is Rank

	Log           *slog.Logger  // progress and notable events; nil: slog.Default()
	ProgressEvery time.Duration // how often progress is logged (default 10s)
	CommitEvery   time.Duration // how often state is committed (default 1s); also every commitResults results
}

// DefaultUserAgent is the crawler's User-Agent when none is configured.
const DefaultUserAgent = "pipe-crawler/0.1 (+https://github.com/pipe-dev/pipe)"

func (c *Config) defaults() error {
	if c.Scope == "" {
		c.Scope = "host"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.PerHostConnections <= 0 {
		c.PerHostConnections = 1
	}
	if c.MaxCrawlDelay == 0 {
		c.MaxCrawlDelay = time.Minute
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.MaxFileSize == 0 {
		c.MaxFileSize = 1 << 30
	}
	if c.MaxBodySize <= 0 {
		c.MaxBodySize = 8 << 20
	}
	if c.MaxRedirects == 0 {
		c.MaxRedirects = 5
	}
	if c.Retries == 0 {
		c.Retries = 3
	}
	if c.RetryWait <= 0 {
		c.RetryWait = 2 * time.Second
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = 10 * time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.RobotsTTL <= 0 || c.RobotsTTL > 24*time.Hour {
		c.RobotsTTL = 24 * time.Hour
	}
	if c.WorldSize <= 0 {
		c.WorldSize = 1
	}
	if c.Rank < 0 || c.Rank >= c.WorldSize {
		return fmt.Errorf("rank %d: must be in [0, %d)", c.Rank, c.WorldSize)
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 10 * time.Second
	}
	if c.CommitEvery <= 0 {
		c.CommitEvery = time.Second
	}
	if c.OutDir == "" && c.Out == nil {
		return errors.New("no output: set OutDir or Out")
	}
	if ProductToken(c.UserAgent) == "" {
		return fmt.Errorf("user agent %q does not start with a product token (letters, - and _)", c.UserAgent)
	}
	return nil
}

// Stats is what a crawl did. Counts are of this run; Pages and Queued also
// appear as totals over every run on the state.
type Stats struct {
	Pages      int64            `json:"pages"`     // 2xx responses written to WARC
	Redirects  int64            `json:"redirects"` // 3xx responses written to WARC
	Bytes      int64            `json:"bytes"`     // payload bytes written
	Requests   int64            `json:"requests"`  // HTTP requests made, robots.txt and retries included
	Retries    int64            `json:"retries"`   // fetches put back to be tried again
	Status     map[string]int64 `json:"status"`    // final responses by status code
	Skipped    map[string]int64 `json:"skipped"`   // URLs taken off the frontier without a page written, by reason
	Links      map[string]int64 `json:"links"`     // links and redirect targets found, by what became of them
	Charsets   map[string]int64 `json:"charsets"`  // pages written, by charset
	Truncated  int64            `json:"truncated"` // pages cut at MaxBodySize
	Files      []string         `json:"files"`     // WARC files completed
	Seconds    float64          `json:"seconds"`   //
	PagesPerS  float64          `json:"pages_per_second"`
	TotalPages int64            `json:"total_pages"` // Pages over every run on the state
	Queued     int64            `json:"queued"`      // URLs left in the frontier
	Done       bool             `json:"done"`        // the frontier is empty (not stopped by MaxPages or a signal)
}

func (s *Stats) count(m *map[string]int64, key string) { s.add(m, key, 1) }

func (s *Stats) add(m *map[string]int64, key string, n int64) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[key] += n
}

// Skip reasons (Stats.Skipped).
const (
	ReasonRobots        = "robots_disallowed"
	ReasonRobotsDown    = "robots_unavailable" // robots.txt 5xx or unreachable, after retries
	ReasonPrivate       = "private_address"
	ReasonContentType   = "content_type" // not HTML or text
	ReasonStatus        = "status_"      // + code: 4xx, and 5xx after retries
	ReasonTimeout       = "timeout"      // after retries
	ReasonNetwork       = "network_error"
	ReasonBadEncoding   = "bad_content_encoding"
	ReasonRetryAfter    = "retry_after_too_long"
	ReasonNoLocation    = "redirect_without_location"
	ReasonTooManyRedirs = "too_many_redirects"
)

// Link outcomes (Stats.Links).
const (
	LinkQueued     = "queued"
	LinkDuplicate  = "duplicate"
	LinkOutOfScope = "out_of_scope"
	LinkMaxDepth   = "max_depth"
	LinkOtherRank  = "other_rank"
	LinkNofollow   = "nofollow"
	LinkBad        = "bad_url"
	LinkTooLong    = "url_too_long"
)

// Run crawls until the frontier is empty, MaxPages pages are written, or
// ctx is cancelled (then fetches in flight are abandoned and stay queued).
// It returns the statistics with any error.
func Run(ctx context.Context, cfg Config) (*Stats, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c, err := newCrawler(&cfg)
	if err != nil {
		return nil, err
	}
	err = c.run(ctx)
	if cerr := c.close(); err == nil {
		err = cerr
	}
	return &c.stats, err
}

type crawler struct {
	cfg     *Config
	scope   *Scope
	agent   string // product token
	fetcher *fetcher
	robots  *robotsCache
	store   *store
	out     *warcOut
	enc     *encoder // for records that must be encoded again
	tmpDir  string

	// The frontier goroutine's; no locks.
	active     map[string]*hostState // origins being scheduled
	retired    map[string]time.Time  // origins no longer scheduled whose delay has not run out
	ready      hostHeap              // of active hosts not at their connection limit, by next
	hostCursor string                // where refill goes on in the hosts bucket
	dormant    int                   // origins with queued URLs not in active
	inflight   int
	results    int // since the last commit
	lastCommit time.Time
	stats      Stats

	// Counted by workers.
	requests atomic.Int64
	start    time.Time
}

// commitResults is how many results a commit takes at most: it bounds
// what a crash makes the crawl fetch again, and the memory of a
// transaction.
const commitResults = 256

// maxActive bounds the hosts scheduled at once, so memory does not grow
// with the number of hosts in the frontier. A variable for tests.
var maxActive = 4096

type hostState struct {
	origin   string
	next     time.Time       // earliest next request
	inflight map[string]bool // queue keys being fetched
	delay    time.Duration   // Crawl-delay, capped
	index    int             // in ready; -1 when not there
}

func newCrawler(cfg *Config) (*crawler, error) {
	c := &crawler{cfg: cfg, agent: ProductToken(cfg.UserAgent), active: map[string]*hostState{}, retired: map[string]time.Time{}, start: time.Now(), enc: newEncoder()}
	var seeds []string
	for _, s := range cfg.Seeds {
		n, err := Normalize(s)
		if err != nil {
			return nil, fmt.Errorf("seed %q: %w", s, err)
		}
		seeds = append(seeds, n)
	}
	scope, err := NewScope(cfg.Scope, seeds)
	if err != nil {
		return nil, err
	}
	c.scope = scope
	c.fetcher = newFetcher(cfg)
	c.robots = newRobotsCache(cfg.RobotsTTL)

	dir := cfg.StateDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "pipe-crawl-state-"); err != nil {
			return nil, err
		}
		c.tmpDir = dir
	}
	if c.store, err = openStore(dir); err != nil {
		c.removeTmp()
		return nil, err
	}
	if err := c.checkPartition(); err != nil {
		c.store.close()
		c.removeTmp()
		return nil, err
	}
	c.stats.TotalPages = c.store.getInt("pages")
	for _, k := range c.store.metaWithPrefix("scope+") {
		c.scope.allowed[k] = true
	}
	fields := warc.Header{
		{Name: "software", Value: "pipe crawl"},
		{Name: "format", Value: "WARC File Format 1.1"},
		{Name: "conformsTo", Value: "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"},
		{Name: "robots", Value: "obey (RFC 9309)"},
		{Name: "http-header-user-agent", Value: cfg.UserAgent},
	}
	if h, err := os.Hostname(); err == nil {
		fields = append(fields, warc.Field{Name: "hostname", Value: h})
	}
	if cfg.OutDir != "" {
		st := outState{
			Prefix:  c.store.getString("warc.prefix"),
			Seq:     int(c.store.getInt("warc.seq")),
			Offset:  c.store.getInt("warc.offset"),
			Records: c.store.getInt("warc.records"),
			InfoID:  c.store.getString("warc.info"),
		}
		if st.Prefix == "" {
			st.Prefix = cfg.FilePrefix
			if st.Prefix == "" {
				st.Prefix = fmt.Sprintf("crawl-%s-%05d", time.Now().UTC().Format("20060102T150405Z"), cfg.Rank)
			}
		}
		c.out, err = openDirOut(cfg.OutDir, cfg.MaxFileSize, st, fields)
	} else {
		c.out, err = newStreamOut(cfg.Out, fields)
	}
	if err != nil {
		c.store.close()
		c.removeTmp()
		return nil, err
	}
	for _, s := range seeds {
		u, _ := url.Parse(s)
		if err = c.enqueue(u, entry{URL: s, Kind: kindPage}, true); err != nil {
			break
		}
	}
	if err == nil {
		err = c.commit()
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// checkPartition refuses a state written with another rank or world size.
func (c *crawler) checkPartition() error {
	want := fmt.Sprintf("%d/%d", c.cfg.Rank, c.cfg.WorldSize)
	switch got := c.store.getString("partition"); got {
	case "":
		c.store.putString("partition", want)
	case want:
	default:
		return fmt.Errorf("state was written by rank/world %s, not %s", got, want)
	}
	return nil
}

func (c *crawler) removeTmp() {
	if c.tmpDir != "" {
		os.RemoveAll(c.tmpDir)
	}
}

// close completes the WARC output and then commits the store; when the
// output cannot be completed, the store is left at its last commit, so
// that the pages not safely written are fetched again.
func (c *crawler) close() error {
	err := c.out.close()
	c.stats.Files = append(c.stats.Files, c.out.files...)
	if err != nil {
		c.store.abort()
		c.removeTmp()
		return err
	}
	if c.cfg.OutDir != "" {
		st := c.out.state()
		c.store.putInt("warc.seq", int64(st.Seq+1)) // the next run begins a new file
		c.store.putInt("warc.offset", 0)
		c.store.putInt("warc.records", 0)
	}
	c.stats.Queued = c.store.queued
	c.stats.TotalPages = c.store.getInt("pages")
	c.stats.Seconds = time.Since(c.start).Seconds()
	if c.stats.Seconds > 0 {
		c.stats.PagesPerS = float64(c.stats.Pages) / c.stats.Seconds
	}
	c.stats.Requests = c.requests.Load()
	if serr := c.store.close(); err == nil {
		err = serr
	}
	c.removeTmp()
	return err
}

// hostRank is the rank that crawls an origin.
func hostRank(host string, world int) int {
	if world <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(host))
	return int(h.Sum32() % uint32(world))
}

// enqueue adds a URL to the frontier, or counts why not.
func (c *crawler) enqueue(u *url.URL, e entry, seed bool) error {
	if !seed && e.Kind == kindPage {
		if !c.scope.Contains(u) {
			c.stats.count(&c.stats.Links, LinkOutOfScope)
			return nil
		}
		if c.cfg.MaxDepth >= 0 && e.Depth > c.cfg.MaxDepth {
			c.stats.count(&c.stats.Links, LinkMaxDepth)
			return nil
		}
	}
	if hostRank(u.Host, c.cfg.WorldSize) != c.cfg.Rank {
		c.stats.count(&c.stats.Links, LinkOtherRank)
		return nil
	}
	o := origin(u)
	added, newHost, err := c.store.add(o, e)
	if err != nil {
		return err
	}
	if !added {
		if !seed {
			c.stats.count(&c.stats.Links, LinkDuplicate)
		}
		return nil
	}
	if !seed {
		c.stats.count(&c.stats.Links, LinkQueued)
	}
	if h := c.active[o]; h != nil {
		if h.index < 0 && len(h.inflight) < c.cfg.PerHostConnections {
			heap.Push(&c.ready, h)
		}
		return nil
	}
	if newHost && len(c.active) < maxActive {
		c.activate(o)
	} else {
		if newHost {
			c.dormant++
		}
	}
	return nil
}

func (c *crawler) activate(o string) {
	h := &hostState{origin: o, inflight: map[string]bool{}, index: -1, next: c.retired[o]}
	delete(c.retired, o)
	c.active[o] = h
	heap.Push(&c.ready, h)
}

// retire stops scheduling a host with nothing queued, remembering when it
// may next be asked, so that a link to it found later does not cut its
// delay short.
func (c *crawler) retire(h *hostState) {
	delete(c.active, h.origin)
	now := time.Now()
	if !h.next.After(now) {
		return
	}
	if len(c.retired) >= maxActive {
		for o, t := range c.retired {
			if !t.After(now) {
				delete(c.retired, o)
			}
		}
	}
	if len(c.retired) < maxActive {
		c.retired[h.origin] = h.next
	}
}

// refill activates dormant hosts, going round the hosts bucket. A scan
// that goes all the way round has activated every dormant host.
func (c *crawler) refill() {
	if c.dormant <= 0 || len(c.active) >= maxActive {
		return
	}
	full := true
	c.hostCursor = c.store.hostsAfter(c.hostCursor, func(o string) bool {
		if c.active[o] == nil {
			c.activate(o)
			c.dormant--
		}
		if len(c.active) >= maxActive || c.dormant <= 0 {
			full = false
			return false
		}
		return true
	})
	if full || c.dormant < 0 {
		c.dormant = 0
	}
}

// job is a URL handed to a worker.
type job struct {
	key    []byte
	e      entry
	u      *url.URL
	origin string
	infoID string // of the WARC file being written when the job was handed out
}

// Outcomes of a job.
const (
	outDone  = iota // taken off the frontier: page written, or skipped with a reason
	outRetry        // put back, to be tried again after retryIn
	outAbort        // abandoned (the crawl is stopping): stays queued as it was
)

type result struct {
	job
	outcome  int
	reason   string   // why no page was written (outDone) or why retried
	page     *fetched // to write; nil for none
	info     *pageInfo
	next     []entry // sitemap entries
	redirect *entry  // the target of a redirect, to be followed
	retryIn  time.Duration
	delay    time.Duration // the host's Crawl-delay, when robots.txt gave one
	sitemaps []string      // from a robots.txt just fetched
	extra    string        // a reason counted in Skipped although the page is written (a redirect not followed)
	records  []byte        // the page's WARC records, encoded for job.infoID
}

func (c *crawler) run(ctx context.Context) error {
	c.dormant = c.store.hostCount() - len(c.active)
	c.refill()

	jobs := make(chan job)
	results := make(chan result, c.cfg.Concurrency)
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range c.cfg.Concurrency {
		wg.Go(func() {
			enc := newEncoder()
			for j := range jobs {
				r := c.work(wctx, j)
				if r.outcome == outDone && r.page != nil && r.reason == "" {
					r.records, _ = enc.encode(r.page, r.info, j.infoID) // on error, handle encodes again and reports it
				}
				results <- r
			}
		})
	}
	defer func() {
		cancel() // on an error, abandon the fetches in flight
		close(jobs)
		wg.Wait()
	}()

	free := c.cfg.Concurrency
	stopping := false
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	progress := time.NewTicker(c.cfg.ProgressEvery)
	defer progress.Stop()
	c.lastCommit = time.Now()
	done := ctx.Done()
	for {
		now := time.Now()
		budget := c.cfg.MaxPages <= 0 || c.stats.TotalPages+int64(c.inflight) < c.cfg.MaxPages
		for free > 0 && !stopping && budget {
			c.refill()
			if c.ready.Len() == 0 || c.ready[0].next.After(now) {
				break
			}
			h := c.ready[0]
			key, e, ok, err := c.store.next(h.origin, h.inflight)
			if err != nil {
				return err
			}
			if !ok {
				heap.Pop(&c.ready)
				if len(h.inflight) == 0 {
					c.retire(h)
					if err := c.store.dropHost(h.origin); err != nil {
						return err
					}
				}
				continue
			}
			h.inflight[string(key)] = true
			if len(h.inflight) >= c.cfg.PerHostConnections {
				heap.Pop(&c.ready)
			} else {
				h.next = now.Add(c.hostDelay(h))
				heap.Fix(&c.ready, 0)
			}
			u, err := url.Parse(e.URL)
			if err != nil { // cannot happen: only normalized URLs are queued
				return fmt.Errorf("frontier: %q: %w", e.URL, err)
			}
			jobs <- job{key: key, e: e, u: u, origin: h.origin, infoID: c.out.infoID}
			free--
			c.inflight++
			budget = c.cfg.MaxPages <= 0 || c.stats.TotalPages+int64(c.inflight) < c.cfg.MaxPages
		}
		if c.inflight == 0 && (stopping || !budget || c.ready.Len() == 0 && c.dormant == 0) {
			c.stats.Done = !stopping && c.store.queued == 0
			return c.commit()
		}

		wait := time.Hour
		if free > 0 && !stopping && budget && c.ready.Len() > 0 {
			wait = max(c.ready[0].next.Sub(now), 0)
		}
		if c.store.changes > 0 {
			wait = min(wait, max(c.cfg.CommitEvery-now.Sub(c.lastCommit), 0))
		}
		timer.Reset(wait)
		select {
		case r := <-results:
			free++
			c.inflight--
			c.results++
			if err := c.handle(r); err != nil {
				return err
			}
		case <-timer.C:
		case <-progress.C:
			c.cfg.Log.Info("crawl", "pages", c.stats.Pages, "queued", c.store.queued, "hosts", len(c.active)+c.dormant,
				"requests", c.requests.Load(), "pages/s", fmt.Sprintf("%.1f", float64(c.stats.Pages)/time.Since(c.start).Seconds()))
		case <-done:
			stopping, done = true, nil
		}
		if c.results >= commitResults || c.store.changes > 0 && time.Since(c.lastCommit) >= c.cfg.CommitEvery {
			if err := c.commit(); err != nil {
				return err
			}
		}
	}
}

// hostDelay is the wait between two requests to a host.
func (c *crawler) hostDelay(h *hostState) time.Duration {
	return max(c.cfg.PerHostDelay, min(h.delay, c.cfg.MaxCrawlDelay))
}

// commit makes the WARC output and the frontier durable together.
func (c *crawler) commit() error {
	if err := c.out.sync(); err != nil {
		return err
	}
	if c.cfg.OutDir != "" {
		st := c.out.state()
		c.store.putString("warc.prefix", st.Prefix)
		c.store.putInt("warc.seq", int64(st.Seq))
		c.store.putInt("warc.offset", st.Offset)
		c.store.putInt("warc.records", st.Records)
		c.store.putString("warc.info", st.InfoID)
	}
	c.store.putInt("pages", c.stats.TotalPages)
	c.lastCommit, c.results = time.Now(), 0
	return c.store.commit()
}

// handle takes a worker's result into the frontier and the WARC output.
func (c *crawler) handle(r result) error {
	h := c.active[r.origin]
	delete(h.inflight, string(r.key))
	if r.delay > 0 {
		h.delay = r.delay
	}
	now := time.Now()
	next := now.Add(c.hostDelay(h))
	switch r.outcome {
	case outAbort:
	case outRetry:
		r.e.Attempts++
		c.stats.Retries++
		if err := c.store.update(r.key, r.e); err != nil {
			return err
		}
		next = now.Add(max(r.retryIn, c.hostDelay(h)))
	case outDone:
		if err := c.store.remove(r.key); err != nil {
			return err
		}
		if r.page != nil {
			c.stats.count(&c.stats.Status, strconv.Itoa(r.page.status))
		}
		if r.reason != "" {
			c.stats.count(&c.stats.Skipped, r.reason)
		}
		if r.extra != "" {
			c.stats.count(&c.stats.Skipped, r.extra)
		}
		if r.page != nil && r.reason == "" {
			recs := r.records
			if recs == nil || r.infoID != c.out.infoID { // the file rolled over since the job was handed out
				var err error
				if recs, err = c.enc.encode(r.page, r.info, c.out.infoID); err != nil {
					return fmt.Errorf("warc: %s: %w", r.u, err)
				}
			}
			if err := c.out.append(recs); err != nil {
				return err
			}
			c.stats.Bytes += int64(len(r.page.payload))
			if r.page.truncated {
				c.stats.Truncated++
			}
			if r.page.status < 300 {
				c.stats.Pages++
				c.stats.TotalPages++
				if r.info != nil && r.info.charset != "" {
					c.stats.count(&c.stats.Charsets, r.info.charset)
				}
			} else {
				c.stats.Redirects++
			}
		}
		if err := c.addLinks(r); err != nil {
			return err
		}
		if c.out.full() {
			if err := c.commit(); err != nil {
				return err
			}
			if err := c.out.roll(); err != nil {
				return err
			}
			if err := c.commit(); err != nil {
				return err
			}
		}
	}
	if next.After(h.next) {
		h.next = next
	}
	if len(h.inflight) == 0 {
		if _, _, ok, err := c.store.next(h.origin, nil); err != nil {
			return err
		} else if !ok { // nothing more for this host
			if h.index >= 0 {
				heap.Remove(&c.ready, h.index)
			}
			c.retire(h)
			return c.store.dropHost(h.origin)
		}
	}
	if h.index < 0 && len(h.inflight) < c.cfg.PerHostConnections {
		heap.Push(&c.ready, h)
	} else if h.index >= 0 {
		heap.Fix(&c.ready, h.index)
	}
	return nil
}

func (c *crawler) addLinks(r result) error {
	for _, s := range r.sitemaps {
		if err := c.addURL(s, entry{Kind: kindSitemap}, true); err != nil {
			return err
		}
	}
	for _, e := range r.next {
		if err := c.addURL(e.URL, e, e.Kind == kindSitemap); err != nil {
			return err
		}
	}
	if e := r.redirect; e != nil {
		// A seed's redirect is a seed: its host joins the scope.
		seed := r.e.Depth == 0 && r.e.Kind == kindPage
		if u, err := url.Parse(e.URL); err == nil && seed && !c.scope.Contains(u) {
			if k := c.scope.Extend(u); k != "" {
				c.store.putString("scope+"+k, "1")
			}
		}
		if err := c.addURL(e.URL, *e, e.Kind == kindSitemap); err != nil {
			return err
		}
	}
	if r.info == nil {
		return nil
	}
	if r.info.nofollow > 0 {
		c.stats.add(&c.stats.Links, LinkNofollow, int64(r.info.nofollow))
	}
	if r.info.badLinks > 0 {
		c.stats.add(&c.stats.Links, LinkBad, int64(r.info.badLinks))
	}
	if c.cfg.MaxDepth >= 0 && r.e.Depth >= c.cfg.MaxDepth {
		if len(r.info.links) > 0 {
			c.stats.add(&c.stats.Links, LinkMaxDepth, int64(len(r.info.links)))
		}
		return nil
	}
	for _, l := range r.info.links {
		if err := c.addURL(l, entry{Kind: kindPage, Depth: r.e.Depth + 1}, false); err != nil {
			return err
		}
	}
	return nil
}

// addURL enqueues a normalized URL found by a worker.
func (c *crawler) addURL(s string, e entry, seed bool) error {
	u, err := url.Parse(s)
	if err != nil {
		c.stats.count(&c.stats.Links, LinkBad)
		return nil
	}
	e.URL = s
	return c.enqueue(u, e, seed)
}

// work fetches one URL: robots.txt first, then the page.
func (c *crawler) work(ctx context.Context, j job) result {
	r := result{job: j}
	rules, fresh, fetched, err := c.robots.get(ctx, j.origin, c.fetchRobots)
	if err != nil {
		return c.failed(ctx, r, err, ReasonRobotsDown)
	}
	if rules.HasCrawlDelay {
		r.delay = max(rules.CrawlDelay, time.Millisecond)
	}
	if fresh != nil && c.cfg.Sitemaps {
		r.sitemaps = fresh.Sitemaps
	}
	if !rules.Allowed(pathQuery(j.u)) {
		r.outcome, r.reason = outDone, ReasonRobots
		return r
	}
	// robots.txt was just asked for: the host's delay applies before the
	// page too.
	if wait := max(c.cfg.PerHostDelay, min(r.delay, c.cfg.MaxCrawlDelay)); fetched && wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			r.outcome = outAbort
			return r
		}
	}
	kept := func(status int, mediaType string) int64 {
		switch {
		case j.e.Kind == kindSitemap && status < 300:
			return sitemapMaxBytes
		case status < 300 && (mediaType == "" || textual(mediaType)):
			return c.cfg.MaxBodySize
		case status >= 300 && status < 400:
			return min(c.cfg.MaxBodySize, 64<<10)
		}
		return 0
	}
	c.requests.Add(1)
	f, err := c.fetcher.get(ctx, j.u, kept)
	if err != nil {
		return c.failed(ctx, r, err, "")
	}
	switch {
	case f.status == 429 || f.status == 503:
		return c.retry(r, f, ReasonStatus+strconv.Itoa(f.status))
	case f.status >= 500:
		return c.retry(r, f, ReasonStatus+strconv.Itoa(f.status))
	}
	r.outcome, r.page = outDone, f
	switch {
	case f.status >= 300 && f.status < 400:
		loc := f.header.Get("Location")
		if loc == "" {
			r.reason = ReasonNoLocation
			return r
		}
		target, err := Resolve(j.u, loc)
		if err != nil {
			return r // written; the target is counted as a bad link
		}
		if j.e.Hops+1 > c.cfg.MaxRedirects {
			r.extra = ReasonTooManyRedirs
			return r
		}
		r.redirect = &entry{URL: target, Kind: j.e.Kind, Depth: j.e.Depth, Hops: j.e.Hops + 1}
		return r
	case f.status >= 400 || f.status < 200:
		r.reason = ReasonStatus + strconv.Itoa(f.status)
		return r
	case j.e.Kind == kindSitemap:
		pages, maps := readSitemap(j.u, f.payload)
		for _, p := range pages {
			r.next = append(r.next, entry{URL: p, Kind: kindPage, Depth: j.e.Depth + 1})
		}
		for _, m := range maps {
			r.next = append(r.next, entry{URL: m, Kind: kindSitemap, Depth: j.e.Depth})
		}
		r.reason = "sitemap" // read, not written
		return r
	}
	if f.coding != "" { // a coding we did not ask for and cannot take off
		r.reason = ReasonBadEncoding
		return r
	}
	mt := f.mediaType
	if mt == "" {
		mt = sniffText(f.payload)
	}
	if !textual(mt) {
		r.reason = ReasonContentType
		return r
	}
	if mt == "text/plain" {
		r.info = &pageInfo{charset: charsetOf(f.payload, f.header.Get("Content-Type"))}
		return r
	}
	info := readPage(j.u, f.payload, f.header.Get("Content-Type"), c.agent)
	r.info = &info
	return r
}

// failed turns an error of a fetch into a retry or a skip.
func (c *crawler) failed(ctx context.Context, r result, err error, reason string) result {
	switch {
	case ctx.Err() != nil:
		r.outcome = outAbort
		return r
	case errors.Is(err, ErrPrivateAddress):
		r.outcome, r.reason = outDone, ReasonPrivate
		return r
	case errors.Is(err, errBadEncoding):
		r.outcome, r.reason = outDone, ReasonBadEncoding
		return r
	}
	if reason == "" {
		reason = ReasonNetwork
		if isTimeout(err) {
			reason = ReasonTimeout
		}
	}
	return c.retry(r, nil, reason)
}

// retry puts a URL back with exponential backoff (or the server's
// Retry-After), or gives up after Retries tries.
func (c *crawler) retry(r result, f *fetched, reason string) result {
	if r.e.Attempts >= c.cfg.Retries {
		r.outcome, r.reason = outDone, reason
		r.page = f // counted by status, not written
		return r
	}
	wait := c.cfg.RetryWait << min(r.e.Attempts, 16)
	if f != nil && f.hasRetry {
		if f.retryAfter > c.cfg.MaxRetryAfter {
			r.outcome, r.reason, r.page = outDone, ReasonRetryAfter, f
			return r
		}
		wait = f.retryAfter
	}
	r.outcome, r.reason, r.retryIn = outRetry, reason, wait
	return r
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &t) && t.Timeout()
}

// hostHeap orders hosts by their next allowed request.
type hostHeap []*hostState

func (h hostHeap) Len() int           { return len(h) }
func (h hostHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h hostHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *hostHeap) Push(x any) {
	s := x.(*hostState)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *hostHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	s.index = -1
	*h = old[:len(old)-1]
	return s
}
