package gpu

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// The bindings' Go types are checked against the prototypes in the CUDA headers that
// scripts/peers.sh installs from PyPI (nvidia-cuda-runtime: cuda.h; nvidia-cuda-nvrtc: nvrtc.h;
// nvidia-cublas: cublasLt.h, cublas_api.h; nvidia-nccl-cu13: nccl.h), since a wrong argument
// only shows on a GPU, and then as a crash or a wrong number.

// cHeaders reads the headers, comments and preprocessor lines removed (except #define),
// in the order their typedefs are looked up.
type cHeaders struct {
	text    map[string]string // file → text without comments
	defines map[string]string // name → what #define maps it to
	types   map[string]cType  // typedef name → resolved type
}

type cType struct {
	kind string // "ptr", "enum", "struct", "int32", "uint32", "int64", "uint64", "float32", "float64", "void", "char"
}

var (
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	lineComment  = regexp.MustCompile(`//[^\n]*`)
	defineRe     = regexp.MustCompile(`(?m)^\s*#\s*define\s+(\w+)\s+(?:__CUDA_API_PTDS\((\w+)\)|__CUDA_API_PTSZ\((\w+)\)|(\w+))\s*$`)
)

func readHeaders(t *testing.T, dir string, files ...string) *cHeaders {
	t.Helper()
	h := &cHeaders{text: map[string]string{}, defines: map[string]string{}, types: map[string]cType{}}
	raw := map[string]string{}
	for _, f := range files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, f)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("header %s: %v", f, err)
		}
		s := blockComment.ReplaceAllString(string(b), " ")
		s = lineComment.ReplaceAllString(s, " ")
		for _, m := range defineRe.FindAllStringSubmatch(s, -1) {
			if _, ok := h.defines[m[1]]; !ok {
				h.defines[m[1]] = m[2] + m[3] + m[4]
			}
		}
		// drop preprocessor lines, joining continued ones
		var keep []string
		lines := strings.Split(s, "\n")
		for i := 0; i < len(lines); i++ {
			l := lines[i]
			if strings.HasPrefix(strings.TrimSpace(l), "#") {
				for strings.HasSuffix(strings.TrimSpace(l), "\\") && i+1 < len(lines) {
					i++
					l = lines[i]
				}
				continue
			}
			keep = append(keep, l)
		}
		raw[f] = strings.Join(keep, "\n")
		h.text[f] = raw[f]
	}
	for _, f := range files {
		h.collectTypedefs(raw[f])
	}
	return h
}

var baseTypes = map[string]string{
	"int": "int32", "signed int": "int32", "unsigned int": "uint32", "unsigned": "uint32",
	"long long": "int64", "long long int": "int64", "unsigned long long": "uint64", "unsigned long long int": "uint64",
	"size_t": "uint64", "uint64_t": "uint64", "int64_t": "int64", "uint32_t": "uint32", "int32_t": "int32",
	"float": "float32", "double": "float64", "void": "void", "char": "char",
	"unsigned long": "uint64", "long": "int64",
}

