package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/internal/job"
	"github.com/pipe-dev/pipe/pipelines/site"
	"github.com/pipe-dev/pipe/shard"
	"github.com/pipe-dev/pipe/warc"
)

// e2ePages is how many pages the end-to-end crawl fetches from the bundled
// site: the Opticks' contents page, the pages it links to first (home, the
// Bible's contents, about) and the first parts of the Opticks.
const e2ePages = 31

// siteServer serves the bundled demo site (pipelines/site) on loopback and
// counts the pages it answers with 200.
type siteServer struct {
	*httptest.Server
	site   *site.Site
	mu     sync.Mutex
	served map[string]int
}

func newSiteServer(t *testing.T) *siteServer {
	t.Helper()
	st, err := site.Default()
	if err != nil {
		t.Fatal(err)
	}
	s := &siteServer{site: st, served: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/robots.txt" && st.File(strings.TrimPrefix(r.URL.Path, "/")) != nil {
			s.mu.Lock()
			s.served[r.URL.Path]++
			s.mu.Unlock()
		}
		st.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestEndToEnd runs a small version of scripts/demo.sh: a site on loopback,
// crawl | clean | bpe | shard as a shell pipeline, train, sample; and checks
// every hand-off between the stages.
func TestEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	srv := newSiteServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	sh := func(name string, args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.Bytes())
		}
		t.Logf("%s %s: %.1fs", filepath.Base(name), args[0], time.Since(start).Seconds())
		return out.Bytes()
	}

	// The data stages, as a user runs them.
	p := "'" + pipeBin + "'"
	sh("bash", "-c", "set -o pipefail; "+
		p+" crawl --seeds "+srv.URL+"/opticks/index.html --allow-private --per-host-delay 0 --max-pages "+fmt.Sprint(e2ePages)+
		" | tee crawl.warc.gz"+
		" | "+p+" clean --stats stats.json"+
		" | tee docs.jsonl"+
		" | "+p+" bpe --vocab-size 512 --out tok.json"+
		" | "+p+" shard --out data --val-fraction 0.25")

	// 1. WARC: a warcinfo record and one response per page served.
	srv.mu.Lock()
	pagesServed := 0
	for path, n := range srv.served {
		if n != 1 {
			t.Errorf("%s served %d times", path, n)
		}
		pagesServed += n
	}
	srv.mu.Unlock()
	if pagesServed != e2ePages {
		t.Errorf("served %d pages, want %d (--max-pages)", pagesServed, e2ePages)
	}
	f, err := os.Open(filepath.Join(dir, "crawl.warc.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wr := warc.NewReader(f, "crawl.warc.gz")
	types := map[string]int{}
	responses := map[string]bool{}
	for {
		rec, err := wr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("crawl.warc.gz: %v", err)
		}
		types[rec.Type]++
		if rec.Type != "response" {
			continue
		}
		u, err := url.Parse(rec.TargetURI)
		if err != nil || u.Host != host {
			t.Errorf("response for %q, not on %s", rec.TargetURI, host)
			continue
		}
		if u.Path == "/robots.txt" {
			continue
		}
		if srv.site.File(strings.TrimPrefix(u.Path, "/")) == nil || responses[u.Path] {
			t.Errorf("response for %s: not a page, or twice", rec.TargetURI)
		}
		responses[u.Path] = true
	}
	if types["warcinfo"] != 1 {
		t.Errorf("%d warcinfo records, want 1 (records: %v)", types["warcinfo"], types)
	}
	if len(responses) != pagesServed {
		t.Errorf("%d page responses in the WARC, %d pages served (records: %v)", len(responses), pagesServed, types)
	}

	// 2. Documents: most pages kept, English, from the site.
	df, err := os.Open(filepath.Join(dir, "docs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	dr := docio.NewReader(df, "docs.jsonl")
	var docs []docio.Document
	for {
		d, err := dr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("docs.jsonl: %v", err)
		}
		docs = append(docs, d)
		u, err := url.Parse(d.URL)
		if err != nil || u.Host != host {
			t.Errorf("document %s has url %q, not on %s", d.ID, d.URL, host)
		}
		if d.Metadata["lang"] != "en" {
			t.Errorf("document %s: lang %v, want en", d.URL, d.Metadata["lang"])
		}
		if strings.TrimSpace(d.Text) == "" {
			t.Errorf("document %s: empty text", d.URL)
		}
	}
	statsJSON, err := os.ReadFile(filepath.Join(dir, "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]any
	if err := json.Unmarshal(statsJSON, &stats); err != nil {
		t.Errorf("stats.json: %v", err)
	}
	if len(docs) <= e2ePages/2 { // the parts of the Opticks, not the contents pages
		t.Fatalf("clean kept %d documents of %d pages, want more than half; stats: %s", len(docs), e2ePages, statsJSON)
	}

	// 3. Tokenizer: loads, 512 tokens, end-of-text, round-trips a document.
	tok, err := bpe.Load(filepath.Join(dir, "tok.json"), "")
	if err != nil {
		t.Fatalf("load tok.json: %v", err)
	}
	if tok.VocabSize() != 512 {
		t.Errorf("vocab size %d, want 512", tok.VocabSize())
	}
	if _, ok := tok.SpecialID("<|endoftext|>"); !ok {
		t.Errorf("tokenizer has no <|endoftext|>")
	}
	ids := tok.EncodeOrdinary([]byte(docs[0].Text))
	if back, err := tok.Decode(ids); err != nil || string(back) != docs[0].Text {
		t.Errorf("decode(encode(%s)) differs from the text (err %v)", docs[0].URL, err)
	}

	// 4. Manifest: verifies, both splits, this tokenizer, every document.
	ds, err := shard.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatalf("open shards: %v", err)
	}
	if err := ds.Verify(); err != nil {
		t.Errorf("verify shards: %v", err)
	}
	m := ds.Manifest
	tr, va := m.Totals(shard.Train), m.Totals(shard.Val)
	if tr.Documents == 0 || tr.Tokens == 0 || va.Documents == 0 || va.Tokens == 0 {
		t.Errorf("splits: train %+v, val %+v; want both non-empty", tr, va)
	}
	if got := tr.Documents + va.Documents; got != int64(len(docs)) {
		t.Errorf("manifest has %d documents, docs.jsonl %d", got, len(docs))
	}
	fp, err := tok.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	if m.Tokenizer.SHA256 != fp {
		t.Errorf("manifest tokenizer sha256 %s, tokenizer's fingerprint %s", m.Tokenizer.SHA256, fp)
	}
	if m.Tokenizer.VocabSize != 512 {
		t.Errorf("manifest vocab size %d, want 512", m.Tokenizer.VocabSize)
	}

	// 5. Checkpoint: written, and the validation loss fell.
	sh(pipeBin, "train", "--data", "data", "--tokenizer", "tok.json", "--model", "micro",
		"--context", "32", "--batch", "8", "--steps", "200", "--warmup", "10", "--eval-every", "50",
		"--eval-batches", "4", "--ckpt-every", "200", "--lr", "3e-3", "--out", "run")
	ckpt := filepath.Join(dir, "run", "ckpt-200")
	for _, name := range []string{"model.safetensors", "config.json"} {
		if fi, err := os.Stat(filepath.Join(ckpt, name)); err != nil || fi.Size() == 0 {
			t.Errorf("checkpoint file %s: %v", name, err)
		}
	}
	mf, err := os.Open(filepath.Join(dir, "run", "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	var vals []float64
	sc := bufio.NewScanner(mf)
	for sc.Scan() {
		var line struct {
			Step    int      `json:"step"`
			ValLoss *float64 `json:"val_loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("metrics.jsonl: %v", err)
		}
		if line.ValLoss != nil {
			vals = append(vals, *line.ValLoss)
		}
	}
	if len(vals) < 2 {
		t.Fatalf("%d evaluations in metrics.jsonl, want at least 2", len(vals))
	}
	if vals[len(vals)-1] >= vals[0] {
		t.Errorf("val loss went from %.3f to %.3f, want it to fall", vals[0], vals[len(vals)-1])
	}

	// 6. The checkpoint samples.
	out := sh(pipeBin, "sample", "--ckpt", ckpt, "--prompt", "Light", "--max-tokens", "20", "--seed", "1")
	if len(bytes.TrimSpace(out)) == 0 {
		t.Errorf("pipe sample wrote nothing")
	}

	t.Logf("pages served %d, WARC records %v, documents kept %d, tokens train %d val %d (docs %d/%d), val loss %.3f -> %.3f (%v), sample %q; clean stats: %s",
		pagesServed, types, len(docs), tr.Tokens, va.Tokens, tr.Documents, va.Documents, vals[0], vals[len(vals)-1], vals, out, bytes.TrimSpace(statsJSON))
}

// batchRun is one rank's command of a batch job and the summary it printed.
type batchRun struct {
	args    []string
	summary map[string]any
}

// runBatch runs a batch job's command and checks its bookkeeping: the last
// line of stdout is a JSON summary naming the stage and rank, its outputs
// exist, its statistics are JSON, and its completion marker is a pipe-job
// marker listing the outputs.
func runBatch(t *testing.T, stage string, rank int, args ...string) batchRun {
	t.Helper()
	out := mustRun(t, nil, args...)
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var sum map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &sum); err != nil {
		t.Fatalf("pipe %s: the last line of stdout %q is not a JSON summary: %v", strings.Join(args, " "), lines[len(lines)-1], err)
	}
	if sum["stage"] != stage || sum["rank"] != float64(rank) {
		t.Errorf("pipe %s: summary of stage %v rank %v, want %s %d", strings.Join(args, " "), sum["stage"], sum["rank"], stage, rank)
	}
	for _, o := range sum["outputs"].([]any) {
		if _, err := os.Stat(o.(string)); err != nil {
			t.Errorf("%s rank %d: output %v", stage, rank, err)
		}
	}
	var stats map[string]any
	if b, err := os.ReadFile(sum["stats"].(string)); err != nil || json.Unmarshal(b, &stats) != nil {
		t.Errorf("%s rank %d: statistics %s: %v %s", stage, rank, sum["stats"], err, b)
	}
	m, err := job.ReadMarker(sum["marker"].(string))
	if err != nil {
		t.Fatalf("%s rank %d: %v", stage, rank, err)
	}
	if m.Stage != stage || m.Rank != rank || len(m.Outputs) < len(sum["outputs"].([]any)) {
		t.Errorf("%s rank %d: marker %+v", stage, rank, m)
	}
	return batchRun{args, sum}
}

// TestBatchJobs runs every stage as ranks of a batch job, as the Airflow DAG
// does, over a crawl of the bundled site, and checks that the ranks together
// give what one process gives, that each leaves its statistics, marker and
// summary, that a rerun does nothing but print the summary again, and that a
// changed input or --force runs a rank again.
func TestBatchJobs(t *testing.T) {
	srv := newSiteServer(t)
	dir := t.TempDir()
	at := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	var runs []batchRun
	add := func(r batchRun) batchRun { runs = append(runs, r); return r }

	// crawl: two ranks split the hosts; the one host goes to one rank.
	pages := 0.0
	for r := range 2 {
		s := add(runBatch(t, "crawl", r, "crawl", "--seeds", srv.URL+"/opticks/index.html", "--allow-private", "--per-host-delay", "0",
			"--max-pages", "40", "--max-file-size", "60KB", "--rank", fmt.Sprint(r), "--world-size", "2",
			"--out", at("warc"), "--state", at("state", fmt.Sprint(r)))).summary
		pages += s["pages"].(float64)
	}
	warcs, _ := filepath.Glob(at("warc", "*.warc.gz"))
	if pages != 40 || len(warcs) < 3 {
		t.Fatalf("crawled %v pages into %d WARC files, want 40 pages and several files", pages, len(warcs))
	}

	// clean, one rank per WARC file, with partitioned dedup.
	n := len(warcs)
	for r := range n {
		add(runBatch(t, "clean", r, "clean", "--rank", fmt.Sprint(r), "--world-size", fmt.Sprint(n), "--dedup-signatures", at("sig"),
			"--out", at("clean", "docs-{rank}.jsonl.zst"), at("warc", "*.warc.gz")))
	}
	add(runBatch(t, "clean dedup-buckets", 0, "clean", "dedup-buckets", "--dedup-signatures", at("sig")))
	var parts []byte
	for r := range n {
		s := add(runBatch(t, "clean dedup-remove", r, "clean", "dedup-remove", "--dedup-signatures", at("sig"), "--rank", fmt.Sprint(r),
			"--out", at("docs", "docs-{rank}.jsonl.zst"), at("clean", fmt.Sprintf("docs-%05d.jsonl.zst", r)))).summary
		b, err := os.ReadFile(s["out"].(string))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, zstdDecode(t, b)...)
	}
	// One process over every WARC file, to stdout: the same documents, and no
	// summary in the data stream.
	one := mustRun(t, nil, "clean", at("warc", "*.warc.gz"))
	// (Compared as documents: metadata keys come back from JSONL in another order.)
	if docs := readDocs(t, one); len(docs) < 20 || !reflectEqualJSON(docs, readDocs(t, parts)) {
		t.Fatalf("%d documents from one process; the ranks' differ:\none:\n%.300s\nranks:\n%.300s", len(docs), one, parts)
	}
	ndocs := len(readDocs(t, one))

	// bpe count by partition and train on the counts: the tokenizer of
	// training on everything at once.
	for r := range 2 {
		add(runBatch(t, "bpe count", r, "bpe", "count", "--rank", fmt.Sprint(r), "--world-size", "2",
			"--out", at("counts", "{rank}.bin"), at("docs", "*.jsonl.zst")))
	}
	add(runBatch(t, "bpe train", 0, "bpe", "train", "--vocab-size", "400", "--counts", at("counts", "*.bin"), "--out", at("tok.json")))
	mustRun(t, nil, "bpe", "train", "--vocab-size", "400", "--out", at("whole.json"), at("docs", "*.jsonl.zst"))
	a, err := bpe.Load(at("tok.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := bpe.Load(at("whole.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	if fa, _ := a.Fingerprint(); func() bool { fb, _ := b.Fingerprint(); return fa != fb }() {
		t.Errorf("the tokenizer trained on the ranks' counts differs from the one trained on everything")
	}

	// encode and shard by partition; the manifests join.
	var encoded float64
	for r := range 2 {
		encoded += add(runBatch(t, "bpe encode", r, "bpe", "encode", "--tokenizer", at("tok.json"), "--rank", fmt.Sprint(r), "--world-size", "2",
			"--out", at("tokens", "{rank}.arrows"), at("docs", "*.jsonl.zst"))).summary["tokens"].(float64)
		add(runBatch(t, "shard", r, "shard", "--tokenizer", at("tok.json"), "--rank", fmt.Sprint(r), "--world-size", "2",
			"--val-fraction", "0.2", "--out", at("data"), at("docs", "*.jsonl.zst")))
	}
	merged := mustRun(t, nil, "shard", "merge-manifests", at("data"))
	lines := bytes.Split(bytes.TrimSpace(merged), []byte("\n"))
	var msum struct {
		Manifest   string
		Train, Val struct{ Documents, Tokens int64 }
	}
	if err := json.Unmarshal(lines[len(lines)-1], &msum); err != nil || msum.Manifest != at("data", "manifest.json") {
		t.Errorf("merge-manifests: last line %s (%v)", lines[len(lines)-1], err)
	}
	mustRun(t, nil, "shard", "verify", at("data"))
	if msum.Train.Documents+msum.Val.Documents != int64(ndocs) || float64(msum.Train.Tokens+msum.Val.Tokens) != encoded {
		t.Errorf("shards hold %+v %+v; want %d documents and the %v tokens that encode wrote", msum.Train, msum.Val, ndocs, encoded)
	}

	// A rerun of every command: nothing runs, the same summary is printed
	// with up_to_date, and no output is touched.
	mtimes := map[string]time.Time{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			mtimes[p] = fi.ModTime()
		}
		return nil
	})
	for _, r := range runs {
		again := runBatch(t, r.summary["stage"].(string), int(r.summary["rank"].(float64)), r.args...).summary
		if again["up_to_date"] != true {
			t.Errorf("rerun of %s rank %v ran again", r.summary["stage"], r.summary["rank"])
		}
		again["up_to_date"] = false
		if !reflectEqualJSON(again, r.summary) {
			t.Errorf("rerun of %s rank %v printed %v, not the recorded %v", r.summary["stage"], r.summary["rank"], again, r.summary)
		}
	}
	for p, mt := range mtimes {
		if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(mt) {
			t.Errorf("the reruns touched %s (%v)", p, err)
		}
	}

	// A rewritten input runs its rank again, and only that rank; so does --force.
	rewritten := warcs[1]
	content, _ := os.ReadFile(rewritten)
	later := time.Now().Add(time.Minute)
	os.WriteFile(rewritten, content, 0o644)
	os.Chtimes(rewritten, later, later)
	for _, r := range runs[2 : 2+n] { // the clean ranks
		rank := int(r.summary["rank"].(float64))
		again := runBatch(t, "clean", rank, r.args...).summary
		if want := rank != 1; again["up_to_date"] != want {
			t.Errorf("clean rank %d after %s was rewritten: up_to_date %v, want %v", rank, filepath.Base(rewritten), again["up_to_date"], want)
		}
	}
	if s := runBatch(t, "bpe count", 0, append(runs[n+3+n].args, "--force")...).summary; s["up_to_date"] != false {
		t.Errorf("bpe count --force: up_to_date %v", s["up_to_date"])
	}

	// A failed run leaves no marker and prints no summary.
	bad := at("bad.jsonl")
	os.WriteFile(bad, []byte("{\"id\":\"a\",\"text\":\"fine\"}\nnot json\n"), 0o644)
	r := run(t, nil, "bpe", "count", "--out", at("bad.bin"), bad)
	if r.code != 1 || len(r.stdout) != 0 || !strings.Contains(string(r.stderr), "bad.jsonl:2") {
		t.Errorf("bpe count of a bad input: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	for _, p := range []string{at("bad.bin"), at("bad.bin.done.json"), at("bad.bin.stats.json")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed run left %s (%v)", p, err)
		}
	}
}

// reflectEqualJSON compares two JSON values by their encoding.
func reflectEqualJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// zstdDecode decompresses a .zst file's bytes.
func zstdDecode(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := docio.Decompress(bytes.NewReader(b), "x.zst")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
