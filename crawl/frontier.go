package crawl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/zeebo/xxh3"
	bolt "go.etcd.io/bbolt"
)

// stateFormat is the first thing in the state store; a store of another
// format is refused.
const stateFormat = "pipe-crawl-state 1"

// stateFile is the store's name in the state directory.
const stateFile = "frontier.db"

// ErrStateInUse is returned when another crawl holds the state directory.
var ErrStateInUse = errors.New("state directory in use by another crawl")

// Kinds of frontier entries.
const (
	kindPage    byte = 'p'
	kindSitemap byte = 's'
)

// entry is a URL waiting in the frontier.
type entry struct {
	URL      string
	Kind     byte
	Depth    int // links from a seed
	Hops     int // redirects that led here
	Attempts int // fetches that failed and are to be retried
}

func (e entry) encode() []byte {
	b := make([]byte, 0, len(e.URL)+8)
	b = append(b, 1, e.Kind)
	b = binary.AppendUvarint(b, uint64(e.Depth))
	b = binary.AppendUvarint(b, uint64(e.Hops))
	b = binary.AppendUvarint(b, uint64(e.Attempts))
	return append(b, e.URL...)
}

func decodeEntry(b []byte) (entry, error) {
	if len(b) < 2 || b[0] != 1 {
		return entry{}, fmt.Errorf("frontier entry: unknown encoding")
	}
	e := entry{Kind: b[1]}
	b = b[2:]
	for _, p := range []*int{&e.Depth, &e.Hops, &e.Attempts} {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return entry{}, fmt.Errorf("frontier entry: bad number")
		}
		*p, b = int(v), b[n:]
	}
	e.URL = string(b)
	return e, nil
}

// store is the crawl's state on disk, in a bbolt file:
//
//	meta   name → value          format, counters, the WARC file being written
//	seen   seenKey(origin, URL) → 1   every URL ever queued
//	queue  origin 0x00 seq → entry   the frontier, per-host FIFO queues
//	hosts  origin → 1            origins with something queued
//
// One goroutine owns it and keeps a write transaction open; commit makes
// everything since the last commit durable at once (what was fetched, the
// links it added, and how far the WARC file is written), which is what
// makes a crawl killed at any point resumable without duplicates.
type store struct {
	db                       *bolt.DB
	tx                       *bolt.Tx
	meta, seen, queue, hosts *bolt.Bucket
	seq                      uint64 // the last queue sequence number used
	queued                   int64  // entries in queue
	changes                  int    // since the last commit
}

var (
	bucketMeta  = []byte("meta")
	bucketSeen  = []byte("seen")
	bucketQueue = []byte("queue")
	bucketHosts = []byte("hosts")
)

// openStore opens (or creates) the store in dir.
func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	path := filepath.Join(dir, stateFile)
	db, err := bolt.Open(path, 0o644, &bolt.Options{
		Timeout:        200 * time.Millisecond,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", dir, ErrStateInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	s := &store{db: db}
	if err := s.begin(); err != nil {
		db.Close()
		return nil, err
	}
	format := s.meta.Get([]byte("format"))
	first, _ := s.seen.Cursor().First()
	switch {
	case format == nil && first == nil:
		s.meta.Put([]byte("format"), []byte(stateFormat))
	case string(format) != stateFormat:
		s.close()
		return nil, fmt.Errorf("state %s: format %q, want %q", path, format, stateFormat)
	}
	s.seq = uint64(s.getInt("seq"))
	s.queued = s.getInt("queued")
	return s, nil
}

func (s *store) begin() error {
	tx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	s.tx = tx
	for _, b := range []struct {
		name []byte
		p    **bolt.Bucket
	}{{bucketMeta, &s.meta}, {bucketSeen, &s.seen}, {bucketQueue, &s.queue}, {bucketHosts, &s.hosts}} {
		bk, err := tx.CreateBucketIfNotExists(b.name)
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("state: %w", err)
		}
		*b.p = bk
	}
	s.queue.FillPercent = 0.9 // keys mostly grow at the end of each host's run
	return nil
}

// commit makes every change since the last commit durable.
func (s *store) commit() error {
	s.putInt("seq", int64(s.seq))
	s.putInt("queued", s.queued)
	if err := s.tx.Commit(); err != nil {
		s.tx = nil
		return fmt.Errorf("state: commit: %w", err)
	}
	s.changes = 0
	return s.begin()
}

// close commits and closes the store.
func (s *store) close() error {
	var err error
	if s.tx != nil {
		if err = s.tx.Commit(); err != nil {
			err = fmt.Errorf("state: commit: %w", err)
		}
	}
	if cerr := s.db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("state: %w", cerr)
	}
	return err
}

