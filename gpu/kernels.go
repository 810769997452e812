package gpu

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed kernels/*.cu kernels/prelude.cuh
var kernelFS embed.FS

// KernelFile is one kernels/*.cu file, with the prelude in front, as NVRTC compiles it.
type KernelFile struct {
	Name    string   // "layernorm.cu"
	Source  string   // prelude + file
	Kernels []string // the extern "C" __global__ functions it defines
}

// KernelFiles lists the embedded kernel files in name order.
func KernelFiles() ([]KernelFile, error) {
	prelude, err := kernelFS.ReadFile("kernels/prelude.cuh")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(kernelFS, "kernels/*.cu")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var files []KernelFile
	for _, n := range names {
		src, err := kernelFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		files = append(files, KernelFile{Name: path.Base(n), Source: string(prelude) + "\n#line 1 \"" + path.Base(n) + "\"\n" + string(src),
			Kernels: kernelNames(string(src))})
	}
	return files, nil
}

// kernelNames finds the names of the `extern "C" __global__ void NAME(` definitions in src.
func kernelNames(src string) []string {
	const marker = `extern "C" __global__ void `
	var names []string
	for {
		i := strings.Index(src, marker)
		if i < 0 {
			return names
		}
		src = src[i+len(marker):]
		if j := strings.IndexByte(src, '('); j > 0 {
			names = append(names, strings.TrimSpace(src[:j]))
		}
	}
}

// loadKernels compiles (or takes from the cache) every kernel file for the device's
// architecture, loads it as a module, and looks up its functions by name.
func (g *cudaDevice) loadKernels() error {
	files, err := KernelFiles()
	if err != nil {
		return err
	}
	g.fns = map[string]uintptr{}
	for _, f := range files {
		cubin, err := g.nvrtc.CompileCached(f.Name, f.Source, g.Arch)
		if err != nil {
			return err
		}
		var mod uintptr
		if err := g.d.check("cuModuleLoadData "+f.Name, g.d.cuModuleLoadData(&mod, ptrOf(cubin))); err != nil {
			return err
		}
		for _, k := range f.Kernels {
			var fn uintptr
			if err := g.d.check(fmt.Sprintf("cuModuleGetFunction %s (%s)", k, f.Name), g.d.cuModuleGetFunction(&fn, mod, k)); err != nil {
				return err
			}
			g.fns[k] = fn
		}
	}
	return nil
}
