//go:build !unix

package shard

import "os"

// mapFile reads the file at path into memory where memory maps are not
// available.
func mapFile(path string) ([]byte, error) { return os.ReadFile(path) }

// unmapFile releases what mapFile returned.
func unmapFile(data []byte) error { return nil }
