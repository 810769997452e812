package bpe

// Hugging Face tokenizer.json files, for the byte-level BPE models that
// tiktoken's semantics can describe.
//
// A byte-level BPE spells each byte as one printable character (GPT-2's
// byte-to-unicode table: "!" stays "!", a space becomes "Ġ", a newline "Ċ"),
// so a token's bytes become a string of those characters. Hugging Face merges
// the listed pairs, lowest index first; tiktoken merges any adjacent pair
// whose concatenation is a token, lowest rank first. The two agree when the
// merges list, in rank order of the result, every way to cut each token into
// two tokens. One pair per token is not enough: BPE on the bytes of cl100k's
// ".\u201d\n\n" using only tokens of lower rank ends in three parts. With ignore_merges a piece
// that is a whole token comes out as that token, as in tiktoken.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// byteChar is GPT-2's byte-to-unicode table: the printable bytes of Latin-1
// ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves, and the other 68 bytes
// take U+0100, U+0101, ... in byte order (0x00 -> 'Ā', 0x20 ' ' -> 'Ġ').
var byteChar, charByte = func() ([256]rune, map[rune]byte) {
	var bc [256]rune
	cb := make(map[rune]byte, 256)
	next := rune(256)
	for b := 0; b < 256; b++ {
		printable := '!' <= b && b <= '~' || '¡' <= b && b <= '¬' || '®' <= b && b <= 'ÿ'
		if printable {
			bc[b] = rune(b)
		} else {
			bc[b] = next
			next++
		}
		cb[bc[b]] = byte(b)
	}
	return bc, cb
}()

// byteLevel spells token bytes in byte-level characters.
func byteLevel(tok string) string {
	var sb strings.Builder
	for i := 0; i < len(tok); i++ {
		sb.WriteRune(byteChar[tok[i]])
	}
	return sb.String()
}

// fromByteLevel turns byte-level characters back into bytes.
func fromByteLevel(s string) (string, error) {
	out := make([]byte, 0, len(s))
	for _, c := range s {
		b, ok := charByte[c]
		if !ok {
			return "", fmt.Errorf("%q is not a byte-level character", c)
		}
		out = append(out, b)
	}
	return string(out), nil
}

// splits returns the merges that make tok: every way to cut it into two
// tokens, ordered by the ranks of the left then the right part. tiktoken
// merges any adjacent pair of parts that is a token, so each of these pairs
// must be a Hugging Face merge, with tok's priority.
//
// Example: with ranks {a:0 b:1 c:2 ab:3 bc:4 abc:5}, "abc" is made by
// ("a", "bc") and ("ab", "c"), in that order since "a" ranks before "ab".
func splits(ranks map[string]uint32, tok string) [][2]string {
	var out [][2]string
	for i := 1; i < len(tok); i++ {
		_, okL := ranks[tok[:i]]
		_, okR := ranks[tok[i:]]
		if okL && okR {
			out = append(out, [2]string{tok[:i], tok[i:]})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ranks[a[0]] != ranks[b[0]] {
			return ranks[a[0]] < ranks[b[0]]
		}
		return ranks[a[1]] < ranks[b[1]]
	})
	return out
}

// hfPatternRegex returns the regex to give Hugging Face's Oniguruma for a
// pattern: the classic spelling of a named pattern, or a custom regex that
// has no construct Oniguruma reads differently from tiktoken ("$" is end of
// line there, and "{n,m}+" is a repetition of a repetition, not possessive).
func hfPatternRegex(pattern string) (string, error) {
	p := canonicalPattern(pattern)
	if regex, ok := classicPatterns[p]; ok {
		return regex, nil
	}
	inClass := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
			// \p{Name}, \P{Name}, \x{hex}: the braces belong to the escape.
			if i+1 < len(p) && strings.IndexByte("pPx", p[i]) >= 0 && p[i+1] == '{' {
				if end := strings.IndexByte(p[i:], '}'); end > 0 {
					i += end
				}
			}
		case inClass:
			inClass = c != ']'
		case c == '[':
			inClass = true
			if i+1 < len(p) && p[i+1] == ']' { // "[]...]": first ']' is literal
				i++
			}
		case c == '$':
			return "", fmt.Errorf("pattern %q: \"$\" matches at every line end in Oniguruma", clip([]byte(p)))
		case c == '}' && i+1 < len(p) && p[i+1] == '+':
			return "", fmt.Errorf("pattern %q: \"{n,m}+\" is not possessive in Oniguruma", clip([]byte(p)))
		}
	}
	return p, nil
}

