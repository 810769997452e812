package gpu

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// device is what the backend asks of a GPU: memory, kernel launches and matrix products, all
// in order on the default stream. cudaDevice is the real one; the tests also run the backend
// on a dry one that checks every call without a GPU (TestDryRun).
type device interface {
	alloc(kind argKind, n int) (uintptr, error) // n elements of kind (a pointer kind), zeroed
	free(p uintptr)
	htod(dst uintptr, src unsafe.Pointer, bytes int) error
	dtoh(dst unsafe.Pointer, src uintptr, bytes int) error
	memset32(dst uintptr, v uint32, n int) error
	launch(s *kernelSig, grid, block [3]uint32, args []any) error
	gemm(a gemmArgs) error
	bind() // make the device current on this OS thread (locked by the caller)
	sync() error
}

// ErrNoDevice is returned by New when there is no CUDA driver or no device.
var ErrNoDevice = errors.New("no CUDA device")

// cudaDevice is one GPU through the driver API, NVRTC, cuBLASLt and cuBLAS.
type cudaDevice struct {
	d     driverAPI
	lt    ltAPI
	blas  blasAPI
	nvrtc *NVRTC

	dev            int32
	ctx            uintptr
	Arch           string // "sm_90"
	Name           string
	SMs            int
	DriverVersion  int // 12040 for 12.4
	TotalMem       uint64
	Libs           []string // the libraries loaded
	ltHandle       uintptr
	blasHandle     uintptr
	workspace      uintptr
	workspaceBytes int
	plans          map[planKey]*plan
	fns            map[string]uintptr
}

// openCUDA loads the driver and finds device 0; ErrNoDevice (wrapped) when there is none.
func openCUDA() (*cudaDevice, error) {
	dirs := searchDirs(false)
	h, path, err := openLib(specDriver, dirs, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDevice, err)
	}
	c := &cudaDevice{Libs: []string{path}}
	if err := bindAll(h, path, c.d.bindings()); err != nil {
		return nil, err
	}
	if r := c.d.cuInit(0); r != cuSuccess {
		return nil, fmt.Errorf("%w: %v", ErrNoDevice, c.d.check("cuInit", r))
	}
	var v, n int32
	if err := c.d.check("cuDriverGetVersion", c.d.cuDriverGetVersion(&v)); err != nil {
		return nil, err
	}
	c.DriverVersion = int(v)
	if err := c.d.check("cuDeviceGetCount", c.d.cuDeviceGetCount(&n)); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: the driver (%s) sees none", ErrNoDevice, path)
	}
	if err := c.d.check("cuDeviceGet", c.d.cuDeviceGet(&c.dev, 0)); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := c.d.check("cuDeviceGetName", c.d.cuDeviceGetName(&name[0], int32(len(name)), c.dev)); err != nil {
		return nil, err
	}
	c.Name = cString(&name[0])
	var major, minor, sms int32
	for _, q := range []struct {
		attr int32
		v    *int32
	}{{cuDevAttrCCMajor, &major}, {cuDevAttrCCMinor, &minor}, {cuDevAttrMultiprocessorCount, &sms}} {
		if err := c.d.check("cuDeviceGetAttribute", c.d.cuDeviceGetAttribute(q.v, q.attr, c.dev)); err != nil {
			return nil, err
		}
	}
	c.Arch, c.SMs = fmt.Sprintf("sm_%d%d", major, minor), int(sms)
	if err := c.d.check("cuDeviceTotalMem", c.d.cuDeviceTotalMem(&c.TotalMem, c.dev)); err != nil {
		return nil, err
	}
	return c, nil
}

// init makes the context, loads NVRTC and the BLAS libraries, and compiles the kernels.
func (c *cudaDevice) init() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := c.d.check("cuDevicePrimaryCtxRetain", c.d.cuDevicePrimaryCtxRetain(&c.ctx, c.dev)); err != nil {
		return err
	}
	c.bind()
	driverMajor := c.DriverVersion / 1000
	nv, err := LoadNVRTC(driverMajor)
	if err != nil {
		return err
	}
	c.nvrtc = nv
	c.Libs = append(c.Libs, nv.Path)
	dirs := searchDirs(true)
	h, path, err := openLib(specLt, dirs, driverMajor)
	if err != nil {
		return err
	}
	if err := bindAll(h, path, c.lt.bindings()); err != nil {
		return err
	}
	c.Libs = append(c.Libs, path)
	// cuBLAS of the same CUDA version as cuBLASLt, which it is built on
	spec := specBLAS
	if m := majorOf(path); m > 0 {
		spec.names = []string{fmt.Sprintf("libcublas.so.%d", m)}
	}
	h, path, err = openLib(spec, append([]string{dirOf(path)}, dirs...), driverMajor)
	if err != nil {
		return err
	}
	if err := bindAll(h, path, c.blas.bindings()); err != nil {
		return err
	}
	c.Libs = append(c.Libs, path)
	if err := blasCheck("cublasLtCreate", c.lt.cublasLtCreate(&c.ltHandle)); err != nil {
		return err
	}
	if err := blasCheck("cublasCreate", c.blas.cublasCreate(&c.blasHandle)); err != nil {
		return err
	}
	c.workspaceBytes = 32 << 20 // cuBLASLt's advice for Hopper
	if c.workspace, err = c.alloc(kF32P, c.workspaceBytes/4); err != nil {
		return err
	}
	c.plans = map[planKey]*plan{}
	return c.loadKernels()
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i]
		}
	}
	return "."
}

