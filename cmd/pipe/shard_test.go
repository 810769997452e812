package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/shard"
	"github.com/pipe-dev/pipe/tokstream"
)

const testSHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

type tokDoc struct {
	ID     string   `json:"id"`
	Tokens []uint32 `json:"tokens"`
}

// tokDocs returns n documents of random tokens below vocab.
func tokDocs(n, vocab int, seed uint64) []tokDoc {
	rng := rand.New(rand.NewPCG(seed, 3))
	docs := make([]tokDoc, n)
	for i := range docs {
		toks := make([]uint32, rng.IntN(400))
		for j := range toks {
			toks[j] = uint32(rng.IntN(vocab))
		}
		docs[i] = tokDoc{fmt.Sprintf("%d/doc-%d", seed, i), toks}
	}
	return docs
}

// arrowTokens is docs as the Arrow token stream.
func arrowTokens(t *testing.T, meta tokstream.Meta, docs []tokDoc) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := tokstream.NewWriter(&b, meta)
	if err != nil {
		t.Fatal(err)
	}
	w.BatchBytes = 4096
	for _, d := range docs {
		if err := w.Write(d.ID, d.Tokens); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// splitDocs splits docs by the val rule for a fraction, written out from
// its documentation.
func splitDocs(docs []tokDoc, fraction float64) (train, val []tokDoc) {
	for _, d := range docs {
		sum := sha256.Sum256([]byte(d.ID))
		if float64(binary.BigEndian.Uint64(sum[:8]))/(1<<64) < fraction {
			val = append(val, d)
		} else {
			train = append(train, d)
		}
	}
	return train, val
}

// readShards reads the documents of a split with package shard.
func readShards(t *testing.T, dir, split string) []tokDoc {
	t.Helper()
	m, err := shard.ReadManifest(filepath.Join(dir, shard.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var docs []tokDoc
	for _, s := range m.Split(split) {
		f, err := shard.OpenFile(filepath.Join(dir, s.File))
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.NumBatches() {
			b, err := f.Batch(i)
			if err != nil {
				t.Fatal(err)
			}
			for j, id := range b.IDs {
				toks := []uint32{}
				for k := b.Offsets[j]; k < b.Offsets[j+1]; k++ {
					toks = append(toks, uint32(b.U16[k]))
				}
				docs = append(docs, tokDoc{strings.Clone(id), toks})
			}
		}
		f.Close()
	}
	return docs
}

var meta16 = tokstream.Meta{TokenizerSHA256: testSHA, VocabSize: 50257, EOT: 50256}

func TestShardCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	docs := tokDocs(300, 50257, 1)
	mustRun(t, arrowTokens(t, meta16, docs), "shard", "--out", dir, "--shard-tokens", "10000", "--val-fraction", "0.2")
	train, val := splitDocs(docs, 0.2)
	if got := readShards(t, dir, shard.Train); !reflect.DeepEqual(got, train) {
		t.Errorf("train holds %d documents, want %d", len(got), len(train))
	}
	if got := readShards(t, dir, shard.Val); !reflect.DeepEqual(got, val) {
		t.Errorf("val holds %d documents, want %d", len(got), len(val))
	}
	for _, name := range []string{"train-00000.arrow", "train-00001.arrow", "val-00000.arrow", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}

	info := string(mustRun(t, nil, "shard", "info", dir))
	var trainTokens int
	for _, d := range train {
		trainTokens += len(d.Tokens)
	}
	for _, want := range []string{testSHA, "vocab size 50257", "end-of-text id 50256", "uint16", "train",
		fmt.Sprint(len(train)), fmt.Sprint(trainTokens), fmt.Sprint(len(val))} {
		if !strings.Contains(info, want) {
			t.Errorf("info does not say %q:\n%s", want, info)
		}
	}
	if out := mustRun(t, nil, "shard", "verify", dir); !bytes.HasPrefix(out, []byte("ok: ")) {
		t.Errorf("verify: %s", out)
	}

	// A flipped bit in a shard: verify names the file and the checksum.
	p := filepath.Join(dir, "train-00001.arrow")
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o644)
	r := run(t, nil, "shard", "verify", dir)
	if r.code != 1 || !strings.Contains(string(r.stderr), p) || !strings.Contains(string(r.stderr), "sha256") {
		t.Errorf("verify of a damaged shard: exit %d\n%s", r.code, r.stderr)
	}
	// A truncated one: even info refuses the directory.
	os.Truncate(p, int64(len(b)-8))
	r = run(t, nil, "shard", "info", dir)
	if r.code != 1 || !strings.Contains(string(r.stderr), p) || !strings.Contains(string(r.stderr), "cut short") {
		t.Errorf("info of a truncated shard: exit %d\n%s", r.code, r.stderr)
	}

	// A rerun replaces it.
	mustRun(t, arrowTokens(t, meta16, docs), "shard", "--out", dir, "--shard-tokens", "10000", "--val-fraction", "0.2")
	mustRun(t, nil, "shard", "verify", dir)
}

func TestShardRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		stdin []byte
		args  []string
		code  int
		says  string
	}{
		{jsonl(t, []string{"hello"}), []string{"shard", "--out", dir}, 1, "give --tokenizer FILE"},
		{nil, []string{"shard", "--out", dir, "--val-fraction", "0.1", "--val-tokens", "5"}, 2, "not both"},
		{nil, []string{"shard", "--out", dir, "--compression", "gzip"}, 2, "compression"},
		{nil, []string{"shard"}, 2, "--out"},
		{nil, []string{"shard", "export", dir, "--format", "parquet", "--out", dir}, 2, "only stream"},
		{nil, []string{"shard", "merge-manifests", dir}, 1, "no rank manifests"},
	} {
		stdin := tc.stdin
		if stdin == nil {
			stdin = arrowTokens(t, meta16, tokDocs(3, 50257, 2))
		}
		r := run(t, stdin, tc.args...)
		if r.code != tc.code || !strings.Contains(string(r.stderr), tc.says) {
			t.Errorf("pipe %v: exit %d, want %d saying %q\n%s", tc.args, r.code, tc.code, tc.says, r.stderr)
		}
	}
}