// collectTypedefs records every typedef's name and what it resolves to; the first definition
// of a name wins (the 64-bit branch of an #if comes first in cuda.h).
func (h *cHeaders) collectTypedefs(s string) {
	for {
		i := strings.Index(s, "typedef ")
		if i < 0 {
			return
		}
		s = s[i+len("typedef "):]
		depth, end := 0, -1
		for j, c := range s {
			switch c {
			case '{':
				depth++
			case '}':
				depth--
			case ';':
				if depth == 0 {
					end = j
				}
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			return
		}
		def := s[:end]
		s = s[end:]
		if strings.Contains(def, "(") && !strings.Contains(def, "{") {
			continue // a function pointer type
		}
		var kind, base, name string
		if k := strings.LastIndexByte(def, '}'); k >= 0 {
			head := strings.Fields(def)[0]
			tail := strings.TrimSpace(def[k+1:])
			name = strings.TrimLeft(strings.TrimSpace(strings.TrimSuffix(tail, "")), "* ")
			if strings.Contains(tail, "*") {
				kind = "ptr"
			} else if head == "enum" {
				kind = "enum"
			} else {
				kind = "struct"
			}
		} else {
			def = strings.ReplaceAll(def, "*", " * ")
			f := strings.Fields(def)
			if len(f) < 2 {
				continue
			}
			name = f[len(f)-1]
			rest := f[:len(f)-1]
			switch {
			case contains(rest, "*"):
				kind = "ptr"
			case rest[0] == "enum":
				kind = "enum"
			case rest[0] == "struct" || rest[0] == "union":
				kind = "struct"
			default:
				base = strings.Join(rest, " ")
			}
		}
		if name == "" || strings.ContainsAny(name, "[]") {
			continue
		}
		if _, ok := h.types[name]; ok {
			continue
		}
		if kind == "" {
			if b, ok := baseTypes[strings.TrimPrefix(base, "const ")]; ok {
				kind = b
			} else if r, ok := h.types[base]; ok {
				kind = r.kind
			} else {
				kind = "unknown:" + base
			}
		}
		h.types[name] = cType{kind: kind}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// proto is one parsed prototype.
type proto struct {
	ret    string
	params []string // the parameter types, names removed
}

// prototype finds the declaration of name (`RET [API] name(PARAMS);`, not a definition with a
// body) in the headers.
func (h *cHeaders) prototype(name string) (proto, string, bool) {
	re := regexp.MustCompile(`([\w\s\*]*?)\b` + regexp.QuoteMeta(name) + `\s*\(([^;{}()]*)\)\s*;`)
	for f, s := range h.text {
		m := re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		ret := strings.Fields(strings.ReplaceAll(m[1], "*", " * "))
		var keep []string
		for _, w := range ret {
			switch w {
			case "CUDAAPI", "CUBLASWINAPI", "CUBLASAPI", "extern", "NVRTC_API", "static", "inline":
			default:
				keep = append(keep, w)
			}
		}
		// the return type is the words after the last statement boundary
		p := proto{ret: strings.Join(keep, " ")}
		params := strings.TrimSpace(m[2])
		if params != "void" && params != "" {
			for _, x := range strings.Split(params, ",") {
				p.params = append(p.params, paramType(x))
			}
		}
		return p, f, true
	}
	return proto{}, "", false
}

// paramType removes the parameter's name: "const char * const *headers" → "const char * const *".
func paramType(p string) string {
	p = strings.TrimSpace(p)
	arr := strings.HasSuffix(p, "[]")
	p = strings.TrimSuffix(p, "[]")
	f := strings.Fields(strings.ReplaceAll(p, "*", " * "))
	if len(f) > 1 && f[len(f)-1] != "*" {
		if _, base := baseTypes[strings.Join(f, " ")]; !base {
			f = f[:len(f)-1]
		}
	}
	t := strings.Join(f, " ")
	if arr {
		t += " *"
	}
	return t
}

// resolve is the kind of a parameter or result type.
func (h *cHeaders) resolve(typ string) string {
	if strings.Contains(typ, "*") {
		if strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(typ, "const", ""), "*", "")) == "char" && strings.Count(typ, "*") == 1 {
			return "cstring"
		}
		return "ptr"
	}
	typ = strings.TrimSpace(strings.ReplaceAll(typ, "const ", ""))
	if b, ok := baseTypes[typ]; ok {
		return b
	}
	if r, ok := h.types[typ]; ok {
		return r.kind
	}
	return "unknown:" + typ
}

// goFits says whether a Go type passes a C value of kind as the C ABI wants it.
func goFits(kind string, g reflect.Type) bool {
	switch kind {
	case "ptr":
		return g.Kind() == reflect.Pointer || g.Kind() == reflect.UnsafePointer || g.Kind() == reflect.Uintptr
	case "cstring":
		return g.Kind() == reflect.String || g.Kind() == reflect.Pointer && g.Elem().Kind() == reflect.Uint8 || g.Kind() == reflect.Uintptr
	case "enum", "int32":
		return g.Kind() == reflect.Int32
	case "uint32":
		return g.Kind() == reflect.Uint32
	case "int64":
		return g.Kind() == reflect.Int64
	case "uint64":
		return g.Kind() == reflect.Uint64 || g.Kind() == reflect.Uintptr
	case "float32":
		return g.Kind() == reflect.Float32
	case "float64":
		return g.Kind() == reflect.Float64
	case "struct": // by value: TestConstants checks the layout
		return g.Kind() == reflect.Struct
	}
	return false
}

func headerDir(t *testing.T) string {
	dir := filepath.Join(peerCUDA(t), "include")
	for _, f := range []string{"cuda.h", "nvrtc.h", "cublasLt.h", "cublas_api.h"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("the peers' CUDA headers lack %s: %v", f, err)
		}
	}
	return dir
}

