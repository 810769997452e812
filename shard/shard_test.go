package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/pipe-dev/pipe/tokstream"
)

const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

var (
	meta16 = tokstream.Meta{TokenizerSHA256: sha, VocabSize: 50257, EOT: 50256}
	meta32 = tokstream.Meta{TokenizerSHA256: sha, VocabSize: 100277, EOT: 100257}
)

type doc struct {
	ID     string
	Tokens []uint32
}

// makeDocs returns n documents of up to maxLen random tokens below vocab,
// one in eleven empty.
func makeDocs(n, vocab, maxLen int, seed uint64) []doc {
	rng := rand.New(rand.NewPCG(seed, 7))
	docs := make([]doc, n)
	for i := range docs {
		toks := make([]uint32, rng.IntN(maxLen+1))
		if i%11 == 5 {
			toks = []uint32{}
		}
		for j := range toks {
			toks[j] = uint32(rng.IntN(vocab))
		}
		docs[i] = doc{ID: fmt.Sprintf("doc-%d-%d", seed, i), Tokens: toks}
	}
	return docs
}

// writeDocs writes docs with a Writer, one by one.
func writeDocs(t testing.TB, dir string, meta tokstream.Meta, opt Options, docs []doc) *Manifest {
	t.Helper()
	w, err := Create(dir, meta, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if err := w.Write(d.ID, d.Tokens); err != nil {
			t.Fatal(err)
		}
	}
	m, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readFile reads every document of a shard file.
func readFile(t testing.TB, path string) []doc {
	t.Helper()
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []doc
	for i := range f.NumBatches() {
		b, err := f.Batch(i)
		if err != nil {
			t.Fatal(err)
		}
		for j, id := range b.IDs {
			toks := []uint32{}
			for k := b.Offsets[j]; k < b.Offsets[j+1]; k++ {
				if b.U16 != nil {
					toks = append(toks, uint32(b.U16[k]))
				} else {
					toks = append(toks, b.U32[k])
				}
			}
			docs = append(docs, doc{strings.Clone(id), toks})
		}
	}
	return docs
}

// readSplit reads the documents of a split, in manifest order.
func readSplit(t testing.TB, dir string, m *Manifest, split string) []doc {
	t.Helper()
	var docs []doc
	for _, s := range m.Split(split) {
		docs = append(docs, readFile(t, filepath.Join(dir, s.File))...)
	}
	return docs
}

// inVal is the val rule for a fraction, written out from the package
// documentation: the first 8 bytes of SHA-256(id), big-endian, over 2^64.
func inVal(id string, fraction float64) bool {
	sum := sha256.Sum256([]byte(id))
	return float64(binary.BigEndian.Uint64(sum[:8]))/math.Pow(2, 64) < fraction
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name        string
		meta        tokstream.Meta
		compression string
	}{
		{"uint16", meta16, None},
		{"uint32", meta32, None},
		{"uint16-zstd", meta16, Zstd},
		{"uint32-lz4", meta32, LZ4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			docs := makeDocs(300, tc.meta.VocabSize, 200, 1)
			opt := Options{ShardTokens: 5000, BatchBytes: 2048, ValFraction: 0.2, Compression: tc.compression}
			m := writeDocs(t, dir, tc.meta, opt, docs)

			var wantTrain, wantVal []doc
			for _, d := range docs {
				if inVal(d.ID, 0.2) {
					wantVal = append(wantVal, d)
				} else {
					wantTrain = append(wantTrain, d)
				}
			}
			if got := readSplit(t, dir, m, Train); !reflect.DeepEqual(got, wantTrain) {
				t.Errorf("train holds %d documents, want %d in input order", len(got), len(wantTrain))
			}
			if got := readSplit(t, dir, m, Val); !reflect.DeepEqual(got, wantVal) {
				t.Errorf("val holds %d documents, want %d in input order", len(got), len(wantVal))
			}
			if len(m.Split(Train)) < 3 || len(m.Split(Val)) < 1 {
				t.Errorf("%d train and %d val shards: want several", len(m.Split(Train)), len(m.Split(Val)))
			}

			// The manifest tells the truth about every file.
			for i, s := range m.Shards {
				data, err := os.ReadFile(filepath.Join(dir, s.File))
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(data)
				got := readFile(t, filepath.Join(dir, s.File))
				var tokens int64
				for _, d := range got {
					tokens += int64(len(d.Tokens))
				}
				if s.Bytes != int64(len(data)) || s.SHA256 != hex.EncodeToString(sum[:]) || s.Documents != int64(len(got)) || s.Tokens != tokens {
					t.Errorf("shard %d: manifest %+v; file %d bytes, %d documents, %d tokens", i, s, len(data), len(got), tokens)
				}
				if s.Split == Train && s != m.Split(Train)[len(m.Split(Train))-1] && s.Tokens < opt.ShardTokens {
					t.Errorf("shard %s closed at %d tokens, before %d", s.File, s.Tokens, opt.ShardTokens)
				}
			}
			for i, s := range m.Split(Train) {
				if s.File != fmt.Sprintf("train-%05d.arrow", i) {
					t.Errorf("train shard %d is named %s", i, s.File)
				}
			}
			back, err := ReadManifest(filepath.Join(dir, ManifestName))
			if err != nil || !reflect.DeepEqual(back, m) {
				t.Errorf("manifest.json reads back as %+v, %v; want %+v", back, err, m)
			}
			if m.Compression != tc.compression || m.Meta() != (tokstream.Meta{TokenizerSHA256: sha, VocabSize: tc.meta.VocabSize, EOT: tc.meta.EOT, DType: tokstream.DTypeFor(tc.meta.VocabSize)}) {
				t.Errorf("manifest says %s, %+v", m.Compression, m.Meta())
			}
			ds, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := ds.Verify(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The schema and its metadata, as any Arrow reader sees them.
func TestSchemaMetadata(t *testing.T) {
	dir := t.TempDir()
	m := writeDocs(t, dir, meta16, Options{}, makeDocs(5, 50257, 10, 2))
	f, err := os.Open(filepath.Join(dir, m.Shards[0].File))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	md := r.Schema().Metadata()
	got := map[string]string{}
	for i, k := range md.Keys() {
		got[k] = md.Values()[i]
	}
	want := map[string]string{"pipe.format": "pipe-shard", "pipe.version": "1", "pipe.tokenizer_sha256": sha,
		"pipe.vocab_size": "50257", "pipe.eot_id": "50256", "pipe.dtype": "uint16"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("metadata %v, want %v", got, want)
	}
	if s := r.Schema().String(); !strings.Contains(s, "id: type=utf8") || !strings.Contains(s, "tokens: type=large_list<item: uint16, nullable>") &&
		!strings.Contains(s, "tokens: type=large_list<item: uint16>") {
		t.Errorf("schema %s", s)
	}
}

// The val split by token budget is the documents of lowest hash while the
// tokens before each are fewer than the budget.
func TestValTokens(t *testing.T) {
	docs := makeDocs(400, 50257, 100, 3)
	for _, budget := range []int64{1, 50, 1000, 5000, 1 << 40} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			dir := t.TempDir()
			m := writeDocs(t, dir, meta16, Options{ShardTokens: 3000, BatchBytes: 1000, ValTokens: budget}, docs)

			// The oracle: sort by (hash, input order), take while under budget.
			order := make([]int, len(docs))
			for i := range order {
				order[i] = i
			}
			hash := func(i int) uint64 { s := sha256.Sum256([]byte(docs[i].ID)); return binary.BigEndian.Uint64(s[:8]) }
			sort.SliceStable(order, func(a, b int) bool { return hash(order[a]) < hash(order[b]) })
			want := map[string]bool{}
			var before int64
			for _, i := range order {
				if before >= budget {
					break
				}
				want[docs[i].ID] = true
				before += int64(len(docs[i].Tokens))
			}

			val, train := readSplit(t, dir, m, Val), readSplit(t, dir, m, Train)
			got := map[string]bool{}
			for _, d := range val {
				got[d.ID] = true
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("val holds %d documents, the oracle %d", len(got), len(want))
			}
			// Every document lands once, unchanged; val in input order.
			all := append(slices.Clone(train), val...)
			sort.Slice(all, func(a, b int) bool { return all[a].ID < all[b].ID })
			sorted := slices.Clone(docs)
			sort.Slice(sorted, func(a, b int) bool { return sorted[a].ID < sorted[b].ID })
			if !reflect.DeepEqual(all, sorted) {
				t.Errorf("train and val together are not the input")
			}
			var inOrder []doc
			for _, d := range docs {
				if want[d.ID] {
					inOrder = append(inOrder, d)
				}
			}
			if len(inOrder) > 0 && !reflect.DeepEqual(val, inOrder) {
				t.Errorf("val is not in input order")
			}
		})
	}
}

// Reruns give the same bytes, replace what an earlier run left, and an
// aborted run leaves no shard under a temporary name and no manifest.
func TestRerun(t *testing.T) {
	dir := t.TempDir()
	docs := makeDocs(200, 50257, 100, 4)
	first := writeDocs(t, dir, meta16, Options{ShardTokens: 500, ValFraction: 0.1}, docs)
	again := writeDocs(t, dir, meta16, Options{ShardTokens: 500, ValFraction: 0.1}, docs)
	if !reflect.DeepEqual(first, again) {
		t.Errorf("a rerun wrote other shards")
	}

	// An interrupted run: a half shard under its temporary name.
	w, err := Create(dir, meta16, Options{ShardTokens: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs[:20] {
		if err := w.Write(d.ID, d.Tokens); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the manifest of the earlier run is still there while shards are replaced: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ".train-00099.arrow.tmp-123"), []byte("half"), 0o644)
	w.Abort()
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(tmps) != 1 {
		t.Errorf("after Abort: %v", tmps)
	}

	// A rerun with larger shards: fewer files, the others gone.
	m := writeDocs(t, dir, meta16, Options{ShardTokens: 5000, ValFraction: 0.1}, docs)
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	var want []string
	for _, s := range m.Shards {
		want = append(want, filepath.Join(dir, s.File))
	}
	want = append(want, filepath.Join(dir, ManifestName))
	slices.Sort(want)
	if !reflect.DeepEqual(names, want) || len(hidden) != 0 {
		t.Errorf("directory holds %v %v, want %v", names, hidden, want)
	}
}

func TestWriterRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		meta tokstream.Meta
		opt  Options
		want string
	}{
		{"both val rules", meta16, Options{ValFraction: 0.1, ValTokens: 10}, "not both"},
		{"val fraction 1", meta16, Options{ValFraction: 1}, "val fraction"},
		{"compression", meta16, Options{Compression: "gzip"}, "compression"},
		{"rank", meta16, Options{Rank: 2, WorldSize: 2}, "rank 2"},
		{"sha", tokstream.Meta{TokenizerSHA256: "x", VocabSize: 10, EOT: 1}, Options{}, "sha256"},
		{"dtype", tokstream.Meta{TokenizerSHA256: sha, VocabSize: 70000, EOT: 1, DType: "uint16"}, Options{}, "dtype"},
	} {
		if _, err := Create(dir, tc.meta, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	w, err := Create(dir, meta16, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write("big", []uint32{1, 50257}); err == nil || !strings.Contains(err.Error(), "vocab size") {
		t.Errorf("a token past the vocab: %v", err)
	}
	if _, err := w.Close(); err != nil {
		t.Errorf("the writer should stay usable after a refused document: %v", err)
	}
}

// Ranks write their own shards; MergeManifests joins them.
func TestRanks(t *testing.T) {
	dir := t.TempDir()
	docs := makeDocs(300, 50257, 60, 5)
	parts := [][]doc{docs[:100], docs[100:220], docs[220:]}
	for r, p := range parts {
		m := writeDocs(t, dir, meta16, Options{ShardTokens: 1500, ValFraction: 0.1, Rank: r, WorldSize: 3}, p)
		if m.Part == nil || *m.Part != (Part{r, 3}) || !strings.HasPrefix(m.Shards[0].File, fmt.Sprintf("train-r%05d-", r)) {
			t.Fatalf("rank %d wrote %+v", r, m)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("ranks wrote manifest.json")
	}
	m, err := MergeManifests(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wantTrain []doc
	for _, d := range docs {
		if !inVal(d.ID, 0.1) {
			wantTrain = append(wantTrain, d)
		}
	}
	if got := readSplit(t, dir, m, Train); !reflect.DeepEqual(got, wantTrain) {
		t.Errorf("merged train holds %d documents, want %d in rank order", len(got), len(wantTrain))
	}
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Verify(); err != nil {
		t.Fatal(err)
	}

	// A missing rank, and ranks that disagree.
	os.Rename(filepath.Join(dir, "manifest-r00001.json"), filepath.Join(dir, "away.json"))
	if _, err := MergeManifests(dir); err == nil || !strings.Contains(err.Error(), "rank 1 of 3") {
		t.Errorf("merge without rank 1: %v", err)
	}
	writeDocs(t, dir, meta32, Options{Rank: 1, WorldSize: 3}, parts[1])
	if _, err := MergeManifests(dir); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "manifest-r00001.json") {
		t.Errorf("merge of another tokenizer: %v", err)
	}
}

// edit rewrites the manifest of dir through fn.
func edit(t *testing.T, dir string, fn func(m *Manifest)) {
	t.Helper()
	m, err := ReadManifest(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, ManifestName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Each refusal names the file and what disagrees.
func TestRefuses(t *testing.T) {
	docs := makeDocs(100, 50257, 100, 6)
	fresh := func(t *testing.T) (string, *Manifest) {
		dir := t.TempDir()
		return dir, writeDocs(t, dir, meta16, Options{ShardTokens: 2000, BatchBytes: 1024}, docs)
	}
	cfg := LoaderConfig{Batch: 2, Context: 16}
	type check struct {
		stage string // open, verify or loader
		is    error
		says  []string
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string, m *Manifest) string // returns the file to be named
		checks func(m *Manifest) []check
	}{
		{"checksum", func(t *testing.T, dir string, m *Manifest) string {
			p := filepath.Join(dir, m.Shards[1].File)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0x01 // a token, most likely; the size stays
			os.WriteFile(p, b, 0o644)
			return m.Shards[1].File
		}, func(m *Manifest) []check { return []check{{"verify", ErrChecksum, []string{"sha256"}}} }},
		{"tokenizer", func(t *testing.T, dir string, m *Manifest) string {
			edit(t, dir, func(m *Manifest) { m.Tokenizer.SHA256 = strings.Repeat("ab", 32) })
			return m.Shards[0].File
		}, func(m *Manifest) []check {
			return []check{{"loader", ErrMismatch, []string{"tokenizer sha256 " + sha, strings.Repeat("ab", 32)}}, {"verify", ErrMismatch, []string{"tokenizer"}}}
		}},
		{"dtype", func(t *testing.T, dir string, m *Manifest) string {
			edit(t, dir, func(m *Manifest) { m.DType = tokstream.Uint32 })
			return m.Shards[0].File
		}, func(m *Manifest) []check {
			return []check{{"loader", ErrMismatch, []string{"dtype uint16, the manifest says uint32"}}}
		}},
		{"eot", func(t *testing.T, dir string, m *Manifest) string {
			edit(t, dir, func(m *Manifest) { eot := 7; m.Tokenizer.EOT = &eot })
			return m.Shards[0].File
		}, func(m *Manifest) []check {
			return []check{{"loader", ErrMismatch, []string{"end-of-text id 50256, the manifest says 7"}}}
		}},
		{"truncated", func(t *testing.T, dir string, m *Manifest) string {
			p := filepath.Join(dir, m.Shards[2].File)
			os.Truncate(p, m.Shards[2].Bytes-100)
			return m.Shards[2].File
		}, func(m *Manifest) []check {
			return []check{{"open", ErrTruncated, []string{fmt.Sprintf("%d bytes, the manifest says %d", m.Shards[2].Bytes-100, m.Shards[2].Bytes)}}}
		}},
		{"truncated, manifest edited to match", func(t *testing.T, dir string, m *Manifest) string {
			p := filepath.Join(dir, m.Shards[2].File)
			os.Truncate(p, m.Shards[2].Bytes-100)
			edit(t, dir, func(m *Manifest) { m.Shards[2].Bytes -= 100 })
			return m.Shards[2].File
		}, func(m *Manifest) []check {
			return []check{{"loader", ErrTruncated, []string{"do not end with the Arrow footer"}}, {"verify", ErrChecksum, nil}}
		}},
		{"tokens", func(t *testing.T, dir string, m *Manifest) string {
			edit(t, dir, func(m *Manifest) { m.Shards[1].Tokens++ })
			return m.Shards[1].File
		}, func(m *Manifest) []check {
			return []check{{"loader", ErrMismatch, []string{fmt.Sprintf("%d documents and %d tokens, the manifest says %d and %d", m.Shards[1].Documents, m.Shards[1].Tokens, m.Shards[1].Documents, m.Shards[1].Tokens+1)}}, {"verify", ErrMismatch, []string{"tokens"}}}
		}},
		{"documents", func(t *testing.T, dir string, m *Manifest) string {
			edit(t, dir, func(m *Manifest) { m.Shards[0].Documents-- })
			return m.Shards[0].File
		}, func(m *Manifest) []check { return []check{{"loader", ErrMismatch, []string{"documents"}}} }},
		{"manifest version", func(t *testing.T, dir string, m *Manifest) string {
			edit(t, dir, func(m *Manifest) { m.Version = 2 })
			return ManifestName
		}, func(m *Manifest) []check { return []check{{"open", ErrFormat, []string{"version 2 is not supported"}}} }},
		{"missing shard", func(t *testing.T, dir string, m *Manifest) string {
			os.Remove(filepath.Join(dir, m.Shards[1].File))
			return m.Shards[1].File
		}, func(m *Manifest) []check { return []check{{"open", os.ErrNotExist, nil}} }},
		{"not a shard", func(t *testing.T, dir string, m *Manifest) string {
			p := filepath.Join(dir, m.Shards[0].File)
			b := make([]byte, m.Shards[0].Bytes)
			copy(b, "PAR1")
			os.WriteFile(p, b, 0o644)
			return m.Shards[0].File
		}, func(m *Manifest) []check { return []check{{"loader", ErrFormat, []string{"not an Arrow IPC file"}}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := fresh(t)
			file := tc.damage(t, dir, m)
			for _, c := range tc.checks(m) {
				ds, err := Open(dir)
				if c.stage != "open" {
					if err != nil {
						t.Fatalf("Open: %v", err)
					}
					switch c.stage {
					case "verify":
						err = ds.Verify()
					case "loader":
						var l *Loader
						if l, err = NewLoader(ds, Train, cfg); err == nil {
							l.Close()
						}
					}
				}
				if err == nil {
					t.Errorf("%s: no error", c.stage)
					continue
				}
				if !errors.Is(err, c.is) || !strings.Contains(err.Error(), file) {
					t.Errorf("%s: %v: want %v naming %s", c.stage, err, c.is, file)
				}
				for _, s := range c.says {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("%s: %v: want it to say %q", c.stage, err, s)
					}
				}
			}
		})
	}
}

// A shard file of another format version is refused by its reader.
func TestFileVersion(t *testing.T) {
	dir := t.TempDir()
	s, err := tokstream.SchemaFor(FileFormat, 2, tokstream.Meta{TokenizerSHA256: sha, VocabSize: 300, EOT: 299, DType: tokstream.Uint16})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "train-00000.arrow")
	f, _ := os.Create(p)
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(s))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.Close()
	if _, err := OpenFile(p); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `pipe-shard version "2" is not supported`) || !strings.Contains(err.Error(), p) {
		t.Errorf("a version 2 shard: %v", err)
	}
}

// maxOf agrees with a plain loop, its oracle.
func TestMaxOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for n := range 40 {
		xs := make([]uint16, n)
		var want uint16
		for i := range xs {
			xs[i] = uint16(rng.IntN(1 << 16))
			want = max(want, xs[i])
		}
		if got := maxOf(xs); got != want {
			t.Fatalf("maxOf(%v) = %d, want %d", xs, got, want)
		}
	}
}

// A length or offset anywhere in a shard's Arrow metadata (the footer, the
// schema, a record batch's header) set to a huge value is an error
// wrapping ErrFormat or, where arrow-go does not read the word, a shard
// that still reads. arrow-go v18.8.0 trusts the vector lengths in that
// metadata: before OpenFile checked them (internal/arrowfb), a corrupt
// field count made it allocate without bound and the process die.
func TestOpenCorruptMetadata(t *testing.T) {
	dir := t.TempDir()
	m := writeDocs(t, dir, meta16, Options{ShardTokens: 2000, BatchBytes: 1024}, makeDocs(20, 50257, 100, 7))
	path := filepath.Join(dir, m.Shards[0].File)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	footerLen := int(binary.LittleEndian.Uint32(data[len(data)-10:]))
	// the schema and the first batch's header at the start, the footer at the end
	regions := [][2]int{{8, min(1024, len(data))}, {len(data) - 10 - footerLen, len(data) - 10}}
	refused := 0
	for _, r := range regions {
		for p := r[0] &^ 3; p+4 <= r[1]; p += 4 {
			for _, v := range []uint32{0x7fffffff, 0xfffffff0, 0x00100000} {
				bad := bytes.Clone(data)
				binary.LittleEndian.PutUint32(bad[p:], v)
				if err := readMapped(path, bad); err != nil {
					refused++
					if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) {
						t.Errorf("word at %d set to %#x: %v, want ErrFormat or ErrTruncated", p, v, err)
					}
				}
			}
		}
	}
	if refused == 0 {
		t.Fatal("no corrupt word was refused")
	}
	t.Logf("%d of the corrupt files refused", refused)
}

// readMapped opens data as the shard at path and reads every batch.
func readMapped(path string, data []byte) error {
	f, err := openMapped(path, data)
	if err != nil {
		return err
	}
	defer func() { f.data = nil; f.Close() }() // data is not a map
	for i := range f.NumBatches() {
		if _, err := f.Batch(i); err != nil {
			return err
		}
	}
	return nil
}
