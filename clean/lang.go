package clean

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/pipe-dev/pipe/docio"
)

// Language identification: fastText's lid.176 model, read and run in Go.
//
// FineWeb keeps a document when fastText's lid.176 gives its language a
// probability above 0.65; datatrove stores that as "language" and
// "language_score". To keep FineWeb's threshold meaningful we run the same
// model: this file reads fastText model files (.ftz quantized, as
// lid.176.ftz; .bin dense, as lid.176.bin) and computes what fastText's
// predict computes, to float32 rounding:
//
//  1. the text is split at white space into words, and "</s>" (the end of
//     the line fastText's predict adds) is appended;
//  2. each word contributes its own input vector when it is in the
//     dictionary, and the vectors of its character n-grams (2 to 4
//     characters of "<word>", hashed with FNV-1a into 2M buckets, kept only
//     where the model's pruned index has them);
//  3. the hidden vector is the mean of those vectors (16 floats);
//  4. the label probabilities come from a hierarchical softmax: a Huffman
//     tree over the 176 labels by training frequency, each inner node a
//     logistic unit; a label's log-probability is the sum of
//     log(sigmoid(±w·h) + 1e-5) along its path.
//
// Measured on a labelled sample of the debian-handbook (26 languages, 869
// documents of ~1000 characters and 2265 paragraphs, untranslated text
// removed): lid.176.ftz is right on 100% of the documents and 99.0% of the
// paragraphs; lingua-go 99.9% / 98.9% at 0.1 MB/s with 124 MB of models;
// whatlanggo 95.4% / 93.4% (it has no Catalan).
//
// The model: lid.176.ftz (917 KiB), fastText language identification by
// Facebook AI Research, CC BY-SA 3.0
// (https://fasttext.cc/docs/en/language-identification.html), embedded as
// lang_lid176.ftz. LoadLangModel reads another model file, such as
// lid.176.bin (the unquantized model FineWeb used).

//go:embed lang_lid176.ftz
var lid176 []byte

// LangID identifies the language of texts. It is safe for concurrent use.
type LangID struct {
	dim      int
	labels   []string // "en", "de", ... without "__label__", by label index
	words    map[string]int32
	subwords [][]int32 // input rows of each dictionary word: itself and its n-grams
	nwords   int32
	minn     int
	maxn     int
	bucket   uint32
	pruned   bucketIndex // bucket -> row offset, for a pruned dictionary
	// prunedMap is the same as a map, read only for the tests' plain
	// version.
	prunedMap map[int32]int32
	prunedSz  int64
	input     matrix
	output    matrix
	hs        bool
	tree      []hsNode // Huffman tree over the labels (hs loss)
	eosRows   []int32
}

type hsNode struct {
	left, right int32
}

// matrix is a fastText matrix: dense, or product-quantized.
type matrix interface {
	addRow(x []float32, i int32)
	dotRow(x []float32, i int32) float32
}

var (
	defaultLang     *LangID
	defaultLangErr  error
	defaultLangOnce sync.Once
)

// DefaultLangID returns the embedded lid.176 model, loaded once.
func DefaultLangID() (*LangID, error) {
	defaultLangOnce.Do(func() {
		defaultLang, defaultLangErr = ReadLangModel(bytes.NewReader(lid176))
	})
	return defaultLang, defaultLangErr
}

