package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/tokstream"
)

// concat is the oracle of the stream the loader cuts: every document
// followed by the end-of-text token, in order.
func concat(docs []doc, eot uint32) []uint32 {
	var s []uint32
	for _, d := range docs {
		s = append(s, d.Tokens...)
		s = append(s, eot)
	}
	return s
}

// windowsOf indexes the windows of the stream by content: window w is
// stream[wT : wT+T+1]. It fails the test when two windows are equal, so
// that a row names its window.
func windowsOf(t *testing.T, stream []uint32, T int) map[string]int64 {
	t.Helper()
	n := (len(stream) - 1) / T
	idx := make(map[string]int64, n)
	for w := range n {
		k := key(stream[w*T : w*T+T+1])
		if _, dup := idx[k]; dup {
			t.Fatalf("windows %d and %d are equal: the test data cannot tell rows apart", idx[k], w)
		}
		idx[k] = int64(w)
	}
	return idx
}

func key(toks []uint32) string {
	b := make([]byte, 4*len(toks))
	for i, t := range toks {
		binary.LittleEndian.PutUint32(b[4*i:], t)
	}
	return string(b)
}

func newLoader(t testing.TB, dir string, split string, cfg LoaderConfig) *Loader {
	t.Helper()
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(ds, split, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// batches returns the next n batches of l.
func batches(t testing.TB, l *Loader, n int) [][]uint32 {
	t.Helper()
	out := make([][]uint32, n)
	for i := range out {
		out[i] = make([]uint32, l.cfg.Batch*(l.cfg.Context+1))
		if err := l.Next(out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

type loaderCase struct {
	name   string
	meta   tokstream.Meta
	opt    Options
	docs   int
	maxLen int
	cfg    LoaderConfig
}

var loaderCases = []loaderCase{
	{"one rank", meta16, Options{ShardTokens: 3000, BatchBytes: 1500}, 200, 120, LoaderConfig{Batch: 4, Context: 16, Seed: 1}},
	{"three ranks", meta16, Options{ShardTokens: 2000, BatchBytes: 700}, 150, 90, LoaderConfig{Batch: 3, Context: 8, Seed: 2, WorldSize: 3}},
	{"long context", meta16, Options{ShardTokens: 1000, BatchBytes: 512}, 120, 40, LoaderConfig{Batch: 2, Context: 300, Seed: 3, WorldSize: 2}},
	{"uint32", meta32, Options{ShardTokens: 4000, BatchBytes: 4096}, 120, 80, LoaderConfig{Batch: 5, Context: 12, Seed: 4, WorldSize: 2}},
	{"zstd", meta16, Options{ShardTokens: 2000, BatchBytes: 1000, Compression: Zstd}, 100, 100, LoaderConfig{Batch: 4, Context: 10, Seed: 5, WorldSize: 2}},
	{"lz4, uint32", meta32, Options{ShardTokens: 2000, BatchBytes: 1000, Compression: LZ4}, 100, 100, LoaderConfig{Batch: 4, Context: 10, Seed: 6}},
	{"one shard, one batch", meta16, Options{}, 30, 50, LoaderConfig{Batch: 7, Context: 9, Seed: 7, WorldSize: 4}},
}

// Over several epochs: every row is a window of the oracle stream; in each
// epoch the ranks together serve M·W distinct windows (all N when W
// divides N), and no window twice.
func TestLoaderWindows(t *testing.T) {
	for _, tc := range loaderCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			docs := makeDocs(tc.docs, tc.meta.VocabSize, tc.maxLen, 10)
			writeDocs(t, dir, tc.meta, tc.opt, docs)
			stream := concat(docs, uint32(tc.meta.EOT))
			T, W := tc.cfg.Context, max(tc.cfg.WorldSize, 1)
			index := windowsOf(t, stream, T)
			N := int64(len(index))
			M := N / int64(W)

			const epochs = 3
			seen := make([]map[int64]int, epochs) // window → rank, per epoch
			for e := range seen {
				seen[e] = map[int64]int{}
			}
			for r := range W {
				cfg := tc.cfg
				cfg.Rank = r
				l := newLoader(t, dir, Train, cfg)
				if l.Windows() != M || l.StreamTokens() != int64(len(stream)) {
					t.Fatalf("rank %d: %d windows per epoch of a %d-token stream, want %d of %d", r, l.Windows(), l.StreamTokens(), M, len(stream))
				}
				var served int64
				for served < epochs*M {
					for _, b := range batches(t, l, 1) {
						for row := range tc.cfg.Batch {
							w, ok := index[key(b[row*(T+1):(row+1)*(T+1)])]
							if !ok {
								t.Fatalf("rank %d, window %d: row %d is no window of the stream", r, served, row)
							}
							if e := served / M; e < epochs {
								if other, dup := seen[e][w]; dup {
									t.Fatalf("epoch %d: window %d served to rank %d and rank %d", e, w, other, r)
								}
								seen[e][w] = r
							}
							served++
						}
					}
				}
			}
			for e, s := range seen {
				if int64(len(s)) != M*int64(W) {
					t.Errorf("epoch %d: %d windows served, want %d of %d", e, len(s), M*int64(W), N)
				}
			}
			if reflect.DeepEqual(seen[0], seen[1]) && W > 1 {
				t.Errorf("epochs 0 and 1 give each rank the same windows")
			}
		})
	}
}

// With one rank, the inputs of an epoch's windows (their first T tokens)
// tile the stream exactly once, up to the last partial window.
func TestLoaderCoversStream(t *testing.T) {
	dir := t.TempDir()
	docs := makeDocs(100, 50257, 100, 11)
	writeDocs(t, dir, meta16, Options{ShardTokens: 1500, BatchBytes: 900}, docs)
	stream := concat(docs, 50256)
	const T = 13
	index := windowsOf(t, stream, T)
	l := newLoader(t, dir, Train, LoaderConfig{Batch: 1, Context: T, Seed: 9})
	count := make([]int, len(stream))
	for range l.Windows() {
		b := batches(t, l, 1)[0]
		w := index[key(b)]
		for i := w * T; i < (w+1)*T; i++ {
			count[i]++
		}
	}
	N := (len(stream) - 1) / T
	for i, c := range count {
		if want := b2i(i < N*T); c != want {
			t.Fatalf("stream token %d is in the inputs of %d windows, want %d", i, c, want)
		}
	}
	if got := l.State(); got.Epoch != 0 || got.Cursor != l.Windows() {
		t.Errorf("after an epoch: %+v", got)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Sequential windows are the stream in order, rank r taking every W-th.
func TestLoaderSequential(t *testing.T) {
	dir := t.TempDir()
	docs := makeDocs(60, 50257, 80, 12)
	writeDocs(t, dir, meta16, Options{ShardTokens: 700, BatchBytes: 300, ValFraction: 0.3}, docs)
	var val []doc
	for _, d := range docs {
		if inVal(d.ID, 0.3) {
			val = append(val, d)
		}
	}
	stream := concat(val, 50256)
	const T, W = 6, 2
	for r := range W {
		l := newLoader(t, dir, Val, LoaderConfig{Batch: 3, Context: T, Rank: r, WorldSize: W, Sequential: true})
		k := 0
		for _, b := range batches(t, l, 5) {
			for row := range 3 {
				w := (k%int(l.Windows()))*W + r
				if got, want := b[row*(T+1):(row+1)*(T+1)], stream[w*T:w*T+T+1]; !slices.Equal(got, want) {
					t.Fatalf("rank %d, window %d: %v, want %v", r, k, got, want)
				}
				k++
			}
		}
	}
}

// Resuming from the state after any step gives the batches of an
// uninterrupted run, through epoch boundaries; the same seed gives the same
// batches, another seed others.
func TestLoaderResume(t *testing.T) {
	for _, tc := range loaderCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeDocs(t, dir, tc.meta, tc.opt, makeDocs(tc.docs, tc.meta.VocabSize, tc.maxLen, 13))
			cfg := tc.cfg
			cfg.Rank = max(cfg.WorldSize, 1) - 1
			l := newLoader(t, dir, Train, cfg)
			steps := int(2*l.Windows()/int64(cfg.Batch)) + 3 // past two epoch boundaries
			var states []LoaderState
			var want [][]uint32
			for range steps {
				states = append(states, l.State())
				want = append(want, batches(t, l, 1)[0])
			}
			if again := batches(t, newLoader(t, dir, Train, cfg), steps); !reflect.DeepEqual(again, want) {
				t.Errorf("the same seed gave other batches")
			}
			other := cfg
			other.Seed++
			if again := batches(t, newLoader(t, dir, Train, other), steps); reflect.DeepEqual(again, want) {
				t.Errorf("another seed gave the same batches")
			}
			for k := 0; k < steps; k += max(1, steps/12) {
				b, err := json.Marshal(states[k])
				if err != nil {
					t.Fatal(err)
				}
				var s LoaderState
				if err := json.Unmarshal(b, &s); err != nil {
					t.Fatal(err)
				}
				r := newLoader(t, dir, Train, cfg)
				if err := r.Restore(s); err != nil {
					t.Fatal(err)
				}
				if got := batches(t, r, steps-k); !reflect.DeepEqual(got, want[k:]) {
					t.Fatalf("resumed at step %d (state %s): other batches", k, b)
				}
			}
		})
	}
}

// Compressed shards serve the batches uncompressed ones do.
func TestLoaderCompressed(t *testing.T) {
	docs := makeDocs(150, 50257, 100, 14)
	cfg := LoaderConfig{Batch: 4, Context: 20, Seed: 1}
	var want [][]uint32
	for _, c := range []string{None, Zstd, LZ4} {
		dir := t.TempDir()
		writeDocs(t, dir, meta16, Options{ShardTokens: 3000, BatchBytes: 1000, Compression: c}, docs)
		got := batches(t, newLoader(t, dir, Train, cfg), 40)
		if want == nil {
			want = got
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("%s shards serve other batches", c)
		}
	}
}

func TestLoaderRefuses(t *testing.T) {
	dir := t.TempDir()
	writeDocs(t, dir, meta16, Options{}, makeDocs(10, 50257, 20, 15))
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		split string
		cfg   LoaderConfig
		want  string
	}{
		{Train, LoaderConfig{Batch: 0, Context: 4}, "batch 0"},
		{Train, LoaderConfig{Batch: 1, Context: 4, Rank: 1}, "rank 1 of world size 1"},
		{Val, LoaderConfig{Batch: 1, Context: 4}, `no shards of split "val"`},
		{Train, LoaderConfig{Batch: 1, Context: 1 << 20}, "too few"},
		{Train, LoaderConfig{Batch: 1, Context: 10, WorldSize: 1 << 20}, "too few for 1048576 ranks"},
	} {
		if l, err := NewLoader(ds, tc.split, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error saying %q", tc.cfg, err, tc.want)
			if l != nil {
				l.Close()
			}
		}
	}
	l := newLoader(t, dir, Train, LoaderConfig{Batch: 2, Context: 4})
	if err := l.Next(make([]uint32, 9)); err == nil {
		t.Error("Next took a dst of the wrong size")
	}
	if err := l.Restore(LoaderState{Cursor: 1, Windows: l.Windows() + 1}); err == nil || !strings.Contains(err.Error(), "windows per epoch") {
		t.Errorf("Restore of a state of another dataset: %v", err)
	}
	if err := l.Restore(LoaderState{Cursor: l.Windows() + 1}); err == nil {
		t.Error("Restore past the end of an epoch")
	}

	noEOT := t.TempDir()
	writeDocs(t, noEOT, tokstream.Meta{TokenizerSHA256: sha, VocabSize: 300, EOT: tokstream.NoEOT}, Options{}, makeDocs(10, 300, 20, 16))
	ds, err = Open(noEOT)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewLoader(ds, Train, LoaderConfig{Batch: 1, Context: 4}); err == nil || !strings.Contains(err.Error(), "no end-of-text") {
		t.Errorf("a tokenizer without end-of-text: %v", err)
	}
}

