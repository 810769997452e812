package gpu

import (
	"fmt"
	"strings"
)

// Kernel arguments are typed on the Go side as in the kernel's C signature, and every launch
// is checked against the signature parsed from the kernel source, so that a wrong argument is
// an error naming the kernel rather than a crash on the GPU (and TestDryRun finds it here).

// Device pointers by element type, as kernel arguments.
type (
	f32p  uintptr // float*
	bf16p uintptr // bf16* (unsigned short bits)
	i32p  uintptr // int*
	f64p  uintptr // double*
)

// argKind is a kernel parameter's type: a pointer kind or a scalar.
type argKind string

const (
	kF32P  argKind = "float*"
	kBF16P argKind = "bf16*"
	kI32P  argKind = "int*"
	kF64P  argKind = "double*"
	kInt   argKind = "int"
	kI64   argKind = "i64"
	kFloat argKind = "float"
)

// kindOfArg is the kind a Go argument passes as.
func kindOfArg(a any) (argKind, bool) {
	switch a.(type) {
	case f32p:
		return kF32P, true
	case bf16p:
		return kBF16P, true
	case i32p:
		return kI32P, true
	case f64p:
		return kF64P, true
	case int32:
		return kInt, true
	case int64:
		return kI64, true
	case float32:
		return kFloat, true
	}
	return "", false
}

// kernelSig is a kernel's name and parameter kinds.
type kernelSig struct {
	name, file string
	params     []argKind
}

// parseSigs reads the parameter lists of the extern "C" __global__ kernels in a source file.
func parseSigs(file, src string) (map[string]*kernelSig, error) {
	const marker = `extern "C" __global__ void `
	sigs := map[string]*kernelSig{}
	for {
		i := strings.Index(src, marker)
		if i < 0 {
			return sigs, nil
		}
		src = src[i+len(marker):]
		open, close := strings.IndexByte(src, '('), strings.IndexByte(src, ')')
		if open < 0 || close < open {
			return nil, fmt.Errorf("%s: cannot read a kernel's parameters", file)
		}
		s := &kernelSig{name: strings.TrimSpace(src[:open]), file: file}
		for _, p := range strings.Split(src[open+1:close], ",") {
			f := strings.Fields(strings.ReplaceAll(strings.ReplaceAll(p, "*", " * "), "const ", ""))
			if len(f) < 2 {
				return nil, fmt.Errorf("%s: kernel %s: parameter %q", file, s.name, p)
			}
			typ := strings.Join(f[:len(f)-1], "")
			k := argKind(typ)
			switch k {
			case kF32P, kBF16P, kI32P, kF64P, kInt, kI64, kFloat:
			default:
				return nil, fmt.Errorf("%s: kernel %s: parameter type %q is none the launcher knows", file, s.name, typ)
			}
			s.params = append(s.params, k)
		}
		sigs[s.name] = s
	}
}

// check says whether args fit the signature.
func (s *kernelSig) check(args []any) error {
	if len(args) != len(s.params) {
		return fmt.Errorf("kernel %s (%s): %d arguments for %d parameters", s.name, s.file, len(args), len(s.params))
	}
	for i, a := range args {
		k, ok := kindOfArg(a)
		if !ok || k != s.params[i] {
			return fmt.Errorf("kernel %s (%s): argument %d is %T, the parameter is %s", s.name, s.file, i, a, s.params[i])
		}
	}
	return nil
}

// kernelSigs parses every embedded kernel's signature.
func kernelSigs() (map[string]*kernelSig, error) {
	files, err := KernelFiles()
	if err != nil {
		return nil, err
	}
	all := map[string]*kernelSig{}
	for _, f := range files {
		src := f.Source[strings.Index(f.Source, "#line 1"):] // the file itself, not the prelude
		sigs, err := parseSigs(f.Name, src)
		if err != nil {
			return nil, err
		}
		for n, s := range sigs {
			if all[n] != nil {
				return nil, fmt.Errorf("kernel %s is defined in %s and %s", n, all[n].file, s.file)
			}
			all[n] = s
		}
	}
	return all, nil
}