// LoadLangModel reads a fastText supervised model file (.ftz or .bin).
func LoadLangModel(path string) (*LangID, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ReadLangModel(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ErrLangModel is wrapped by the errors of a model file that cannot be
// read.
var ErrLangModel = errors.New("not a fastText model")

const (
	ftMagic   = 793712314
	ftVersion = 12
	lossHS    = 1
	lossSoftm = 3
	modelSup  = 3
)

type binReader struct {
	r   io.Reader
	err error
	buf [8]byte
}

func (b *binReader) read(n int) []byte {
	if b.err != nil {
		return b.buf[:n]
	}
	_, b.err = io.ReadFull(b.r, b.buf[:n])
	return b.buf[:n]
}
func (b *binReader) i32() int32   { return int32(binary.LittleEndian.Uint32(b.read(4))) }
func (b *binReader) i64() int64   { return int64(binary.LittleEndian.Uint64(b.read(8))) }
func (b *binReader) f64() float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b.read(8))) }
func (b *binReader) u8() uint8    { return b.read(1)[0] }
func (b *binReader) bytes(n int64) []byte {
	if b.err != nil || n < 0 || n > 1<<32 {
		if b.err == nil {
			b.err = fmt.Errorf("%w: a block of %d bytes", ErrLangModel, n)
		}
		return nil
	}
	p := make([]byte, n)
	_, b.err = io.ReadFull(b.r, p)
	return p
}
func (b *binReader) f32s(n int64) []float32 {
	p := b.bytes(n * 4)
	if p == nil {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	return out
}
func (b *binReader) cstring() string {
	var s []byte
	for b.err == nil {
		c := b.u8()
		if c == 0 {
			break
		}
		s = append(s, c)
		if len(s) > 1<<16 {
			b.err = fmt.Errorf("%w: a word longer than 64 KiB", ErrLangModel)
		}
	}
	return string(s)
}

// ReadLangModel reads a fastText supervised model (version 12).
func ReadLangModel(r io.Reader) (*LangID, error) { return readLangModel(r, false) }

// readLangModel reads a model; plain keeps it as read (the input matrix
// quantized as it is in the file, the pruned buckets in a map), for the
// plain version of the language id that the tests hold the fast one to.
func readLangModel(r io.Reader, plain bool) (*LangID, error) {
	b := &binReader{r: r}
	if magic, version := b.i32(), b.i32(); b.err != nil || magic != ftMagic || version != ftVersion {
		return nil, fmt.Errorf("%w (magic %d, version %d)", ErrLangModel, magic, version)
	}
	m := &LangID{}
	var args [12]int32
	for i := range args {
		args[i] = b.i32()
	}
	b.f64() // t
	dim, wordNgrams, loss, model, bucket, minn, maxn := args[0], args[5], args[6], args[7], args[8], args[9], args[10]
	if model != modelSup || (loss != lossHS && loss != lossSoftm) || wordNgrams != 1 || dim <= 0 || dim > 1024 {
		return nil, fmt.Errorf("%w: want a supervised model with hs or softmax loss and word n-grams 1 (model %d, loss %d, wordNgrams %d)", ErrLangModel, model, loss, wordNgrams)
	}
	if bucket < 0 || bucket > 1<<30 {
		return nil, fmt.Errorf("%w: %d n-gram buckets", ErrLangModel, bucket)
	}
	m.dim, m.minn, m.maxn, m.bucket, m.hs = int(dim), int(minn), int(maxn), uint32(bucket), loss == lossHS

	// Dictionary: words then labels, each a NUL-ended string, a count and
	// a type; then the pruned index of n-gram buckets.
	size, nwords, nlabels := b.i32(), b.i32(), b.i32()
	b.i64() // ntokens
	m.prunedSz = b.i64()
	if b.err != nil || size < 0 || nwords < 0 || nlabels <= 0 || size != nwords+nlabels || size > 10_000_000 {
		return nil, fmt.Errorf("%w: dictionary of %d entries (%d words, %d labels)", ErrLangModel, size, nwords, nlabels)
	}
	m.nwords = nwords
	m.words = make(map[string]int32, nwords)
	words := make([]string, 0, nwords)
	counts := make([]int64, 0, nlabels)
	for i := int32(0); i < size && b.err == nil; i++ {
		w := b.cstring()
		count := b.i64()
		typ := b.u8()
		if typ == 0 {
			m.words[w] = int32(len(words))
			words = append(words, w)
		} else {
			m.labels = append(m.labels, strings.TrimPrefix(w, "__label__"))
			counts = append(counts, count)
		}
	}
	if m.prunedSz > 0 {
		if m.prunedSz > int64(bucket) {
			return nil, fmt.Errorf("%w: %d pruned n-grams for %d buckets", ErrLangModel, m.prunedSz, bucket)
		}
		keys, rows := make([]int32, m.prunedSz), make([]int32, m.prunedSz)
		for i := range keys {
			keys[i], rows[i] = b.i32(), b.i32()
			if b.err != nil {
				break
			}
			if keys[i] < 0 || int64(keys[i]) >= int64(bucket) {
				return nil, fmt.Errorf("%w: pruned n-gram bucket %d of %d", ErrLangModel, keys[i], bucket)
			}
		}
		if b.err == nil {
			m.pruned = newBucketIndex(m.bucket, keys, rows)
		}
		if plain {
			m.prunedMap = make(map[int32]int32, len(keys))
			for i, k := range keys {
				m.prunedMap[k] = rows[i]
			}
		}
	}
	if b.err != nil {
		return nil, fmt.Errorf("%w: dictionary: %v", ErrLangModel, b.err)
	}
	if len(words) != int(nwords) || len(m.labels) != int(nlabels) {
		return nil, fmt.Errorf("%w: dictionary types disagree with its counts", ErrLangModel)
	}
	m.subwords = make([][]int32, nwords)
	for i, w := range words {
		rows := []int32{int32(i)}
		if w != "</s>" {
			rows = m.ngrams(rows, []byte("<"+w+">"))
		}
		m.subwords[i] = rows
	}

	quant := b.u8() != 0
	var err error
	if m.input, err = readMatrix(b, quant); err != nil {
		return nil, fmt.Errorf("%w: input matrix: %v", ErrLangModel, err)
	}
	if q, ok := m.input.(*quantized); ok && !plain && q.rows*q.pq.dim <= maxDequantized {
		m.input = q.dequantize()
	}
	qout := b.u8() != 0
	if m.output, err = readMatrix(b, quant && qout); err != nil {
		return nil, fmt.Errorf("%w: output matrix: %v", ErrLangModel, err)
	}
	if m.hs {
		m.tree = huffman(counts)
	}
	if id, ok := m.words["</s>"]; ok {
		m.eosRows = m.subwords[id]
	}
	return m, nil
}

// readMatrix reads a dense matrix, or a quantized one.
func readMatrix(b *binReader, quant bool) (matrix, error) {
	if !quant {
		rows, cols := b.i64(), b.i64()
		if b.err != nil || rows < 0 || cols <= 0 || rows*cols > 1<<31 {
			return nil, fmt.Errorf("dense matrix of %d x %d", rows, cols)
		}
		d := &dense{cols: int(cols), data: b.f32s(rows * cols)}
		return d, b.err
	}
	q := &quantized{}
	q.qnorm = b.u8() != 0
	rows, cols := b.i64(), b.i64()
	codesize := b.i32()
	if b.err != nil || rows < 0 || cols <= 0 || codesize < 0 {
		return nil, fmt.Errorf("quantized matrix of %d x %d, %d codes", rows, cols, codesize)
	}
	q.rows = int(rows)
	q.codes = b.bytes(int64(codesize))
	q.pq = readPQ(b)
	if q.qnorm {
		q.normCodes = b.bytes(rows)
		q.npq = readPQ(b)
	}
	if b.err != nil {
		return nil, b.err
	}
	if q.pq.dim != int(cols) || int64(len(q.codes)) < rows*int64(q.pq.nsubq) {
		return nil, fmt.Errorf("quantizer of %d dimensions for %d columns", q.pq.dim, cols)
	}
	return q, nil
}

type dense struct {
	cols int
	data []float32
}

func (d *dense) addRow(x []float32, i int32) {
	row := d.data[int(i)*d.cols : int(i+1)*d.cols]
	for j, v := range row {
		x[j] += v
	}
}

func (d *dense) dotRow(x []float32, i int32) float32 {
	row := d.data[int(i)*d.cols : int(i+1)*d.cols]
	var s float32
	for j, v := range row {
		s += x[j] * v
	}
	return s
}

// productQuantizer holds 256 centroids for each of nsubq sub-vectors of
// dsub dimensions (the last one lastdsub).
type productQuantizer struct {
	dim, nsubq, dsub, lastdsub int
	centroids                  []float32
}

const pqKsub = 256

func readPQ(b *binReader) *productQuantizer {
	p := &productQuantizer{dim: int(b.i32()), nsubq: int(b.i32()), dsub: int(b.i32()), lastdsub: int(b.i32())}
	if b.err == nil && (p.dim <= 0 || p.dim > 1<<16 || p.nsubq <= 0 || p.dsub <= 0 || p.lastdsub <= 0 ||
		(p.nsubq-1)*p.dsub+p.lastdsub != p.dim) {
		b.err = fmt.Errorf("product quantizer of %d dimensions in %d parts", p.dim, p.nsubq)
	}
	p.centroids = b.f32s(int64(p.dim) * pqKsub)
	return p
}

// centroid returns centroid c of sub-quantizer m.
func (p *productQuantizer) centroid(m int, c uint8) []float32 {
	if m == p.nsubq-1 {
		off := m*pqKsub*p.dsub + int(c)*p.lastdsub
		return p.centroids[off : off+p.lastdsub]
	}
	off := (m*pqKsub + int(c)) * p.dsub
	return p.centroids[off : off+p.dsub]
}

type quantized struct {
	rows      int
	qnorm     bool
	codes     []byte
	pq        *productQuantizer
	normCodes []byte
	npq       *productQuantizer
}

func (q *quantized) norm(i int32) float32 {
	if !q.qnorm {
		return 1
	}
	return q.npq.centroid(0, q.normCodes[i])[0]
}

func (q *quantized) addRow(x []float32, i int32) {
	alpha := q.norm(i)
	code := q.codes[int(i)*q.pq.nsubq:]
	for m := 0; m < q.pq.nsubq; m++ {
		c := q.pq.centroid(m, code[m])
		xs := x[m*q.pq.dsub:]
		for n, v := range c {
			xs[n] += float32(alpha * v) // not fused: fastText rounds the product
		}
	}
}

// maxDequantized is the most values of an input matrix that is expanded
// from quantized codes to floats when a model is read (16 MiB; lid.176.ftz
// has 50,000 rows of 16: 3.2 MB).
const maxDequantized = 4 << 20

// dequantize returns q as a dense matrix: each value alpha·centroid,
// rounded to float32 as addRow rounds it, so that adding a row sums the
// same values without the look-ups, which were a fifth of the language
// id's time.
func (q *quantized) dequantize() *dense {
	d := &dense{cols: q.pq.dim, data: make([]float32, q.rows*q.pq.dim)}
	for i := range q.rows {
		alpha := q.norm(int32(i))
		row := d.data[i*d.cols:]
		code := q.codes[i*q.pq.nsubq:]
		for m := 0; m < q.pq.nsubq; m++ {
			for n, v := range q.pq.centroid(m, code[m]) {
				row[m*q.pq.dsub+n] = float32(alpha * v)
			}
		}
	}
	return d
}

func (q *quantized) dotRow(x []float32, i int32) float32 {
	alpha := q.norm(i)
	code := q.codes[int(i)*q.pq.nsubq:]
	var s float32
	for m := 0; m < q.pq.nsubq; m++ {
		c := q.pq.centroid(m, code[m])
		xs := x[m*q.pq.dsub:]
		for n, v := range c {
			s += xs[n] * v
		}
	}
	return s * alpha
}

// huffman builds fastText's tree over the labels, whose counts come in
// decreasing order: leaves 0..n-1, inner nodes n..2n-2, the root last.
func huffman(counts []int64) []hsNode {
	n := len(counts)
	tree := make([]hsNode, 2*n-1)
	count := make([]int64, 2*n-1)
	for i := range tree {
		tree[i] = hsNode{-1, -1}
		count[i] = 1e15
	}
	copy(count, counts)
	leaf, node := n-1, n
	for i := n; i < 2*n-1; i++ {
		var mini [2]int
		for j := range mini {
			if leaf >= 0 && count[leaf] < count[node] {
				mini[j], leaf = leaf, leaf-1
			} else {
				mini[j], node = node, node+1
			}
		}
		tree[i] = hsNode{int32(mini[0]), int32(mini[1])}
		count[i] = count[mini[0]] + count[mini[1]]
	}
	return tree
}

// fastText's hash is FNV-1a over the bytes taken as signed chars.
const fnvOffset = 2166136261

func fnvByte(h uint32, c byte) uint32 { return (h ^ uint32(int32(int8(c)))) * 16777619 }

// ngrams appends the input rows of the character n-grams of w ("<word>"):
// minn to maxn characters (UTF-8 sequences), not the lone "<" or ">".
// The hash of the n-grams that start at one character grows a character
// at a time.
func (m *LangID) ngrams(rows []int32, w []byte) []int32 {
	if m.prunedSz == 0 { // a model pruned of every n-gram
		return rows
	}
	for i := 0; i < len(w); i++ {
		if w[i]&0xC0 == 0x80 {
			continue
		}
		h := uint32(fnvOffset)
		j := i
		for n := 1; j < len(w) && n <= m.maxn; n++ {
			h = fnvByte(h, w[j])
			j++
			for j < len(w) && w[j]&0xC0 == 0x80 {
				h = fnvByte(h, w[j])
				j++
			}
			if n >= m.minn && !(n == 1 && (i == 0 || j == len(w))) {
				row := int32(h % m.bucket)
				if m.prunedSz > 0 {
					var ok bool
					if row, ok = m.pruned.get(row); !ok {
						continue
					}
				}
				rows = append(rows, m.nwords+row)
			}
		}
	}
	return rows
}

// bucketIndex maps the n-gram buckets that a pruned model keeps to their
// rows, as a map[int32]int32 would, in about the same memory (550 KB for
// lid.176.ftz's 42,765 of 2 M buckets) and several times faster (the map
// was 40% of the language id's time): a bit per bucket says whether it is
// kept (nine in ten n-grams of a text are not, and cost one look at a 250
// KB bitmap), and a kept bucket's row is at its rank among the kept ones,
// the bits set before it: the count up to its 64-bit word plus the bits
// below it in the word.
type bucketIndex struct {
	bits  []uint64 // bit k: bucket k is kept
	ranks []int32  // ranks[i]: the bits set in bits[:i]
	rows  []int32  // the rows of the kept buckets, in bucket order
}

// newBucketIndex indexes the kept buckets (keys, each in [0, buckets))
// and their rows; a bucket listed twice keeps its last row.
func newBucketIndex(buckets uint32, keys, rows []int32) bucketIndex {
	x := bucketIndex{bits: make([]uint64, (buckets+63)/64)}
	x.ranks = make([]int32, len(x.bits))
	for _, k := range keys {
		x.bits[k>>6] |= 1 << (k & 63)
	}
	n := int32(0)
	for i, w := range x.bits {
		x.ranks[i] = n
		n += int32(bits.OnesCount64(w))
	}
	x.rows = make([]int32, n)
	for i, k := range keys {
		x.rows[x.rank(k)] = rows[i]
	}
	return x
}

func (x *bucketIndex) rank(k int32) int32 {
	below := x.bits[k>>6] & (1<<(k&63) - 1)
	return x.ranks[k>>6] + int32(bits.OnesCount64(below))
}

// get returns the row of bucket k, and whether the model keeps it.
func (x *bucketIndex) get(k int32) (int32, bool) {
	if x.bits[k>>6]&(1<<(k&63)) == 0 {
		return 0, false
	}
	return x.rows[x.rank(k)], true
}

// isSpace is fastText's word separator.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\n', '\r', '\t', '\v', '\f', 0:
		return true
	}
	return false
}

