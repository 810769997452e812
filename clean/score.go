package clean

import (
	"strings"
	"unicode"
)

// This file scores an extracted text against a human-written one, the way
// the article-extraction benchmark (Scrapinghub/Zyte, ../shared/bench/extraction)
// defines it:
//
//   - tokens are the \w+ runs of a text: letters, numbers and '_' in the
//     Unicode sense, so "don’t stop" is the three tokens don, t, stop;
//   - shingles are the runs of 4 consecutive tokens, counted as a multiset
//     (a text of fewer than 4 tokens is one shingle of all its tokens, and
//     an empty text has none);
//   - a page's tp, fp, fn are the shingles both texts share (by count), the
//     extra ones in the prediction and the missing ones, divided by their sum
//     so that every page weighs the same;
//   - precision and recall are averaged over pages and F1 is taken of the
//     averages.
//
// A worked example. True text "the cat sat on the mat", predicted
// "the cat sat on a mat today":
//
//	true tokens  the cat sat on the mat        shingles: [the cat sat on] [cat sat on the] [sat on the mat]
//	pred tokens  the cat sat on a mat today    shingles: [the cat sat on] [cat sat on a] [sat on a mat] [on a mat today]
//	tp = 1, fp = 3, fn = 2; normalised by 6: tp = 1/6, fp = 3/6, fn = 2/6
//	precision = tp/(tp+fp) = 1/4, recall = tp/(tp+fn) = 1/3
//
// and for this one page F1 = 2·(1/4)·(1/3)/(1/4+1/3) = 2/7.

// shingleSize is the number of tokens in a shingle.
const shingleSize = 4

// wordTokens returns the \w+ runs of s: maximal runs of Unicode letters, numbers
// and underscores (what Python's re module means by \w).
func wordTokens(s string) []string {
	var toks []string
	start := -1
	for i, r := range s {
		if isShingleWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			toks = append(toks, s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		toks = append(toks, s[start:])
	}
	return toks
}

func isShingleWordRune(r rune) bool {
	if r < 0x80 {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// shingleCounts counts the runs of shingleSize consecutive tokens of s, each
// joined by one space.
func shingleCounts(s string) map[string]int {
	toks := wordTokens(s)
	counts := make(map[string]int)
	if len(toks) == 0 {
		return counts
	}
	if len(toks) < shingleSize {
		counts[strings.Join(toks, " ")]++
		return counts
	}
	for i := 0; i+shingleSize <= len(toks); i++ {
		counts[strings.Join(toks[i:i+shingleSize], " ")]++
	}
	return counts
}

// ExtractionScore is one page's shingle counts, normalised so that
// TP+FP+FN = 1 (all zero when both texts are empty).
type ExtractionScore struct {
	TP, FP, FN float64
}

// ScoreExtraction compares a predicted text with the true one.
func ScoreExtraction(truth, pred string) ExtractionScore {
	t, p := shingleCounts(truth), shingleCounts(pred)
	var s ExtractionScore
	for k, tc := range t {
		pc := p[k]
		s.TP += float64(min(tc, pc))
		s.FN += float64(max(0, tc-pc))
	}
	for k, pc := range p {
		s.FP += float64(max(0, pc-t[k]))
	}
	if sum := s.TP + s.FP + s.FN; sum > 0 {
		s.TP, s.FP, s.FN = s.TP/sum, s.FP/sum, s.FN/sum
	}
	return s
}

// Precision is tp/(tp+fp); 1 when nothing is wrong (fp = fn = 0) and 0 when
// nothing was predicted right (tp = fp = 0).
func (s ExtractionScore) Precision() float64 {
	switch {
	case s.FP == 0 && s.FN == 0:
		return 1
	case s.TP == 0 && s.FP == 0:
		return 0
	}
	return s.TP / (s.TP + s.FP)
}

// Recall is tp/(tp+fn), with the same two special cases as Precision.
func (s ExtractionScore) Recall() float64 {
	switch {
	case s.FP == 0 && s.FN == 0:
		return 1
	case s.TP == 0 && s.FN == 0:
		return 0
	}
	return s.TP / (s.TP + s.FN)
}

// ExtractionSummary is the benchmark's result over many pages.
type ExtractionSummary struct {
	Precision, Recall, F1 float64
	Pages                 int
}

// SummarizeExtraction averages precision over the pages that predicted something
// (tp+fp > 0) and recall over the pages that had something to find
// (tp+fn > 0), and takes F1 of the two averages.
func SummarizeExtraction(pages []ExtractionScore) ExtractionSummary {
	var p, r float64
	var np, nr int
	for _, s := range pages {
		if s.TP+s.FP > 0 {
			p += s.Precision()
			np++
		}
		if s.TP+s.FN > 0 {
			r += s.Recall()
			nr++
		}
	}
	sum := ExtractionSummary{Pages: len(pages)}
	if np > 0 {
		sum.Precision = p / float64(np)
	}
	if nr > 0 {
		sum.Recall = r / float64(nr)
	}
	if sum.Precision+sum.Recall > 0 {
		sum.F1 = 2 * sum.Precision * sum.Recall / (sum.Precision + sum.Recall)
	}
	return sum
}
