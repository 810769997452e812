package bpe

// Rank files in tiktoken's format, and the JSON encoders of the npm tiktoken
// package.
//
// A .tiktoken file has one line per token, sorted by rank:
//
//	IQ== 0        ("!" is rank 0)
//	IHRoZQ== 279  (" the" is rank 279)
//
// It holds neither the pre-split pattern nor the special tokens.

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ErrFormat is matched (errors.Is) by every error about malformed content of
// a tokenizer or rank file.
var ErrFormat = errors.New("bad tokenizer file")

// ParseError is malformed content, with where it is.
type ParseError struct {
	File string // file name; empty when the content came from a stream
	Line int    // 1-based line; 0 when the error is about no single line
	Msg  string // what is wrong
}

func (e *ParseError) Error() string {
	where := e.File
	if e.Line > 0 {
		if where == "" {
			where = "line "
		} else {
			where += ":"
		}
		where += strconv.Itoa(e.Line)
	}
	if where == "" {
		return e.Msg
	}
	return where + ": " + e.Msg
}

// Is makes errors.Is(err, ErrFormat) true for every ParseError.
func (e *ParseError) Is(target error) bool { return target == ErrFormat }

// formatErr is a ParseError at line (0 for none).
func formatErr(line int, format string, args ...any) error {
	return &ParseError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// inFile names the file in err: a ParseError gets File set, other errors
// are prefixed with the name.
func inFile(name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *ParseError
	if errors.As(err, &pe) && pe.File == "" {
		pe.File = name
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// maxLine bounds one line of a rank file (a token of up to ~750 KB).
const maxLine = 1 << 20

// ReadTiktoken reads a .tiktoken rank file: lines "base64-token rank".
// Empty lines are skipped (tiktoken skips them too). A malformed line, an
// empty token, or a token or rank seen before is a *ParseError naming the
// line; an input without a single token is refused too.
func ReadTiktoken(r io.Reader) (map[string]uint32, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	l, err := parseRanks(data, 0)
	if err != nil {
		return nil, err
	}
	ranks := make(map[string]uint32, len(l.id))
	for i, id := range l.id {
		ranks[string(l.token(i))] = id
	}
	if len(ranks) < len(l.id) {
		return nil, l.duplicateError()
	}
	return ranks, nil
}

// rankList holds the ordinary tokens of a vocabulary in rank order, their
// bytes end to end in one arena: token i is arena[start[i]:start[i+1]] and
// has the id (rank) id[i], ids strictly increasing. A rank file parses into
// one, and the decoder and the rank table are built from it as it is.
type rankList struct {
	arena []byte
	start []uint32 // len(id)+1 offsets into arena
	id    []uint32
	line  []int32 // the file line of each token; nil when not from a file
	// canonical says that the file's text is exactly the lines that
	// Tokenizer.appendRankLines writes for these tokens: in rank order, no
	// blank lines, no "\r", ranks without leading zeros, a final newline.
	canonical bool
}

func (l *rankList) token(i int) []byte { return l.arena[l.start[i]:l.start[i+1]] }

// strictBase64 decodes the tokens of rank files: canonical padding only.
var strictBase64 = base64.StdEncoding.Strict()

// parseRanks parses the lines of a rank file, which follow skip other lines
// of the same file (a native file's header), so that errors name the file's
// line. Ranks may come in any order; the list comes back in rank order. A
// rank given twice is an error here; a token given twice is found when the
// rank table is built (newTokenizer), and reported by duplicateError.
func parseRanks(data []byte, skip int) (*rankList, error) {
	lines := bytes.Count(data, []byte("\n")) + 1
	l := &rankList{
		// Base64 decodes to at most 3/4 of its length: the arena never grows.
		arena: make([]byte, 0, len(data)/4*3+3),
		start: make([]uint32, 1, lines+1),
		id:    make([]uint32, 0, lines),
		line:  make([]int32, 0, lines),
	}
	sorted := true
	canonical := len(data) > 0 && data[len(data)-1] == '\n'
	n := skip
	for rest := data; len(rest) > 0; {
		n++
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		// bufio.ScanLines dropped one "\r" and readRanks another: so do we.
		if len(line) == 0 {
			canonical = false
			continue
		}
		if line[len(line)-1] == '\r' {
			// bufio.ScanLines dropped one "\r" and readRanks another: so do we.
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\r")), []byte("\r"))
			canonical = false
			if len(line) == 0 {
				continue
			}
		}
		if len(line) >= maxLine {
			return nil, l.firstError(formatErr(n, "line longer than %d bytes", maxLine))
		}
		rank, plain, err := l.appendLine(line)
		if err != nil {
			return nil, l.firstError(formatErr(n, "%v", err))
		}
		canonical = canonical && plain
		if k := len(l.id); k > 0 && rank <= l.id[k-1] {
			sorted = false
		}
		l.id = append(l.id, rank)
		l.line = append(l.line, int32(n))
		l.start = append(l.start, uint32(len(l.arena)))
	}
	if len(l.id) == 0 {
		return nil, formatErr(0, "no ranks")
	}
	if !sorted {
		if err := l.sortByRank(); err != nil {
			return nil, err
		}
	}
	l.canonical = canonical && sorted
	return l, nil
}

// appendLine parses "base64-token rank", appending the token to l.arena,
// and returns the rank, and whether the line is as appendRankLines writes it
// (Decode ignores "\r" inside base64; a rank may have leading zeros).
func (l *rankList) appendLine(line []byte) (rank uint32, plain bool, err error) {
	b64, num, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return 0, false, fmt.Errorf("want \"base64-token rank\", got %q", clip(line))
	}
	k := len(l.arena)
	n := strictBase64.DecodedLen(len(b64))
	l.arena = slices.Grow(l.arena, n)
	m, err := strictBase64.Decode(l.arena[k:k+n], b64)
	if err != nil {
		return 0, false, fmt.Errorf("bad base64 %q: %v", clip(b64), err)
	}
	if m == 0 {
		return 0, false, errors.New("empty token")
	}
	rank, ok = parseRank(num)
	if !ok {
		return 0, false, fmt.Errorf("bad rank %q", clip(num))
	}
	l.arena = l.arena[:k+m]
	plain = (num[0] != '0' || len(num) == 1) && bytes.IndexByte(b64, '\r') < 0
	return rank, plain, nil
}

// parseRank parses a rank: decimal digits (as strconv.ParseUint with base
// 10 and 32 bits accepts them).
func parseRank(b []byte) (uint32, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v = v*10 + uint64(c-'0'); v > 1<<32-1 {
			return 0, false
		}
	}
	return uint32(v), true
}

// sortByRank puts a list parsed out of rank order into rank order, or
// returns the error of a rank given twice.
func (l *rankList) sortByRank() error {
	order := make([]int32, len(l.id))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(l.id[a], l.id[b]) })
	s := &rankList{
		arena: make([]byte, 0, len(l.arena)),
		start: make([]uint32, 1, len(l.start)),
		id:    make([]uint32, 0, len(l.id)),
		line:  make([]int32, 0, len(l.line)),
	}
	for _, i := range order {
		if k := len(s.id); k > 0 && s.id[k-1] == l.id[i] {
			return l.duplicateError()
		}
		s.arena = append(s.arena, l.token(int(i))...)
		s.start = append(s.start, uint32(len(s.arena)))
		s.id = append(s.id, l.id[i])
		s.line = append(s.line, l.line[i])
	}
	*l = *s
	return nil
}

