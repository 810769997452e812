package gpu

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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

// peerNVRTC12 returns the lib directory of CUDA 12's NVRTC in the .peers/venv venv
// (nvidia-cuda-nvrtc-cu12, an older release than PyTorch's): the compiler a GPU machine with a
// CUDA 12 driver and a PyTorch built for CUDA 12 will offer.
func peerNVRTC12(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(peertest.Dir(t), "venv", "lib", "python3*", "site-packages", "nvidia", "cuda_nvrtc", "lib"))
	if len(m) == 0 {
		peertest.Missing(t, "no nvidia/cuda_nvrtc (nvidia-cuda-nvrtc-cu12) in the .peers/venv venv")
	}
	return m[0]
}

// TestKernelsCompile compiles every kernel file for sm_80 (A100) and sm_90 (H100/H200) with
// NVRTC 13 (PyTorch's) and with an NVRTC 12: the check CI makes without a GPU, so that a kernel
// that does not compile with either fails. ptxas reports each kernel's resources: none may spill
// registers to local memory, and the registers and shared memory of each are logged (they bound
// how many blocks an SM runs).
func TestKernelsCompile(t *testing.T) {
	saved := compileOptions
	compileOptions = append(append([]string(nil), saved...), "-Xptxas=-v")
	defer func() { compileOptions = saved }()
	for _, c := range []struct {
		name, dir string
	}{{"cuda13", filepath.Join(peerCUDA(t), "lib")}, {"cuda12", peerNVRTC12(t)}} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PIPE_CUDA_LIBS", c.dir)
			nv, err := LoadNVRTC(0)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(nv.Path, c.dir) {
				t.Fatalf("loaded %s, not the peer's NVRTC in %s", nv.Path, c.dir)
			}
			t.Logf("NVRTC %s from %s", nv.Version(), nv.Path)
			compileAll(t, nv)
		})
	}
}

// compileAll compiles every kernel file with nv for sm_80 and sm_90 and checks ptxas's report.
func compileAll(t *testing.T, nv *NVRTC) {
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
			res, warnings := ptxasReport(log)
			if warnings != "" {
				t.Errorf("%s for %s: warnings:\n%s", f.Name, arch, warnings)
			}
			for _, k := range f.Kernels {
				r, ok := res[k]
				switch {
				case !ok || r.registers == 0:
					t.Errorf("%s for %s: ptxas reported nothing of %s", f.Name, arch, k)
				case r.spills != 0:
					t.Errorf("%s for %s: %s spills %d bytes of registers", f.Name, arch, k, r.spills)
				case arch == "sm_90":
					t.Logf("%-36s %3d registers %6d bytes shared", k, r.registers, r.smem)
				}
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

// kernelResources is what ptxas -v says of one kernel.
type kernelResources struct {
	registers, smem, spills int
}

var (
	ptxasEntry = regexp.MustCompile(`Compiling entry function '(\w+)'`)
	ptxasSpill = regexp.MustCompile(`(\d+) bytes spill stores`)
	ptxasUsed  = regexp.MustCompile(`Used (\d+) registers(?:.*?(\d+) bytes smem)?`)
)

// ptxasReport reads NVRTC's log of a compile with -Xptxas=-v: each kernel's resources, and the
// lines that are not ptxas's report (warnings).
func ptxasReport(log string) (map[string]kernelResources, string) {
	res := map[string]kernelResources{}
	var other []string
	kernel := ""
	for _, line := range strings.Split(log, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "ptxas") {
			if strings.TrimSpace(line) != "" {
				other = append(other, line)
			}
			continue
		}
		if m := ptxasEntry.FindStringSubmatch(line); m != nil {
			kernel = m[1]
			res[kernel] = kernelResources{}
		}
		r := res[kernel]
		if m := ptxasSpill.FindStringSubmatch(line); m != nil {
			r.spills, _ = strconv.Atoi(m[1])
		}
		if m := ptxasUsed.FindStringSubmatch(line); m != nil {
			r.registers, _ = strconv.Atoi(m[1])
			r.smem, _ = strconv.Atoi(m[2])
		}
		if kernel != "" {
			res[kernel] = r
		}
	}
	return res, strings.Join(other, "\n")
}
