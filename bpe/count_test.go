package bpe

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// trainZipfText returns about n bytes of text made of pseudo-words drawn with Zipf
// frequencies, with punctuation, digits, contractions, a little non-ASCII and
// newlines, so that every branch of the pre-split patterns is used. The same
// seed gives the same text.
func trainZipfText(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	syll := []string{"th", "e", "an", "re", "in", "on", "st", "er", "a", "o", "is", "ou", "ti", "ng", "qu", "x", "é", "ß", "中", "文"}
	words := make([]string, 3000)
	for i := range words {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			b.WriteString(syll[r.IntN(len(syll))])
		}
		if r.IntN(10) == 0 {
			b.WriteString([]string{"'s", "'t", "'ll", "'re"}[r.IntN(4)])
		}
		if r.IntN(15) == 0 {
			w := []byte(b.String())
			w[0] = byte(strings.ToUpper(string(w[0]))[0])
			b.Reset()
			b.Write(w)
		}
		words[i] = b.String()
	}
	z := rand.NewZipf(r, 1.1, 2, uint64(len(words)-1))
	var out bytes.Buffer
	for out.Len() < n {
		switch k := r.IntN(40); {
		case k == 0:
			fmt.Fprintf(&out, " %d", r.IntN(100000))
		case k == 1:
			out.WriteString([]string{",", ".", "!", " (", ")", " --", ":", "\n", "\n\n", "  ", "\t"}[r.IntN(11)])
		default:
			out.WriteByte(' ')
			out.WriteString(words[z.Uint64()])
		}
	}
	return out.Bytes()
}

// trainZipfDocs cuts trainZipfText into documents at newlines.
func trainZipfDocs(seed uint64, n int) [][]byte {
	return bytes.SplitAfter(trainZipfText(seed, n), []byte("\n"))
}

func countPiecesOf(t testing.TB, pattern string, docs [][]byte) *Counts {
	t.Helper()
	c, err := NewCounter(pattern)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		c.Add(d)
	}
	return c.Counts()
}

func countsAsMap(c *Counts) map[string]int64 { return maps.Collect(c.All()) }

func sameCounts(t *testing.T, got, want *Counts) {
	t.Helper()
	if got.Pattern != want.Pattern || got.Documents != want.Documents || got.Total() != want.Total() || got.Len() != want.Len() {
		t.Fatalf("got pattern %q, %d documents, total %d, %d pieces; want %q, %d, %d, %d",
			got.Pattern, got.Documents, got.Total(), got.Len(), want.Pattern, want.Documents, want.Total(), want.Len())
	}
	if !maps.Equal(countsAsMap(got), countsAsMap(want)) {
		t.Fatal("counts differ")
	}
}

func writeCountsBytes(t *testing.T, c *Counts) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteCounts(&buf, c); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCountsWorkedExample(t *testing.T) {
	// The example of the counts file doc comment.
	c := countPiecesOf(t, "gpt2", [][]byte{[]byte("the cat"), []byte("the the")})
	want := map[string]int64{"the": 2, " cat": 1, " the": 1}
	if got := countsAsMap(c); !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	c.AddPiece([]byte("the"), 1)
	if c.Count([]byte("the")) != 3 || c.Total() != 5 || c.Documents != 2 {
		t.Fatalf("count %d total %d documents %d", c.Count([]byte("the")), c.Total(), c.Documents)
	}
	r, err := countsZstdDecode(writeCountsBytes(t, c))
	if err != nil {
		t.Fatal(err)
	}
	wantFile := "pipe-bpe-counts 1\n" +
		`{"pattern":"gpt2","pieces":3,"total":5,"documents":2}` + "\n" +
		"IGNhdA== 1\nIHRoZQ== 1\ndGhl 3\n"
	if string(r) != wantFile {
		t.Fatalf("file:\n%s\nwant:\n%s", r, wantFile)
	}
}

func countsZstdDecode(b []byte) ([]byte, error) {
	dec, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	return io.ReadAll(dec)
}

