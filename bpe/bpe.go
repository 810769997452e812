// Package bpe is a byte-level BPE tokenizer with tiktoken's semantics: text is
// cut into pieces by a pre-split pattern, and inside each piece adjacent parts
// are merged lowest rank first until no pair of parts is itself a token.
//
// Token ids are uint32 ranks. The byte strings of the vocabulary ("mergeable
// ranks" in tiktoken's words) and the special tokens are kept apart: special
// tokens never come out of merges, and their text in ordinary input is refused
// unless the caller allows it.
package bpe

// Splitter cuts text into pieces; BPE merges never cross a piece boundary.
// The pieces passed to fn are consecutive subslices of text that together
// cover it exactly (invalid UTF-8 included: each invalid byte counts as one
// U+FFFD character for the pattern, but keeps its own byte).
type Splitter interface {
	Split(text []byte, fn func(piece []byte))
}
