package clean

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pipe-dev/pipe/docio"
)

// FineWebConfig holds the rules that FineWeb (Penedo et al. 2024) added to
// the Gopher and C4 ones, as datatrove 0.10.1's FineWebQualityFilter
// applies them to the lines of a document (text.split("\n"), blank lines
// left out, the others not stripped). Unlike the Gopher limits, a zero is a
// limit here, as in datatrove: start from DefaultFineWeb.
type FineWebConfig struct {
	// LinePunctThr: the fraction of lines that end in terminal punctuation
	// (datatrove's TERMINAL_PUNCTUATION) must be at least this, else
	// line_punct_ratio; LinePunctExcludeZero lets a document with none pass.
	LinePunctThr         float64
	LinePunctExcludeZero bool
	// ShortLineThr: the fraction of lines of at most ShortLineLength
	// characters may be at most this, else short_line_ratio.
	ShortLineThr    float64
	ShortLineLength int
	// CharDupRatio: characters in lines that repeat an earlier line, over
	// the characters of the text without newlines, may be at most this, else
	// char_dup_ratio. datatrove's default is 0.01; the FineWeb paper says 0.1.
	CharDupRatio float64
	// NewLineRatio: newlines per word may be at most this, else list_ratio.
	NewLineRatio float64
}

// DefaultFineWeb returns datatrove's defaults: at least 12% of lines ending
// in punctuation, at most 67% of lines of 30 characters or fewer, at most
// 0.01 of the characters in duplicate lines, at most 0.3 newlines per word.
func DefaultFineWeb() FineWebConfig {
	return FineWebConfig{
		LinePunctThr:    0.12,
		ShortLineThr:    0.67,
		ShortLineLength: 30,
		CharDupRatio:    0.01,
		NewLineRatio:    0.3,
	}
}

// FineWeb is the FineWeb quality filter. Reasons (as in datatrove): empty,
// line_punct_ratio, short_line_ratio, char_dup_ratio, list_ratio. It is safe
// for concurrent use.
type FineWeb struct {
	cfg  FineWebConfig
	pool sync.Pool // *fineWebScratch
}

var _ Filter = (*FineWeb)(nil)

// NewFineWeb returns the filter with cfg's rules.
func NewFineWeb(cfg FineWebConfig) *FineWeb {
	f := &FineWeb{cfg: cfg}
	f.pool.New = func() any { return new(fineWebScratch) }
	return f
}

func (f *FineWeb) Name() string { return "fineweb" }

type fineWebScratch struct {
	seen map[string]struct{}
}

// Filter records, in doc.Metadata["fineweb"], each ratio it compares with a
// limit, under the name of the reason it would drop for: line_punct_ratio,
// short_line_ratio, char_dup_ratio, list_ratio.
func (f *FineWeb) Filter(doc *docio.Document) (bool, string) {
	cfg := &f.cfg
	text := doc.Text
	sc := f.pool.Get().(*fineWebScratch)
	defer f.pool.Put(sc)
	sc.seen = resetSet(sc.seen)

	// One pass over the lines: punctuation at the end, short lines, and the
	// characters of repeated lines.
	lines, punct, short, dupChars := 0, 0, 0, 0
	newlines := 0
	for rest := text; ; {
		var line string
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			line = rest
		} else {
			line, rest = rest[:i], rest[i+1:]
			newlines++
		}
		if pyStrip(line) != "" {
			lines++
			r, _ := utf8.DecodeLastRuneInString(line)
			if runeClass(r)&cTerminal != 0 {
				punct++
			}
			n := pyLen(line)
			if n <= cfg.ShortLineLength {
				short++
			}
			if _, ok := sc.seen[line]; ok {
				dupChars += n
			} else {
				sc.seen[line] = struct{}{}
			}
		}
		if i < 0 {
			break
		}
	}
	if lines == 0 {
		return false, "empty"
	}
	m := Measures(doc, f.Name())
	ratio := float64(punct) / float64(lines)
	m.Set("line_punct_ratio", ratio)
	if ratio < cfg.LinePunctThr && !(ratio == 0 && cfg.LinePunctExcludeZero) {
		return false, "line_punct_ratio"
	}
	ratio = float64(short) / float64(lines)
	m.Set("short_line_ratio", ratio)
	if ratio > cfg.ShortLineThr {
		return false, "short_line_ratio"
	}
	ratio = float64(dupChars) / float64(pyLen(text)-newlines)
	m.Set("char_dup_ratio", ratio)
	if ratio > cfg.CharDupRatio {
		return false, "char_dup_ratio"
	}
	tok := sharedTokenizers.Get().(*wordTokenizer)
	defer sharedTokenizers.Put(tok)
	words := tok.wordsOf(text)
	ratio = float64(newlines) / float64(len(words))
	m.Set("list_ratio", ratio)
	if ratio > cfg.NewLineRatio {
		return false, "list_ratio"
	}
	return true, ""
}
