package shard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/tokstream"
)

// Manifest describes a shard directory. As JSON:
//
//	{
//	  "format": "pipe-shard-manifest",
//	  "version": 1,
//	  "tokenizer": {"sha256": "9f86…", "vocab_size": 50257, "eot_id": 50256},
//	  "dtype": "uint16",
//	  "compression": "none",
//	  "shard_tokens": 100000000,
//	  "val": {"fraction": 0.01},
//	  "shards": [
//	    {"file": "train-00000.arrow", "split": "train", "documents": 3, "tokens": 5120, "bytes": 11034, "sha256": "…"},
//	    {"file": "val-00000.arrow", "split": "val", "documents": 1, "tokens": 17, "bytes": 906, "sha256": "…"}
//	  ]
//	}
//
// Shards are listed in the order the Loader reads them: by split as
// written, ranks in order. A rank's manifest also has
// "part": {"rank": i, "world_size": n}.
type Manifest struct {
	Format      string       `json:"format"`
	Version     int          `json:"version"`
	Tokenizer   Tokenizer    `json:"tokenizer"`
	DType       string       `json:"dtype"`
	Compression string       `json:"compression"`
	ShardTokens int64        `json:"shard_tokens"`
	Val         ValRule      `json:"val"`
	Part        *Part        `json:"part,omitempty"`
	Shards      []ShardEntry `json:"shards"`
}

// Tokenizer identifies the tokenizer that made the tokens.
type Tokenizer struct {
	SHA256    string `json:"sha256"`
	VocabSize int    `json:"vocab_size"`
	EOT       *int   `json:"eot_id"` // null when the tokenizer has no end-of-text token
}

// ValRule says how documents were chosen for the val split (see the
// package documentation); both zero means none were.
type ValRule struct {
	Fraction float64 `json:"fraction,omitempty"`
	Tokens   int64   `json:"tokens,omitempty"`
}

// Part says which rank wrote a rank's manifest.
type Part struct {
	Rank      int `json:"rank"`
	WorldSize int `json:"world_size"`
}

// ShardEntry is one shard file.
type ShardEntry struct {
	File      string `json:"file"` // name inside the directory
	Split     string `json:"split"`
	Documents int64  `json:"documents"`
	Tokens    int64  `json:"tokens"` // the documents' tokens, no end-of-text tokens counted
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"`
}

// SplitTotals sums the shards of one split.
type SplitTotals struct {
	Shards    int
	Documents int64
	Tokens    int64
	Bytes     int64
}

// newManifest is an empty manifest for tokens described by meta.
func newManifest(meta tokstream.Meta) *Manifest {
	m := &Manifest{
		Format:    ManifestFormat,
		Version:   ManifestVersion,
		Tokenizer: Tokenizer{SHA256: meta.TokenizerSHA256, VocabSize: meta.VocabSize},
		DType:     meta.DType,
		Shards:    []ShardEntry{},
	}
	if meta.EOT != tokstream.NoEOT {
		m.Tokenizer.EOT = &meta.EOT
	}
	return m
}

// Meta is the metadata every shard file of the manifest must have.
func (m *Manifest) Meta() tokstream.Meta {
	meta := tokstream.Meta{TokenizerSHA256: m.Tokenizer.SHA256, VocabSize: m.Tokenizer.VocabSize, EOT: tokstream.NoEOT, DType: m.DType}
	if m.Tokenizer.EOT != nil {
		meta.EOT = *m.Tokenizer.EOT
	}
	return meta
}

// Split returns the shards of split, in order.
func (m *Manifest) Split(split string) []ShardEntry {
	var out []ShardEntry
	for _, s := range m.Shards {
		if s.Split == split {
			out = append(out, s)
		}
	}
	return out
}

// Totals sums the shards of split.
func (m *Manifest) Totals(split string) SplitTotals {
	var t SplitTotals
	for _, s := range m.Split(split) {
		t.Shards++
		t.Documents += s.Documents
		t.Tokens += s.Tokens
		t.Bytes += s.Bytes
	}
	return t
}

