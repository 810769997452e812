package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pipe-dev/pipe/tokstream"
)

// Dataset is a shard directory opened through its manifest. It holds no
// open files: loaders map the shards they read.
type Dataset struct {
	Dir      string
	Manifest *Manifest
}

// Open reads dir/manifest.json and checks that every shard it lists is
// there with the size it lists: a shorter file is an error wrapping
// ErrTruncated, another size ErrMismatch. Checksums are Verify's.
func Open(dir string) (*Dataset, error) {
	m, err := ReadManifest(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	d := &Dataset{Dir: dir, Manifest: m}
	for _, s := range m.Shards {
		fi, err := os.Stat(d.Path(s))
		if err != nil {
			return nil, fmt.Errorf("shard listed in %s: %w", filepath.Join(dir, ManifestName), err)
		}
		if err := checkSize(d.Path(s), fi.Size(), s.Bytes); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Meta is the tokenizer and dtype of every shard.
func (d *Dataset) Meta() tokstream.Meta { return d.Manifest.Meta() }

// Path is the path of a shard of the dataset.
func (d *Dataset) Path(s ShardEntry) string { return filepath.Join(d.Dir, s.File) }

func checkSize(path string, size, want int64) error {
	switch {
	case size < want:
		return fmt.Errorf("%s: %w: %d bytes, the manifest says %d", path, ErrTruncated, size, want)
	case size != want:
		return fmt.Errorf("%s: %w: %d bytes, the manifest says %d", path, ErrMismatch, size, want)
	}
	return nil
}

// openShard maps shard s and checks its size and schema metadata against
// the manifest.
func (d *Dataset) openShard(s ShardEntry) (*File, error) {
	path := d.Path(s)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkSize(path, fi.Size(), s.Bytes); err != nil {
		return nil, err
	}
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	if err := checkMeta(path, f.Meta(), d.Meta()); err != nil {
		f.Close()
		return nil, err
	}
	if err := checkSize(path, f.Size(), s.Bytes); err != nil { // changed since the Stat
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkMeta reports how a shard's metadata differs from the manifest's.
func checkMeta(path string, got, want tokstream.Meta) error {
	eot := func(id int) string {
		if id == tokstream.NoEOT {
			return "none"
		}
		return fmt.Sprint(id)
	}
	switch {
	case got.TokenizerSHA256 != want.TokenizerSHA256:
		return fmt.Errorf("%s: %w: tokenizer sha256 %s, the manifest says %s", path, ErrMismatch, got.TokenizerSHA256, want.TokenizerSHA256)
	case got.DType != want.DType:
		return fmt.Errorf("%s: %w: dtype %s, the manifest says %s", path, ErrMismatch, got.DType, want.DType)
	case got.VocabSize != want.VocabSize:
		return fmt.Errorf("%s: %w: vocab size %d, the manifest says %d", path, ErrMismatch, got.VocabSize, want.VocabSize)
	case got.EOT != want.EOT:
		return fmt.Errorf("%s: %w: end-of-text id %s, the manifest says %s", path, ErrMismatch, eot(got.EOT), eot(want.EOT))
	}
	return nil
}

// checkCounts reports how a shard's documents and tokens differ from the
// manifest's.
func checkCounts(path string, docs, tokens int64, s ShardEntry) error {
	if docs != s.Documents || tokens != s.Tokens {
		return fmt.Errorf("%s: %w: %d documents and %d tokens, the manifest says %d and %d",
			path, ErrMismatch, docs, tokens, s.Documents, s.Tokens)
	}
	return nil
}

// Verify checks every shard: its size and SHA-256 against the manifest,
// its schema metadata, every record batch (as File.Batch does), and its
// documents and tokens against the manifest. It returns one error per bad
// shard, joined (errors.Join), each naming the file.
func (d *Dataset) Verify() error {
	var errs []error
	for _, s := range d.Manifest.Shards {
		if err := d.VerifyShard(s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// VerifyShard is Verify for one shard.
func (d *Dataset) VerifyShard(s ShardEntry) error {
	path := d.Path(s)
	data, err := mapFile(path)
	if err != nil {
		return err
	}
	defer unmapFile(data)
	if err := checkSize(path, int64(len(data)), s.Bytes); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != s.SHA256 {
		return fmt.Errorf("%s: %w: sha256 %s, the manifest says %s", path, ErrChecksum, got, s.SHA256)
	}
	f, err := openMapped(path, data)
	if err != nil {
		return err
	}
	defer func() { f.data = nil; f.Close() }() // the map is unmapped above
	if err := checkMeta(path, f.Meta(), d.Meta()); err != nil {
		return err
	}
	var docs, tokens int64
	for i := range f.NumBatches() {
		b, err := f.Batch(i)
		if err != nil {
			return err
		}
		docs += int64(b.Len())
		if b.Len() > 0 {
			tokens += b.Offsets[b.Len()] - b.Offsets[0]
		}
	}
	return checkCounts(path, docs, tokens, s)
}