// hidden returns the mean of the input rows of text's words (and "</s>").
func (m *LangID) hidden(text string) []float32 {
	h := make([]float32, m.dim)
	n := 0
	add := func(rows []int32) {
		for _, r := range rows {
			m.input.addRow(h, r)
		}
		n += len(rows)
	}
	var tmp []int32
	var buf [64]byte // "<word>"
	for i := 0; i < len(text); {
		for i < len(text) && isSpace(text[i]) {
			i++
		}
		j := i
		for j < len(text) && !isSpace(text[j]) {
			j++
		}
		if j == i {
			break
		}
		w := text[i:j]
		i = j
		if id, ok := m.words[w]; ok {
			add(m.subwords[id])
		} else if !strings.HasPrefix(w, "__label__") {
			bw := append(append(append(buf[:0], '<'), w...), '>')
			tmp = m.ngrams(tmp[:0], bw)
			add(tmp)
		}
	}
	add(m.eosRows)
	if n > 0 {
		inv := 1 / float32(n)
		for i := range h {
			h[i] *= inv
		}
	}
	return h
}

// LangScore is a language and its probability.
type LangScore struct {
	Lang  string
	Score float64
}

// Predict returns the probability of every language for text, most
// probable first. Line breaks count as spaces (as datatrove feeds
// fastText).
func (m *LangID) Predict(text string) []LangScore {
	return byScore(m.scores(text))
}

