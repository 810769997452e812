package clean

import (
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/docio"
)

func checkFilter(t *testing.T, f Filter, name, text string, wantKeep bool, wantReason string) {
	t.Helper()
	d := docio.Document{ID: name, Text: text}
	keep, reason := f.Filter(&d)
	if keep != wantKeep || reason != wantReason {
		t.Errorf("%s: %s = %v %q, want %v %q", name, f.Name(), keep, reason, wantKeep, wantReason)
	}
}

// words returns n words of prose: "the cat and dog sat ..." (mean length
// 3.0 with both stop words "the" and "and").
func proseWords(n int) []string {
	cycle := []string{"the", "cat", "and", "dog", "sat"}
	w := make([]string, n)
	for i := range w {
		w[i] = cycle[i%len(cycle)]
	}
	return w
}

func TestGopherQualityRules(t *testing.T) {
	g := NewGopherQuality(DefaultGopherQuality())
	prose := func(n int) string { return strings.Join(proseWords(n), " ") }

	checkFilter(t, g, "50 words", prose(50), true, "")
	checkFilter(t, g, "49 words", prose(49), false, "gopher_short_doc")
	// Punctuation-only words do not count towards the 50.
	checkFilter(t, g, "49 words and a dot", prose(49)+" .", false, "gopher_short_doc")
	small := DefaultGopherQuality()
	small.MaxDocWords = 50
	checkFilter(t, NewGopherQuality(small), "51 words, at most 50", prose(51), false, "gopher_long_doc")

	// Mean word length: 50 words of 3 letters is 3.0 (kept); one of them
	// cut to 2 letters makes 149/50 = 2.98.
	w := proseWords(50)
	w[1] = "ca"
	checkFilter(t, g, "mean 2.98", strings.Join(w, " "), false, "gopher_below_avg_threshold")
	w = proseWords(50)
	for i := 5; i < 50; i += 5 {
		w[i] = "abcdefghijklmnopqrstuvwxyz" // 9 of them: (150-27+234)/50 = 7.14
	}
	checkFilter(t, g, "mean 7.14", strings.Join(w, " "), true, "")
	w = proseWords(50)
	for i := range w {
		if w[i] != "the" && w[i] != "and" {
			w[i] = "abcdefghijkl" // 30 of 12, 20 of 3: 420/50 = 8.4
		}
	}
	checkFilter(t, g, "mean 8.4", strings.Join(w, " "), true, "")
	for i := range w {
		if w[i] != "the" && w[i] != "and" {
			w[i] = "abcdefghijklmnop" // 30 of 16: 540/50 = 10.8
		}
	}
	checkFilter(t, g, "mean 10.8", strings.Join(w, " "), false, "gopher_above_avg_threshold")

	// '#' per word: 5/50 passes, 6/50 does not ("x#y" stays one word).
	hashes := func(k int) string {
		w := proseWords(50)
		for i := 0; i < k; i++ {
			w[1+5*i] = "c#t"
		}
		return strings.Join(w, " ")
	}
	checkFilter(t, g, "5 hashes", hashes(5), true, "")
	checkFilter(t, g, "6 hashes", hashes(6), false, "gopher_too_many_hashes")
	// Each " ..." is a word of its own: 5/55 passes, 6/56 does not.
	ellipses := func(k int) string {
		return prose(25) + strings.Repeat(" ...", k) + " " + prose(25)
	}
	checkFilter(t, g, "5 ellipses", ellipses(5), true, "")
	checkFilter(t, g, "6 ellipses", ellipses(6), false, "gopher_too_many_ellipsis")

	// Lines: 9 of 10 bullets pass, 10 of 10 do not; 3 of 10 lines ending
	// in an ellipsis pass, 4 do not.
	lines := func(bullets, ellipses int) string {
		ls := make([]string, 10)
		for i := range ls {
			ls[i] = prose(10) + " together"
			if i < bullets {
				ls[i] = []string{"- ", "• ", "  -"}[i%3] + ls[i]
			}
			if i < ellipses {
				ls[i] += []string{"...", "…", "... "}[i%3]
			}
		}
		return strings.Join(ls, "\n")
	}
	checkFilter(t, g, "9 bullets", lines(9, 0), true, "")
	checkFilter(t, g, "10 bullets", lines(10, 0), false, "gopher_too_many_bullets")
	checkFilter(t, g, "3 ellipsis lines", lines(0, 3), true, "")
	checkFilter(t, g, "4 ellipsis lines", lines(0, 4), false, "gopher_too_many_end_ellipsis")

	// Words with a letter: 40 of 50 pass, 39 do not.
	numbers := func(k int) string {
		w := proseWords(50)
		for i := 0; i < k; i++ {
			w[49-i] = "1234"
		}
		return strings.Join(w, " ")
	}
	checkFilter(t, g, "40 of 50 alphabetic", numbers(10), true, "")
	checkFilter(t, g, "39 of 50 alphabetic", numbers(11), false, "gopher_below_alpha_threshold")

	// Stop words: "the" and "and" pass; "the" alone does not.
	w = proseWords(50)
	for i := range w {
		if w[i] == "and" {
			w[i] = "fox"
		}
	}
	checkFilter(t, g, "one stop word", strings.Join(w, " "), false, "gopher_enough_stop_words")
	w[2] = "with"
	checkFilter(t, g, "two stop words", strings.Join(w, " "), true, "")
	w[2] = "With" // stop words are case-sensitive, as in datatrove
	checkFilter(t, g, "capitalized stop word", strings.Join(w, " "), false, "gopher_enough_stop_words")
}

