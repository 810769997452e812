package bpe

// The native tokenizer file, and Load, which reads any tokenizer file we know.
//
// A native file is three parts: a format line, a one-line JSON header, and
// the ranks exactly as WriteTiktoken writes them:
//
//	pipe-bpe 1
//	{"pattern":"cl100k","special":{"<|endoftext|>":100257},"ranks":100256,"ranks_sha256":"2239..."}
//	IQ== 0
//	Ig== 1
//	...
//
// The header's rank count and the sha256 of the rank lines catch a truncated
// or edited file. The whole file is canonical (specials sorted, ranks sorted),
// so its sha256 (Fingerprint) names the tokenizer.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// NativeFormat and NativeVersion make the first line of a native file.
const (
	NativeFormat  = "pipe-bpe"
	NativeVersion = 1
)

// nativeHeader is the JSON line after the format line.
type nativeHeader struct {
	Pattern     string            `json:"pattern"`      // pattern name or regex
	Special     map[string]uint32 `json:"special"`      // special token text -> id
	Ranks       int               `json:"ranks"`        // number of rank lines
	RanksSHA256 string            `json:"ranks_sha256"` // of the rank lines, hex
}

// Save writes t as a native file.
func Save(w io.Writer, t *Tokenizer) error {
	ranks := t.appendRankLines(nil)
	head, err := nativeHead(t, sha256.Sum256(ranks))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.Write(head)
	bw.Write(ranks)
	return bw.Flush()
}

// nativeHead returns the format line and the header line of t's native
// file, given the sha256 of its rank lines.
func nativeHead(t *Tokenizer, ranksSum [sha256.Size]byte) ([]byte, error) {
	if !utf8.ValidString(t.Pattern()) {
		return nil, fmt.Errorf("pattern %q is not UTF-8", t.Pattern())
	}
	for s := range t.special {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("special token %q is not UTF-8", s)
		}
	}
	h := nativeHeader{
		Pattern:     t.Pattern(),
		Special:     t.special,
		Ranks:       t.nranks,
		RanksSHA256: hex.EncodeToString(ranksSum[:]),
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d\n", NativeFormat, NativeVersion)
	enc := json.NewEncoder(&b) // map keys sorted; ends the line with \n
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// setFingerprint remembers t's fingerprint when its rank lines are known to
// be ranks, a rank file's text as appendRankLines would write it, with the
// sha256 sum: the native file is then those lines after nativeHead, and
// hashing it takes one pass over them instead of writing them all again.
func (t *Tokenizer) setFingerprint(ranks []byte, sum [sha256.Size]byte) {
	head, err := nativeHead(t, sum)
	if err != nil {
		return // Fingerprint reports it
	}
	h := sha256.New()
	h.Write(head)
	h.Write(ranks)
	t.fpOnce.Do(func() { t.fp = hex.EncodeToString(h.Sum(nil)) })
}

// appendRankLines appends t's ordinary tokens as the lines of a .tiktoken
// file, in rank order.
func (t *Tokenizer) appendRankLines(b []byte) []byte {
	t.eachRank(func(id uint32, tok []byte) {
		b = base64.StdEncoding.AppendEncode(b, tok)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(id), 10)
		b = append(b, '\n')
	})
	return b
}

// WriteFile writes t as a native file at path, atomically: a temporary file
// in the same directory is renamed over path once complete.
func WriteFile(path string, t *Tokenizer) error {
	return writeAtomic(path, func(w io.Writer) error { return Save(w, t) })
}

// writeAtomic writes path with write, through a temporary file in the same
// directory that is synced and then renamed to path.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Fingerprint returns the hex sha256 of t's native file (what Save writes):
// two tokenizers with the same fingerprint encode alike. It is computed on
// the first call and remembered.
func (t *Tokenizer) Fingerprint() (string, error) {
	t.fpOnce.Do(func() {
		h := sha256.New()
		if t.fpErr = Save(h, t); t.fpErr == nil {
			t.fp = hex.EncodeToString(h.Sum(nil))
		}
	})
	return t.fp, t.fpErr
}

