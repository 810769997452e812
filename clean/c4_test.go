package clean

import (
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/docio"
)

func TestC4Lines(t *testing.T) {
	c := NewC4(DefaultC4())
	in := strings.Join([]string{
		"  The first sentence stays here.  ",
		"No terminal punctuation here",
		"Two words.",
		"It trails off at the end...",
		"Please enable JavaScript to see the map.",
		"This site uses cookies to work well.",
		"The war ended in 1918.[1] Peace followed soon after.[citation needed]",
		"A citation with a space after it. [2]",
		"He said \"yes\" and she said 'no'",
		"Did the second test pass? It did! Then three more lines follow.",
		"An unfinished {brace without punctuation",
		"\"Quoted lines count as ending well.\"",
		"Wait, is this a question?",
	}, "\n")
	d := docio.Document{Text: in}
	keep, reason := c.Filter(&d)
	if !keep {
		t.Fatalf("dropped: %q", reason)
	}
	want := strings.Join([]string{
		"The first sentence stays here.",
		"The war ended in 1918. Peace followed soon after.",
		"He said \"yes\" and she said 'no'",
		"Did the second test pass? It did! Then three more lines follow.",
		"\"Quoted lines count as ending well.\"",
		"Wait, is this a question?",
	}, "\n")
	if d.Text != want {
		t.Errorf("text =\n%s\nwant\n%s", d.Text, want)
	}
}

func TestC4Documents(t *testing.T) {
	c := NewC4(DefaultC4())
	five := "One sentence here. Two sentences here. Three sentences here. Four sentences here. Five sentences here."
	four := "One sentence here. Two sentences here. Three sentences here. Four sentences here."
	checkFilter(t, c, "5 sentences", five, true, "")
	checkFilter(t, c, "4 sentences", four, false, "too_few_sentences")
	checkFilter(t, c, "4+1 sentences on two lines", four+"\nAnd a fifth one.", true, "")
	checkFilter(t, c, "lorem ipsum", five+"\nLorem Ipsum dolor sit amet.", false, "lorem_ipsum")
	checkFilter(t, c, "brace", five+"\nThe map is {a: 1}.", false, "curly_bracket")
	// A line removed before the check does not drop the document.
	checkFilter(t, c, "brace in removed line", five+"\nThe map is {a: 1}", true, "")
	checkFilter(t, c, "lorem in a short line", five+"\nLorem ipsum.", true, "")
	checkFilter(t, c, "empty", "", false, "too_few_sentences")

	// The rewritten text is kept only when the document is.
	d := docio.Document{Text: four + "\nno punctuation"}
	if keep, _ := c.Filter(&d); keep || d.Text != four+"\nno punctuation" {
		t.Errorf("dropped document changed: %q", d.Text)
	}

	cfg := DefaultC4()
	cfg.FilterNoTerminalPunct = false
	cfg.MinNumSentences = 0
	d = docio.Document{Text: "no punctuation at all here\nok"}
	if keep, _ := NewC4(cfg).Filter(&d); !keep || d.Text != "no punctuation at all here" {
		t.Errorf("without the punctuation rule: %v %q", keep, d.Text)
	}
	// The longest word of five is "sentences" (9 letters).
	cfg = DefaultC4()
	cfg.MaxWordLength = 9
	checkFilter(t, NewC4(cfg), "words of 9, at most 9", five, true, "")
	cfg.MaxWordLength = 8
	checkFilter(t, NewC4(cfg), "words of 9, at most 8", five, false, "too_few_sentences")
}

func TestRemoveCitations(t *testing.T) {
	for in, want := range map[string]string{
		"Text.[1]":                    "Text.",
		"Text[12][edit] more.":        "Text more.",
		"a[]b":                        "ab",
		"[[1]1]":                      "[1]",
		"see [citation needed] here":  "see  here",
		"no [citation] mark":          "no [citation] mark",
		"Arabic digits [١٢] are \\d.": "Arabic digits  are \\d.",
	} {
		if got := removeCitations(in); got != want {
			t.Errorf("removeCitations(%q) = %q, want %q", in, got, want)
		}
	}
}
