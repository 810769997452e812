package clean

import "slices"

// Pass 2, score and select.
//
// Every element that owns text gets a signed score (blockScore): its letters
// outside links when it reads as prose, and a cost of twice its letters when
// it is mostly links (a menu item, a teaser headline, a tag). The main
// content is the element whose subtree has the highest sum: it grows to take
// in all of the article's paragraphs, and stops before it takes in menus and
// lists of links whose cost exceeds the little prose they bring.
//
// Class, id and tag hints (extract_hints.go) take boilerplate out with its
// subtree, and what they take out costs its letters to the elements around
// it, so that a container does not take in a comment section or a footer for
// free. Hints on the wrappers of the main text are ignored (prune).
//
// A worked example. A page with a menu, an article of three paragraphs with
// a share bar inside, and a list of related links:
//
//	body
//	  ul            li×5 of 10 link letters       5 × −20   = −100
//	  article
//	    div.share   "Share Tweet" (hint: gone)    −10 (its letters)
//	    p×3         400, 300, 340 letters         +1040
//	  ul            li×4 of 40 link letters       4 × −80   = −320
//
// sums to 1040 − 10 = 1030 at article and −100 + 1030 − 320 = 610 at body,
// so the article is the main content, and its text is the three paragraphs.

const (
	linkHeavy    = 0.5 // above this share of letters in links, a block is a link block
	linkCost     = 2   // a link block scores −linkCost per letter ...
	linkCap      = 200 // ... of at most linkCap letters: one block is one piece of furniture, however long
	goneCost     = 1   // a pruned subtree costs its parent this much per letter
	hintDiscount = 0.3 // while finding the core of the main text, text under a hint counts this share
	contentBonus = 1.2 // the sum of an element hinted as content (<article>, "entry-content") counts this many times
)

// blockScore scores the text an element owns.
func blockScore(e *pageElem) float64 {
	c, l := float64(e.chars), float64(e.linkChars)
	switch {
	case c == 0:
		return 0
	case l > linkHeavy*c:
		return -linkCost * min(c, linkCap)
	}
	return c - l
}

// selectMain scores, prunes and sums, and returns the index of the main
// element, or -1 when no element has a positive sum.
func (ix *pageIndex) selectMain() int32 {
	if len(ix.elems) == 0 {
		return -1
	}
	ix.scoreBlocks()
	ix.prune()
	return ix.widen(ix.best())
}

// scoreBlocks scores each element's own text and sums over subtrees.
func (ix *pageIndex) scoreBlocks() {
	n := len(ix.elems)
	ix.own = make([]float64, n)
	ix.sum = make([]float64, n)
	ix.prose = make([]float64, n)
	ix.gone = make([]bool, n)
	ix.subChars = make([]int32, n)
	ix.subLinks = make([]int32, n)
	for i := range ix.elems {
		ix.own[i] = blockScore(&ix.elems[i])
	}
	ix.sumUp(1)
	ix.allChars = slices.Clone(ix.subChars)
}

// prune marks boilerplate-hinted elements and their subtrees gone, except
// wrappers of the main text. A class word on a wrapper of the article
// ("pg-rail__wrapper", "elementor-widget-container") says nothing about the
// furniture around it, so hints are at first only a discount: the element
// with the best sum when text under a hint counts hintDiscount of its worth
// is taken as the core of the main text, and the hints on it, on its
// ancestors, and on its descendants that hold more than half its prose are
// ignored.
func (ix *pageIndex) prune() {
	ix.sumUp(hintDiscount)
	core := ix.best()
	for i := range ix.elems {
		e := &ix.elems[i]
		ix.gone[i] = e.parent >= 0 && ix.gone[e.parent] ||
			e.hint == hintDrop && !ix.wraps(int32(i), core)
	}
	ix.sumUp(1)
}

// wraps says whether element i wraps the text of element c: it is c, an
// ancestor of c, or a descendant with more than half of c's prose.
func (ix *pageIndex) wraps(i, c int32) bool {
	switch {
	case c < 0:
		return false
	case i <= c:
		return c < ix.elems[i].end
	case i < ix.elems[c].end:
		return ix.prose[i] > 0.5*ix.prose[c]
	}
	return false
}

// best returns the element with the highest positive sum that is not gone,
// or -1; the sum of an element hinted as content counts contentBonus times,
// so that it wins over a wrapper that adds a little more prose (a teaser,
// an author's note). Ties go to the outermost.
func (ix *pageIndex) best() int32 {
	best, bestSum := int32(-1), 0.0
	for i := range ix.elems {
		s := ix.sum[i]
		if ix.elems[i].hint == hintContent && s > 0 {
			s *= contentBonus
		}
		if !ix.gone[i] && s > bestSum {
			best, bestSum = int32(i), s
		}
	}
	return best
}

// widen handles a best element that is a single block of text, such as one
// paragraph. When link boxes interleave the paragraphs of an article
// ("Related: ..." after every other paragraph), the article's container can
// sum to less than its best paragraph; then the parent is the main element
// instead, provided its sum is positive. The link boxes inside it are left
// out of the text anyway.
func (ix *pageIndex) widen(b int32) int32 {
	if b < 0 || ix.subChars[b] != ix.elems[b].chars {
		return b
	}
	if p := ix.elems[b].parent; p >= 0 && ix.sum[p] > 0 {
		return p
	}
	return b
}

// sumUp fills sum, prose, subChars and subLinks from the elements' own
// values, leaving out gone subtrees, each of which costs its parent
// goneCost per letter instead. With a discount below 1, sum counts the
// score of text under a boilerplate hint at that share. Children come after
// their parents, so one backwards loop adds each finished subtree into its
// parent.
func (ix *pageIndex) sumUp(discount float64) {
	var hinted []bool
	if discount < 1 {
		hinted = make([]bool, len(ix.elems))
	}
	for i := range ix.elems {
		e := &ix.elems[i]
		ix.sum[i] = ix.own[i]
		if hinted != nil {
			hinted[i] = e.hint == hintDrop || e.parent >= 0 && hinted[e.parent]
			if hinted[i] {
				ix.sum[i] *= discount
			}
		}
		ix.prose[i] = max(ix.own[i], 0)
		ix.subChars[i] = e.chars
		ix.subLinks[i] = e.linkChars
	}
	for i := len(ix.elems) - 1; i > 0; i-- {
		p := ix.elems[i].parent
		switch {
		case p < 0 || ix.gone[p]:
		case ix.gone[i]:
			ix.sum[p] -= goneCost * float64(ix.allChars[i])
		default:
			ix.sum[p] += ix.sum[i]
			ix.prose[p] += ix.prose[i]
			ix.subChars[p] += ix.subChars[i]
			ix.subLinks[p] += ix.subLinks[i]
		}
	}
}
