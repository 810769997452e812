package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/shard"
	"github.com/pipe-dev/pipe/warc"
)

// e2ePages is how many article pages the end-to-end site has (besides its index).
const e2ePages = 30

// opticksPath is Newton's Opticks as every Go installation ships it.
func opticksPath(t *testing.T) string {
	t.Helper()
	root := runtime.GOROOT()
	if root == "" {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			t.Fatalf("go env GOROOT: %v", err)
		}
		root = strings.TrimSpace(string(out))
	}
	return filepath.Join(root, "src", "testdata", "Isaac.Newton-Opticks.txt")
}

// e2eSite cuts the Opticks into n pages of several paragraphs of prose each.
func e2eSite(t *testing.T, n int) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(opticksPath(t))
	if err != nil {
		t.Skipf("no Opticks text: %v", err)
	}
	space := regexp.MustCompile(`\s+`)
	var paras []string
	for _, p := range regexp.MustCompile(`\n\s*\n`).Split(string(raw), -1) {
		p = strings.TrimSpace(space.ReplaceAllString(p, " "))
		if len(p) >= 200 { // prose, not headings or tables
			paras = append(paras, p)
		}
	}
	var pages [][]string
	var cur []string
	size := 0
	for _, p := range paras {
		cur = append(cur, p)
		if size += len(p); size > 2500 {
			pages = append(pages, cur)
			cur, size = nil, 0
			if len(pages) == n {
				break
			}
		}
	}
	if len(pages) < n {
		t.Fatalf("the Opticks made %d pages, want %d", len(pages), n)
	}
	site := map[string]string{}
	var links strings.Builder
	for i, page := range pages {
		name := fmt.Sprintf("/page-%03d.html", i)
		fmt.Fprintf(&links, "<li><a href=\"%s\">Part %d</a></li>\n", name, i+1)
		nav := `<nav><a href="/index.html">Contents</a>`
		if i > 0 {
			nav += fmt.Sprintf(` | <a href="/page-%03d.html">Previous</a>`, i-1)
		}
		if i+1 < n {
			nav += fmt.Sprintf(` | <a href="/page-%03d.html">Next</a>`, i+1)
		}
		nav += "</nav>"
		var body strings.Builder
		for _, p := range page {
			fmt.Fprintf(&body, "<p>%s</p>\n", html.EscapeString(p))
		}
		site[name] = fmt.Sprintf("<!doctype html><html><head><meta charset=utf-8><title>Opticks, part %d</title></head>"+
			"<body>%s<article><h1>Opticks, part %d</h1>\n%s</article>"+
			"<footer>Isaac Newton, Opticks (1730). Public domain.</footer></body></html>", i+1, nav, i+1, body.String())
	}
	site["/index.html"] = "<!doctype html><html><head><meta charset=utf-8><title>Opticks</title></head>" +
		"<body><h1>Opticks</h1><ul>\n" + links.String() + "</ul></body></html>"
	return site
}

// TestEndToEnd runs a small version of scripts/demo.sh: a site on loopback,
// crawl | clean | bpe | shard as a shell pipeline, train, sample; and checks
// every hand-off between the stages.
func TestEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	site := e2eSite(t, e2ePages)
	var mu sync.Mutex
	served := map[string]int{} // page paths answered 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := site[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		served[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	defer srv.Close()
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
		p+" crawl --seeds "+srv.URL+"/index.html --allow-private --per-host-delay 0 --max-pages 100"+
		" | tee crawl.warc.gz"+
		" | "+p+" clean --stats stats.json"+
		" | tee docs.jsonl"+
		" | "+p+" bpe --vocab-size 512 --out tok.json"+
		" | "+p+" shard --out data --val-fraction 0.25")

	// 1. WARC: a warcinfo record and one response per page served.
	mu.Lock()
	pagesServed := 0
	for path, n := range served {
		if n != 1 {
			t.Errorf("%s served %d times", path, n)
		}
		pagesServed += n
	}
	mu.Unlock()
	if pagesServed != e2ePages+1 {
		t.Errorf("served %d pages, want %d (index and every page)", pagesServed, e2ePages+1)
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
		if _, ok := site[u.Path]; !ok || responses[u.Path] {
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
	if len(docs) <= e2ePages/2 {
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
