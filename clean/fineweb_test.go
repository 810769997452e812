package clean

import (
	"fmt"
	"strings"
	"testing"
)

func TestFineWebRules(t *testing.T) {
	f := NewFineWeb(DefaultFineWeb())
	// line makes a distinct line of 40 characters (41 with end "."), of 9
	// words (10 with the ".").
	line := func(i int, end string) string {
		return fmt.Sprintf("this is line number %03d of the test text%s", i, end)
	}
	lines := func(n, punct int) string {
		ls := make([]string, n)
		for i := range ls {
			end := ""
			if i < punct {
				end = "."
			}
			ls[i] = line(i, end)
		}
		return strings.Join(ls, "\n")
	}
	checkFilter(t, f, "empty", "", false, "empty")
	checkFilter(t, f, "blank", " \n\t\n", false, "empty")

	// Lines ending in punctuation: 1 of 8 (0.125) passes, 1 of 9 does not.
	checkFilter(t, f, "1 of 8 ends in punctuation", lines(8, 1), true, "")
	checkFilter(t, f, "1 of 9 ends in punctuation", lines(9, 1), false, "line_punct_ratio")
	// A trailing space hides the punctuation (lines are not stripped).
	checkFilter(t, f, "punctuation then space", strings.Replace(lines(8, 1), ".", ". ", 1), false, "line_punct_ratio")
	// Any of datatrove's terminal marks counts, in any script.
	checkFilter(t, f, "Devanagari danda", strings.Replace(lines(8, 1), ".", "।", 1), true, "")
	cfg := DefaultFineWeb()
	cfg.LinePunctExcludeZero = true
	checkFilter(t, NewFineWeb(cfg), "none, zero excluded", lines(8, 0), true, "")

	// Short lines (30 characters or fewer): 2 of 3 (0.667) pass, 3 of 4 do not.
	short := "Short line number one."
	checkFilter(t, f, "2 of 3 short", line(0, ".")+"\n"+short+"\nAnother short one.", true, "")
	checkFilter(t, f, "3 of 4 short", line(0, ".")+"\n"+short+"\nAnother short one.\nThird short one.", false, "short_line_ratio")
	threeOf := func(n int) string {
		return line(0, ".") + "\n" + strings.Repeat("x", n-1) + ".\n" + strings.Repeat("y", n-1) + ".\n" + strings.Repeat("z", n-1) + "."
	}
	checkFilter(t, f, "30 characters is short", threeOf(30), false, "short_line_ratio")
	checkFilter(t, f, "31 characters is not", threeOf(31), true, "")

	// Repeated lines: their characters over the text's without newlines.
	// 24 lines of 41 = 984 characters with one repeated 41: 41/984 = 0.042.
	base := lines(23, 23) + "\n" + line(0, ".")
	checkFilter(t, f, "one repeated line", base, false, "char_dup_ratio")
	cfg = DefaultFineWeb()
	cfg.CharDupRatio = 0.1 // the paper's value
	checkFilter(t, NewFineWeb(cfg), "one repeated line, limit 0.1", base, true, "")
	cfg.CharDupRatio = 41.0 / 984
	checkFilter(t, NewFineWeb(cfg), "limit exactly 41/984", base, true, "")
	cfg.CharDupRatio = 41.0/984 - 1e-9
	checkFilter(t, NewFineWeb(cfg), "limit just under 41/984", base, false, "char_dup_ratio")

	// Newlines per word: 2 lines of 10 words with 6 newlines (0.3) pass,
	// with 7 (0.35) do not. Blank lines count as newlines only.
	two := line(0, ".") + "\n" + line(1, ".")
	checkFilter(t, f, "6 newlines, 20 words", two+strings.Repeat("\n", 5), true, "")
	checkFilter(t, f, "7 newlines, 20 words", two+strings.Repeat("\n", 6), false, "list_ratio")
}
