package bpe

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// splitAll returns the pieces s cuts text into.
func splitAll(s Splitter, text string) []string {
	pieces := []string{}
	s.Split([]byte(text), func(p []byte) { pieces = append(pieces, string(p)) })
	return pieces
}

// namedCases are pieces from tiktoken 0.14 (Rust fancy-regex) for each named
// pattern. Texts with invalid UTF-8 were given to tiktoken with each invalid
// byte replaced by U+FFFD, and the pieces mapped back to the bytes.
var namedCases = []struct {
	text                string
	gpt2, cl100k, o200k []string
}{
	{"",
		[]string{},
		[]string{},
		[]string{},
	},
	{"Hello world",
		[]string{"Hello", " world"},
		[]string{"Hello", " world"},
		[]string{"Hello", " world"},
	},
	{"it's I'M we'll WE'LL they've THEY'VE you're I'd",
		[]string{"it", "'s", " I", "'", "M", " we", "'ll", " WE", "'", "LL", " they", "'ve", " THEY", "'", "VE", " you", "'re", " I", "'d"},
		[]string{"it", "'s", " I", "'M", " we", "'ll", " WE", "'LL", " they", "'ve", " THEY", "'VE", " you", "'re", " I", "'d"},
		[]string{"it's", " I'M", " we'll", " WE'LL", " they've", " THEY'VE", " you're", " I'd"},
	},
	{"'S 'ſ it'ſ 'll 'LL 'Ll 'x ''s",
		[]string{"'", "S", " '", "ſ", " it", "'", "ſ", " '", "ll", " '", "LL", " '", "Ll", " '", "x", " ''", "s"},
		[]string{"'S", " '", "ſ", " it", "'ſ", " '", "ll", " '", "LL", " '", "Ll", " '", "x", " ''", "s"},
		[]string{"'S", " '", "ſ", " it'ſ", " '", "ll", " '", "LL", " '", "Ll", " '", "x", " ''", "s"},
	},
	{"don't o'clock rock'n'roll",
		[]string{"don", "'t", " o", "'", "clock", " rock", "'", "n", "'", "roll"},
		[]string{"don", "'t", " o", "'clock", " rock", "'n", "'roll"},
		[]string{"don't", " o", "'clock", " rock", "'n", "'roll"},
	},
	{"1 12 123 1234 12345 123456 1234567",
		[]string{"1", " 12", " 123", " 1234", " 12345", " 123456", " 1234567"},
		[]string{"1", " ", "12", " ", "123", " ", "123", "4", " ", "123", "45", " ", "123", "456", " ", "123", "456", "7"},
		[]string{"1", " ", "12", " ", "123", " ", "123", "4", " ", "123", "45", " ", "123", "456", " ", "123", "456", "7"},
	},
	{"x1234567y",
		[]string{"x", "1234567", "y"},
		[]string{"x", "123", "456", "7", "y"},
		[]string{"x", "123", "456", "7", "y"},
	},
	{"  leading",
		[]string{" ", " leading"},
		[]string{" ", " leading"},
		[]string{" ", " leading"},
	},
	{"trailing  ",
		[]string{"trailing", "  "},
		[]string{"trailing", "  "},
		[]string{"trailing", "  "},
	},
	{"a  b a   b",
		[]string{"a", " ", " b", " a", "  ", " b"},
		[]string{"a", " ", " b", " a", "  ", " b"},
		[]string{"a", " ", " b", " a", "  ", " b"},
	},
	{"a \n b",
		[]string{"a", " \n", " b"},
		[]string{"a", " \n", " b"},
		[]string{"a", " \n", " b"},
	},
	{"x\r\ny",
		[]string{"x", "\r", "\n", "y"},
		[]string{"x", "\r\n", "y"},
		[]string{"x", "\r\n", "y"},
	},
	{"\r\n\r\n",
		[]string{"\r\n\r\n"},
		[]string{"\r\n\r\n"},
		[]string{"\r\n\r\n"},
	},
	{"a\n\n  x",
		[]string{"a", "\n\n ", " x"},
		[]string{"a", "\n\n", " ", " x"},
		[]string{"a", "\n\n", " ", " x"},
	},
	{"\n\n  x",
		[]string{"\n\n ", " x"},
		[]string{"\n\n", " ", " x"},
		[]string{"\n\n", " ", " x"},
	},
	{"\t\tx a\tb tab\t\n",
		[]string{"\t", "\t", "x", " a", "\t", "b", " tab", "\t\n"},
		[]string{"\t", "\tx", " a", "\tb", " tab", "\t\n"},
		[]string{"\t", "\tx", " a", "\tb", " tab", "\t\n"},
	},
	{"a\u00a0b a\u00a0\u00a0b \u3000x",
		[]string{"a", "\u00a0", "b", " a", "\u00a0", "\u00a0", "b", " ", "\u3000", "x"},
		[]string{"a", "\u00a0b", " a", "\u00a0", "\u00a0b", " ", "\u3000x"},
		[]string{"a", "\u00a0b", " a", "\u00a0", "\u00a0b", " ", "\u3000x"},
	},
	{"x\u2028y\u0085z",
		[]string{"x", "\u2028", "y", "\u0085", "z"},
		[]string{"x", "\u2028y", "\u0085z"},
		[]string{"x", "\u2028y", "\u0085z"},
	},
	{"x\x0b\x0cy",
		[]string{"x", "\x0b", "\x0c", "y"},
		[]string{"x", "\x0b", "\x0cy"},
		[]string{"x", "\x0b", "\x0cy"},
	},
	{"   ",
		[]string{"   "},
		[]string{"   "},
		[]string{"   "},
	},
	{"\n",
		[]string{"\n"},
		[]string{"\n"},
		[]string{"\n"},
	},
	{"a ",
		[]string{"a", " "},
		[]string{"a", " "},
		[]string{"a", " "},
	},
	{"a \n",
		[]string{"a", " \n"},
		[]string{"a", " \n"},
		[]string{"a", " \n"},
	},
	{"emoji 👍🏽 ok 🇺🇸!",
		[]string{"emoji", " 👍🏽", " ok", " 🇺🇸!"},
		[]string{"emoji", " 👍🏽", " ok", " 🇺🇸!"},
		[]string{"emoji", " 👍🏽", " ok", " 🇺🇸!"},
	},
	{"e\u0301te cafe\u0301",
		[]string{"e", "\u0301", "te", " cafe", "\u0301"},
		[]string{"e", "\u0301te", " cafe", "\u0301"},
		[]string{"e\u0301te", " cafe\u0301"},
	},
	{"\u0301x",
		[]string{"\u0301", "x"},
		[]string{"\u0301x"},
		[]string{"\u0301x"},
	},
	{" \u0301A",
		[]string{" \u0301", "A"},
		[]string{" \u0301", "A"},
		[]string{" \u0301", "A"},
	},
	{"!!\u0301 x",
		[]string{"!!\u0301", " x"},
		[]string{"!!\u0301", " x"},
		[]string{"!!\u0301", " x"},
	},
	{"\u0301HELLO",
		[]string{"\u0301", "HELLO"},
		[]string{"\u0301HELLO"},
		[]string{"\u0301", "HELLO"},
	},
	{"中文字符和English混合",
		[]string{"中文字符和English混合"},
		[]string{"中文字符和English混合"},
		[]string{"中文字符和English混合"},
	},
	{"日本語のテキスト。",
		[]string{"日本語のテキスト", "。"},
		[]string{"日本語のテキスト", "。"},
		[]string{"日本語のテキスト", "。"},
	},
	{"مرحبا بالعالم ١٢٣٤",
		[]string{"مرحبا", " بالعالم", " ١٢٣٤"},
		[]string{"مرحبا", " بالعالم", " ", "١٢٣", "٤"},
		[]string{"مرحبا", " بالعالم", " ", "١٢٣", "٤"},
	},
	{"HELLOworld helloWORLD HeLLo CamelCaseText ABC's DON'T",
		[]string{"HELLOworld", " helloWORLD", " HeLLo", " CamelCaseText", " ABC", "'s", " DON", "'", "T"},
		[]string{"HELLOworld", " helloWORLD", " HeLLo", " CamelCaseText", " ABC", "'s", " DON", "'T"},
		[]string{"HELLOworld", " hello", "WORLD", " He", "LLo", " Camel", "Case", "Text", " ABC's", " DON'T"},
	},
	{"ǅungla ʰello ªb",
		[]string{"ǅungla", " ʰello", " ªb"},
		[]string{"ǅungla", " ʰello", " ªb"},
		[]string{"ǅungla", " ʰello", " ªb"},
	},
	{"x//y\n//z !//\n ...\n\n",
		[]string{"x", "//", "y", "\n", "//", "z", " !//", "\n", " ...", "\n\n"},
		[]string{"x", "//", "y", "\n", "//", "z", " !//\n", " ...\n\n"},
		[]string{"x", "//", "y", "\n", "//", "z", " !//\n", " ...\n\n"},
	},
	{"$$$ 100$ #tag @user",
		[]string{"$$$", " 100", "$", " #", "tag", " @", "user"},
		[]string{"$$$", " ", "100", "$", " #", "tag", " @", "user"},
		[]string{"$$$", " ", "100", "$", " #", "tag", " @", "user"},
	},
	{" ' s '\n",
		[]string{" '", " s", " '", "\n"},
		[]string{" '", " s", " '\n"},
		[]string{" '", " s", " '\n"},
	},
	{"٣٤٥٦ Ⅻ½",
		[]string{"٣٤٥٦", " Ⅻ½"},
		[]string{"٣٤٥", "٦", " ", "Ⅻ½"},
		[]string{"٣٤٥", "٦", " ", "Ⅻ½"},
	},
	{"hello\u200dworld soft\u00adhyphen",
		[]string{"hello", "\u200d", "world", " soft", "\u00ad", "hyphen"},
		[]string{"hello", "\u200dworld", " soft", "\u00adhyphen"},
		[]string{"hello", "\u200dworld", " soft", "\u00adhyphen"},
	},
	{"<|endoftext|>",
		[]string{"<|", "endoftext", "|>"},
		[]string{"<|", "endoftext", "|>"},
		[]string{"<|", "endoftext", "|>"},
	},
	{"def f(x):\n    return x  # ok\n\n\n",
		[]string{"def", " f", "(", "x", "):", "\n   ", " return", " x", " ", " #", " ok", "\n\n\n"},
		[]string{"def", " f", "(x", "):\n", "   ", " return", " x", " ", " #", " ok", "\n\n\n"},
		[]string{"def", " f", "(x", "):\n", "   ", " return", " x", " ", " #", " ok", "\n\n\n"},
	},
	{"Ωmega ΣΑΣ σας",
		[]string{"Ωmega", " ΣΑΣ", " σας"},
		[]string{"Ωmega", " ΣΑΣ", " σας"},
		[]string{"Ωmega", " ΣΑΣ", " σας"},
	},
	{"\xff",
		[]string{"\xff"},
		[]string{"\xff"},
		[]string{"\xff"},
	},
	{"a\xffb",
		[]string{"a", "\xff", "b"},
		[]string{"a", "\xffb"},
		[]string{"a", "\xffb"},
	},
	{" \xff\xfe",
		[]string{" \xff\xfe"},
		[]string{" \xff\xfe"},
		[]string{" \xff\xfe"},
	},
	{"\xc3",
		[]string{"\xc3"},
		[]string{"\xc3"},
		[]string{"\xc3"},
	},
	{"it\xe2\x80s",
		[]string{"it", "\xe2\x80", "s"},
		[]string{"it", "\xe2\x80", "s"},
		[]string{"it", "\xe2\x80", "s"},
	},
	{"'\xff",
		[]string{"'\xff"},
		[]string{"'\xff"},
		[]string{"'\xff"},
	},
	{"x�y",
		[]string{"x", "�", "y"},
		[]string{"x", "�y"},
		[]string{"x", "�y"},
	},
	{"\xf0\x9f\x98 truncated",
		[]string{"\xf0\x9f\x98", " truncated"},
		[]string{"\xf0\x9f\x98", " truncated"},
		[]string{"\xf0\x9f\x98", " truncated"},
	},
	{"abc \xc3( def",
		[]string{"abc", " \xc3(", " def"},
		[]string{"abc", " \xc3(", " def"},
		[]string{"abc", " \xc3(", " def"},
	},
	{"\xff\xfe\n",
		[]string{"\xff\xfe", "\n"},
		[]string{"\xff\xfe\n"},
		[]string{"\xff\xfe\n"},
	},
	{"Aé ABé aé HELLOé",
		[]string{"Aé", " ABé", " aé", " HELLOé"},
		[]string{"Aé", " ABé", " aé", " HELLOé"},
		[]string{"Aé", " ABé", " aé", " HELLOé"},
	},
	{"a\u0301b",
		[]string{"a", "\u0301", "b"},
		[]string{"a", "\u0301b"},
		[]string{"a\u0301b"},
	},
	{"x' y'S z'Sé 'sé",
		[]string{"x", "'", " y", "'", "S", " z", "'", "Sé", " '", "sé"},
		[]string{"x", "'", " y", "'S", " z", "'S", "é", " '", "sé"},
		[]string{"x", "'", " y'S", " z'S", "é", " '", "sé"},
	},
	{"'s",
		[]string{"'s"},
		[]string{"'s"},
		[]string{"'s"},
	},
	{"Aʰb ʰʰ ABCʰDEF",
		[]string{"Aʰb", " ʰʰ", " ABCʰDEF"},
		[]string{"Aʰb", " ʰʰ", " ABCʰDEF"},
		[]string{"Aʰb", " ʰʰ", " ABCʰ", "DEF"},
	},
	{"ǅǅa 中文ABC",
		[]string{"ǅǅa", " 中文ABC"},
		[]string{"ǅǅa", " 中文ABC"},
		[]string{"ǅǅa", " 中文", "ABC"},
	},
	{" \u0301\u0301ABC !!\u0301ABC",
		[]string{" \u0301\u0301", "ABC", " !!\u0301", "ABC"},
		[]string{" \u0301\u0301", "ABC", " !!\u0301", "ABC"},
		[]string{" \u0301\u0301", "ABC", " !!\u0301", "ABC"},
	},
	{"١٢٣٤٥",
		[]string{"١٢٣٤٥"},
		[]string{"١٢٣", "٤٥"},
		[]string{"١٢٣", "٤٥"},
	},
	{"\r\n\r\n  x",
		[]string{"\r\n\r\n ", " x"},
		[]string{"\r\n\r\n", " ", " x"},
		[]string{"\r\n\r\n", " ", " x"},
	},
	{"x \r\n",
		[]string{"x", " \r\n"},
		[]string{"x", " \r\n"},
		[]string{"x", " \r\n"},
	},
	{"x\n \n y",
		[]string{"x", "\n \n", " y"},
		[]string{"x", "\n \n", " y"},
		[]string{"x", "\n \n", " y"},
	},
	{"a\u00a0\u00a0",
		[]string{"a", "\u00a0\u00a0"},
		[]string{"a", "\u00a0\u00a0"},
		[]string{"a", "\u00a0\u00a0"},
	},
	{"/\n/ a/b/\n ok!\n\n\nnext",
		[]string{"/", "\n", "/", " a", "/", "b", "/", "\n", " ok", "!", "\n\n", "\n", "next"},
		[]string{"/\n", "/", " a", "/b", "/\n", " ok", "!\n\n\n", "next"},
		[]string{"/\n/", " a", "/b", "/\n", " ok", "!\n\n\n", "next"},
	},
	{"I'M'S 'Ve'RE'd'T",
		[]string{"I", "'", "M", "'", "S", " '", "Ve", "'", "RE", "'d", "'", "T"},
		[]string{"I", "'M", "'S", " '", "Ve", "'RE", "'d", "'T"},
		[]string{"I'M", "'S", " '", "Ve'RE", "'d'T"},
	},
}

