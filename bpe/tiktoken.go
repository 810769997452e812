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
	return readRanks(r, 0)
}

// readRanks is ReadTiktoken for lines that follow skip other lines of the
// same file (a native file's header), so that errors name the file's line.
func readRanks(r io.Reader, skip int) (map[string]uint32, error) {
	ranks := make(map[string]uint32)
	lineOf := make(map[uint32]int) // rank -> line it was given on
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := skip
	for sc.Scan() {
		n++
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(line) == 0 {
			continue
		}
		tok, rank, err := parseRankLine(line)
		if err != nil {
			return nil, formatErr(n, "%v", err)
		}
		if first, ok := lineOf[rank]; ok {
			return nil, formatErr(n, "rank %d already given on line %d", rank, first)
		}
		if prev, ok := ranks[tok]; ok {
			return nil, formatErr(n, "token %q already has rank %d (line %d)", tok, prev, lineOf[prev])
		}
		ranks[tok] = rank
		lineOf[rank] = n
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, formatErr(n+1, "line longer than %d bytes", maxLine)
		}
		return nil, err
	}
	if len(ranks) == 0 {
		return nil, formatErr(0, "no ranks")
	}
	return ranks, nil
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
