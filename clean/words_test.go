package clean

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Expected tokens are spaCy 3.8's (spacy.blank("en")) on the same input.
func TestWordTokenizer(t *testing.T) {
	cases := []struct {
		in   string
		want []string // all tokens, whitespace tokens included
	}{
		{"Hello, world!", []string{"Hello", ",", "world", "!"}},
		{"I don't know.", []string{"I", "do", "n't", "know", "."}},
		{"it's--fine", []string{"it's", "--", "fine"}}, // infix pieces are not exceptions
		{"U.S. and e-mail", []string{"U.S.", "and", "e", "-", "mail"}},
		{"See http://x.com/a-b?c=1 now", []string{"See", "http://x.com/a-b?c=1", "now"}},
		{"(test) $5.00 5km 20°C.", []string{"(", "test", ")", "$", "5.00", "5", "km", "20", "°", "C", "."}},
		{"Dr.Smith met Mr. Jones", []string{"Dr.", "Smith", "met", "Mr.", "Jones"}}, // merged back by the matcher
		{"a  b\n\nc", []string{"a", " ", "b", "\n\n", "c"}},
		{":) and x and f('')", []string{":)", "and", "x", "and", "f", "(", "''", ")"}},
		{"yes...no", []string{"yes", "...", "no"}},
		{"www.example.com/foo-bar", []string{"www.example.com/foo-bar"}},
		{"10-20 2+2=4 a/b", []string{"10", "-", "20", "2", "+", "2=4", "a", "/", "b"}},
		{"  leading", []string{"  ", "leading"}},
		{"Ph.D. students", []string{"Ph.D.", "students"}},
		{"", nil},
	}
	var tok wordTokenizer
	for _, c := range cases {
		var got []string
		for _, tk := range tok.tokenize(c.in) {
			got = append(got, c.in[tk.start:tk.end])
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := tok.wordsOf("a  b\n\nc"); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("wordsOf drops whitespace tokens: got %q", got)
	}
}

func TestCountSentences(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{"One. Two! Three?", 3},
		{"Hello...  world.", 1}, // "..." is not a sentence end
		{"No end", 1},
		{"", 1},
		{"A. . B", 2},
		{"Mr. Smith went home. He slept.", 2},
		{"Wait!!! Really?! Yes.", 3},
	}
	var tok wordTokenizer
	for _, c := range cases {
		if got := tok.countSentences(c.in); got != c.want {
			t.Errorf("countSentences(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestPyLines(t *testing.T) {
	in := "a\nb\r\nc\rd\x0be\x0cf\x1cg\x1dh\x1ei\x1fj\u0085k\u2028l\u2029m\n"
	want := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i\x1fj", "k", "l", "m"} // \x1f is not a line break
	var got []string
	for rest := in; rest != ""; {
		var line string
		line, rest = nextPyLine(rest)
		got = append(got, line)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
	if got := pyStrip("\x1f\u3000 a b\u00a0\n"); got != "a b" {
		t.Errorf("pyStrip = %q", got)
	}
	var fields []string
	for rest := " a\u2003b\x1cc "; ; {
		var f string
		f, rest = nextPyField(rest)
		if f == "" {
			break
		}
		fields = append(fields, f)
	}
	if !reflect.DeepEqual(fields, []string{"a", "b", "c"}) {
		t.Errorf("fields = %q", fields)
	}
}

func TestHasASCIIFold(t *testing.T) {
	for _, c := range []struct {
		s, needle string
		want      bool
	}{
		{"Please enable JavaScript.", "javascript", true},
		{"java script", "javascript", false},
		{"This site uses COOKIES", "uses cookies", true},
		{"use coo\u212aies", "use cookies", true}, // Kelvin sign lower-cases to k
		{"LOREM İPSUM", "lorem ipsum", false},     // İ lower-cases to i + U+0307
	} {
		if got := hasASCIIFold(c.s, c.needle); got != c.want {
			t.Errorf("hasASCIIFold(%q, %q) = %v", c.s, c.needle, got)
		}
	}
}

// FuzzWordTokenizer checks that tokens are in order, do not overlap, and
// leave out exactly the single spaces that spaCy swallows.
func FuzzWordTokenizer(f *testing.F) {
	for _, s := range []string{"Hello, world!", "I don't  know...", "Dr.Smith e.g.:)", "http://a.b/c-d 5km $5", "日本語。 x\u00a0y"} {
		f.Add(s)
	}
	var tok wordTokenizer
	f.Fuzz(func(t *testing.T, s string) {
		toks := tok.tokenize(s)
		at := 0
		for _, tk := range toks {
			gap := s[at:tk.start]
			if gap != "" && gap != " " {
				t.Fatalf("%q: gap %q before token %d..%d", s, gap, tk.start, tk.end)
			}
			if tk.end <= tk.start {
				t.Fatalf("%q: empty token at %d", s, tk.start)
			}
			text := s[tk.start:tk.end]
			if tk.space != (strings.TrimFunc(text, isPySpace) == "") {
				t.Fatalf("%q: token %q marked space=%v", s, text, tk.space)
			}
			at = int(tk.end)
		}
		if rest := s[at:]; rest != "" && rest != " " {
			t.Fatalf("%q: %q left after the last token", s, rest)
		}
		tok.countSentences(s)
	})
}

// wordsOf answers a text asked again from memory, and only that text.
func TestWordsOfRemembersLastText(t *testing.T) {
	// The second is as long as the first; the last is the first again,
	// in another string.
	texts := []string{"Don't stop, it's 9:30 a.m. now.", "Don't stop, it's 9:30 a.m. now!", "", "x", strings.Clone("Don't stop, it's 9:30 a.m. now.")}
	var tok wordTokenizer
	for round := range 2 {
		for _, s := range append(texts, texts[0]) {
			var fresh wordTokenizer
			want := slices.Clone(fresh.wordsOf(s))
			if got := tok.wordsOf(s); !slices.Equal(got, want) {
				t.Fatalf("round %d: wordsOf(%q) = %q, want %q", round, s, got, want)
			}
		}
	}
}
