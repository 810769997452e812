package bpe

import (
	"slices"
	"strings"
	"testing"
)

func TestLookupPattern(t *testing.T) {
	for name, want := range map[string]string{
		"gpt2": PatternGPT2, "r50k": PatternGPT2, "r50k_base": PatternGPT2, "p50k_base": PatternGPT2,
		"cl100k": PatternCL100K, "cl100k_base": PatternCL100K,
		"o200k": PatternO200K, "o200k_base": PatternO200K,
	} {
		if got, ok := LookupPattern(name); !ok || got != want {
			t.Errorf("LookupPattern(%q) = %q, %v", name, got, ok)
		}
	}
	if _, ok := LookupPattern("llama3"); ok {
		t.Error("LookupPattern(llama3) found a pattern")
	}
	for _, name := range []string{"gpt2", "cl100k", "o200k"} {
		regex, _ := LookupPattern(name)
		if got, ok := PatternName(regex); !ok || got != name {
			t.Errorf("PatternName(%s's regex) = %q, %v", name, got, ok)
		}
	}
	if _, ok := PatternName(`\p{L}+`); ok {
		t.Error(`PatternName(\p{L}+) found a name`)
	}
}

func TestNewSplitter(t *testing.T) {
	for _, p := range []string{"gpt2", "r50k_base", "cl100k_base", "o200k", PatternCL100K} {
		s, err := NewSplitter(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*RegexSplitter); ok {
			t.Errorf("NewSplitter(%.20q) is a RegexSplitter, want a scanner", p)
		}
	}
	s, err := NewSplitter(`\p{L}+`)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*RegexSplitter); !ok {
		t.Errorf(`NewSplitter(\p{L}+) is a %T, want a RegexSplitter`, s)
	}
	for _, bad := range []string{`(a`, `a)`, `+a`, `(?i)*`, `[a`, `\p{Nope}`, `a{2,1}`, `(?U)a`, `[[:alpha:]]`, `\x{110000}`, `\`, `[\P{L}x]`} {
		if _, err := NewSplitter(bad); err == nil {
			t.Errorf("NewSplitter(%q) accepted an invalid regex", bad)
		} else if !strings.Contains(err.Error(), "pattern") {
			t.Errorf("NewSplitter(%q): error %q does not name the pattern", bad, err)
		}
	}
}

func TestTranslateRegex(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`a++`, `(?>a+)`},
		{`a*+b?+`, `(?>a*)(?>b?)`},
		{`\p{Nd}{1,3}+`, `(?>\p{Nd}{1,3})`},
		{`[^\s\p{Lt}]++`, `(?>[^\s\p{Lt}]+)`},
		{`(ab|c)++`, `(?>(ab|c)+)`},
		{`a+?b*`, `a+?b*`},
		{`\++`, `\++`},
		{`\+++`, `(?>\++)`},
		{`[+]+`, `[+]+`},
		{`a{2}+`, `(?>a{2})`},
		{`a{,2}`, `a{0,2}`},
		{`a{x}`, `a{x}`},
		{`\s++$`, `(?>\s+)\z`},
		{`[$]\$`, `[$]\$`},
		{`(?m:$)$`, `(?m:$)\z`},
		{`(?i:[sdmt]|ll)`, `(?i:[sdmtſ]|ll)`},
		{`(?i)'s|k`, `(?i)'[sſ]|k`}, // regexp2 lowers K (Kelvin) to k itself
		{`(?i:[a-z])`, `(?i:[a-zſ])`},
		{`(?i:[\t-\r\-s])`, `(?i:[\t-\r\-sſ])`},
		{`(?i:a)s`, `(?i:a)s`},
		{`\pS\PP`, `\p{S}\P{P}`},
		// The code points Unicode 16.0.0 adds to Lu (Go's tables are 15.0.0).
		{`\p{Lu}`, "[\\p{Lu}\u1c89\ua7cb-\ua7cc\ua7da\ua7dc\U00010d50-\U00010d65]"},
		{`\P{Lu}`, "[^\\p{Lu}\u1c89\ua7cb-\ua7cc\ua7da\ua7dc\U00010d50-\U00010d65]"},
		{`[^\s\p{Lu}]`, "[^\\s\\p{Lu}\u1c89\ua7cb-\ua7cc\ua7da\ua7dc\U00010d50-\U00010d65]"},
		{`\pN`, "[\\p{N}\U00010d40-\U00010d49\U000116d0-\U000116e3\U00011bf0-\U00011bf9" +
			"\U00016130-\U00016139\U00016d70-\U00016d79\U0001ccf0-\U0001ccf9\U0001e5f1-\U0001e5fa]"},
		{`(?P<w>\w)`, `(?<w>\w)`},
		{`\x{41}\u00e9\x2e`, `Aé\.`},
		{`[\x{41}-\x{5A}]`, `[A-Z]`},
		{`(?u:x)`, `(?:x)`},
	} {
		got, err := translateRegex(c.in)
		if err != nil {
			t.Errorf("translateRegex(%q): %v", c.in, err)
		} else if got != c.want {
			t.Errorf("translateRegex(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Pre-split regexes of other tokenizers, as tokenizer.json files carry them.
const (
	regexLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	regexQwen2  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	regexHFGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

func TestRegexSplitter(t *testing.T) {
	for _, c := range []struct {
		regex, text string
		want        []string
	}{
		// Pieces from tiktoken 0.14 given the same regex.
		{regexLlama3, "I'M here, it'ſ 12345 ok!\n\n  x  ",
			[]string{"I", "'M", " here", ",", " it", "'ſ", " ", "123", "45", " ok", "!\n\n", " ", " x", "  "}},
		{regexLlama3, "Ünïcödé  \u00a0 test\r\n\r\nend 😀😀 '' 'S",
			[]string{"Ünïcödé", "  \u00a0", " test", "\r\n\r\n", "end", " 😀😀", " ''", " '", "S"}},
		{regexQwen2, "I'M here, it'ſ 12345 ok!\n\n  x  ",
			[]string{"I", "'M", " here", ",", " it", "'ſ", " ", "1", "2", "3", "4", "5", " ok", "!\n\n", " ", " x", "  "}},
		{regexQwen2, "Ünïcödé  \u00a0 test\r\n\r\nend 😀😀 '' 'S",
			[]string{"Ünïcödé", "  \u00a0", " test", "\r\n\r\n", "end", " 😀😀", " ''", " '", "S"}},
		{regexHFGPT2, "I'M here, it'ſ 12345 ok!\n\n  x  ",
			[]string{"I", "'", "M", " here", ",", " it", "'", "ſ", " 12345", " ok", "!", "\n\n ", " x", "  "}},
		{regexHFGPT2, "Ünïcödé  \u00a0 test\r\n\r\nend 😀😀 '' 'S",
			[]string{"Ünïcödé", "  \u00a0", " test", "\r\n\r", "\n", "end", " 😀😀", " ''", " '", "S"}},
		// Unmatched bytes are pieces of their own; empty matches are skipped.
		{`\d+`, "ab12cd3", []string{"ab", "12", "cd", "3"}},
		{`x*`, "abxxc", []string{"ab", "xx", "c"}},
		{`\d`, "", []string{}},
		// $ is the end of the text only, as in Rust.
		{`a$`, "a\n", []string{"a\n"}},
		{`a$`, "ba", []string{"b", "a"}},
		// (?i) folds s to ſ, as in Rust.
		{`x(?i:s)`, "xſyxSxs", []string{"xſ", "y", "xS", "xs"}},
		{`x(?i:k)`, "xKxk", []string{"xK", "xk"}},
		// Invalid bytes are U+FFFD, one byte each.
		{`.`, "\xffa", []string{"\xff", "a"}},
		{`\p{L}+|\p{So}`, "a\xffb\xe2\x80", []string{"a", "\xff", "b", "\xe2", "\x80"}},
		{`\p{L}+`, "a\xef\xbf\xbdb", []string{"a", "\xef\xbf\xbd", "b"}},
	} {
		s, err := NewRegexSplitter(c.regex)
		if err != nil {
			t.Fatal(err)
		}
		if got := splitAll(s, c.text); !slices.Equal(got, c.want) {
			t.Errorf("%.30q on %q:\n got %q\nwant %q", c.regex, c.text, got, c.want)
		}
	}
}