// ncclHeader is nccl.h of the .peers/torch venv (nvidia-nccl-cu13 puts it in nvidia/nccl/include).
func ncclHeader(t *testing.T) string {
	p := filepath.Join(filepath.Dir(peerCUDA(t)), "nccl", "include", "nccl.h")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the peers' CUDA packages lack nccl.h: %v", err)
	}
	return p
}

func allBindings() map[string][]binding {
	var d driverAPI
	var n nvrtcAPI
	var l ltAPI
	var b blasAPI
	var c ncclAPI
	return map[string][]binding{"driver": d.bindings(), "nvrtc": n.bindings(), "cublasLt": l.bindings(), "cublas": b.bindings(), "nccl": c.bindings()}
}

// TestSignatures checks every binding against its header prototype: the symbol the header maps
// the name to, the number of parameters, and each parameter's and the result's Go type.
func TestSignatures(t *testing.T) {
	h := readHeaders(t, headerDir(t), "cuda.h", "nvrtc.h", "driver_types.h", "library_types.h", "cublas_api.h", "cublasLt.h", ncclHeader(t))
	total := 0
	for lib, bs := range allBindings() {
		for _, x := range bs {
			total++
			p, file, ok := h.prototype(x.name)
			if !ok {
				t.Errorf("%s: %s: no prototype in the headers", lib, x.name)
				continue
			}
			want := x.name
			if d, ok := h.defines[x.name]; ok {
				want = d
			}
			if x.symbol != want {
				t.Errorf("%s: %s: binds symbol %s, %s maps it to %s", lib, x.name, x.symbol, file, want)
			}
			ft := reflect.TypeOf(x.fn).Elem()
			if ft.NumIn() != len(p.params) {
				t.Errorf("%s: %s: %d Go parameters, %s declares %d: %v", lib, x.name, ft.NumIn(), file, len(p.params), p.params)
				continue
			}
			for i, ct := range p.params {
				if k := h.resolve(ct); !goFits(k, ft.In(i)) {
					t.Errorf("%s: %s: parameter %d is C %q (%s), Go %v", lib, x.name, i, ct, k, ft.In(i))
				}
			}
			rk := h.resolve(p.ret)
			switch {
			case rk == "void":
				if ft.NumOut() != 0 {
					t.Errorf("%s: %s returns void, Go returns %v", lib, x.name, ft.Out(0))
				}
			case ft.NumOut() != 1 || !goFits(rk, ft.Out(0)):
				t.Errorf("%s: %s returns C %q (%s), Go %v", lib, x.name, p.ret, rk, ft)
			}
		}
	}
	if total < 63 {
		t.Fatalf("%d bindings checked", total)
	}
}

// enumValue finds `NAME = value` in the headers, where value is a number, another name, or
// an or of them in parentheses, as cublasLt.h writes (CUBLASLT_EPILOGUE_GELU | 128).
func enumValue(h *cHeaders, name string) (int64, error) {
	re := regexp.MustCompile(`\b` + name + `\s*=\s*([^,}]+)`)
	for _, s := range h.text {
		m := re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		var v int64
		for _, term := range strings.Split(strings.Trim(strings.TrimSpace(m[1]), "()"), "|") {
			term = strings.TrimSpace(term)
			x, err := strconv.ParseInt(term, 0, 64)
			if err != nil {
				if x, err = enumValue(h, term); err != nil {
					return 0, fmt.Errorf("%s = %s: %w", name, m[1], err)
				}
			}
			v |= x
		}
		return v, nil
	}
	return 0, fmt.Errorf("%s: not in the headers", name)
}