// ReadNative reads a native file. A format line other than "pipe-bpe 1", a
// header that does not parse or does not match the ranks, and bad rank lines
// are *ParseErrors.
func ReadNative(r io.Reader) (*Tokenizer, error) {
	br := bufio.NewReader(r)
	first, err := br.ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err := checkFormatLine(strings.TrimSuffix(first, "\n")); err != nil {
		return nil, err
	}
	line, err := br.ReadString('\n')
	if err == io.EOF {
		return nil, formatErr(2, "truncated: no header line")
	} else if err != nil {
		return nil, err
	}
	var h nativeHeader
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, formatErr(2, "header: %v", err)
	}
	if rest := strings.TrimSpace(line[dec.InputOffset():]); rest != "" {
		return nil, formatErr(2, "header: %q after the JSON object", clip([]byte(rest)))
	}
	if h.Pattern == "" || h.RanksSHA256 == "" || h.Ranks <= 0 {
		return nil, formatErr(2, "header: want pattern, ranks and ranks_sha256")
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, err
	}
	ranks, err := parseRanks(data, 2)
	if err != nil {
		return nil, err
	}
	if len(ranks.id) != h.Ranks {
		return nil, formatErr(0, "truncated or altered: header says %d ranks, file has %d", h.Ranks, len(ranks.id))
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != h.RanksSHA256 {
		return nil, formatErr(0, "ranks altered: sha256 %s, header says %s", hex.EncodeToString(sum[:]), h.RanksSHA256)
	}
	t, err := newTokenizer(ranks, h.Special, h.Pattern)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, err // a token given twice, with its line
		}
		return nil, formatErr(0, "%v", err)
	}
	if ranks.canonical {
		t.setFingerprint(data, sum)
	}
	return t, nil
}

// checkFormatLine refuses any first line but "pipe-bpe 1", naming the
// version it found.
func checkFormatLine(line string) error {
	name, version, _ := strings.Cut(strings.TrimSuffix(line, "\r"), " ")
	if name != NativeFormat {
		return formatErr(1, "not a %s file: first line %q", NativeFormat, clip([]byte(line)))
	}
	if version != fmt.Sprint(NativeVersion) {
		return formatErr(1, "%s version %q is not supported (this build reads version %d)",
			NativeFormat, clip([]byte(version)), NativeVersion)
	}
	return nil
}

// Load reads a tokenizer file, telling its format by content:
//
//   - a native file (first line "pipe-bpe 1"; any other version is refused);
//   - a Hugging Face tokenizer.json (a JSON object with "model"), see ReadHF;
//   - an npm tiktoken encoder (a JSON object with "bpe_ranks"), see
//     ReadTiktokenJSON;
//   - otherwise a .tiktoken rank file. OpenAI's own files (r50k_base,
//     cl100k_base, o200k_base, known by their sha256) get the special tokens
//     and, unless pattern is given, the pattern that tiktoken gives them.
//     Any other rank file holds no pattern and no special
//     tokens: pattern must be given, and the tokenizer has no special tokens
//     (to add some, use ReadTiktoken and NewTokenizer).
//
// For the formats that hold a pattern, a non-empty pattern must name the
// same pattern as the file (a name or a regex spelling it); it is not an
// override; a bare word that names no pattern is refused (CheckPattern).
// Patterns that spell a named pattern come back as the name
// (gpt2, cl100k, o200k). Every error names the file, and the line where
// there is one.
func Load(path string, pattern string) (*Tokenizer, error) {
	t, err := loadFile(path, pattern)
	return t, inFile(path, err)
}

