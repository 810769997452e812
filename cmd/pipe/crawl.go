package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pipe-dev/pipe/crawl"
	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/internal/job"
	"github.com/spf13/cobra"
)

func newCrawl() *cobra.Command {
	var (
		cfg                 crawl.Config
		seeds               []string
		maxFile, maxBody    string
		statsPath           string
		perHostDelayDefault = time.Second
		force               bool
	)
	c := &cobra.Command{
		Use:   "crawl --seeds FILE|URL... [--out DIR] [flags] [URL...]",
		Short: "Crawl the web politely and write WARC",
		Long: `crawl fetches the seed URLs and the pages they link to, within --scope, and
writes every exchange as WARC 1.1 records (request, response, metadata; one
gzip member each): to stdout, or to *.warc.gz files in --out, each completed at
--max-file-size.

It obeys robots.txt (RFC 9309), keeps one connection per host with
--per-host-delay between requests (or the host's Crawl-delay, up to a minute),
retries 5xx, 429 and network errors with exponential backoff (Retry-After
honoured), and keeps only HTML and plain text (other types are counted).
Private, loopback and link-local addresses are refused unless --allow-private.

The frontier and the seen set live in --state DIR (a temporary directory when
not given): a crawl that is killed, even with SIGKILL, and started again with
the same --state and --out goes on where it was, writing no page twice. Ctrl-C
stops it cleanly in the same way.

With --out, the crawl is a batch job: the statistics go to --stats (default
OUT/crawl-stats-RANK.json), a completed crawl leaves the marker
OUT/crawl-done-RANK.json, and the last line of stdout is a JSON summary. A rerun
with the same command line and seeds files after a completed crawl only prints
the summary again (--force crawls again); after an interrupted one it goes on.`,
		Example: `  pipe crawl --seeds seeds.txt --out warc/ --state state/ --max-pages 10000
  pipe crawl --seeds https://example.com/ --max-depth 2 | pipe clean
  pipe crawl --seeds seeds.txt --rank 0 --world-size 4 --out warc/ --state state-0/`,
		RunE: func(c *cobra.Command, args []string) error {
			list, err := readSeeds(append(seeds, args...))
			if err != nil {
				return usageError{err}
			}
			if len(list) == 0 {
				return usagef("crawl: no seeds: give --seeds FILE|URL")
			}
			cfg.Seeds = list
			if cfg.MaxFileSize, err = parseSize(maxFile); err != nil {
				return usagef("crawl: --max-file-size: %v", err)
			}
			if cfg.MaxBodySize, err = parseSize(maxBody); err != nil {
				return usagef("crawl: --max-body-size: %v", err)
			}
			if cfg.WorldSize < 1 || cfg.Rank < 0 || cfg.Rank >= cfg.WorldSize {
				return usagef("crawl: --rank %d must be in [0, --world-size %d)", cfg.Rank, cfg.WorldSize)
			}
			if cfg.Concurrency < 1 || cfg.PerHostConnections < 1 {
				return usagef("crawl: --concurrency and --per-host-connections must be at least 1")
			}
			if cfg.PerHostDelay < 0 {
				return usagef("crawl: --per-host-delay must not be negative")
			}
			if _, err := crawl.NewScope(cfg.Scope, nil); err != nil {
				return usageError{err}
			}
			if cfg.MaxRedirects == 0 {
				cfg.MaxRedirects = -1 // --max-redirects 0: follow none
			}
			if cfg.Retries == 0 {
				cfg.Retries = -1
			}
			if cfg.OutDir == "" {
				cfg.Out = os.Stdout
			} else if statsPath == "" {
				statsPath = filepath.Join(cfg.OutDir, fmt.Sprintf("crawl-stats-%05d.json", cfg.Rank))
			}
			var j *job.Job
			statsPath = job.Expand(statsPath, cfg.Rank)
			if cfg.OutDir != "" {
				j = &job.Job{Stage: "crawl", Rank: cfg.Rank, WorldSize: cfg.WorldSize, Args: os.Args[1:],
					Marker: filepath.Join(cfg.OutDir, fmt.Sprintf("crawl-done-%05d.json", cfg.Rank)), Stats: statsPath, Force: force}
				for _, s := range append(seeds, args...) {
					if !isURL(s) {
						j.Inputs = append(j.Inputs, s) // a seeds file, or - (stdin: never up to date)
					}
				}
				if done, err := j.Begin(); done || err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			stats, err := crawl.Run(ctx, cfg)
			if stats == nil {
				return err
			}
			if j != nil && err == nil && ctx.Err() == nil {
				// Complete (the frontier is empty, or --max-pages was
				// reached): stats, the completion marker, the summary.
				return j.Finish(stats.Files, stats, stats)
			}
			// Stopped by a signal, or failed: no marker, so a rerun goes on.
			if statsPath != "" {
				if werr := writeStats(statsPath, stats); err == nil {
					err = werr
				}
			}
			if cfg.OutDir != "" {
				line, _ := json.Marshal(stats)
				fmt.Println(string(line))
			} else {
				fmt.Fprintf(os.Stderr, "crawl: %d pages, %d queued, %.1fs\n", stats.Pages, stats.Queued, stats.Seconds)
			}
			return err
		},
	}
	f := c.Flags()
	f.StringArrayVar(&seeds, "seeds", nil, "seed URL, or a file of URLs one a line (- for stdin); repeatable")
	f.StringVar(&cfg.Scope, "scope", "host", "links followed: host (the seeds' hosts), domain (their registrable domains), or a regular expression on the URL")
	f.Int64Var(&cfg.MaxPages, "max-pages", 0, "stop after this many pages (over every run on --state); 0: no limit")
	f.IntVar(&cfg.MaxDepth, "max-depth", -1, "links followed away from a seed (0: the seeds only); negative: no limit")
	f.IntVar(&cfg.Concurrency, "concurrency", 16, "requests in flight over all hosts")
	f.IntVar(&cfg.PerHostConnections, "per-host-connections", 1, "requests in flight per host")
	f.DurationVar(&cfg.PerHostDelay, "per-host-delay", perHostDelayDefault, "wait between two requests to a host; 0 turns it off (a robots.txt Crawl-delay still applies)")
	f.StringVar(&cfg.UserAgent, "user-agent", crawl.DefaultUserAgent, "User-Agent; its product token (up to the first /) is what robots.txt groups are matched against")
	f.StringVar(&cfg.StateDir, "state", "", "directory of the frontier and seen set, to resume from (default: a temporary one)")
	f.StringVar(&cfg.OutDir, "out", "", "directory of the WARC files (default: the WARC stream on stdout)")
	f.StringVar(&maxFile, "max-file-size", "1GiB", "a WARC file is completed once past this size")
	f.StringVar(&maxBody, "max-body-size", "8MiB", "bytes of a body kept; longer ones are cut and marked WARC-Truncated")
	f.BoolVar(&cfg.Sitemaps, "sitemaps", false, "follow robots.txt Sitemap: lines and the sitemaps they name")
	f.BoolVar(&cfg.AllowPrivate, "allow-private", false, "allow private, loopback and link-local addresses (tests, intranets)")
	f.IntVar(&cfg.MaxRedirects, "max-redirects", 5, "redirects followed from a URL")
	f.IntVar(&cfg.Retries, "retries", 3, "retries of a URL after 5xx, 429 or a network error")
	f.DurationVar(&cfg.RetryWait, "retry-wait", 2*time.Second, "wait before the first retry, doubled each time (unless Retry-After says)")
	f.DurationVar(&cfg.MaxRetryAfter, "max-retry-after", 10*time.Minute, "longest Retry-After waited for; longer gives the URL up")
	f.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "per request, body included")
	f.IntVar(&cfg.Rank, "rank", 0, "this worker's rank: it crawls the hosts that hash to it")
	f.IntVar(&cfg.WorldSize, "world-size", 1, "number of workers")
	f.StringVar(&statsPath, "stats", "", "write the statistics JSON here ({rank} is replaced by the rank; default OUT/crawl-stats-RANK.json with --out)")
	f.BoolVar(&force, "force", false, job.ForceUsage)
	f.DurationVar(&cfg.CommitEvery, "commit-every", time.Second, "how often the state and the WARC file are made durable together")
	f.MarkHidden("commit-every")
	return c
}

// readSeeds turns --seeds values into URLs: a value that is an http(s)
// URL is one; any other is a file of URLs, one a line ("-" is stdin),
// blank lines and lines starting with # passed over.
func readSeeds(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		if isURL(v) {
			out = append(out, v)
			continue
		}
		var r io.Reader
		if v == "-" {
			r = os.Stdin
		} else {
			f, err := os.Open(v)
			if err != nil {
				return nil, fmt.Errorf("crawl: seeds %q is neither an http(s) URL nor a readable file: %w", v, err)
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if _, err := crawl.Normalize(line); err != nil {
				return nil, fmt.Errorf("crawl: %s:%d: %w", v, n, err)
			}
			out = append(out, line)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("crawl: seeds %s: %w", v, err)
		}
	}
	return out, nil
}

// isURL says whether a --seeds value is an http(s) URL rather than a file.
func isURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// parseSize reads a byte count: a number with an optional unit (B, KB, MB,
// GB powers of 1000; KiB, MiB, GiB powers of 1024).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return n * mult, nil
}

func writeStats(path string, stats *crawl.Stats) error {
	out, err := docio.Create(path)
	if err != nil {
		return err
	}
	defer out.Abort()
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(stats); err != nil {
		return err
	}
	return out.Close()
}