// abort closes the store without committing what changed since the last
// commit.
func (s *store) abort() {
	if s.tx != nil {
		s.tx.Rollback()
		s.tx = nil
	}
	s.db.Close()
}

func (s *store) getInt(name string) int64 {
	v, _ := strconv.ParseInt(string(s.meta.Get([]byte(name))), 10, 64)
	return v
}

func (s *store) putInt(name string, v int64) {
	s.meta.Put([]byte(name), strconv.AppendInt(nil, v, 10))
}

func (s *store) getString(name string) string { return string(s.meta.Get([]byte(name))) }

func (s *store) putString(name, v string) { s.meta.Put([]byte(name), []byte(v)) }

// metaWithPrefix returns the meta names that start with prefix, without it.
func (s *store) metaWithPrefix(prefix string) []string {
	var out []string
	c := s.meta.Cursor()
	for k, _ := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}

// seenKey is a URL's key in the seen set: 4 bytes of its origin's hash,
// then 12 of its own. The origin prefix keeps the URLs of one host
// together in the tree, so that the links of a page (mostly to its own
// host) touch few pages of it: adding a million URLs costs about half as
// much as with keys scattered at random.
func seenKey(origin, u string) []byte {
	var k [16]byte
	binary.BigEndian.PutUint32(k[:4], uint32(xxh3.HashString(origin)))
	h := xxh3.HashString128(u).Bytes()
	copy(k[4:], h[:12])
	return k[:]
}

// add queues e under its origin unless its URL was ever queued; it
// reports whether it did, and whether the origin had nothing queued.
func (s *store) add(origin string, e entry) (added, newHost bool, err error) {
	k := seenKey(origin, e.URL)
	if s.seen.Get(k) != nil {
		return false, false, nil
	}
	if err := s.seen.Put(k, present); err != nil {
		return false, false, fmt.Errorf("state: %w", err)
	}
	s.seq++
	if err := s.queue.Put(queueKey(origin, s.seq), e.encode()); err != nil {
		return false, false, fmt.Errorf("state: %w", err)
	}
	s.queued++
	s.changes++
	if s.hosts.Get([]byte(origin)) == nil {
		newHost = true
		if err := s.hosts.Put([]byte(origin), present); err != nil {
			return false, false, fmt.Errorf("state: %w", err)
		}
	}
	return true, newHost, nil
}

// present is the value of set members (bbolt's Get cannot tell an empty
// value from a missing key).
var present = []byte{1}

func queueKey(origin string, seq uint64) []byte {
	k := make([]byte, 0, len(origin)+9)
	k = append(k, origin...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// next returns the first entry queued for origin whose key skip does not
// hold (those in flight).
func (s *store) next(origin string, skip map[string]bool) ([]byte, entry, bool, error) {
	prefix := append([]byte(origin), 0)
	c := s.queue.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if skip[string(k)] {
			continue
		}
		e, err := decodeEntry(v)
		if err != nil {
			return nil, entry{}, false, fmt.Errorf("state: %w", err)
		}
		return bytes.Clone(k), e, true, nil
	}
	return nil, entry{}, false, nil
}

// remove takes a fetched entry out of the queue.
func (s *store) remove(key []byte) error {
	s.queued--
	s.changes++
	return s.queue.Delete(key)
}

// update rewrites an entry in place (a retry: Attempts has grown).
func (s *store) update(key []byte, e entry) error {
	s.changes++
	return s.queue.Put(key, e.encode())
}

// dropHost records that origin has nothing queued.
func (s *store) dropHost(origin string) error { return s.hosts.Delete([]byte(origin)) }

// hostsAfter calls fn with origins that have something queued, in order
// from the first after `after` (wrapping around to the start), until fn
// returns false or every origin has been seen once. It returns the last
// origin passed to fn.
func (s *store) hostsAfter(after string, fn func(origin string) bool) string {
	c := s.hosts.Cursor()
	last := after
	k, _ := c.Seek([]byte(after))
	if k != nil && string(k) == after {
		k, _ = c.Next()
	}
	wrapped := false
	for {
		if k == nil {
			if wrapped || after == "" {
				return last
			}
			wrapped = true
			k, _ = c.First()
			continue
		}
		if wrapped && string(k) > after {
			return last
		}
		last = string(k)
		if !fn(last) {
			return last
		}
		if wrapped && last == after {
			return last
		}
		k, _ = c.Next()
	}
}

// hostCount returns how many origins have something queued.
func (s *store) hostCount() int { return s.hosts.Stats().KeyN }