// check reports what is wrong with m.
func (m *Manifest) check() error {
	if m.Format != ManifestFormat {
		return fmt.Errorf("%w: format is %q, want %q", ErrFormat, m.Format, ManifestFormat)
	}
	if m.Version != ManifestVersion {
		return fmt.Errorf("%w: %s version %d is not supported (this build reads version %d)", ErrFormat, ManifestFormat, m.Version, ManifestVersion)
	}
	if err := m.Meta().Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if !validCompression(m.Compression) || m.Compression == "" {
		return fmt.Errorf("%w: compression %q: want none, zstd or lz4", ErrFormat, m.Compression)
	}
	if m.Val.Fraction < 0 || m.Val.Fraction >= 1 || m.Val.Tokens < 0 {
		return fmt.Errorf("%w: val rule %+v: want a fraction in [0, 1) or a token count ≥ 0", ErrFormat, m.Val)
	}
	if p := m.Part; p != nil && (p.WorldSize < 1 || p.Rank < 0 || p.Rank >= p.WorldSize) {
		return fmt.Errorf("%w: part: rank %d of world size %d", ErrFormat, p.Rank, p.WorldSize)
	}
	seen := map[string]bool{}
	for _, s := range m.Shards {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: shard %q: %s", ErrFormat, s.File, fmt.Sprintf(format, args...))
		}
		switch {
		case s.File == "" || s.File != filepath.Base(s.File) || s.File == "." || s.File == ".." || strings.ContainsAny(s.File, `/\`):
			return bad("a shard is named by a file name inside the directory")
		case seen[s.File]:
			return bad("listed twice")
		case s.Split != Train && s.Split != Val:
			return bad("split %q: want train or val", s.Split)
		case s.Documents < 0 || s.Tokens < 0 || s.Bytes <= 0:
			return bad("documents %d, tokens %d, bytes %d", s.Documents, s.Tokens, s.Bytes)
		case len(s.SHA256) != 64 || strings.Trim(s.SHA256, "0123456789abcdef") != "":
			return bad("sha256 %q: want 64 lower-case hex digits", s.SHA256)
		}
		seen[s.File] = true
	}
	return nil
}

// ReadManifest reads and checks the manifest at path.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrFormat, err)
	}
	if head.Format != ManifestFormat || head.Version != ManifestVersion {
		// Say so before any other field of another format or version is read.
		return nil, fmt.Errorf("%s: %w", path, (&Manifest{Format: head.Format, Version: head.Version}).check())
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrFormat, err)
	}
	if m.Shards == nil {
		m.Shards = []ShardEntry{}
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// WriteFile writes m to path atomically (temp file and rename).
func (m *Manifest) WriteFile(path string) error {
	if err := m.check(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	out, err := docio.Create(path)
	if err != nil {
		return err
	}
	defer out.Abort()
	if _, err := out.Write(append(b, '\n')); err != nil {
		return err
	}
	return out.Close()
}

// MergeManifests joins the manifests that ranks wrote in dir
// (manifest-r*.json) into dir/manifest.json and returns it. Every rank of
// the world must be there exactly once, and all must agree on the
// tokenizer, dtype, compression, shard size and val rule.
func MergeManifests(dir string) (*Manifest, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "manifest-r*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no rank manifests (manifest-r*.json) to merge", dir)
	}
	slices.Sort(paths)
	var (
		merged *Manifest
		first  string
		byRank = map[int]*Manifest{}
	)
	for _, p := range paths {
		m, err := ReadManifest(p)
		if err != nil {
			return nil, err
		}
		if m.Part == nil {
			return nil, fmt.Errorf("%s: %w: a rank manifest without its part (rank, world size)", p, ErrFormat)
		}
		if merged == nil {
			merged, first = m, p
		} else if err := sameSettings(merged, m); err != nil {
			return nil, fmt.Errorf("%s disagrees with %s: %w", p, first, err)
		}
		if m.Part.WorldSize != merged.Part.WorldSize {
			return nil, fmt.Errorf("%s is rank %d of %d, %s of %d: %w", p, m.Part.Rank, m.Part.WorldSize, first, merged.Part.WorldSize, ErrMismatch)
		}
		if byRank[m.Part.Rank] != nil {
			return nil, fmt.Errorf("%s: rank %d appears twice: %w", p, m.Part.Rank, ErrMismatch)
		}
		byRank[m.Part.Rank] = m
	}
	world := merged.Part.WorldSize
	out := *merged
	out.Part = nil
	out.Shards = []ShardEntry{}
	for _, split := range []string{Train, Val} {
		for r := range world {
			m := byRank[r]
			if m == nil {
				return nil, fmt.Errorf("%s: the manifest of rank %d of %d (%s) is missing", dir, r, world, manifestName(r, world))
			}
			out.Shards = append(out.Shards, m.Split(split)...)
		}
	}
	if err := out.WriteFile(filepath.Join(dir, ManifestName)); err != nil {
		return nil, err
	}
	return &out, nil
}

// sameSettings reports how b's settings differ from a's.
func sameSettings(a, b *Manifest) error {
	if a.Meta() != b.Meta() {
		return fmt.Errorf("%w: tokenizer %+v, not %+v", ErrMismatch, b.Meta(), a.Meta())
	}
	if a.Compression != b.Compression || a.ShardTokens != b.ShardTokens || a.Val != b.Val {
		return fmt.Errorf("%w: compression %s, shard tokens %d, val %+v; not %s, %d, %+v", ErrMismatch,
			b.Compression, b.ShardTokens, b.Val, a.Compression, a.ShardTokens, a.Val)
	}
	return nil
}