// A batch whose tokens are corrupt (past the vocab) is refused when a
// window first reaches it, naming the file.
func TestLoaderChecksBatches(t *testing.T) {
	dir := t.TempDir()
	m := writeDocs(t, dir, tokstream.Meta{TokenizerSHA256: sha, VocabSize: 300, EOT: 299}, Options{}, makeDocs(20, 10, 30, 17))
	p := dir + "/" + m.Shards[0].File
	data := readBytes(t, p)
	// Tokens below 10 are stored as uint16 little-endian: find a run of
	// them in the values buffer and raise one past the vocab.
	i := findTokens(data)
	data[i+1] = 0xff
	writeBytes(t, p, data)
	// Two windows a batch: the one that fails may be the second, after the
	// first has moved the cursor on.
	l := newLoader(t, dir, Train, LoaderConfig{Batch: 2, Context: 8, Sequential: true})
	var err error
	var before LoaderState
	for range l.Windows() {
		before = l.State()
		if err = l.Next(make([]uint32, 18)); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "not below the vocab size 300") {
		t.Fatalf("a corrupt token: %v", err)
	}
	if got := l.State(); got != before {
		t.Errorf("state after the failed batch %+v, want it left at %+v", got, before)
	}
	if again := l.Next(make([]uint32, 18)); again == nil || again.Error() != err.Error() {
		t.Errorf("the failed batch again: %v, want %v", again, err)
	}
}

