package clean

import (
	"math"
	"reflect"
	"testing"
)

func TestWordTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ,. ", nil},
		{"don’t stop", []string{"don", "t", "stop"}},
		{"snake_case x2 3.14", []string{"snake_case", "x2", "3", "14"}},
		{"Grüße, 東京 ½!", []string{"Grüße", "東京", "½"}},
	} {
		if got := wordTokens(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("wordTokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestShingleCounts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]int
	}{
		{"", map[string]int{}},
		{"one two", map[string]int{"one two": 1}},
		{"a b c d", map[string]int{"a b c d": 1}},
		{"a b c d a b c d", map[string]int{"a b c d": 2, "b c d a": 1, "c d a b": 1, "d a b c": 1}},
	} {
		if got := shingleCounts(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("shingleCounts(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// TestScoreWorkedExample is the example in score.go's comment.
func TestScoreWorkedExample(t *testing.T) {
	s := ScoreExtraction("the cat sat on the mat", "the cat sat on a mat today")
	if !near(s.TP, 1.0/6) || !near(s.FP, 3.0/6) || !near(s.FN, 2.0/6) {
		t.Fatalf("got %+v, want tp 1/6 fp 3/6 fn 2/6", s)
	}
	if !near(s.Precision(), 0.25) || !near(s.Recall(), 1.0/3) {
		t.Fatalf("precision %v recall %v, want 1/4 and 1/3", s.Precision(), s.Recall())
	}
	sum := SummarizeExtraction([]ExtractionScore{s})
	if !near(sum.F1, 2.0/7) {
		t.Fatalf("F1 %v, want 2/7", sum.F1)
	}
}

func TestScoreEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		truth, pred string
		p, r        float64
	}{
		{"same words in both texts here", "same words in both texts here", 1, 1},
		{"a b c d e", "", 0, 0},
		{"", "a b c d e", 0, 0},
		{"", "", 1, 1},
		{"Case Matters here now", "case matters here now", 0, 0},
	} {
		s := ScoreExtraction(tc.truth, tc.pred)
		if !near(s.Precision(), tc.p) || !near(s.Recall(), tc.r) {
			t.Errorf("%q vs %q: precision %v recall %v, want %v %v", tc.truth, tc.pred, s.Precision(), s.Recall(), tc.p, tc.r)
		}
	}
}

// TestSummarizeLeavesOut checks which pages enter each average: a page that
// predicted nothing counts for recall only, one with nothing to find counts
// for precision only.
func TestSummarizeLeavesOut(t *testing.T) {
	pages := []ExtractionScore{
		ScoreExtraction("a b c d e f", "a b c d e f"), // P 1, R 1
		ScoreExtraction("a b c d e f", ""),            // R 0, no precision
		ScoreExtraction("", "a b c d e f"),            // P 0, no recall
		ScoreExtraction("", ""),                       // neither
	}
	sum := SummarizeExtraction(pages)
	if !near(sum.Precision, 0.5) || !near(sum.Recall, 0.5) || !near(sum.F1, 0.5) || sum.Pages != 4 {
		t.Fatalf("got %+v, want P 0.5 R 0.5 F1 0.5 over 4 pages", sum)
	}
}