func TestCountsPartitionsEqualWhole(t *testing.T) {
	docs := trainZipfDocs(1, 300_000)
	for _, pattern := range []string{"gpt2", "cl100k", "o200k"} {
		t.Run(pattern, func(t *testing.T) {
			whole := countPiecesOf(t, pattern, docs)
			// Three partitions counted apart, each through a file.
			cuts := []int{0, len(docs) / 5, len(docs) / 2, len(docs)}
			merged := NewCounts(pattern)
			for i := range 3 {
				part := countPiecesOf(t, pattern, docs[cuts[i]:cuts[i+1]])
				back, err := ReadCounts(bytes.NewReader(writeCountsBytes(t, part)))
				if err != nil {
					t.Fatal(err)
				}
				sameCounts(t, back, part)
				if err := merged.Merge(back); err != nil {
					t.Fatal(err)
				}
			}
			sameCounts(t, merged, whole)
			if !bytes.Equal(writeCountsBytes(t, merged), writeCountsBytes(t, whole)) {
				t.Fatal("files of equal counts differ")
			}
			for _, workers := range []int{1, 3} {
				ch := make(chan []byte)
				go func() {
					for _, d := range docs {
						ch <- d
					}
					close(ch)
				}()
				par, err := CountParallel(pattern, workers, ch)
				if err != nil {
					t.Fatal(err)
				}
				sameCounts(t, par, whole)
			}
		})
	}
}

func TestCountsMergePatternMismatch(t *testing.T) {
	err := NewCounts("gpt2").Merge(NewCounts("cl100k"))
	if !errors.Is(err, ErrPatternMismatch) {
		t.Fatalf("got %v, want ErrPatternMismatch", err)
	}
}

func TestReadCountsCompression(t *testing.T) {
	c := countPiecesOf(t, "cl100k", trainZipfDocs(2, 20_000))
	plain := "pipe-bpe-counts 1\n" + fmt.Sprintf(`{"pattern":"cl100k","pieces":%d,"total":%d,"documents":%d}`, c.Len(), c.Total(), c.Documents) + "\n"
	var b strings.Builder
	for p, n := range c.All() {
		fmt.Fprintf(&b, "%s %d\n", base64.StdEncoding.EncodeToString([]byte(p)), n)
	}
	plain += b.String()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(plain))
	zw.Close()
	for name, file := range map[string][]byte{"plain": []byte(plain), "gzip": gz.Bytes(), "zstd": writeCountsBytes(t, c)} {
		got, err := ReadCounts(bytes.NewReader(file))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameCounts(t, got, c)
	}
}

func TestReadCountsErrors(t *testing.T) {
	const head = "pipe-bpe-counts 1\n"
	hdr := func(pieces, total int) string {
		return fmt.Sprintf(`{"pattern":"gpt2","pieces":%d,"total":%d,"documents":1}`+"\n", pieces, total)
	}
	tests := []struct {
		name, file, want string
	}{
		{"empty", "", "line 1"},
		{"not counts", "hello\n", "line 1"},
		{"version", "pipe-bpe-counts 2\n", "line 1: bad counts file: version"},
		{"no header", head, "line 2"},
		{"bad header", head + "{pattern\n", "line 2"},
		{"unknown field", head + `{"patern":"gpt2"}` + "\n", "line 2"},
		{"no space", head + hdr(1, 1) + "YQ==\n", "line 3"},
		{"bad base64", head + hdr(1, 1) + "Y!== 1\n", "line 3"},
		{"empty piece", head + hdr(1, 1) + " 1\n", "line 3"},
		{"bad count", head + hdr(1, 1) + "YQ== x\n", "line 3"},
		{"zero count", head + hdr(1, 0) + "YQ== 0\n", "line 3"},
		{"negative count", head + hdr(1, 1) + "YQ== -1\n", "line 3"},
		{"out of order", head + hdr(2, 2) + "Yg== 1\nYQ== 1\n", "line 4"},
		{"repeated", head + hdr(2, 2) + "YQ== 1\nYQ== 1\n", "line 4"},
		{"too many", head + hdr(1, 2) + "YQ== 1\nYg== 1\n", "line 4"},
		{"truncated", head + hdr(3, 2) + "YQ== 1\nYg== 1\n", "header says 3"},
		{"total", head + hdr(2, 3) + "YQ== 1\nYg== 1\n", "header says 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCounts(strings.NewReader(tt.file))
			if !errors.Is(err, ErrBadCounts) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrBadCounts containing %q", err, tt.want)
			}
		})
	}
	// A good file of the same shape reads.
	c, err := ReadCounts(strings.NewReader(head + hdr(2, 3) + "YQ== 1\nYg== 2\n"))
	if err != nil || c.Count([]byte("b")) != 2 {
		t.Fatalf("good file: %v", err)
	}
}