// findTokens finds 16 bytes of small little-endian uint16 tokens.
func findTokens(data []byte) int {
	for i := 0; i+16 < len(data); i += 2 {
		ok := true
		for j := i; j < i+16; j += 2 {
			if data[j] == 0 || data[j] >= 10 || data[j+1] != 0 {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	panic("no tokens found")
}

// The permutation of each epoch is a bijection of [0, n).
func TestPermutation(t *testing.T) {
	sizes := []uint64{1, 2, 3, 4, 5, 7, 16, 17, 100, 255, 256, 257, 1000, 4097, 65537}
	for _, n := range sizes {
		for seed := range uint64(3) {
			p := newPermutation(n, seed, seed*7)
			seen := make([]bool, n)
			for i := range n {
				x := p.at(i)
				if x >= n || seen[x] {
					t.Fatalf("n %d, seed %d: position %d gives %d, out of range or seen", n, seed, i, x)
				}
				seen[x] = true
			}
		}
	}
	a, b := newPermutation(1000, 1, 0), newPermutation(1000, 1, 1)
	same := 0
	for i := range uint64(1000) {
		same += b2i(a.at(i) == b.at(i))
	}
	if same > 20 {
		t.Errorf("epochs 0 and 1 agree at %d of 1000 positions", same)
	}
}

// The order of windows and the batches of a fixed dataset are pinned:
// checkpoints resume by them, so a change here changes every saved run.
func TestPermutationGolden(t *testing.T) {
	p := newPermutation(10, 1, 0)
	var got []uint64
	for i := range uint64(10) {
		got = append(got, p.at(i))
	}
	want := []uint64{3, 0, 5, 6, 7, 8, 9, 1, 2, 4}
	if !slices.Equal(got, want) {
		t.Errorf("permutation of 10, seed 1, epoch 0: %v, want %v", got, want)
	}

	dir := t.TempDir()
	writeDocs(t, dir, meta16, Options{ShardTokens: 2000, BatchBytes: 1000}, makeDocs(100, 50257, 100, 18))
	h := sha256.New()
	for _, b := range batches(t, newLoader(t, dir, Train, LoaderConfig{Batch: 4, Context: 32, Seed: 42, Rank: 1, WorldSize: 2}), 20) {
		binary.Write(h, binary.LittleEndian, b)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), "105fda410bb3fc87f910b671d740ca5d916a4085c26aa4ac182c233595a50f45"; got != want {
		t.Errorf("batches of the golden dataset: sha256 %s, want %s", got, want)
	}
}

// The loader's heap is a few words per record batch, whatever the data:
// no copy of the tokens, no table per document or per window.
func TestLoaderMemory(t *testing.T) {
	for _, shards := range []int{1, 8} {
		dir := t.TempDir()
		func() { // about 1M tokens, garbage before the measurement starts
			writeDocs(t, dir, meta16, Options{ShardTokens: int64(1_100_000 / shards), BatchBytes: 8 << 10}, makeDocs(2000, 50257, 1000, 19))
		}()
		ds, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		dst := make([]uint32, 8*257)
		runtime.GC()
		runtime.ReadMemStats(&before)
		l, err := NewLoader(ds, Train, LoaderConfig{Batch: 8, Context: 256, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for range l.Windows() / 8 {
			if err := l.Next(dst); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(l)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		limit := int64(64<<10 + 512*len(l.batches))
		t.Logf("%d shards, %d batches, %d tokens: loader heap %d bytes", shards, len(l.batches), l.StreamTokens(), heap)
		if heap > limit {
			t.Errorf("%d shards: the loader holds %d bytes of heap for %d tokens, want at most %d", shards, heap, l.StreamTokens(), limit)
		}
		l.Close()
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// locate agrees with a linear scan, its oracle, on sizes from even to
// wildly uneven, with empty items.
func TestLocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for trial := range 2000 {
		n := 1 + rng.IntN(60)
		xs := []int64{int64(rng.IntN(100))}
		for range n {
			size := int64(rng.IntN(20))
			if trial%3 == 0 && rng.IntN(10) == 0 {
				size = int64(rng.IntN(5000)) // a few huge items
			}
			xs = append(xs, xs[len(xs)-1]+size)
		}
		for _, stride := range []int64{0, 1} {
			end := xs[n] - xs[0] + stride*int64(n)
			for q := range end {
				want := 0
				for i := range n {
					if xs[i]-xs[0]+stride*int64(i) <= q {
						want = i
					}
				}
				if got := locate(xs, stride, q); got != want {
					t.Fatalf("locate(%v, %d, %d) = %d, want %d", xs, stride, q, got, want)
				}
			}
		}
	}
}

// Uncompressed shards are read from the map without a copy; compressed
// ones through the small cache of decoded batches.
func TestLoaderZeroCopy(t *testing.T) {
	docs := makeDocs(100, 50257, 100, 20)
	for _, c := range []string{None, Zstd} {
		dir := t.TempDir()
		writeDocs(t, dir, meta16, Options{ShardTokens: 2000, BatchBytes: 1000, Compression: c}, docs)
		l := newLoader(t, dir, Train, LoaderConfig{Batch: 4, Context: 16, Seed: 1})
		batches(t, l, int(l.Windows()/4))
		inMap := 0
		for _, ref := range l.batches {
			if ref.offsets != nil && mapped(l.files[ref.file].data, ref.offsets) && mapped(l.files[ref.file].data, ref.u16) {
				inMap++
			}
		}
		switch {
		case c == None && (inMap != len(l.batches) || len(l.cache) != 0):
			t.Errorf("uncompressed: %d of %d batches read from the map, %d decoded", inMap, len(l.batches), len(l.cache))
		case c != None && (inMap != 0 || len(l.cache) != cacheBatches):
			t.Errorf("%s: %d batches in the map, %d decoded", c, inMap, len(l.cache))
		}
	}
}

// TestWiden holds widen (the vector form where the CPU has one) to widenGo
// at every length around the vector block, from unaligned starts too.
func TestWiden(t *testing.T) {
	src := make([]uint16, 300)
	for i := range src {
		src[i] = uint16(i*7919 + 65000*(i%3)) // high bits set on a third
	}
	for off := range 3 {
		for n := 0; off+n <= len(src); n += 1 + n/16 {
			got, want := make([]uint32, n+1), make([]uint32, n+1)
			got[n], want[n] = 42, 42 // the element past the end stays
			widen(got[:n], src[off:off+n])
			widenGo(want[:n], src[off:off+n])
			if !slices.Equal(got, want) {
				t.Fatalf("offset %d, %d tokens: widen differs from widenGo", off, n)
			}
		}
	}
}