// The parts of tokenizer.json that we write. Field order is the file's.
type hfFile struct {
	Version       string         `json:"version"`
	Truncation    any            `json:"truncation"`
	Padding       any            `json:"padding"`
	AddedTokens   []hfAddedToken `json:"added_tokens"`
	Normalizer    any            `json:"normalizer"`
	PreTokenizer  any            `json:"pre_tokenizer"`
	PostProcessor any            `json:"post_processor"`
	Decoder       any            `json:"decoder"`
	Model         hfModel        `json:"model"`
}

type hfAddedToken struct {
	ID         uint32 `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfModel struct {
	Type                    string      `json:"type"`
	Dropout                 *float64    `json:"dropout"`
	UnkToken                *string     `json:"unk_token"`
	ContinuingSubwordPrefix *string     `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string     `json:"end_of_word_suffix"`
	FuseUnk                 bool        `json:"fuse_unk"`
	ByteFallback            bool        `json:"byte_fallback"`
	IgnoreMerges            bool        `json:"ignore_merges"`
	Vocab                   hfVocab     `json:"vocab"`
	Merges                  [][2]string `json:"merges"`
}

// hfVocab is the vocab object, written in id order.
type hfVocab []hfVocabEntry

type hfVocabEntry struct {
	tok string // byte-level spelling
	id  uint32
}

