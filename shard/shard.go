// Package shard writes token documents into shard files, checks them, and
// serves the fixed-context windows that the trainer learns from.
//
// # Files
//
// A shard directory holds Arrow IPC files (the file format, Feather v2)
// and a manifest:
//
//	train-00000.arrow  train-00001.arrow  …  val-00000.arrow  manifest.json
//
// (with several ranks, rank 3 names its files train-r00003-00000.arrow, …
// and manifest-r00003.json, and MergeManifests joins the rank manifests
// into manifest.json). A shard has one row per document, in record batches of
// about 4 MiB:
//
//	id      utf8                  not null
//	tokens  large_list<uint16>    not null   (large_list<uint32> when the vocabulary exceeds 65,536 ids)
//
// holding exactly the document's tokens as encoded: no end-of-text token is
// appended (the Loader puts one after each document). This is the schema of
// the token stream (package tokstream), and the schema metadata has the
// stream's keys, under a format name of its own:
//
//	pipe.format            "pipe-shard"
//	pipe.version           "1"
//	pipe.tokenizer_sha256  SHA-256 of the tokenizer file
//	pipe.vocab_size        every token id is below it
//	pipe.eot_id            the end-of-text id (absent when the tokenizer has none)
//	pipe.dtype             "uint16" or "uint32"
//
// Shards are uncompressed unless asked (zstd or lz4 Arrow buffer
// compression), so that the Loader reads them from a memory map without
// copying. A shard is written under a temporary name and renamed when
// complete, so a file under a shard's name is always whole.
//
// The manifest (see Manifest) names the format and version, the tokenizer
// and dtype, and lists every shard with its split, documents, tokens, bytes
// and SHA-256. Open reads it and refuses a directory whose files are missing
// or of another size; Verify checks every checksum and every batch.
//
// # Splits
//
// A document goes to the validation split by the hash of its id, so that
// reruns and ranks agree: h = the first 8 bytes of SHA-256(id) read as a
// big-endian integer, divided by 2^64. With a fraction F, the document is in
// val when h < F. With a token budget N, val holds the documents of lowest h
// (ties in input order) while the tokens before each are fewer than N.
//
// # Windows
//
// The Loader concatenates a split's documents in manifest and file order,
// each followed by the end-of-text token,
//
//	doc0 EOT doc1 EOT doc2 EOT …
//
// and cuts this stream of L tokens into N = ⌊(L−1)/T⌋ windows of T+1 tokens
// at stride T: window w is stream[wT : wT+T+1], its first T tokens the
// inputs and its last T the targets (consecutive windows share one token,
// as in nanoGPT and llm.c). The inputs of the windows tile the stream
// [0, NT) exactly once; the at most T tokens after it are left out.
package shard

import (
	"errors"
	"fmt"
)

// Format names and versions. The shard files' pipe.format and pipe.version
// and the manifest's format and version must match these exactly.
const (
	FileFormat      = "pipe-shard"
	FileVersion     = 1
	ManifestFormat  = "pipe-shard-manifest"
	ManifestVersion = 1
)

// Splits.
const (
	Train = "train"
	Val   = "val"
)

// Compression of a shard's Arrow buffers.
const (
	None = "none"
	Zstd = "zstd"
	LZ4  = "lz4"
)

// ManifestName is the manifest of a whole directory.
const ManifestName = "manifest.json"

// Errors wrapped by what this package returns; each error also names the
// file and what disagrees.
var (
	// ErrFormat: not a shard file or manifest of this format and version.
	ErrFormat = errors.New("not a valid pipe shard")
	// ErrTruncated: a file shorter than its manifest entry or without its end.
	ErrTruncated = errors.New("shard file cut short")
	// ErrChecksum: a file whose SHA-256 is not the manifest's.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrMismatch: a file that disagrees with the manifest (tokenizer,
	// dtype, documents, tokens, size), or manifests that disagree.
	ErrMismatch = errors.New("shard disagrees with its manifest")
)

// shardName is the file name of shard index of split written by rank of
// world ranks: train-00003.arrow alone, train-r00001-00003.arrow as a rank.
func shardName(split string, rank, world, index int) string {
	if world <= 1 {
		return fmt.Sprintf("%s-%05d.arrow", split, index)
	}
	return fmt.Sprintf("%s-r%05d-%05d.arrow", split, rank, index)
}

// manifestName is the manifest a rank writes: manifest.json alone,
// manifest-r00001.json as one of several.
func manifestName(rank, world int) string {
	if world <= 1 {
		return ManifestName
	}
	return fmt.Sprintf("manifest-r%05d.json", rank)
}

// validCompression reports whether c names a compression ("" is None).
func validCompression(c string) bool {
	switch c {
	case "", None, Zstd, LZ4:
		return true
	}
	return false
}
