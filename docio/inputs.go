package docio

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Inputs turns command-line arguments into the sorted list of input files:
// globs are expanded (directories they match are passed over), paths are
// cleaned, duplicates dropped. No arguments means stdin, []string{"-"}; "-"
// may also be given among files. A glob that matches no file, a missing
// path, or a path that is a directory is an error.
func Inputs(args []string) ([]string, error) {
	if len(args) == 0 {
		return []string{stdio}, nil
	}
	var files []string
	for _, arg := range args {
		if arg == stdio {
			files = append(files, stdio)
			continue
		}
		if !strings.ContainsAny(arg, `*?[\`) {
			fi, err := os.Stat(arg)
			if err != nil {
				return nil, err
			}
			if fi.IsDir() {
				return nil, fmt.Errorf("input %s is a directory", arg)
			}
			files = append(files, filepath.Clean(arg))
			continue
		}
		matches, err := filepath.Glob(arg)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", arg, err)
		}
		n := 0
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.IsDir() {
				files = append(files, filepath.Clean(m))
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("input %q matches no file", arg)
		}
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// Partition returns rank's share of files, which should be sorted (as
// Inputs returns them): a contiguous block, the blocks of ranks 0..world-1
// in order covering files exactly once, their sizes differing by at most
// one. A rank may get no file when there are fewer files than ranks.
//
// For 5 files over 2 ranks: rank 0 gets files[0:2], rank 1 gets files[2:5].
func Partition(files []string, rank, worldSize int) ([]string, error) {
	if worldSize < 1 {
		return nil, fmt.Errorf("world size %d: must be at least 1", worldSize)
	}
	if rank < 0 || rank >= worldSize {
		return nil, fmt.Errorf("rank %d: must be in [0, %d)", rank, worldSize)
	}
	n := len(files)
	lo, hi := rank*n/worldSize, (rank+1)*n/worldSize
	return slices.Clip(files[lo:hi]), nil
}