// TestConstants checks the enum values the backend passes against the headers.
func TestConstants(t *testing.T) {
	nccl := ncclHeader(t)
	h := readHeaders(t, headerDir(t), "cuda.h", "nvrtc.h", "library_types.h", "cublas_api.h", "cublasLt.h", nccl)
	for name, v := range map[string]int64{
		"ncclSuccess": ncclSuccess, "ncclFloat32": ncclFloat32, "ncclSum": ncclSum,
		"CUDA_SUCCESS": cuSuccess, "CUDA_ERROR_NO_DEVICE": cuErrorNoDevice,
		"CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT":              cuDevAttrMultiprocessorCount,
		"CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR":          cuDevAttrCCMajor,
		"CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR":          cuDevAttrCCMinor,
		"CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN": cuDevAttrMaxSharedOptin,
		"CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES":       cuFuncAttrMaxDynamicShared,
		"NVRTC_SUCCESS": nvrtcSuccess, "CUBLAS_STATUS_SUCCESS": blasSuccess,
		"CUDA_R_32F": cudaR32F, "CUDA_R_16BF": cudaR16BF, "CUBLAS_COMPUTE_32F": blasCompute32F,
		"CUBLAS_OP_N": blasOpN, "CUBLAS_OP_T": blasOpT, "CUBLAS_GEMM_DEFAULT": blasGemmDefault,
		"CUBLASLT_MATMUL_DESC_TRANSA": ltDescTransA, "CUBLASLT_MATMUL_DESC_TRANSB": ltDescTransB,
		"CUBLASLT_MATMUL_DESC_EPILOGUE": ltDescEpilogue, "CUBLASLT_MATMUL_DESC_BIAS_POINTER": ltDescBiasPointer,
		"CUBLASLT_EPILOGUE_BIAS":                      ltEpilogueBias,
		"CUBLASLT_EPILOGUE_GELU_AUX_BIAS":             ltEpilogueGeluAuxBias,
		"CUBLASLT_EPILOGUE_DGELU":                     ltEpilogueDGelu,
		"CUBLASLT_EPILOGUE_BGRADA":                    ltEpilogueBgradA,
		"CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER":   ltDescEpilogueAux,
		"CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD":        ltDescEpilogueAuxLd,
		"CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT":          ltLayoutBatchCount,
		"CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET": ltLayoutBatchStride,
		"CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES":    ltPrefMaxWorkspace,
		"CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES":  ltPrefAlignA, "CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES": ltPrefAlignB,
		"CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES": ltPrefAlignC, "CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES": ltPrefAlignD,
	} {
		got, err := enumValue(h, name)
		if err != nil {
			t.Error(err)
			continue
		}
		if got != v {
			t.Errorf("%s = %d in the headers, %d here", name, got, v)
		}
	}
	// cublasLtMatmulHeuristicResult_t, which the heuristic writes into ltHeuristic
	want := regexp.MustCompile(`typedef struct\s*\{\s*cublasLtMatmulAlgo_t algo;\s*size_t workspaceSize;\s*cublasStatus_t state;\s*float wavesCount;\s*int reserved\[4\];\s*\}\s*cublasLtMatmulHeuristicResult_t;`)
	if !want.MatchString(h.text["cublasLt.h"]) {
		t.Error("cublasLtMatmulHeuristicResult_t is not (algo, workspaceSize, state, wavesCount, reserved[4]) in cublasLt.h")
	}
	if !regexp.MustCompile(`typedef struct\s*\{\s*uint64_t data\[8\];\s*\}\s*cublasLtMatmulAlgo_t;`).MatchString(h.text["cublasLt.h"]) {
		t.Error("cublasLtMatmulAlgo_t is not uint64_t data[8] in cublasLt.h")
	}
	if s := unsafe.Sizeof(ltHeuristic{}); s != 96 {
		t.Errorf("ltHeuristic is %d bytes, want 96", s)
	}
	// ncclUniqueId, which ncclCommInitRank takes by value
	if !regexp.MustCompile(`typedef struct\s*\{\s*char internal\[NCCL_UNIQUE_ID_BYTES\];\s*\}\s*ncclUniqueId;`).MatchString(h.text[nccl]) {
		t.Error("ncclUniqueId is not char internal[NCCL_UNIQUE_ID_BYTES] in nccl.h")
	}
	if d := h.defines["NCCL_UNIQUE_ID_BYTES"]; d != strconv.Itoa(ncclUniqueIDBytes) || unsafe.Sizeof(ncclUniqueID{}) != ncclUniqueIDBytes {
		t.Errorf("NCCL_UNIQUE_ID_BYTES is %s in nccl.h; ncclUniqueID is %d bytes here", d, unsafe.Sizeof(ncclUniqueID{}))
	}
}
