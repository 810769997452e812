package gpu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ebitengine/purego"
)

// The CUDA libraries are loaded at run time (purego's dlopen), so that building pipe needs no
// CUDA and the binary runs anywhere; only a run with --device cuda needs them. Each library is
// looked for under its versioned file names in, in order:
//
//	$PIPE_CUDA_LIBS (a list of directories, as PATH)
//	$CUDA_HOME, $CUDA_PATH: lib64/ and lib/
//	$LD_LIBRARY_PATH
//	/usr/local/cuda/lib64, /usr/local/cuda-*/lib64, /usr/lib/x86_64-linux-gnu, /usr/lib64, /usr/lib/wsl/lib
//	the site-packages of python3 (its own, $VIRTUAL_ENV's, $CONDA_PREFIX's, ~/.local's):
//	  nvidia/*/lib, nvidia/cu13/lib, torch/lib (where PyTorch's pip wheels put them)
//	and last the dynamic linker's own search (ld.so.cache), by bare name.

// libSpec is one library: the file names to try, best first.
type libSpec struct {
	what  string   // for messages: "the CUDA driver (libcuda)"
	names []string // file names, newest version first
}

var (
	specDriver = libSpec{"the CUDA driver (libcuda)", []string{"libcuda.so.1", "libcuda.so"}}
	specNVRTC  = libSpec{"NVRTC (libnvrtc)", []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"}}
	specLt     = libSpec{"cuBLASLt (libcublasLt)", []string{"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"}}
	specBLAS   = libSpec{"cuBLAS (libcublas)", []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}}
)

// majorOf is the CUDA major version in a library file name, 0 when it has none.
func majorOf(name string) int {
	i := strings.Index(name, ".so.")
	if i < 0 {
		return 0
	}
	v := name[i+4:]
	if j := strings.IndexByte(v, '.'); j >= 0 {
		v = v[:j]
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// searchDirs lists the directories to look in, in order, without repeats; python3's
// site-packages only with python (asking python3 takes a moment, and the driver is never there).
func searchDirs(python bool) []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(ds ...string) {
		for _, d := range ds {
			if d != "" && !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	add(filepath.SplitList(os.Getenv("PIPE_CUDA_LIBS"))...)
	for _, env := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if h := os.Getenv(env); h != "" {
			add(filepath.Join(h, "lib64"), filepath.Join(h, "lib"))
		}
	}
	add(filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))...)
	add("/usr/local/cuda/lib64")
	cudas, _ := filepath.Glob("/usr/local/cuda-*/lib64")
	sort.Sort(sort.Reverse(sort.StringSlice(cudas))) // newest first
	add(cudas...)
	add("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib")
	if !python {
		return dirs
	}
	for _, sp := range sitePackages() {
		add(filepath.Join(sp, "nvidia", "cu13", "lib"))
		libs, _ := filepath.Glob(filepath.Join(sp, "nvidia", "*", "lib"))
		add(libs...)
		add(filepath.Join(sp, "torch", "lib"))
	}
	return dirs
}

var (
	sitePackagesOnce sync.Once
	sitePackagesList []string
)

// sitePackages are python3's package directories: those a python3 on PATH reports, and the
// usual places of virtual environments, conda and user installs.
func sitePackages() []string {
	sitePackagesOnce.Do(func() {
		var globs []string
		for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
			if p := os.Getenv(env); p != "" {
				globs = append(globs, filepath.Join(p, "lib", "python3*", "site-packages"))
			}
		}
		if home, err := os.UserHomeDir(); err == nil {
			globs = append(globs, filepath.Join(home, ".local", "lib", "python3*", "site-packages"))
		}
		globs = append(globs, "/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
			"/usr/lib/python3/dist-packages", "/opt/conda/lib/python3*/site-packages")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "python3", "-c",
			"import site, sys; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()] + sys.path))").Output()
		if err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				if l = strings.TrimSpace(l); strings.HasSuffix(l, "-packages") {
					sitePackagesList = append(sitePackagesList, l)
				}
			}
		}
		for _, g := range globs {
			m, _ := filepath.Glob(g)
			sitePackagesList = append(sitePackagesList, m...)
		}
	})
	return sitePackagesList
}

// openLib loads the first of spec's names found in dirs (then by bare name through the dynamic
// linker) whose major version is at most maxMajor (0: any). Where none loads, the error lists
// every place it looked and why each candidate failed.
func openLib(spec libSpec, dirs []string, maxMajor int) (uintptr, string, error) {
	var tried []string
	for _, name := range spec.names {
		if maxMajor > 0 && majorOf(name) > maxMajor {
			continue
		}
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err == nil {
				return h, p, nil
			}
			tried = append(tried, fmt.Sprintf("%s: %v", p, err))
		}
	}
	for _, name := range spec.names {
		if maxMajor > 0 && majorOf(name) > maxMajor {
			continue
		}
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, name, nil
		}
	}
	msg := fmt.Sprintf("%s not found: looked for %s", spec.what, strings.Join(spec.names, ", "))
	if maxMajor > 0 {
		msg += fmt.Sprintf(" (CUDA %d or older, as the driver supports)", maxMajor)
	}
	msg += " in $PIPE_CUDA_LIBS, $CUDA_HOME, $CUDA_PATH, $LD_LIBRARY_PATH, /usr/local/cuda*, the system library directories"
	if spec.what != specDriver.what {
		msg += " and python3's site-packages (nvidia/*/lib, nvidia/cu13/lib, torch/lib)"
	}
	msg += ", then through the dynamic linker; directories searched:\n  " + strings.Join(dirs, "\n  ")
	if len(tried) > 0 {
		msg += "\nfound but failed to load:\n  " + strings.Join(tried, "\n  ")
	}
	if runtime.GOOS != "linux" {
		msg += "\n(the CUDA backend is built for Linux)"
	}
	return 0, "", fmt.Errorf("%s", msg)
}