func TestScanNamed(t *testing.T) {
	for _, name := range []string{"gpt2", "cl100k", "o200k"} {
		regex, _ := LookupPattern(name)
		oracle, err := NewRegexSplitter(regex)
		if err != nil {
			t.Fatal(err)
		}
		scan, err := NewSplitter(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range namedCases {
			want := map[string][]string{"gpt2": c.gpt2, "cl100k": c.cl100k, "o200k": c.o200k}[name]
			if got := splitAll(oracle, c.text); !slices.Equal(got, want) {
				t.Errorf("%s regexp2 %q:\n got %q\nwant %q", name, c.text, got, want)
			}
			if got := splitAll(scan, c.text); !slices.Equal(got, want) {
				t.Errorf("%s scanner %q:\n got %q\nwant %q", name, c.text, got, want)
			}
		}
	}
}

// TestClasses holds the scanners' character classes to those of the
// RegexSplitter, regexp2 with translateRegex's patch to tiktoken's Unicode
// version, over every code point.
func TestClasses(t *testing.T) {
	var runes []rune
	for r := range rune(utf8.MaxRune + 1) {
		if utf8.ValidRune(r) {
			runes = append(runes, r)
		}
	}
	classes := []struct {
		bit   uint8
		regex string
	}{
		{cL, `\p{L}`},
		{cN, `\p{N}`},
		{cS, `\s`},
		{cNL, `[\r\n]`},
		{cU, `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`},
		{cW, `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`},
	}
	for _, c := range classes {
		in := make([]bool, len(runes)) // in[k]: runes[k] matches c.regex
		tr, err := translateRegex(c.regex + "+")
		if err != nil {
			t.Fatal(err)
		}
		re := regexp2.MustCompile(tr, regexp2.None)
		m, err := re.FindRunesMatch(runes)
		for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
			for k := m.Index; k < m.Index+m.Length; k++ {
				in[k] = true
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		for k, r := range runes {
			got, _ := classAt(utf8.AppendRune(nil, r), 0)
			if u := unicodeClass(r); got != u && bad < 10 {
				t.Errorf("%U: table class %b, unicodeClass %b", r, got, u)
				bad++
			}
			if (got&c.bit != 0) != in[k] && bad < 10 {
				t.Errorf("%U: class %s is %v, regexp2 says %v", r, c.regex, got&c.bit != 0, in[k])
				bad++
			}
		}
	}
	// An invalid byte is U+FFFD, a symbol: in none of the classes.
	if got, w := classAt([]byte{0xff}, 0); got != 0 || w != 1 {
		t.Errorf("invalid byte: class %b, width %d", got, w)
	}
}

// fuzzScan holds the scanner of a named pattern to its RegexSplitter on
// arbitrary bytes. Run with a short -fuzzminimizetime (say 2s): minimizing a
// long new input through regexp2 can otherwise stall the fuzzer for a minute.
func fuzzScan(f *testing.F, name string) {
	regex, _ := LookupPattern(name)
	oracle, err := NewRegexSplitter(regex)
	if err != nil {
		f.Fatal(err)
	}
	scan, err := NewSplitter(name)
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range namedCases {
		f.Add([]byte(c.text))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var spelled strings.Builder
		for _, b := range in {
			spelled.WriteString(fuzzAlphabet[int(b)%len(fuzzAlphabet)])
		}
		for _, text := range []string{string(in), spelled.String()} {
			want := splitAll(oracle, text)
			if got := splitAll(scan, text); !slices.Equal(got, want) {
				t.Errorf("%s %q:\n got %q\nwant %q", name, text, got, want)
			}
		}
	})
}

// fuzzAlphabet holds characters of every class the patterns tell apart. The
// fuzz tests also spell each input with it, one character a byte, to reach
// mixes of them that random bytes rarely make.
var fuzzAlphabet = []string{
	"a", "A", "s", "S", "ſ", "l", "L", "e", "v", "r", "d", "m", "t", "'",
	" ", " ", "\t", "\r", "\n", "/", ".", "1", "١", "½",
	"\u00a0", "\u3000", "\u0301", "\u0903", "ʰ", "ǅ", "中", "é", "É",
	"😀", "\xff", "\xe2\x80",
	// Added by Unicode 16.0.0, which tiktoken has and Go's tables lack: Lu
	// and Ll (Cyrillic, Garay), Lm, Lo, M and Nd.
	"\u1c89", "\u1c8a", "\U00010d50", "\U00010d70", "\U00016d40", "\U00013460",
	"\u0897", "\U0001611e", "\U00010d40",
}

func FuzzScanGPT2(f *testing.F)   { fuzzScan(f, "gpt2") }
func FuzzScanCL100K(f *testing.F) { fuzzScan(f, "cl100k") }
func FuzzScanO200K(f *testing.F)  { fuzzScan(f, "o200k") }