// firstError returns err, the error of a line that did not parse, unless a
// line before it repeats a rank or a token: lines are checked in order, and
// the first bad one is the one reported.
func (l *rankList) firstError(err error) error {
	if dup := l.duplicateError(); dup != nil {
		return dup
	}
	return err
}

// duplicateError returns the error of the first line, in file order, that
// gives a rank or a token that an earlier line gave, or nil if there is
// none. It is the slow, exact check behind the fast ones.
func (l *rankList) duplicateError() error {
	order := make([]int, len(l.id))
	for i := range order {
		order[i] = i
	}
	if l.line != nil {
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(l.line[a], l.line[b]) })
	}
	lineOf := make(map[uint32]int, len(l.id)) // rank -> its line
	rankOf := make(map[string]uint32, len(l.id))
	for _, i := range order {
		line := i + 1
		if l.line != nil {
			line = int(l.line[i])
		}
		rank, tok := l.id[i], string(l.token(i))
		if first, ok := lineOf[rank]; ok {
			return formatErr(line, "rank %d already given on line %d", rank, first)
		}
		if prev, ok := rankOf[tok]; ok {
			return formatErr(line, "token %q already has rank %d (line %d)", tok, prev, lineOf[prev])
		}
		rankOf[tok] = rank
		lineOf[rank] = line
	}
	return nil
}

