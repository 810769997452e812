package gpu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/internal/peertest"
)

// peerCUDA returns the site-packages nvidia/cu13 directory of the .peers/torch venv: the CUDA
// wheels that scripts/peers.sh installs for PyTorch carry NVRTC and the CUDA and cuBLAS headers.
// Without it the test ends as a missing peer.
func peerCUDA(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(peertest.Dir(t), "torch", "lib", "python3*", "site-packages", "nvidia", "cu1*"))
	if len(m) == 0 {
		peertest.Missing(t, "no nvidia/cu1* in the .peers/torch venv")
	}
	return m[len(m)-1]
}

// TestKernelsCompile compiles every kernel file with NVRTC for sm_80 (A100) and sm_90
// (H100/H200): the check CI makes without a GPU, so that a kernel that does not compile fails.
func TestKernelsCompile(t *testing.T) {
	dir := peerCUDA(t)
	t.Setenv("PIPE_CUDA_LIBS", filepath.Join(dir, "lib"))
	nv, err := LoadNVRTC(0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(nv.Path, dir) {
		t.Fatalf("loaded %s, not the peer's NVRTC under %s", nv.Path, dir)
	}
	t.Logf("NVRTC %s from %s", nv.Version(), nv.Path)
	files, err := KernelFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 7 {
		t.Fatalf("%d kernel files", len(files))
	}
	for _, f := range files {
		if len(f.Kernels) == 0 {
			t.Errorf("%s defines no kernel", f.Name)
		}
		for _, arch := range []string{"sm_80", "sm_90"} {
			cubin, log, err := nv.Compile(f.Name, f.Source, arch)
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			if strings.TrimSpace(log) != "" {
				t.Errorf("%s for %s: warnings:\n%s", f.Name, arch, log)
			}
			if string(cubin[:4]) != "\x7fELF" {
				t.Errorf("%s for %s: the CUBIN is not an ELF file", f.Name, arch)
			}
			for _, k := range f.Kernels {
				if !strings.Contains(string(cubin), k) {
					t.Errorf("%s for %s: the CUBIN has no symbol %s", f.Name, arch, k)
				}
			}
		}
	}
}

// TestKernelsCompileError checks that a kernel that does not compile is an error holding
// NVRTC's log, naming the file.
func TestKernelsCompileError(t *testing.T) {
	dir := peerCUDA(t)
	t.Setenv("PIPE_CUDA_LIBS", filepath.Join(dir, "lib"))
	nv, err := LoadNVRTC(0)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = nv.Compile("broken.cu", `extern "C" __global__ void k(float* x) { x[0] = undefined_name; }`, "sm_90")
	if err == nil || !strings.Contains(err.Error(), "broken.cu") || !strings.Contains(err.Error(), "undefined_name") {
		t.Fatalf("error %v: want one naming broken.cu and undefined_name", err)
	}
}

// TestCompileCache checks that a second compile comes from the cache directory, keyed by the
// source: a changed source compiles anew.
func TestCompileCache(t *testing.T) {
	dir := peerCUDA(t)
	t.Setenv("PIPE_CUDA_LIBS", filepath.Join(dir, "lib"))
	cache := t.TempDir()
	t.Setenv("PIPE_CUDA_CACHE", cache)
	nv, err := LoadNVRTC(0)
	if err != nil {
		t.Fatal(err)
	}
	src := `extern "C" __global__ void k(float* x) { x[threadIdx.x] *= 2.0f; }`
	a, err := nv.CompileCached("k.cu", src, "sm_90")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "k-sm_90-*.cubin"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v", files)
	}
	// a cached file is what a second call returns: mark it and see the mark come back
	marked := append(append([]byte{}, a...), "mark"...)
	if err := os.WriteFile(files[0], marked, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := nv.CompileCached("k.cu", src, "sm_90")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(marked) {
		t.Fatal("second compile did not come from the cache")
	}
	if _, err := nv.CompileCached("k.cu", src+"\n", "sm_90"); err != nil {
		t.Fatal(err)
	}
	if files, _ = filepath.Glob(filepath.Join(cache, "k-sm_90-*.cubin")); len(files) != 2 {
		t.Fatalf("a changed source should add a second cache entry: %v", files)
	}
}

// TestMissingLibraryMessage checks that a library that is nowhere to be found is an error
// listing where it was looked for, python3's site-packages among them.
func TestMissingLibraryMessage(t *testing.T) {
	t.Setenv("PIPE_CUDA_LIBS", t.TempDir())
	_, _, err := openLib(libSpec{"a test library (libnothere)", []string{"libnothere.so.99"}}, searchDirs(true), 0)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"libnothere.so.99", "$CUDA_HOME", "$LD_LIBRARY_PATH", "site-packages", "/usr/local/cuda/lib64"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
}