// Two ranks shard their halves of the inputs; merge-manifests joins them.
func TestShardRanks(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	var all []tokDoc
	var inputs []string
	for i := range 3 {
		docs := tokDocs(60, 50257, uint64(10+i))
		all = append(all, docs...)
		p := filepath.Join(tmp, fmt.Sprintf("tokens-%d.arrows", i))
		os.WriteFile(p, arrowTokens(t, meta16, docs), 0o644)
		inputs = append(inputs, p)
	}
	for r := range 2 {
		mustRun(t, nil, append([]string{"shard", "--out", dir, "--shard-tokens", "8000", "--val-fraction", "0.1",
			"--rank", fmt.Sprint(r), "--world-size", "2"}, inputs...)...)
	}
	out := mustRun(t, nil, "shard", "merge-manifests", dir)
	if !strings.Contains(string(out), "train shards") {
		t.Errorf("merge-manifests: %s", out)
	}
	train, _ := splitDocs(all, 0.1)
	if got := readShards(t, dir, shard.Train); !reflect.DeepEqual(got, train) {
		t.Errorf("train holds %d documents, want %d in input order", len(got), len(train))
	}
	mustRun(t, nil, "shard", "verify", dir)
}

// texts are documents for a tokenizer to learn and encode.
func texts(n int) []string {
	rng := rand.New(rand.NewPCG(5, 5))
	words := strings.Fields("the a shard of tokens is written to an arrow file and read back by the loader with windows of context over documents ended by end of text")
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range 20 + rng.IntN(200) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteString(" ")
		}
		out[i] = b.String()
	}
	return out
}

// With --tokenizer, shard encodes JSONL itself, to the bytes that encoding
// with pipe bpe encode and sharding the stream give; info decodes it.
func TestShardTokenizer(t *testing.T) {
	tmp := t.TempDir()
	docs := jsonl(t, texts(200))
	tok := filepath.Join(tmp, "tok.bpe")
	mustRun(t, docs, "bpe", "train", "--vocab-size", "400", "--out", tok)
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	mustRun(t, docs, "shard", "--tokenizer", tok, "--out", a, "--shard-tokens", "3000", "--val-tokens", "500")
	stream := mustRun(t, docs, "bpe", "encode", "--tokenizer", tok)
	mustRun(t, stream, "shard", "--out", b, "--shard-tokens", "3000", "--val-tokens", "500")
	ma, _ := os.ReadFile(filepath.Join(a, shard.ManifestName))
	mb, _ := os.ReadFile(filepath.Join(b, shard.ManifestName))
	if !bytes.Equal(ma, mb) || len(ma) == 0 {
		t.Errorf("the two ways give other shards:\n%s\n%s", ma, mb)
	}
	info := string(mustRun(t, nil, "shard", "info", a, "--tokenizer", tok, "--docs", "2", "--tokens", "5"))
	var firstTrain string
	for _, d := range readShards(t, a, shard.Train)[:1] {
		firstTrain = d.ID
	}
	if !strings.Contains(info, "val split: 500 tokens") || !strings.Contains(info, firstTrain+" (") {
		t.Errorf("info:\n%s", info)
	}
	other := filepath.Join(tmp, "other.bpe")
	mustRun(t, jsonl(t, texts(20)), "bpe", "train", "--vocab-size", "300", "--out", other)
	if r := run(t, nil, "shard", "info", a, "--tokenizer", other); r.code != 1 || !strings.Contains(string(r.stderr), "the shards were made by") {
		t.Errorf("info with another tokenizer: exit %d\n%s", r.code, r.stderr)
	}
}