func (c *cudaDevice) bind() { c.d.cuCtxSetCurrent(c.ctx) }

func (c *cudaDevice) alloc(kind argKind, n int) (uintptr, error) {
	bytes := uint64(max(n, 1)) * elemSize(kind)
	bytes = (bytes + 255) &^ 255
	var p uint64
	if err := c.d.check(fmt.Sprintf("cuMemAlloc %d bytes", bytes), c.d.cuMemAlloc(&p, bytes)); err != nil {
		var free, total uint64
		if c.d.cuMemGetInfo(&free, &total) == cuSuccess {
			err = fmt.Errorf("%w (%d MiB free of %d MiB)", err, free>>20, total>>20)
		}
		return 0, err
	}
	if err := c.d.check("cuMemsetD32", c.d.cuMemsetD32(p, 0, bytes/4)); err != nil {
		return 0, err
	}
	return uintptr(p), nil
}

func (c *cudaDevice) free(p uintptr) { c.d.cuMemFree(uint64(p)) }

func (c *cudaDevice) htod(dst uintptr, src unsafe.Pointer, bytes int) error {
	if bytes == 0 {
		return nil
	}
	return c.d.check("cuMemcpyHtoD", c.d.cuMemcpyHtoD(uint64(dst), src, uint64(bytes)))
}

func (c *cudaDevice) dtoh(dst unsafe.Pointer, src uintptr, bytes int) error {
	if bytes == 0 {
		return nil
	}
	return c.d.check("cuMemcpyDtoH", c.d.cuMemcpyDtoH(dst, uint64(src), uint64(bytes)))
}

func (c *cudaDevice) memset32(dst uintptr, v uint32, n int) error {
	if n == 0 {
		return nil
	}
	return c.d.check("cuMemsetD32", c.d.cuMemsetD32(uint64(dst), v, uint64(n)))
}

func (c *cudaDevice) sync() error { return c.d.check("cuCtxSynchronize", c.d.cuCtxSynchronize()) }

// launch passes each argument as cuLaunchKernel wants it: an array of pointers to the values.
func (c *cudaDevice) launch(s *kernelSig, grid, block [3]uint32, args []any) error {
	fn, ok := c.fns[s.name]
	if !ok {
		return fmt.Errorf("kernel %s: not loaded", s.name)
	}
	vals, ptrs := packArgs(args)
	r := c.d.cuLaunchKernel(fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], 0, 0, unsafe.Pointer(&ptrs[0]), nil)
	runtime.KeepAlive(vals)
	runtime.KeepAlive(ptrs)
	return c.d.check(fmt.Sprintf("cuLaunchKernel %s grid %v block %v", s.name, grid, block), r)
}

// packArgs lays out kernel arguments as cuLaunchKernel takes them: vals holds each value in 8
// bytes (4-byte ones in the low half), ptrs[i] points at vals[i]. Both are on the Go heap, which
// does not move; the caller keeps them alive over the launch.
func packArgs(args []any) (vals []uint64, ptrs []uintptr) {
	vals = make([]uint64, len(args)+1)
	ptrs = make([]uintptr, len(args)+1)
	for i, a := range args {
		switch v := a.(type) {
		case f32p:
			vals[i] = uint64(v)
		case bf16p:
			vals[i] = uint64(v)
		case i32p:
			vals[i] = uint64(v)
		case f64p:
			vals[i] = uint64(v)
		case int32:
			vals[i] = uint64(uint32(v))
		case int64:
			vals[i] = uint64(v)
		case float32:
			vals[i] = uint64(*(*uint32)(unsafe.Pointer(&v)))
		}
		ptrs[i] = uintptr(unsafe.Pointer(&vals[i]))
	}
	return vals, ptrs
}

func elemSize(k argKind) uint64 {
	switch k {
	case kBF16P:
		return 2
	case kF64P:
		return 8
	}
	return 4
}

// ptrOf is the address of a byte slice's first element, for the driver.
func ptrOf(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
