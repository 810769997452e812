package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/warc"
)

// prose is an English paragraph that reads as an article.
func prose(topic string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "<p>The history of %s is one of the most interesting stories that people have told about the region, and paragraph %d explains why it matters to the families who live there today.</p>\n", topic, i)
	}
	return b.String()
}

func page(title, body string) []byte {
	return []byte("<html><head><title>" + title + "</title></head><body><nav><a href=/>Home</a></nav><article><h1>" + title + "</h1>" + body + "</article></body></html>")
}

// testWARC writes a WARC file with every kind of record clean meets:
// good pages, a WET conversion record, a French page, a non-HTML payload,
// an unknown charset, a 404, a page over the size limit, HTML nested
// 100,000 deep, a warcinfo record, and a gzip member cut short.
func testWARC(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := warc.NewWriter(&buf)
	date := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	resp := func(uri, status, ctype string, payload []byte) {
		t.Helper()
		_, _, err := w.WriteExchange(&warc.Exchange{TargetURI: uri, Date: date,
			Request:        []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
			ResponseHeader: []byte("HTTP/1.1 " + status + "\r\nContent-Type: " + ctype + "\r\n\r\n"), Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.WriteWarcinfo("test.warc.gz", hdr("software", "pipe test")); err != nil {
		t.Fatal(err)
	}
	resp("https://example.com/rivers", "200 OK", "text/html; charset=utf-8", page("Rivers", prose("rivers", 6)))
	resp("https://example.com/image.png", "200 OK", "image/png", []byte("\x89PNG\r\n\x1a\n..."))
	resp("https://example.com/bad-charset", "200 OK", "text/html; charset=x-no-such-charset", page("Odd", prose("odd charsets", 6)))
	resp("https://example.com/missing", "404 Not Found", "text/html", page("Not found", prose("missing pages", 3)))
	w.Flush()

	// A gzip member cut short: the record of a page, truncated.
	var one bytes.Buffer
	w1 := warc.NewWriter(&one)
	w1.WriteRecord(hdr("WARC-Type", "response", "WARC-Target-URI", "https://example.com/cut", "Content-Type", "application/http; msgtype=response"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"), page("Cut", prose("cut records", 20)))
	w1.Flush()
	buf.Write(one.Bytes()[:one.Len()/2])

	resp("https://example.com/mountains", "200 OK", "text/html", page("Mountains", prose("mountains", 6)))
	resp("https://example.com/huge", "200 OK", "text/html", page("Huge", prose("huge pages", 7000)))
	resp("https://example.com/deep", "200 OK", "text/html", []byte(strings.Repeat("<div>", 100000)+"deep"))
	resp("https://example.fr/", "200 OK", "text/html", page("Fleuves", strings.Repeat("<p>L'histoire des fleuves de France est une des plus belles histoires que les gens racontent sur la région, et ce paragraphe explique pourquoi.</p>", 6)))
	if _, err := w.WriteRecord(hdr("WARC-Type", "conversion", "WARC-Target-URI", "https://example.com/wet", "WARC-Date", "2024-05-02T00:00:00Z", "Content-Type", "text/plain"),
		[]byte("The history of lakes is one of the most interesting stories that people have told about the region.\nIt explains why they matter to the families who live there today.")); err != nil {
		t.Fatal(err)
	}
	resp("https://example.com/forests", "200 OK", "text/html", page("Forests", prose("forests", 6)))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readDocs(t *testing.T, b []byte) []docio.Document {
	t.Helper()
	r := docio.NewReader(bytes.NewReader(b), "out")
	var docs []docio.Document
	for {
		d, err := r.Next()
		if err != nil {
			if err.Error() == "EOF" {
				return docs
			}
			t.Fatalf("output: %v", err)
		}
		docs = append(docs, d)
	}
}

func readStats(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// dropped returns the drop counts of a step in a stats file.
func dropped(t *testing.T, stats map[string]any, step string) map[string]float64 {
	t.Helper()
	var all []any
	if step == "read" {
		all = []any{stats["read"]}
	} else {
		all = stats["steps"].([]any)
	}
	for _, s := range all {
		s := s.(map[string]any)
		if s["name"] == step {
			out := map[string]float64{}
			for k, v := range s["dropped"].(map[string]any) {
				out[k] = v.(float64)
			}
			return out
		}
	}
	t.Fatalf("no step %q in stats", step)
	return nil
}

func TestCleanWARC(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "crawl.warc.gz")
	os.WriteFile(in, testWARC(t), 0o644)
	out := filepath.Join(dir, "docs.jsonl.zst")
	stats := filepath.Join(dir, "stats.json")
	rejected := filepath.Join(dir, "rejected")
	summary := mustRun(t, nil, "clean", "--steps", "extract,lang", "--max-html-bytes", "1000000",
		"--stats", stats, "--rejected", rejected, "--out", out, in)

	f, err := docio.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	raw.ReadFrom(f)
	f.Close()
	docs := readDocs(t, raw.Bytes())
	var urls []string
	for _, d := range docs {
		urls = append(urls, d.URL)
		if d.Metadata["lang"] != "en" || d.ID == "" || d.Date == "" || d.Text == "" {
			t.Errorf("document %+v", d)
		}
		if score, _ := d.Metadata["lang_score"].(json.Number).Float64(); score <= 0.65 {
			t.Errorf("%s: lang_score %v", d.URL, score)
		}
	}
	want := []string{"https://example.com/rivers", "https://example.com/mountains", "https://example.com/wet", "https://example.com/forests"}
	if !reflect.DeepEqual(urls, want) {
		t.Fatalf("documents %v, want %v", urls, want)
	}
	if !strings.Contains(docs[0].Text, "The history of rivers") || strings.Contains(docs[0].Text, "Home") {
		t.Errorf("extracted text %q", docs[0].Text)
	}

	st := readStats(t, stats)
	read := dropped(t, st, "read")
	if len(read) != 1 || read["bad_gzip"]+read["truncated"] != 1 {
		t.Errorf("read skipped %v, want the cut member", read)
	}
	wantExtract := map[string]float64{"not_html": 1, "unknown_charset": 1, "http_status": 1, "html_too_large": 1, "html_too_deep": 1}
	if got := dropped(t, st, "extract"); !reflect.DeepEqual(got, wantExtract) {
		t.Errorf("extract dropped %v, want %v", got, wantExtract)
	}
	if got := dropped(t, st, "lang"); !reflect.DeepEqual(got, map[string]float64{"lang": 1}) {
		t.Errorf("lang dropped %v", got)
	}
	if st["written"].(float64) != 4 {
		t.Errorf("written %v", st["written"])
	}

	// The last line of stdout is a summary of what was written.
	var sum map[string]any
	lines := strings.Split(strings.TrimSpace(string(summary)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum["documents"].(float64) != 4 || sum["out"] != out {
		t.Errorf("summary %s (%v)", summary, err)
	}

	// Every dropped document is kept with its reason.
	b, err := os.ReadFile(filepath.Join(rejected, "extract.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rej := readDocs(t, b)
	if len(rej) != 5 {
		t.Fatalf("%d rejected by extract, want 5", len(rej))
	}
	reasons := map[string]string{}
	for _, d := range rej {
		reasons[d.URL] = d.Metadata["filter_reason"].(string)
	}
	if reasons["https://example.com/image.png"] != "not_html" || reasons["https://example.com/deep"] != "html_too_deep" {
		t.Errorf("reasons %v", reasons)
	}
	b, _ = os.ReadFile(filepath.Join(rejected, "lang.jsonl"))
	if rej := readDocs(t, b); len(rej) != 1 || rej[0].URL != "https://example.fr/" || rej[0].Metadata["lang"] != "fr" {
		t.Errorf("rejected by lang: %+v", rej)
	}
}

// --steps extract: one document per HTML page, with its url, from stdin.
func TestCleanExtractOnly(t *testing.T) {
	out := mustRun(t, testWARC(t), "clean", "--steps", "extract")
	docs := readDocs(t, out)
	var urls []string
	for _, d := range docs {
		urls = append(urls, d.URL)
		if _, ok := d.Metadata["lang"]; ok {
			t.Errorf("lang ran: %v", d.Metadata)
		}
	}
	want := []string{"https://example.com/rivers", "https://example.com/mountains", "https://example.com/huge",
		"https://example.fr/", "https://example.com/wet", "https://example.com/forests"}
	if !reflect.DeepEqual(urls, want) {
		t.Fatalf("documents %v, want %v", urls, want)
	}
}

// JSONL in, the whole recipe: duplicates go, the first of each stays.
func TestCleanJSONL(t *testing.T) {
	text := func(topic string) string {
		var b strings.Builder
		for i := range 8 {
			fmt.Fprintf(&b, "The history of %s is one of the most interesting stories that people have told about the region, and paragraph %d explains why it matters to the families who live there today.\n", topic, i)
		}
		return b.String()
	}
	docs := []docio.Document{
		{ID: "a", Text: text("rivers")},
		{ID: "b", Text: text("mountains")},
		{ID: "a-copy", Text: strings.ReplaceAll(text("rivers"), ", and", "  ;  and")},               // exact after simplification
		{ID: "b-near", Text: strings.Replace(text("mountains"), "paragraph 3", "section three", 1)}, // near
		{ID: "c", Text: "Short."},
	}
	var in bytes.Buffer
	w := docio.NewWriter(&in)
	for _, d := range docs {
		w.Write(d)
	}
	w.Flush()
	dir := t.TempDir()
	stats := filepath.Join(dir, "stats.json")
	out := mustRun(t, in.Bytes(), "clean", "--stats", stats, "--lang", "", "--steps", "lang,gopher_quality,dedup,pii")
	var ids []string
	for _, d := range readDocs(t, out) {
		ids = append(ids, d.ID)
	}
	if !reflect.DeepEqual(ids, []string{"a", "b"}) {
		t.Fatalf("kept %v", ids)
	}
	st := readStats(t, stats)
	if got := dropped(t, st, "dedup"); !reflect.DeepEqual(got, map[string]float64{"exact_duplicate": 1, "minhash_duplicate": 1}) {
		t.Errorf("dedup dropped %v", got)
	}
	if got := dropped(t, st, "gopher_quality"); got["gopher_short_doc"] != 1 {
		t.Errorf("gopher_quality dropped %v", got)
	}
}

// A file that is neither WARC nor JSONL is an error naming it.
func TestCleanNotWARC(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, []byte("just some notes\nnot a crawl\n"), 0o644)
	r := run(t, nil, "clean", bad)
	if r.code != 1 || !strings.Contains(string(r.stderr), bad) || !strings.Contains(string(r.stderr), "not a WARC file or JSONL") {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if r := run(t, nil, "clean", "--steps", "extract,nope"); r.code != 2 {
		t.Errorf("unknown step: exit %d %s", r.code, r.stderr)
	}
}

// randomText returns n words drawn by a generator seeded with seed.
func randomText(seed, n int) string {
	words := strings.Fields("river mountain forest lake valley city road bridge house garden field stone cloud rain wind sun moon star tree flower")
	x := uint32(seed*2654435761 + 1)
	var b strings.Builder
	for range n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteString(words[x%uint32(len(words))])
		b.WriteByte(' ')
	}
	return b.String()
}

// The partitioned dedup gives what one process gives.
func TestCleanDedupPartitioned(t *testing.T) {
	dir := t.TempDir()
	var inputs []string
	for f := range 3 {
		var buf bytes.Buffer
		w := docio.NewWriter(&buf)
		for i := range 6 {
			w.Write(docio.Document{ID: fmt.Sprintf("f%d-%d", f, i), Text: randomText((f*6+i)%7, 60)}) // topics repeat across files
		}
		w.Flush()
		p := filepath.Join(dir, fmt.Sprintf("in-%d.jsonl", f))
		os.WriteFile(p, buf.Bytes(), 0o644)
		inputs = append(inputs, p)
	}
	one := mustRun(t, nil, append([]string{"clean", "--steps", "dedup"}, inputs...)...)

	sig := filepath.Join(dir, "sig")
	var parts []byte
	for rank := range 2 {
		out := filepath.Join(dir, fmt.Sprintf("docs-%d.jsonl", rank))
		mustRun(t, nil, append([]string{"clean", "--steps", "dedup", "--rank", fmt.Sprint(rank), "--world-size", "2", "--dedup-signatures", sig, "--out", out}, inputs...)...)
	}
	for rank := range 3 {
		mustRun(t, nil, "clean", "dedup-buckets", "--dedup-signatures", sig, "--rank", fmt.Sprint(rank), "--world-size", "3")
	}
	for rank := range 2 {
		parts = append(parts, mustRun(t, nil, "clean", "dedup-remove", "--dedup-signatures", sig, "--rank", fmt.Sprint(rank), filepath.Join(dir, fmt.Sprintf("docs-%d.jsonl", rank)))...)
	}
	if len(readDocs(t, one)) != 7 || !bytes.Equal(one, parts) {
		t.Fatalf("one process:\n%s\npartitioned:\n%s", one, parts)
	}
}

// hdr builds a WARC header from name, value pairs.
func hdr(kv ...string) warc.Header {
	var h warc.Header
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