func loadFile(path, pattern string) (*Tokenizer, error) {
	if err := CheckPattern(pattern); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64*1024)
	head, err := br.Peek(512)
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(head) == 0 {
		return nil, formatErr(0, "empty file")
	}
	switch {
	case bytes.HasPrefix(head, []byte(NativeFormat)):
		t, err := ReadNative(br)
		if err != nil {
			return nil, err
		}
		p, err := samePattern(t.Pattern(), pattern)
		if err != nil {
			return nil, err
		}
		if p == t.Pattern() {
			return t, nil
		}
		return t.withPattern(p)

	case bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("{")):
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, err
		}
		var keys struct {
			Model    json.RawMessage `json:"model"`
			BPERanks json.RawMessage `json:"bpe_ranks"`
		}
		if err := json.Unmarshal(data, &keys); err != nil {
			return nil, formatErr(0, "JSON: %v", err)
		}
		var ranks, special map[string]uint32
		var filePattern string
		switch {
		case keys.Model != nil:
			ranks, special, filePattern, err = ReadHF(bytes.NewReader(data))
		case keys.BPERanks != nil:
			ranks, special, filePattern, err = ReadTiktokenJSON(bytes.NewReader(data))
		default:
			return nil, formatErr(0, "JSON with neither \"model\" (tokenizer.json) nor \"bpe_ranks\" (npm tiktoken)")
		}
		if err != nil {
			return nil, err
		}
		p, err := samePattern(filePattern, pattern)
		if err != nil {
			return nil, err
		}
		return NewTokenizer(ranks, special, p)

	default:
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, err
		}
		special := map[string]uint32{}
		sum := sha256.Sum256(data)
		for _, e := range openAIEncodings {
			if hex.EncodeToString(sum[:]) == e.sha256 {
				// One of OpenAI's own files: it gets its encoding's
				// special tokens, and its pattern unless told otherwise.
				maps.Copy(special, e.special)
				if pattern == "" {
					pattern = e.pattern
				}
			}
		}
		if pattern == "" {
			return nil, errors.New("a .tiktoken rank file holds no pattern: give one (gpt2, cl100k, o200k or a regex)")
		}
		ranks, err := parseRanks(data, 0)
		if err != nil {
			return nil, err
		}
		t, err := newTokenizer(ranks, special, canonicalPattern(pattern))
		if err != nil {
			return nil, err
		}
		if ranks.canonical {
			t.setFingerprint(data, sum)
		}
		return t, nil
	}
}

// openAIEncodings are OpenAI's published rank files, known by their sha256
// (the sums tiktoken checks), with the pattern and special tokens that
// tiktoken gives each encoding. The files themselves hold only ranks.
var openAIEncodings = []struct {
	file, sha256, pattern string
	special               map[string]uint32
}{
	{"r50k_base", "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930", "gpt2",
		map[string]uint32{"<|endoftext|>": 50256}},
	{"cl100k_base", "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", "cl100k",
		map[string]uint32{"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
			"<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}},
	{"o200k_base", "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", "o200k",
		map[string]uint32{"<|endoftext|>": 199999, "<|endofprompt|>": 200018}},
}

// classicPatterns are older spellings of the named patterns, without
// possessive quantifiers or "$": tiktoken before 0.8 and the npm tiktoken
// package use them, and so do Hugging Face tokenizer.json files (whose
// Oniguruma engine reads "{1,3}+" and "$" differently from tiktoken's).
// They split text as the named patterns do.
var classicPatterns = map[string]string{
	"gpt2":   `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
	"cl100k": `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	"o200k":  PatternO200K,
}

// canonicalPattern returns the canonical name (gpt2, cl100k, o200k) of a
// pattern name, alias or regex spelling of one; any other regex as is.
func canonicalPattern(p string) string {
	if regex, ok := LookupPattern(p); ok {
		p = regex
	}
	if name, ok := PatternName(p); ok {
		return name
	}
	for name, regex := range classicPatterns {
		if p == regex {
			return name
		}
	}
	return p
}

// samePattern returns the canonical form of a file's pattern, after checking
// that the caller's pattern, when given, is the same.
func samePattern(file, caller string) (string, error) {
	p := canonicalPattern(file)
	if caller != "" && canonicalPattern(caller) != p {
		return "", fmt.Errorf("the file's pattern is %q, not the %q asked for", clip([]byte(file)), clip([]byte(caller)))
	}
	return p, nil
}
