package gpu

import (
	"fmt"
	"unsafe"
)

// The CUDA driver API subset the backend uses: device queries, the primary context, memory,
// modules and kernel launches, streams and events. Types follow cuda.h: CUresult, CUdevice and
// enums are int32, CUdeviceptr is uint64, handles (CUcontext, CUmodule, CUfunction, CUstream,
// CUevent) are pointers, size_t is uint64.

type cuResult int32

// Values from cuda.h, checked by TestConstants.
const (
	cuSuccess                    = 0
	cuDevAttrMultiprocessorCount = 16 // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
	cuDevAttrCCMajor             = 75 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	cuDevAttrCCMinor             = 76 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
	cuDevAttrMaxSharedOptin      = 97 // CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
	cuFuncAttrMaxDynamicShared   = 8  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
	cuErrorNoDevice              = 100
)

type driverAPI struct {
	cuInit                    func(flags uint32) cuResult
	cuDriverGetVersion        func(version *int32) cuResult
	cuGetErrorString          func(err cuResult, str **byte) cuResult
	cuDeviceGetCount          func(count *int32) cuResult
	cuDeviceGet               func(dev *int32, ordinal int32) cuResult
	cuDeviceGetName           func(name *byte, n int32, dev int32) cuResult
	cuDeviceGetAttribute      func(v *int32, attr int32, dev int32) cuResult
	cuDeviceTotalMem          func(bytes *uint64, dev int32) cuResult
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) cuResult
	cuDevicePrimaryCtxRelease func(dev int32) cuResult
	cuCtxSetCurrent           func(ctx uintptr) cuResult
	cuCtxSynchronize          func() cuResult
	cuMemGetInfo              func(free, total *uint64) cuResult
	cuMemAlloc                func(dptr *uint64, bytes uint64) cuResult
	cuMemFree                 func(dptr uint64) cuResult
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, bytes uint64) cuResult
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, bytes uint64) cuResult
	cuMemcpyDtoD              func(dst, src uint64, bytes uint64) cuResult
	cuMemsetD32               func(dst uint64, v uint32, n uint64) cuResult
	cuModuleLoadData          func(mod *uintptr, image unsafe.Pointer) cuResult
	cuModuleUnload            func(mod uintptr) cuResult
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name string) cuResult
	cuFuncSetAttribute        func(fn uintptr, attr int32, v int32) cuResult
	cuLaunchKernel            func(fn uintptr, gx, gy, gz, bx, by, bz, sharedBytes uint32, stream uintptr, params, extra unsafe.Pointer) cuResult
	cuStreamCreate            func(stream *uintptr, flags uint32) cuResult
	cuStreamSynchronize       func(stream uintptr) cuResult
	cuStreamDestroy           func(stream uintptr) cuResult
	cuEventCreate             func(ev *uintptr, flags uint32) cuResult
	cuEventRecord             func(ev, stream uintptr) cuResult
	cuEventSynchronize        func(ev uintptr) cuResult
	cuEventDestroy            func(ev uintptr) cuResult
}

func (d *driverAPI) bindings() []binding {
	return []binding{
		b("cuInit", "", &d.cuInit),
		b("cuDriverGetVersion", "", &d.cuDriverGetVersion),
		b("cuGetErrorString", "", &d.cuGetErrorString),
		b("cuDeviceGetCount", "", &d.cuDeviceGetCount),
		b("cuDeviceGet", "", &d.cuDeviceGet),
		b("cuDeviceGetName", "", &d.cuDeviceGetName),
		b("cuDeviceGetAttribute", "", &d.cuDeviceGetAttribute),
		b("cuDeviceTotalMem", "cuDeviceTotalMem_v2", &d.cuDeviceTotalMem),
		b("cuDevicePrimaryCtxRetain", "", &d.cuDevicePrimaryCtxRetain),
		b("cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxRelease_v2", &d.cuDevicePrimaryCtxRelease),
		b("cuCtxSetCurrent", "", &d.cuCtxSetCurrent),
		b("cuCtxSynchronize", "", &d.cuCtxSynchronize),
		b("cuMemGetInfo", "cuMemGetInfo_v2", &d.cuMemGetInfo),
		b("cuMemAlloc", "cuMemAlloc_v2", &d.cuMemAlloc),
		b("cuMemFree", "cuMemFree_v2", &d.cuMemFree),
		b("cuMemcpyHtoD", "cuMemcpyHtoD_v2", &d.cuMemcpyHtoD),
		b("cuMemcpyDtoH", "cuMemcpyDtoH_v2", &d.cuMemcpyDtoH),
		b("cuMemcpyDtoD", "cuMemcpyDtoD_v2", &d.cuMemcpyDtoD),
		b("cuMemsetD32", "cuMemsetD32_v2", &d.cuMemsetD32),
		b("cuModuleLoadData", "", &d.cuModuleLoadData),
		b("cuModuleUnload", "", &d.cuModuleUnload),
		b("cuModuleGetFunction", "", &d.cuModuleGetFunction),
		b("cuFuncSetAttribute", "", &d.cuFuncSetAttribute),
		b("cuLaunchKernel", "", &d.cuLaunchKernel),
		b("cuStreamCreate", "", &d.cuStreamCreate),
		b("cuStreamSynchronize", "", &d.cuStreamSynchronize),
		b("cuStreamDestroy", "cuStreamDestroy_v2", &d.cuStreamDestroy),
		b("cuEventCreate", "", &d.cuEventCreate),
		b("cuEventRecord", "", &d.cuEventRecord),
		b("cuEventSynchronize", "", &d.cuEventSynchronize),
		b("cuEventDestroy", "cuEventDestroy_v2", &d.cuEventDestroy),
	}
}

// check turns a CUresult into an error naming the call.
func (d *driverAPI) check(what string, r cuResult) error {
	if r == cuSuccess {
		return nil
	}
	var s *byte
	msg := "unknown error"
	if d.cuGetErrorString != nil && d.cuGetErrorString(r, &s) == cuSuccess && s != nil {
		msg = cString(s)
	}
	return fmt.Errorf("%s: CUDA error %d: %s", what, int32(r), msg)
}