// pyarrow opens every shard with pa.ipc.open_file and reads the tokens that
// were written, and sees the schema metadata; its own reading of the val
// rule agrees with ours.
func TestShardPyarrow(t *testing.T) {
	peerDir(t)
	dir := filepath.Join(t.TempDir(), "data")
	docs := tokDocs(200, 50257, 20)
	for _, compression := range []string{"none", "zstd", "lz4"} {
		mustRun(t, arrowTokens(t, meta16, docs), "shard", "--out", dir, "--shard-tokens", "10000",
			"--val-fraction", "0.25", "--compression", compression)
		var files []struct {
			File, Split string
			Metadata    map[string]string
			Names       []string
			Types       []string
			Batches     int
			IDs         []string
			Tokens      [][]uint32
			InVal       []bool `json:"in_val"`
		}
		if err := json.Unmarshal(peer(t, nil, "arrow_peer.py", "shards", dir, "--val-fraction", "0.25"), &files); err != nil {
			t.Fatal(err)
		}
		wantMD := map[string]string{"pipe.format": "pipe-shard", "pipe.version": "1", "pipe.tokenizer_sha256": testSHA,
			"pipe.vocab_size": "50257", "pipe.eot_id": "50256", "pipe.dtype": "uint16"}
		got := map[string][]tokDoc{}
		for _, f := range files {
			if !reflect.DeepEqual(f.Metadata, wantMD) {
				t.Errorf("%s: pyarrow sees metadata %v", f.File, f.Metadata)
			}
			if !reflect.DeepEqual(f.Names, []string{"id", "tokens"}) || f.Types[0] != "string" || !strings.HasPrefix(f.Types[1], "large_list<item: uint16") {
				t.Errorf("%s: pyarrow sees columns %v of types %v", f.File, f.Names, f.Types)
			}
			for i, id := range f.IDs {
				if f.InVal[i] != (f.Split == shard.Val) {
					t.Errorf("%s: document %s is in %s, but Python's reading of the val rule says in val: %v", f.File, id, f.Split, f.InVal[i])
				}
				got[f.Split] = append(got[f.Split], tokDoc{id, append([]uint32{}, f.Tokens[i]...)})
			}
		}
		train, val := splitDocs(docs, 0.25)
		if !reflect.DeepEqual(got[shard.Train], train) || !reflect.DeepEqual(got[shard.Val], val) {
			t.Errorf("%s: pyarrow read %d train and %d val documents, want %d and %d with their tokens",
				compression, len(got[shard.Train]), len(got[shard.Val]), len(train), len(val))
		}
	}
}

// pipe shard export writes Arrow streams that Hugging Face datasets loads
// with the same rows, and that pipe shard reads back to the same shards.
func TestShardExportHF(t *testing.T) {
	peerDir(t)
	tmp := t.TempDir()
	dir, out := filepath.Join(tmp, "data"), filepath.Join(tmp, "hf")
	docs := tokDocs(150, 50257, 30)
	mustRun(t, arrowTokens(t, meta16, docs), "shard", "--out", dir, "--shard-tokens", "10000", "--val-fraction", "0.2")
	mustRun(t, nil, "shard", "export", dir, "--format", "stream", "--out", out)
	m, err := shard.ReadManifest(filepath.Join(dir, shard.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, s := range m.Shards {
		files = append(files, filepath.Join(out, strings.TrimSuffix(s.File, ".arrow")+".arrows"))
	}
	var loaded []struct {
		Features string
		Rows     []tokDoc
	}
	if err := json.Unmarshal(peer(t, nil, "arrow_peer.py", append([]string{"hf"}, files...)...), &loaded); err != nil {
		t.Fatal(err)
	}
	var got []tokDoc
	for _, l := range loaded {
		if !strings.Contains(l.Features, "uint16") {
			t.Errorf("datasets sees features %s", l.Features)
		}
		for _, r := range l.Rows {
			if r.Tokens == nil {
				r.Tokens = []uint32{}
			}
			got = append(got, r)
		}
	}
	train, val := splitDocs(docs, 0.2)
	if want := append(train, val...); !reflect.DeepEqual(got, want) {
		t.Errorf("datasets loaded %d rows, want %d with their tokens", len(got), len(want))
	}

	// The export is a token stream: sharding it again gives the same shards.
	again := filepath.Join(tmp, "again")
	mustRun(t, nil, append([]string{"shard", "--out", again, "--shard-tokens", "10000", "--val-fraction", "0.2"}, files...)...)
	if got := readShards(t, again, shard.Train); !reflect.DeepEqual(got, train) {
		t.Errorf("resharding the export: %d train documents, want %d", len(got), len(train))
	}
}
