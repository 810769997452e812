package shard

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/tokstream"
)

// benchDir holds the loader benchmark's shards, written once per process.
var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchBatch is a batch of random uint16 documents of 1 to 2,000 tokens,
// about n tokens in all.
func benchBatch(n int) tokstream.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	b := tokstream.Batch{Offsets: []int64{0}, U16: make([]uint16, 0, n)}
	for len(b.U16) < n {
		k := 1 + rng.IntN(2000)
		for range k {
			b.U16 = append(b.U16, uint16(rng.IntN(50257)))
		}
		b.IDs = append(b.IDs, fmt.Sprintf("doc-%d", len(b.IDs)))
		b.Offsets = append(b.Offsets, int64(len(b.U16)))
	}
	return b
}

// benchData writes 4 shards of 8M tokens (64 MiB of uint16) for the loader.
func benchData(b *testing.B) string {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "shard-bench-")
		if benchErr != nil {
			return
		}
		w, err := Create(benchDir, meta16, Options{ShardTokens: 8 << 20})
		if err != nil {
			benchErr = err
			return
		}
		batch := benchBatch(4 << 20)
		for range 8 {
			if benchErr = w.WriteBatch(batch); benchErr != nil {
				return
			}
		}
		_, benchErr = w.Close()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

// BenchmarkLoader serves batches of 8 windows of 1024+1 tokens, in a seeded
// permutation (shuffled) or in order (sequential), from uint16 shards in the page cache (one warm-up epoch first),
// then times plain copies of as many bytes from the same maps: copy a
// window's bytes at a time from the places the loader's order gives (its
// access pattern), seqcopy a batch's bytes at a time in file order. Rates
// are in GB of stored token bytes (2 per token) per second of wall time
// (loader_GB/s, and MB/s) or of the process's CPU time (…/cpu-s, which hold
// on a machine that others share; run with -cpu 1); loader/copy and
// loader/seqcopy are ratios of CPU-time rates.
func BenchmarkLoader(b *testing.B) {
	b.Run("shuffled", func(b *testing.B) { benchLoader(b, false) })
	b.Run("sequential", func(b *testing.B) { benchLoader(b, true) })
}

func benchLoader(b *testing.B, sequential bool) {
	ds, err := Open(benchData(b))
	if err != nil {
		b.Fatal(err)
	}
	const B, T = 8, 1024
	l, err := NewLoader(ds, Train, LoaderConfig{Batch: B, Context: T, Seed: 1, Sequential: sequential})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	dst := make([]uint32, B*(T+1))
	for range l.Windows() / B { // check every batch and fault in every page
		if err := l.Next(dst); err != nil {
			b.Fatal(err)
		}
	}
	bytesPerBatch := int64(2 * B * (T + 1))
	b.SetBytes(bytesPerBatch)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuSeconds()
	for range b.N {
		if err := l.Next(dst); err != nil {
			b.Fatal(err)
		}
	}
	loaderSecs, loaderCPU := time.Since(start).Seconds(), cpuSeconds()-cpu
	b.StopTimer()

	// The baselines: copy as many bytes out of the same maps, a window's
	// stored bytes at a time from where the same permutation puts a window
	// (the loader's access pattern), and a batch's worth at a time in order.
	var starts []int // of each file in the maps laid end to end
	size := 0
	for _, f := range l.files {
		starts = append(starts, size)
		size += len(f.data)
	}
	winBytes := 2 * (T + 1)
	buf := make([]byte, bytesPerBatch)
	perm := l.perm
	cpu = cpuSeconds()
	for i := range b.N {
		for k := range B {
			at := int(perm.at(uint64(i*B+k)%uint64(l.windows))) * 2 * T % (size - winBytes)
			f := len(starts) - 1
			for starts[f] > at {
				f--
			}
			data := l.files[f].data[min(at-starts[f], len(l.files[f].data)-winBytes):]
			copy(buf[k*winBytes:(k+1)*winBytes], data)
		}
	}
	copyCPU := cpuSeconds() - cpu
	file, off := 0, 0
	cpu = cpuSeconds()
	for range b.N {
		data := l.files[file].data
		if off+len(buf) > len(data) {
			file, off = (file+1)%len(l.files), 0
			data = l.files[file].data
		}
		copy(buf, data[off:])
		off += len(buf)
	}
	seqCPU := cpuSeconds() - cpu

	total := float64(b.N) * float64(bytesPerBatch)
	b.ReportMetric(total/2/loaderCPU/1e6, "Mtok/cpu-s")
	b.ReportMetric(total/loaderSecs/1e9, "loader_GB/s")
	b.ReportMetric(total/loaderCPU/1e9, "loader_GB/cpu-s")
	b.ReportMetric(total/copyCPU/1e9, "copy_GB/cpu-s")
	b.ReportMetric(total/seqCPU/1e9, "seqcopy_GB/cpu-s")
	b.ReportMetric(copyCPU/loaderCPU, "loader/copy")
	b.ReportMetric(seqCPU/loaderCPU, "loader/seqcopy")
}

// BenchmarkWriter writes uncompressed uint16 shards of 16M tokens from
// batches of 4M tokens (as pipe shard does from a token stream), files
// synced and renamed; MB/s counts the 2 bytes of each token, per second of
// wall time, and MB/cpu-s per second of the process's CPU time (which holds
// on a machine that others share, when run with -cpu 1).
func BenchmarkWriter(b *testing.B) {
	batch := benchBatch(4 << 20)
	b.Run("batch", func(b *testing.B) {
		w, err := Create(b.TempDir(), meta16, Options{ShardTokens: 16 << 20})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(2 * len(batch.U16)))
		b.ReportAllocs()
		cpu := cpuSeconds()
		for range b.N {
			if err := w.WriteBatch(batch); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)*float64(2*len(batch.U16))/(cpuSeconds()-cpu)/1e6, "MB/cpu-s")
	})
	b.Run("doc", func(b *testing.B) {
		docs := make([][]uint32, batch.Len())
		for i := range docs {
			for _, t := range batch.U16[batch.Offsets[i]:batch.Offsets[i+1]] {
				docs[i] = append(docs[i], uint32(t))
			}
		}
		w, err := Create(b.TempDir(), meta16, Options{ShardTokens: 16 << 20})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(2 * len(batch.U16)))
		b.ReportAllocs()
		cpu := cpuSeconds()
		for range b.N {
			for i, d := range docs {
				if err := w.Write(batch.IDs[i], d); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)*float64(2*len(batch.U16))/(cpuSeconds()-cpu)/1e6, "MB/cpu-s")
	})
}