func (v hfVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(e.tok)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(uint64(e.id), 10))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalNoEscape is json.Marshal without escaping <, > and &.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// WriteHF writes t as a Hugging Face tokenizer.json that PyPI tokenizers
// loads and encodes with t's ids: a BPE model (vocab, merges in rank order,
// ignore_merges), pre-tokenized by a Split on the pattern's regex then
// ByteLevel without its own regex, special tokens as added tokens. The
// special tokens of t are always split out, as with Encode and AllSpecial.
// A custom regex that Oniguruma would read differently is refused (see
// hfPatternRegex).
func WriteHF(w io.Writer, t *Tokenizer) error {
	regex, err := hfPatternRegex(t.Pattern())
	if err != nil {
		return err
	}
	ranks := t.Ranks()
	toks := sortedByRank(ranks)
	vocab := make(hfVocab, len(toks))
	merges := make([][2]string, 0, len(toks))
	for i, tok := range toks {
		vocab[i] = hfVocabEntry{byteLevel(tok), ranks[tok]}
		for _, m := range splits(ranks, tok) {
			merges = append(merges, [2]string{byteLevel(m[0]), byteLevel(m[1])})
		}
	}
	// Special tokens go in the vocab too, as in GPT-2's file: tokenizers
	// gives an added token missing from the vocab the next free id, not its own.
	inVocab := make(map[string]bool, len(vocab))
	for _, e := range vocab {
		inVocab[e.tok] = true
	}
	var added []hfAddedToken
	for _, s := range sortedByRank(t.Special()) {
		id := t.Special()[s]
		if !utf8.ValidString(s) {
			return fmt.Errorf("special token %q is not UTF-8", s)
		}
		if inVocab[s] {
			return fmt.Errorf("special token %q is spelled like an ordinary token in byte-level characters", s)
		}
		vocab = append(vocab, hfVocabEntry{s, id})
		added = append(added, hfAddedToken{ID: id, Content: s, Special: true})
	}
	sort.SliceStable(vocab, func(i, j int) bool { return vocab[i].id < vocab[j].id })
	f := hfFile{
		Version:     "1.0",
		AddedTokens: added,
		PreTokenizer: map[string]any{
			"type": "Sequence",
			"pretokenizers": []any{
				map[string]any{
					"type":     "Split",
					"pattern":  map[string]string{"Regex": regex},
					"behavior": "Isolated",
					"invert":   false,
				},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
			},
		},
		PostProcessor: map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		Decoder:       map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		Model: hfModel{
			Type:         "BPE",
			IgnoreMerges: true,
			Vocab:        vocab,
			Merges:       merges,
		},
	}
	if f.AddedTokens == nil {
		f.AddedTokens = []hfAddedToken{}
	}
	b, err := marshalNoEscape(f)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteHFFile writes t as a tokenizer.json at path, atomically (see WriteFile).
func WriteHFFile(path string, t *Tokenizer) error {
	return writeAtomic(path, func(w io.Writer) error { return WriteHF(w, t) })
}

// hfIn is what ReadHF reads of a tokenizer.json.
type hfIn struct {
	Version      *string         `json:"version"`
	AddedTokens  []hfAddedToken  `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer *hfPreTokenizer `json:"pre_tokenizer"`
	Model        *hfModelIn      `json:"model"`
	// post_processor and decoder do not change the ids of a text.
}

type hfModelIn struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	ByteFallback            bool              `json:"byte_fallback"`
	Vocab                   map[string]uint32 `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"` // "a b" or ["a", "b"]
}

type hfPreTokenizer struct {
	Type           string            `json:"type"`
	AddPrefixSpace bool              `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	Pattern        map[string]string `json:"pattern"` // {"Regex": ...} or {"String": ...}
	Behavior       string            `json:"behavior"`
	Invert         bool              `json:"invert"`
	Pretokenizers  []hfPreTokenizer  `json:"pretokenizers"`
}

// ReadHF reads a Hugging Face tokenizer.json of a byte-level BPE whose merges
// tiktoken's ranks can express, and returns ranks (= HF ids), special tokens
// (the added tokens) and the pre-split pattern. Accepted:
//
//   - model BPE without byte_fallback, dropout, subword prefix or suffix, with
//     all 256 bytes in the vocab and merges listed in increasing id of the
//     token they make (the ids become ranks, so merge priority is kept; as
//     with tiktoken's r50k_base from GPT-2's merges, tiktoken's rule then
//     merges any adjacent pair that makes a token, listed or not);
//   - no normalizer;
//   - pre_tokenizer ByteLevel with its GPT-2 regex (pattern gpt2), or a
//     Sequence of Split (a regex, Isolated, not inverted) and ByteLevel
//     without regex, neither adding a prefix space;
//   - added tokens that are special and strip nothing.
//
// Anything else is refused with a *ParseError saying what.
func ReadHF(r io.Reader) (ranks, special map[string]uint32, pattern string, err error) {
	var f hfIn
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, nil, "", formatErr(0, "tokenizer.json: %v", err)
	}
	bad := func(format string, args ...any) (map[string]uint32, map[string]uint32, string, error) {
		return nil, nil, "", formatErr(0, "tokenizer.json: "+format, args...)
	}
	if f.Version == nil || *f.Version != "1.0" {
		v := "none"
		if f.Version != nil {
			v = strconv.Quote(*f.Version)
		}
		return bad("version %s is not supported (this build reads \"1.0\")", v)
	}
	m := f.Model
	switch {
	case m == nil:
		return bad("no model")
	case m.Type != "BPE" && m.Type != "":
		return bad("model type %q, only BPE is supported", m.Type)
	case m.ByteFallback:
		return bad("byte_fallback is not supported")
	case m.Dropout != nil && *m.Dropout != 0:
		return bad("dropout is not supported")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return bad("continuing_subword_prefix is not supported")
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return bad("end_of_word_suffix is not supported")
	case len(f.Normalizer) > 0 && string(f.Normalizer) != "null":
		return bad("a normalizer is not supported")
	}
	pattern, err = hfPattern(f.PreTokenizer)
	if err != nil {
		return bad("%v", err)
	}

	special = make(map[string]uint32)
	for _, a := range f.AddedTokens {
		switch {
		case !a.Special:
			return bad("added token %q (id %d) is not special: not supported", a.Content, a.ID)
		case a.Lstrip || a.Rstrip || a.SingleWord:
			return bad("added token %q strips spaces or matches single words: not supported", a.Content)
		}
		if id, ok := special[a.Content]; ok && id != a.ID {
			return bad("added token %q has ids %d and %d", a.Content, id, a.ID)
		}
		special[a.Content] = a.ID
	}

	// The vocab, less the special tokens that GPT-2's files list there too.
	ranks = make(map[string]uint32, len(m.Vocab))
	byID := make(map[uint32]string, len(m.Vocab))
	for s, id := range m.Vocab {
		if sid, ok := special[s]; ok {
			if sid != id {
				return bad("special token %q has id %d in vocab, %d in added_tokens", s, id, sid)
			}
			continue
		}
		tok, err := fromByteLevel(s)
		if err != nil {
			return bad("vocab token %q: %v", s, err)
		}
		if tok == "" {
			return bad("empty vocab token (id %d)", id)
		}
		if other, ok := byID[id]; ok {
			return bad("tokens %q and %q share id %d", byteLevel(other), s, id)
		}
		ranks[tok] = id
		byID[id] = tok
	}
	for b := 0; b < 256; b++ {
		if _, ok := ranks[string([]byte{byte(b)})]; !ok {
			return bad("byte 0x%02x (%q) is not in the vocab", b, byteChar[b])
		}
	}

	// Merges must be listed in the order of the ids they make, so that
	// merge priority is rank order.
	last := int64(-1)
	for i, raw := range m.Merges {
		a, b, err := parseMerge(raw)
		if err != nil {
			return bad("merge %d: %v", i, err)
		}
		left, errL := fromByteLevel(a)
		right, errR := fromByteLevel(b)
		if err := errors.Join(errL, errR); err != nil {
			return bad("merge %d: %v", i, err)
		}
		_, okL := ranks[left]
		_, okR := ranks[right]
		id, ok := ranks[left+right]
		switch {
		case !okL || !okR:
			return bad("merge %d (%q %q): a part is not in the vocab", i, a, b)
		case !ok:
			return bad("merge %d (%q %q): the result is not in the vocab", i, a, b)
		case int64(id) < last:
			return bad("merge %d (%q %q) makes id %d after a merge that made id %d: merge order must follow ids", i, a, b, id, last)
		}
		last = int64(id)
	}
	if err := checkSpecial(ranks, special); err != nil {
		return nil, nil, "", err
	}
	return ranks, special, pattern, nil
}

// parseMerge reads a merge written "a b" (older files) or ["a", "b"].
func parseMerge(raw json.RawMessage) (a, b string, err error) {
	var pair []string
	if err := json.Unmarshal(raw, &pair); err == nil {
		if len(pair) != 2 {
			return "", "", fmt.Errorf("want 2 parts, got %d", len(pair))
		}
		return pair[0], pair[1], nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", "", fmt.Errorf("want \"a b\" or [\"a\", \"b\"], got %s", clip(raw))
	}
	a, b, ok := strings.Cut(s, " ")
	if !ok || strings.Contains(b, " ") {
		return "", "", fmt.Errorf("want \"a b\", got %q", s)
	}
	return a, b, nil
}

// hfPattern returns the pre-split pattern of the pre-tokenizers we accept.
func hfPattern(p *hfPreTokenizer) (string, error) {
	if p == nil {
		return "", errors.New("no pre_tokenizer: byte-level BPE needs ByteLevel")
	}
	switch p.Type {
	case "ByteLevel":
		if p.AddPrefixSpace {
			return "", errors.New("ByteLevel add_prefix_space is not supported")
		}
		if p.UseRegex != nil && !*p.UseRegex {
			return "", errors.New("ByteLevel without a regex and no Split before it: text would not be pre-split")
		}
		return "gpt2", nil
	case "Sequence":
		if len(p.Pretokenizers) != 2 || p.Pretokenizers[0].Type != "Split" || p.Pretokenizers[1].Type != "ByteLevel" {
			return "", errors.New("pre_tokenizer Sequence: only [Split, ByteLevel] is supported")
		}
		split, bl := p.Pretokenizers[0], p.Pretokenizers[1]
		regex, ok := split.Pattern["Regex"]
		switch {
		case !ok || len(split.Pattern) != 1:
			return "", errors.New("Split: only a Regex pattern is supported")
		case split.Behavior != "Isolated" || split.Invert:
			return "", fmt.Errorf("Split: only behavior Isolated, not inverted, is supported (got %s, invert %v)", split.Behavior, split.Invert)
		case bl.AddPrefixSpace:
			return "", errors.New("ByteLevel add_prefix_space is not supported")
		case bl.UseRegex == nil || *bl.UseRegex:
			return "", errors.New("ByteLevel after Split must have use_regex false")
		}
		return canonicalPattern(regex), nil
	}
	return "", fmt.Errorf("pre_tokenizer %q is not supported", p.Type)
}