// byScore sorts scores most probable first, keeping the order of equals.
func byScore(out []LangScore) []LangScore {
	slices.SortStableFunc(out, func(a, b LangScore) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	return out
}

// top returns the most probable of scores (the first of them when several
// are: Predict's first).
func top(scores []LangScore) LangScore {
	t := scores[0]
	for _, s := range scores[1:] {
		if s.Score > t.Score {
			t = s
		}
	}
	return t
}

// scores returns the probability of every language for text, in the order
// of the model's tree (hs loss) or of its labels (softmax).
func (m *LangID) scores(text string) []LangScore { return m.scoresOf(m.hidden(text)) }

// scoresOf is scores from the hidden vector h (the mean of the text's rows).
func (m *LangID) scoresOf(h []float32) []LangScore {
	out := make([]LangScore, 0, len(m.labels))
	if m.hs {
		n := len(m.labels)
		var dfs func(node int32, score float32)
		dfs = func(node int32, score float32) {
			t := m.tree[node]
			if t.left < 0 {
				out = append(out, LangScore{m.labels[node], math.Exp(float64(score))})
				return
			}
			f := m.output.dotRow(h, node-int32(n))
			f = float32(1 / (1 + math.Exp(-float64(f))))
			dfs(t.left, score+ftLog(1-f))
			dfs(t.right, score+ftLog(f))
		}
		dfs(int32(2*n-2), 0)
	} else {
		logits := make([]float64, len(m.labels))
		maxv := math.Inf(-1)
		for i := range logits {
			logits[i] = float64(m.output.dotRow(h, int32(i)))
			maxv = max(maxv, logits[i])
		}
		var z float64
		for i := range logits {
			logits[i] = math.Exp(logits[i] - maxv)
			z += logits[i]
		}
		for i, l := range m.labels {
			out = append(out, LangScore{l, logits[i] / z})
		}
	}
	return out
}

func ftLog(x float32) float32 { return float32(math.Log(float64(x) + 1e-5)) }

// Detect returns the most probable language of text and its probability.
func (m *LangID) Detect(text string) (string, float64) {
	t := top(m.scores(text))
	return t.Lang, t.Score
}

// Languages returns the labels the model knows.
func (m *LangID) Languages() []string { return slices.Clone(m.labels) }

// DefaultLangThreshold is FineWeb's: a language must have a probability
// above 0.65.
const DefaultLangThreshold = 0.65

// ReasonLang is why the lang step drops a document: none of the wanted
// languages has a probability above the threshold.
const ReasonLang = "lang"

// LangFilter is the lang step: it stores the most probable language and
// its probability in the metadata ("lang", "lang_score") and keeps the
// document when one of Langs has a probability above Threshold (every
// document when Langs is empty), as datatrove's LanguageFilter does.
type LangFilter struct {
	Model     *LangID
	Langs     []string
	Threshold float64
}

var _ Filter = (*LangFilter)(nil)

func (f *LangFilter) Name() string { return "lang" }

func (f *LangFilter) Filter(doc *docio.Document) (bool, string) {
	p := f.Model.scores(doc.Text) // unsorted: the filter needs the top one and those above the threshold
	t := top(p)
	if doc.Metadata == nil {
		doc.Metadata = map[string]any{}
	}
	doc.Metadata["lang"] = t.Lang
	doc.Metadata["lang_score"] = math.Round(t.Score*1e4) / 1e4
	if len(f.Langs) == 0 {
		return true, ""
	}
	for _, s := range p {
		if s.Score > f.Threshold && slices.Contains(f.Langs, s.Lang) {
			return true, ""
		}
	}
	return false, ReasonLang
}