func TestGopherRepetitionRules(t *testing.T) {
	only := func(cfg GopherRepetitionConfig) Filter { return NewGopherRepetition(cfg) }

	checkFilter(t, NewGopherRepetition(DefaultGopherRepetition()), "empty", "", false, "empty")
	checkFilter(t, NewGopherRepetition(DefaultGopherRepetition()), "prose",
		"The cat sat on the mat.\nA dog barked at the moon all night long.\n\nThen the sun rose over the quiet hills.", true, "")

	// Paragraphs a, b, c, a, d...: 3 repeats of 10 is 0.3 (kept), 4 is 0.4.
	paras := func(dups int) string {
		ps := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}
		for i := 0; i < dups; i++ {
			ps[9-i] = "p0"
		}
		return strings.Join(ps, "\n\n\n")
	}
	cfg := GopherRepetitionConfig{DupParaFrac: 0.3}
	checkFilter(t, only(cfg), "3 of 10 paragraphs", paras(3), true, "")
	checkFilter(t, only(cfg), "4 of 10 paragraphs", paras(4), false, "dup_para_frac")
	// Characters: 2 repeated "p0" are 4 of 47 characters.
	cfg = GopherRepetitionConfig{DupParaCharFrac: 4.0 / 47}
	checkFilter(t, only(cfg), "para chars 4/47", paras(2), true, "")
	cfg = GopherRepetitionConfig{DupParaCharFrac: 4.0 / 48}
	checkFilter(t, only(cfg), "para chars 4/47 > 4/48", paras(2), false, "dup_para_char_frac")

	// Lines split at runs of '\n', keeping the empty first and last piece:
	// "\na\na\n" is "", "a", "a", "": two repeats of four, 1 char of 5.
	cfg = GopherRepetitionConfig{DupLineFrac: 0.5}
	checkFilter(t, only(cfg), "2 of 4 lines", "\na\na\n", true, "")
	cfg = GopherRepetitionConfig{DupLineFrac: 0.49}
	checkFilter(t, only(cfg), "2 of 4 lines > 0.49", "\na\na\n", false, "dup_line_frac")
	cfg = GopherRepetitionConfig{DupLineCharFrac: 0.2}
	checkFilter(t, only(cfg), "line chars 1/5", "\na\na\n", true, "")
	cfg = GopherRepetitionConfig{DupLineCharFrac: 0.19}
	checkFilter(t, only(cfg), "line chars 1/5 > 0.19", "\na\na\n", false, "dup_line_char_frac")

	// Top 2-gram of "a b a b c": "a b", 3 characters twice, of 9.
	cfg = GopherRepetitionConfig{TopNGrams: []NGramLimit{{2, 6.0 / 9}}}
	checkFilter(t, only(cfg), "top 2-gram 6/9", "a b a b c", true, "")
	cfg = GopherRepetitionConfig{TopNGrams: []NGramLimit{{2, 6.0/9 - 1e-9}}}
	checkFilter(t, only(cfg), "top 2-gram 6/9 > limit", "a b a b c", false, "top_2_gram")
	// Ties go to the first n-gram seen ("a b", 3 characters), not the
	// longest ("cc dd", 5).
	cfg = GopherRepetitionConfig{TopNGrams: []NGramLimit{{2, 3.0 / 9}}}
	checkFilter(t, only(cfg), "top 2-gram tie", "a b cc dd", true, "")
	// Fewer words than n: the check is skipped.
	cfg = GopherRepetitionConfig{TopNGrams: []NGramLimit{{4, 0.01}}}
	checkFilter(t, only(cfg), "3 words, 4-grams", "a b c", true, "")

	// Duplicated 2-grams are joined without spaces: in "ab c x a bc" the
	// 2-gram "a bc" repeats "ab c" (3 characters of 11).
	cfg = GopherRepetitionConfig{DupNGrams: []NGramLimit{{2, 3.0 / 11}}}
	checkFilter(t, only(cfg), "dup 2-grams 3/11", "ab c x a bc", true, "")
	cfg = GopherRepetitionConfig{DupNGrams: []NGramLimit{{2, 3.0/11 - 1e-9}}}
	checkFilter(t, only(cfg), "dup 2-grams 3/11 > limit", "ab c x a bc", false, "duplicated_2_n_grams")
	// After a repeat the scan jumps past it: in "a b a b a b" the repeats
	// are the second and third "ab": 4 characters of 11.
	cfg = GopherRepetitionConfig{DupNGrams: []NGramLimit{{2, 4.0 / 11}}}
	checkFilter(t, only(cfg), "dup 2-grams skip", "a b a b a b", true, "")
	cfg = GopherRepetitionConfig{DupNGrams: []NGramLimit{{2, 4.0/11 - 1e-9}}}
	checkFilter(t, only(cfg), "dup 2-grams skip > limit", "a b a b a b", false, "duplicated_2_n_grams")

	// With the defaults: a 5-gram said twice, its last word long, among 30
	// other words: 38 repeated characters of 205 (0.185 > 0.15), while its
	// 4-gram "a b c d" covers only 14.
	var w []string
	for i := 0; i < 30; i++ {
		w = append(w, "w"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	phrase := "a b c d supercalifragilisticexpialidocious"
	text := strings.Join(w[:15], " ") + " " + phrase + " " + strings.Join(w[15:], " ") + " " + phrase
	checkFilter(t, NewGopherRepetition(DefaultGopherRepetition()), "5-gram twice", text, false, "duplicated_5_n_grams")
}
