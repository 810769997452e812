package gpu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"
)

// NVRTC compiles the kernels (CUDA C, kernels/*.cu) to a CUBIN for one GPU architecture at run
// time. It needs no GPU: the tests compile every kernel for sm_80 and sm_90 on machines without one.

type nvrtcResult int32

const nvrtcSuccess = 0 // NVRTC_SUCCESS

type nvrtcAPI struct {
	nvrtcVersion           func(major, minor *int32) nvrtcResult
	nvrtcGetErrorString    func(r nvrtcResult) *byte
	nvrtcCreateProgram     func(prog *uintptr, src, name string, numHeaders int32, headers, includeNames unsafe.Pointer) nvrtcResult
	nvrtcDestroyProgram    func(prog *uintptr) nvrtcResult
	nvrtcCompileProgram    func(prog uintptr, numOptions int32, options unsafe.Pointer) nvrtcResult
	nvrtcGetProgramLogSize func(prog uintptr, size *uint64) nvrtcResult
	nvrtcGetProgramLog     func(prog uintptr, log *byte) nvrtcResult
	nvrtcGetCUBINSize      func(prog uintptr, size *uint64) nvrtcResult
	nvrtcGetCUBIN          func(prog uintptr, cubin *byte) nvrtcResult
	nvrtcGetPTXSize        func(prog uintptr, size *uint64) nvrtcResult
	nvrtcGetPTX            func(prog uintptr, ptx *byte) nvrtcResult
}

func (n *nvrtcAPI) bindings() []binding {
	return []binding{
		b("nvrtcVersion", "", &n.nvrtcVersion),
		b("nvrtcGetErrorString", "", &n.nvrtcGetErrorString),
		b("nvrtcCreateProgram", "", &n.nvrtcCreateProgram),
		b("nvrtcDestroyProgram", "", &n.nvrtcDestroyProgram),
		b("nvrtcCompileProgram", "", &n.nvrtcCompileProgram),
		b("nvrtcGetProgramLogSize", "", &n.nvrtcGetProgramLogSize),
		b("nvrtcGetProgramLog", "", &n.nvrtcGetProgramLog),
		b("nvrtcGetCUBINSize", "", &n.nvrtcGetCUBINSize),
		b("nvrtcGetCUBIN", "", &n.nvrtcGetCUBIN),
		b("nvrtcGetPTXSize", "", &n.nvrtcGetPTXSize),
		b("nvrtcGetPTX", "", &n.nvrtcGetPTX),
	}
}

// NVRTC is a loaded NVRTC library.
type NVRTC struct {
	api          nvrtcAPI
	Path         string // the file loaded
	Major, Minor int    // its version
}

// LoadNVRTC finds and loads libnvrtc (see searchDirs), of CUDA maxMajor or older (0: any).
func LoadNVRTC(maxMajor int) (*NVRTC, error) {
	dirs := searchDirs(true)
	h, path, err := openLib(specNVRTC, dirs, maxMajor)
	if err != nil {
		return nil, err
	}
	n := &NVRTC{Path: path}
	if err := bindAll(h, path, n.api.bindings()); err != nil {
		return nil, err
	}
	var major, minor int32
	if err := n.check("nvrtcVersion", n.api.nvrtcVersion(&major, &minor)); err != nil {
		return nil, err
	}
	n.Major, n.Minor = int(major), int(minor)
	return n, nil
}

func (n *NVRTC) check(what string, r nvrtcResult) error {
	if r == nvrtcSuccess {
		return nil
	}
	return fmt.Errorf("%s: NVRTC error %d: %s", what, int32(r), cString(n.api.nvrtcGetErrorString(r)))
}

// Version is NVRTC's version, as "13.2".
func (n *NVRTC) Version() string { return fmt.Sprintf("%d.%d", n.Major, n.Minor) }

// compileOptions are the options every kernel is compiled with, besides the architecture.
var compileOptions = []string{"--std=c++17", "-default-device"}

// Compile compiles src (named name in messages) for arch ("sm_90") and returns the CUBIN and
// the compiler's log (warnings). A failure's error holds the log.
func (n *NVRTC) Compile(name, src, arch string) ([]byte, string, error) {
	var prog uintptr
	if err := n.check("nvrtcCreateProgram "+name, n.api.nvrtcCreateProgram(&prog, src, name, 0, nil, nil)); err != nil {
		return nil, "", err
	}
	defer n.api.nvrtcDestroyProgram(&prog)
	opts := append([]string{"--gpu-architecture=" + arch}, compileOptions...)
	ptrs, bufs := cStrings(opts)
	r := n.api.nvrtcCompileProgram(prog, int32(len(ptrs)), unsafe.Pointer(&ptrs[0]))
	runtime.KeepAlive(bufs)
	runtime.KeepAlive(ptrs)
	log := n.programLog(prog)
	if r != nvrtcSuccess {
		return nil, log, fmt.Errorf("compile %s for %s: %w\n%s", name, arch, n.check("nvrtcCompileProgram", r), log)
	}
	var size uint64
	if err := n.check("nvrtcGetCUBINSize "+name, n.api.nvrtcGetCUBINSize(prog, &size)); err != nil {
		return nil, log, err
	}
	if size == 0 {
		return nil, log, fmt.Errorf("compile %s for %s: NVRTC made an empty CUBIN", name, arch)
	}
	cubin := make([]byte, size)
	if err := n.check("nvrtcGetCUBIN "+name, n.api.nvrtcGetCUBIN(prog, &cubin[0])); err != nil {
		return nil, log, err
	}
	return cubin, log, nil
}

func (n *NVRTC) programLog(prog uintptr) string {
	var size uint64
	if n.api.nvrtcGetProgramLogSize(prog, &size) != nvrtcSuccess || size <= 1 {
		return ""
	}
	buf := make([]byte, size)
	if n.api.nvrtcGetProgramLog(prog, &buf[0]) != nvrtcSuccess {
		return ""
	}
	return cString(&buf[0])
}

// CompileCached is Compile with an on-disk cache keyed by the hash of NVRTC's version, the
// architecture, the options and the source, in $PIPE_CUDA_CACHE or the user's cache directory
// (pipe/cuda). A cache that cannot be written is skipped.
func (n *NVRTC) CompileCached(name, src, arch string) ([]byte, error) {
	h := sha256.New()
	fmt.Fprintf(h, "nvrtc %s\narch %s\noptions %q\n", n.Version(), arch, compileOptions)
	h.Write([]byte(src))
	key := hex.EncodeToString(h.Sum(nil))[:32]
	dir := os.Getenv("PIPE_CUDA_CACHE")
	if dir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(d, "pipe", "cuda")
		}
	}
	path := ""
	if dir != "" {
		path = filepath.Join(dir, fmt.Sprintf("%s-%s-%s.cubin", trimExt(name), arch, key))
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	cubin, _, err := n.Compile(name, src, arch)
	if err != nil {
		return nil, err
	}
	if path != "" && os.MkdirAll(dir, 0o755) == nil {
		if f, err := os.CreateTemp(dir, ".tmp-*"); err == nil {
			_, werr := f.Write(cubin)
			cerr := f.Close()
			if werr != nil || cerr != nil || os.Rename(f.Name(), path) != nil {
				os.Remove(f.Name())
			}
		}
	}
	return cubin, nil
}

func trimExt(name string) string { return name[:len(name)-len(filepath.Ext(name))] }
