package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
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
// 100,000 deep, a warcinfo record, a gzip member cut short, and a record
// with a malformed header.
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

	// A record whose header is malformed (a field line without a colon),
	// in a gzip member of its own.
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("WARC/1.1\r\nWARC-Type response\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n"))
	zw.Close()

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
	r := run(t, nil, "clean", "--steps", "extract,lang", "--max-html-bytes", "1000000",
		"--stats", stats, "--rejected", rejected, "--out", out, in)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	summary := r.stdout
	// Each record that could not be read is logged with where it was.
	if n := bytes.Count(r.stderr, []byte(in+": record at offset ")); n != 2 {
		t.Errorf("%d skipped records logged with their offset, want 2:\n%s", n, r.stderr)
	}

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
	if len(read) != 2 || read["bad_gzip"]+read["truncated"] != 1 || read["bad_header"] != 1 {
		t.Errorf("read skipped %v, want the cut member and the bad header", read)
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

// check is one rule of a filter as its measures show it: the measure, the
// limit, whether the rule drops below it (else above), and the reason.
type check struct {
	key    string
	limit  float64
	below  bool
	reason string
}

func (c check) crossed(v float64) bool {
	if c.below {
		return v < c.limit
	}
	return v > c.limit
}

// filterChecks are the default rules of each filter, in the order the filter
// checks them.
var filterChecks = map[string][]check{
	"gopher_repetition": {
		{"dup_para_frac", 0.3, false, "dup_para_frac"}, {"dup_para_char_frac", 0.2, false, "dup_para_char_frac"},
		{"dup_line_frac", 0.3, false, "dup_line_frac"}, {"dup_line_char_frac", 0.2, false, "dup_line_char_frac"},
		{"top_2_gram", 0.2, false, "top_2_gram"}, {"top_3_gram", 0.18, false, "top_3_gram"}, {"top_4_gram", 0.16, false, "top_4_gram"},
		{"duplicated_5_n_grams", 0.15, false, "duplicated_5_n_grams"}, {"duplicated_6_n_grams", 0.14, false, "duplicated_6_n_grams"},
		{"duplicated_7_n_grams", 0.13, false, "duplicated_7_n_grams"}, {"duplicated_8_n_grams", 0.12, false, "duplicated_8_n_grams"},
		{"duplicated_9_n_grams", 0.11, false, "duplicated_9_n_grams"}, {"duplicated_10_n_grams", 0.10, false, "duplicated_10_n_grams"},
	},
	"gopher_quality": {
		{"words", 50, true, "gopher_short_doc"}, {"words", 100000, false, "gopher_long_doc"},
		{"avg_word_length", 3, true, "gopher_below_avg_threshold"}, {"avg_word_length", 10, false, "gopher_above_avg_threshold"},
		{"hash_ratio", 0.1, false, "gopher_too_many_hashes"}, {"ellipsis_ratio", 0.1, false, "gopher_too_many_ellipsis"},
		{"bullet_lines_ratio", 0.9, false, "gopher_too_many_bullets"}, {"end_ellipsis_lines_ratio", 0.3, false, "gopher_too_many_end_ellipsis"},
		{"alpha_words_ratio", 0.8, true, "gopher_below_alpha_threshold"}, {"stop_words", 2, true, "gopher_enough_stop_words"},
	},
	"c4": {{"sentences", 5, true, "too_few_sentences"}},
	"fineweb": {
		{"line_punct_ratio", 0.12, true, "line_punct_ratio"}, {"short_line_ratio", 0.67, false, "short_line_ratio"},
		{"char_dup_ratio", 0.01, false, "char_dup_ratio"}, {"list_ratio", 0.3, false, "list_ratio"},
	},
}

// measureText builds a document of lines of the given word counts: each line
// "the W W of W ... W." from a fixed vocabulary, different for each seed.
func measureText(seed int, words ...int) string {
	vocab := strings.Fields(`river mountain forest valley harbour village meadow orchard garden bridge castle tower
		library market school theatre museum station chapel cottage farmhouse granary mill quarry lighthouse
		fisherman weaver baker carpenter merchant sailor shepherd painter teacher doctor farmer builder
		ancient quiet narrow golden crowded distant northern southern western eastern wooden painted
		travelled discovered repaired described remembered gathered planted carried visited opened`)
	x := uint32(seed*2654435761 + 12345)
	next := func() string {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		return vocab[x%uint32(len(vocab))]
	}
	var lines []string
	for _, n := range words {
		var w []string
		for i := range n {
			switch i {
			case 0:
				w = append(w, "the")
			case 3:
				w = append(w, "of")
			default:
				w = append(w, next())
			}
		}
		lines = append(lines, strings.Join(w, " ")+".")
	}
	return strings.Join(lines, "\n")
}

// measuresOf returns the measures a step recorded in a document.
func measuresOf(t *testing.T, d docio.Document, step string) map[string]float64 {
	t.Helper()
	raw, ok := d.Metadata[step].(map[string]any)
	if !ok {
		return nil
	}
	m := map[string]float64{}
	for k, v := range raw {
		n, ok := v.(json.Number)
		if !ok {
			t.Fatalf("%s: %s.%s is %T %v, want a number", d.ID, step, k, v, v)
		}
		m[k], _ = n.Float64()
	}
	return m
}

// Every filter records in the metadata what it measured, the values it
// compared with its limits: a kept document shows every value within its
// limit, a dropped one (in --rejected) the value that crossed it, under its
// reason, after the values of the checks it passed.
func TestCleanMeasures(t *testing.T) {
	lines := func(n, words int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = words
		}
		return out
	}
	prose := measureText(1, lines(8, 12)...)
	dupLines := func(total, dups int) string { // distinct lines, then the first ones again
		ls := strings.Split(measureText(2, lines(total-dups, 12)...), "\n")
		return strings.Join(append(ls, ls[:dups]...), "\n")
	}
	punctLines := func(n int) string { // n lines, only the first ends in a full stop
		ls := strings.Split(measureText(3, lines(n, 12)...), "\n")
		for i := 1; i < len(ls); i++ {
			ls[i] = strings.TrimSuffix(ls[i], ".")
		}
		return strings.Join(ls, "\n")
	}
	// A list: lines of one long word after "the" (newlines per word 1/3).
	var listLines []string
	for _, l := range strings.Split(measureText(8, lines(30, 6)...), "\n") {
		listLines = append(listLines, "the "+strings.ReplaceAll(strings.TrimPrefix(l, "the "), " ", ""))
	}
	listText := strings.Join(listLines, "\n")
	docs := []docio.Document{
		{ID: "prose", Text: prose},
		{ID: "dup-lines-3-of-9", Text: dupLines(9, 3)},   // dup_line_frac 1/3: above 0.3
		{ID: "dup-lines-3-of-10", Text: dupLines(10, 3)}, // 0.3 passes; their characters do not
		{ID: "words-49", Text: measureText(4, 10, 10, 10, 10, 9)},
		{ID: "words-50", Text: measureText(5, 10, 10, 10, 10, 10)},
		{ID: "sentences-4", Text: measureText(6, 15, 15, 15, 15)},
		{ID: "sentences-5", Text: measureText(7, 12, 12, 12, 12, 12)},
		{ID: "punct-1-of-9", Text: punctLines(9)}, // line_punct_ratio 1/9: below 0.12
		{ID: "punct-1-of-8", Text: punctLines(8)}, // 1/8 passes
		{ID: "hashes", Text: prose + "\n" + strings.Repeat("#tag ", 20)},
		{ID: "bullets", Text: "- " + strings.ReplaceAll(prose, "\n", "\n- ")},
		{ID: "lorem", Text: prose + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit."},
		{ID: "list", Text: listText},
		{ID: "empty", Text: ""},
	}
	var in bytes.Buffer
	w := docio.NewWriter(&in)
	for _, d := range docs {
		w.Write(d)
	}
	w.Flush()

	dir := t.TempDir()
	input := filepath.Join(dir, "in.jsonl")
	os.WriteFile(input, in.Bytes(), 0o644)
	type outcome struct {
		step, reason string // "" for kept
		doc          docio.Document
	}
	results := map[string]map[string]outcome{} // run → id → what happened
	outs := map[string][]byte{}
	runs := map[string][]string{
		"gopher_repetition": {"gopher_repetition"}, "gopher_quality": {"gopher_quality"}, "c4": {"c4"}, "fineweb": {"fineweb"},
		"all": {"gopher_repetition", "gopher_quality", "c4", "fineweb"},
	}
	for name, steps := range runs {
		rej := filepath.Join(dir, name+"-rejected")
		out := mustRun(t, nil, "clean", "--steps", strings.Join(steps, ","), "--rejected", rej, input)
		outs[name] = out
		res := map[string]outcome{}
		for _, d := range readDocs(t, out) {
			res[d.ID] = outcome{doc: d}
		}
		for _, step := range steps {
			b, err := os.ReadFile(filepath.Join(rej, step+".jsonl"))
			if os.IsNotExist(err) {
				continue
			} else if err != nil {
				t.Fatal(err)
			}
			for _, d := range readDocs(t, b) {
				res[d.ID] = outcome{step: step, reason: d.Metadata["filter_reason"].(string), doc: d}
			}
		}
		if len(res) != len(docs) {
			t.Fatalf("run %s: %d documents out or rejected, want %d", name, len(res), len(docs))
		}
		results[name] = res

		// The property: the values agree with each decision.
		for id, o := range res {
			for _, step := range steps {
				m := measuresOf(t, o.doc, step)
				if o.step != "" && slices.Index(steps, step) > slices.Index(steps, o.step) {
					if m != nil {
						t.Errorf("run %s, %s: dropped by %s, but %s measured it", name, id, o.step, step)
					}
					continue
				}
				dropped := o.step == step
				if m == nil {
					if !dropped || (o.reason != "empty" && o.reason != "lorem_ipsum" && o.reason != "curly_bracket") {
						t.Errorf("run %s, %s: no %s measures (%s %s)", name, id, step, o.step, o.reason)
					}
					continue
				}
				seen := false
				for _, c := range filterChecks[step] {
					v, ok := m[c.key]
					if !ok {
						// A check that did not run: after the drop, or
						// n-grams longer than the document.
						if !seen && !strings.HasPrefix(c.key, "top_") {
							t.Errorf("run %s, %s: %s.%s missing (%s %s): %v", name, id, step, c.key, o.step, o.reason, m)
						}
						continue
					}
					if dropped && c.reason == o.reason {
						if !c.crossed(v) {
							t.Errorf("run %s, %s: dropped for %s with %s %v, which is within %v", name, id, o.reason, c.key, v, c.limit)
						}
						seen = true
					} else if !seen && c.crossed(v) {
						t.Errorf("run %s, %s: %s %v crosses %v but the document was not dropped for %s (%s %s)", name, id, c.key, v, c.limit, c.reason, o.step, o.reason)
					} else if seen && c.key != "words" && c.key != "avg_word_length" {
						t.Errorf("run %s, %s: %s measured after the drop for %s", name, id, c.key, o.reason)
					}
				}
				if dropped && !seen && m != nil && o.reason != "empty" {
					t.Errorf("run %s, %s: dropped for %s, no measure shows it: %v", name, id, o.reason, m)
				}
			}
		}
	}

	// The worked examples.
	for _, c := range []struct {
		run, id, reason, key string
		value                float64
	}{
		{"gopher_repetition", "dup-lines-3-of-9", "dup_line_frac", "dup_line_frac", 3.0 / 9},
		{"gopher_repetition", "dup-lines-3-of-10", "dup_line_char_frac", "dup_line_frac", 0.3},
		{"gopher_repetition", "prose", "", "dup_line_frac", 0},
		{"gopher_quality", "words-49", "gopher_short_doc", "words", 49},
		{"gopher_quality", "words-50", "", "words", 50},
		{"gopher_quality", "hashes", "gopher_too_many_hashes", "words", 96 + 20}, // the prose and each "tag" ("#" is punctuation)
		{"c4", "sentences-4", "too_few_sentences", "sentences", 4},
		{"c4", "sentences-5", "", "sentences", 5},
		{"c4", "punct-1-of-9", "too_few_sentences", "lines_kept", 1},
		{"fineweb", "punct-1-of-9", "line_punct_ratio", "line_punct_ratio", 1.0 / 9},
		{"fineweb", "punct-1-of-8", "", "line_punct_ratio", 1.0 / 8},
		{"all", "prose", "", "char_dup_ratio", 0},
	} {
		o := results[c.run][c.id]
		if o.reason != c.reason {
			t.Errorf("run %s, %s: reason %q, want %q", c.run, c.id, o.reason, c.reason)
		}
		step := c.run
		if step == "all" {
			step = "fineweb"
		}
		if v, ok := measuresOf(t, o.doc, step)[c.key]; !ok || v != c.value {
			t.Errorf("run %s, %s: %s.%s = %v (%v), want %v", c.run, c.id, step, c.key, v, ok, c.value)
		}
	}
	// Each rule of the examples fired somewhere.
	fired := map[string]bool{}
	for _, res := range results {
		for _, o := range res {
			fired[o.reason] = true
		}
	}
	for _, r := range []string{"dup_line_frac", "dup_line_char_frac", "gopher_short_doc", "gopher_too_many_hashes", "gopher_too_many_bullets",
		"too_few_sentences", "lorem_ipsum", "line_punct_ratio", "list_ratio", "empty"} {
		if !fired[r] {
			t.Errorf("no document was dropped for %s", r)
		}
	}
	// Read back and written again, the output is the same bytes: measures
	// are written with their keys sorted, as any metadata map is.
	var again bytes.Buffer
	w = docio.NewWriter(&again)
	for _, d := range readDocs(t, outs["all"]) {
		w.Write(d)
	}
	w.Flush()
	if !bytes.Equal(again.Bytes(), outs["all"]) {
		t.Errorf("written again:\n%.400s\nfirst:\n%.400s", again.Bytes(), outs["all"])
	}
	// A kept document carries the measures of every filter.
	for _, step := range runs["all"] {
		if measuresOf(t, results["all"]["prose"].doc, step) == nil {
			t.Errorf("the kept document has no %s measures: %v", step, results["all"]["prose"].doc.Metadata)
		}
	}
}

// A 50 MB page is skipped as html_too_large without being held whole (the
// Go heap, as the runtime's GC trace reports it, stays under the page's
// size), and the page after it is read.
func TestCleanBigPage(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "big.warc.gz")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	// The records are written by hand, a gzip member each, so that the
	// test never holds the page either.
	line := []byte("<p>The history of rivers is long, and this page repeats it many times over.</p>\n")
	lines := (50<<20)/len(line) + 1
	record := func(uri string, payloadLen int, payload func(io.Writer)) {
		http := "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
		zw := gzip.NewWriter(f)
		fmt.Fprintf(zw, "WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: %s\r\nWARC-Date: 2024-05-01T12:00:00Z\r\n"+
			"WARC-Record-ID: <urn:uuid:%s>\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n%s",
			uri, "00000000-0000-4000-8000-"+fmt.Sprintf("%012d", payloadLen), len(http)+payloadLen, http)
		payload(zw)
		zw.Write([]byte("\r\n\r\n"))
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	record("https://example.com/big", len(line)*lines, func(w io.Writer) {
		for range lines {
			w.Write(line)
		}
	})
	small := page("Rivers", prose("rivers", 6))
	record("https://example.com/rivers", len(small), func(w io.Writer) { w.Write(small) })
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	stats := filepath.Join(dir, "stats.json")
	cmd := exec.Command(pipeBin, "clean", "--steps", "extract", "--threads", "1", "--stats", stats, in)
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1", "GOGC=25") // collections often enough to see the peak
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, errb.Bytes())
	}
	docs := readDocs(t, out.Bytes())
	if len(docs) != 1 || docs[0].URL != "https://example.com/rivers" {
		t.Fatalf("documents %+v", docs)
	}
	if got := dropped(t, readStats(t, stats), "extract"); !reflect.DeepEqual(got, map[string]float64{"html_too_large": 1}) {
		t.Errorf("extract dropped %v", got)
	}
	// "gc 3 @0.031s 1%: ..., 23->23->23 MB, ...": the heap before, at the
	// end of and after each collection.
	peak, gcs := 0, 0
	for _, m := range regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB`).FindAllStringSubmatch(errb.String(), -1) {
		gcs++
		for _, n := range m[1:] {
			v, _ := strconv.Atoi(n)
			peak = max(peak, v)
		}
	}
	t.Logf("peak Go heap %d MB over %d collections, for a %d MB page", peak, gcs, len(line)*lines>>20)
	if gcs == 0 || peak >= 50 {
		t.Errorf("peak heap %d MB (%d collections): the page seems to be held whole", peak, gcs)
	}
}