// parseRankLine splits "base64-token rank" into the token's bytes and rank.
func parseRankLine(line []byte) (string, uint32, error) {
	b64, num, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return "", 0, fmt.Errorf("want \"base64-token rank\", got %q", clip(line))
	}
	tok, err := base64.StdEncoding.Strict().DecodeString(string(b64))
	if err != nil {
		return "", 0, fmt.Errorf("bad base64 %q: %v", clip(b64), err)
	}
	if len(tok) == 0 {
		return "", 0, errors.New("empty token")
	}
	rank, err := strconv.ParseUint(string(num), 10, 32)
	if err != nil {
		return "", 0, fmt.Errorf("bad rank %q", clip(num))
	}
	return string(tok), uint32(rank), nil
}

// clip shortens b for an error message.
func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

// WriteTiktoken writes ranks as a .tiktoken file, sorted by rank. For
// OpenAI's ranks the output is byte-identical to OpenAI's files.
func WriteTiktoken(w io.Writer, ranks map[string]uint32) error {
	bw := bufio.NewWriter(w)
	var buf []byte
	for _, tok := range sortedByRank(ranks) {
		buf = base64.StdEncoding.AppendEncode(buf[:0], []byte(tok))
		buf = append(buf, ' ')
		buf = strconv.AppendUint(buf, uint64(ranks[tok]), 10)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// sortedByRank returns the tokens of ranks in rank order.
func sortedByRank(ranks map[string]uint32) []string {
	type entry struct {
		rank uint32
		tok  string
	}
	es := make([]entry, 0, len(ranks))
	for tok, r := range ranks {
		es = append(es, entry{r, tok})
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Compare(a.rank, b.rank) })
	toks := make([]string, len(es))
	for i, e := range es {
		toks[i] = e.tok
	}
	return toks
}

// tiktokenJSON is an encoder of the npm tiktoken package
// (tiktoken/encoders/cl100k_base.json and its kin).
type tiktokenJSON struct {
	PatStr         *string           `json:"pat_str"`
	SpecialTokens  map[string]uint32 `json:"special_tokens"`
	BPERanks       *string           `json:"bpe_ranks"`
	ExplicitNVocab *int              `json:"explicit_n_vocab"`
}

// ReadTiktokenJSON reads an encoder of the npm tiktoken package: a JSON
// object with the regex "pat_str", "special_tokens" (text to id), an
// optional "explicit_n_vocab", and "bpe_ranks". The bpe_ranks text has lines
// of two kinds: "! offset tok0 tok1 ..." gives base64 tokens the ranks
// offset, offset+1, ...; any other line is a .tiktoken line "tok rank".
// Line numbers in errors count lines of bpe_ranks.
func ReadTiktokenJSON(r io.Reader) (ranks, special map[string]uint32, pattern string, err error) {
	var enc tiktokenJSON
	dec := json.NewDecoder(r)
	if err := dec.Decode(&enc); err != nil {
		return nil, nil, "", formatErr(0, "npm tiktoken JSON: %v", err)
	}
	switch {
	case enc.PatStr == nil || *enc.PatStr == "":
		return nil, nil, "", formatErr(0, "npm tiktoken JSON: no pat_str")
	case enc.BPERanks == nil:
		return nil, nil, "", formatErr(0, "npm tiktoken JSON: no bpe_ranks")
	}
	ranks, err = parseBPERanks(*enc.BPERanks)
	if err != nil {
		return nil, nil, "", err
	}
	special = enc.SpecialTokens
	if special == nil {
		special = map[string]uint32{}
	}
	if err := checkSpecial(ranks, special); err != nil {
		return nil, nil, "", err
	}
	if n := enc.ExplicitNVocab; n != nil && *n != len(ranks)+len(special) {
		return nil, nil, "", formatErr(0, "explicit_n_vocab is %d, but there are %d ranks and %d special tokens",
			*n, len(ranks), len(special))
	}
	return ranks, special, *enc.PatStr, nil
}

// parseBPERanks parses the bpe_ranks text of an npm tiktoken encoder.
func parseBPERanks(text string) (map[string]uint32, error) {
	ranks := make(map[string]uint32)
	seen := make(map[uint32]bool)
	add := func(line int, tok string, rank uint32) error {
		if seen[rank] {
			return formatErr(line, "bpe_ranks: rank %d given twice", rank)
		}
		if r, ok := ranks[tok]; ok {
			return formatErr(line, "bpe_ranks: token %q already has rank %d", tok, r)
		}
		ranks[tok] = rank
		seen[rank] = true
		return nil
	}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		if line == "" {
			continue
		}
		rest, ok := strings.CutPrefix(line, "! ")
		if !ok {
			tok, rank, err := parseRankLine([]byte(line))
			if err != nil {
				return nil, formatErr(n, "bpe_ranks: %v", err)
			}
			if err := add(n, tok, rank); err != nil {
				return nil, err
			}
			continue
		}
		fields := strings.Split(rest, " ")
		off, err := strconv.ParseUint(fields[0], 10, 32)
		if err != nil {
			return nil, formatErr(n, "bpe_ranks: bad offset %q", clip([]byte(fields[0])))
		}
		for j, b64 := range fields[1:] {
			tok, err := base64.StdEncoding.Strict().DecodeString(b64)
			if err != nil || len(tok) == 0 {
				return nil, formatErr(n, "bpe_ranks: token %d: bad base64 %q", j, clip([]byte(b64)))
			}
			rank := off + uint64(j)
			if rank > 1<<32-1 {
				return nil, formatErr(n, "bpe_ranks: rank %d out of range", rank)
			}
			if err := add(n, string(tok), uint32(rank)); err != nil {
				return nil, err
			}
		}
	}
	if len(ranks) == 0 {
		return nil, formatErr(0, "bpe_ranks: no ranks")
	}
	return ranks, nil
}

// checkSpecial refuses special tokens that are empty, ordinary tokens
// too, or share an id with an ordinary token or with each other.
func checkSpecial(ranks, special map[string]uint32) error {
	byID := make(map[uint32]string, len(ranks))
	for tok, id := range ranks {
		byID[id] = tok
	}
	for _, s := range sortedByRank(special) {
		id := special[s]
		if s == "" {
			return formatErr(0, "empty special token (id %d)", id)
		}
		if _, ok := ranks[s]; ok {
			return formatErr(0, "special token %q is also an ordinary token", s)
		}
		if other, ok := byID[id]; ok {
			return formatErr(0, "special token %q has id %d, already the id of %q", s, id, other)
		}
		byID[id] = s
	}
	return nil
}
