package gpu

import (
	"fmt"
	"unsafe"

	"github.com/ebitengine/purego"
)

// binding is one C function: the name its header declares, the symbol the library exports for
// it (the header maps some names to versioned ones: cuMemAlloc to cuMemAlloc_v2), and the Go
// function variable purego fills. TestSignatures checks every binding's Go parameter and
// result types against the prototype in the CUDA headers, since a wrong one only shows on a GPU.
type binding struct {
	name   string
	symbol string
	fn     any // a pointer to a func variable
}

func b(name, symbol string, fn any) binding {
	if symbol == "" {
		symbol = name
	}
	return binding{name: name, symbol: symbol, fn: fn}
}

// bindAll resolves every binding in lib (a dlopen handle), naming the library in the error.
func bindAll(lib uintptr, path string, bs []binding) error {
	for _, x := range bs {
		sym, err := purego.Dlsym(lib, x.symbol)
		if err != nil {
			return fmt.Errorf("%s: no symbol %s (for %s): %w", path, x.symbol, x.name, err)
		}
		purego.RegisterFunc(x.fn, sym)
	}
	return nil
}

// cString reads a NUL-terminated C string.
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	var n int
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// cStrings makes NUL-terminated copies of ss and an array of pointers to them, for a
// `const char * const *` argument. The Go heap does not move, and the caller keeps both alive
// over the call.
func cStrings(ss []string) ([]*byte, [][]byte) {
	ptrs := make([]*byte, len(ss))
	bufs := make([][]byte, len(ss))
	for i, s := range ss {
		bufs[i] = append([]byte(s), 0)
		ptrs[i] = &bufs[i][0]
	}
	return ptrs, bufs
}
