package gpu

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebitengine/purego"
	"github.com/pipe-dev/pipe/internal/peertest"
	"github.com/pipe-dev/pipe/trainer"
)

// The rendezvous: rank 0 writes the id once, atomically; ranks that start before it wait for
// it, past a file of an earlier launch; every rank gets rank 0's bytes. A missing rank 0, a file of another world size or of
// another format end with an error that names the file.
func TestRendezvous(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, RendezvousFile)
	var made ncclUniqueID
	for i := range made.internal {
		made.internal[i] = byte(i*7 + 3)
	}
	const world, launch = 4, "MASTER_ADDR=127.0.0.1 MASTER_PORT=29500"
	// a file an earlier launch left: the ranks wait for this launch's
	if err := writeRendezvous(path, ncclUniqueID{}, world, "MASTER_ADDR=127.0.0.1 MASTER_PORT=41234"); err != nil {
		t.Fatal(err)
	}
	ids := make([]ncclUniqueID, world)
	errs := make([]error, world)
	var wg sync.WaitGroup
	for r := world - 1; r >= 1; r-- { // the others wait before rank 0 starts
		wg.Go(func() { ids[r], errs[r] = rendezvous(path, launch, r, world, nil, 10*time.Second) })
	}
	time.Sleep(50 * time.Millisecond)
	calls := 0
	ids[0], errs[0] = rendezvous(path, launch, 0, world, func() (ncclUniqueID, error) { calls++; return made, nil }, time.Second)
	wg.Wait()
	for r := range world {
		if errs[r] != nil {
			t.Fatalf("rank %d: %v", r, errs[r])
		}
		if ids[r] != made {
			t.Errorf("rank %d got another id", r)
		}
	}
	if calls != 1 {
		t.Errorf("rank 0 made %d ids", calls)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".nccl-id-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	if _, err := rendezvous(path, "", 1, world, nil, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "another launch") {
		t.Errorf("a file of another launch, read by a rank started by hand: %v", err)
	}
	if _, err := rendezvous(path, launch, 1, 2, nil, time.Second); err == nil || !strings.Contains(err.Error(), "world size 4") {
		t.Errorf("a file of world size 4, read by a rank of 2: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"format":"other","version":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rendezvous(path, launch, 1, world, nil, time.Second); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a file of another format: %v", err)
	}
	os.Remove(path)
	start := time.Now()
	_, err := rendezvous(path, launch, 2, world, nil, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "rank 0") {
		t.Errorf("no rank 0: %v", err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("gave up before the timeout")
	}
}

// peerNCCL loads libnccl from the .peers/torch venv (nvidia-nccl-cu13), which needs no GPU.
func peerNCCL(t *testing.T) *NCCL {
	lib := filepath.Join(filepath.Dir(peerCUDA(t)), "nccl", "lib")
	t.Setenv("PIPE_CUDA_LIBS", lib)
	n, err := LoadNCCL()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(n.Path, lib) {
		t.Fatalf("loaded %s, not the peer's NCCL in %s", n.Path, lib)
	}
	return n
}

// The NCCL of the peers loads without a GPU: its version is the header's, it makes unique
// ids, and its errors read as NCCL's messages.
func TestNCCLLoad(t *testing.T) {
	n := peerNCCL(t)
	h := readHeaders(t, headerDir(t), ncclHeader(t))
	if want := h.defines["NCCL_VERSION_CODE"]; want == "" || want != strconv.Itoa(n.Version) {
		t.Errorf("ncclGetVersion %d, nccl.h's NCCL_VERSION_CODE %q", n.Version, want)
	}
	t.Logf("NCCL %d from %s", n.Version, n.Path)
	a, err := n.uniqueID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.uniqueID()
	if err != nil {
		t.Fatal(err)
	}
	if a == (ncclUniqueID{}) || a == b {
		t.Errorf("ids: zero %v, two the same %v", a == (ncclUniqueID{}), a == b)
	}
	const invalidArgument = 4 // ncclInvalidArgument
	if v, err := enumValue(h, "ncclInvalidArgument"); err != nil || v != invalidArgument {
		t.Fatalf("ncclInvalidArgument = %d, %v", v, err)
	}
	if err := n.check("x", invalidArgument, 0); err == nil || !strings.Contains(err.Error(), "invalid argument") {
		t.Errorf("ncclInvalidArgument reads %v", err)
	}
}

// ncclCommInitRank takes the 128-byte id by value, which purego must pass as the C ABI does
// (on the stack on amd64, by a hidden pointer on arm64). A C function of the same prototype,
// compiled here, is called through a function of the binding's Go type and reports what it got.
func TestStructByValueABI(t *testing.T) {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		peertest.Missing(t, "no C compiler ("+cc+")")
	}
	dir := t.TempDir()
	src := `typedef struct { char internal[128]; } ncclUniqueId;
typedef struct ncclComm* ncclComm_t;
static ncclUniqueId got; static int gotN, gotRank;
int ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
	got = commId; gotN = nranks; gotRank = rank; *comm = (ncclComm_t)0x1234; return 0;
}
void report(char* id, int* n, int* rank) { for (int i = 0; i < 128; i++) id[i] = got.internal[i]; *n = gotN; *rank = gotRank; }
`
	if err := os.WriteFile(filepath.Join(dir, "abi.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "libabi.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", lib, filepath.Join(dir, "abi.c")).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, out)
	}
	h, err := purego.Dlopen(lib, purego.RTLD_NOW)
	if err != nil {
		t.Fatal(err)
	}
	var api ncclAPI
	var report func(id *byte, n, rank *int32)
	sym, err := purego.Dlsym(h, "ncclCommInitRank")
	if err != nil {
		t.Fatal(err)
	}
	purego.RegisterFunc(&api.ncclCommInitRank, sym)
	purego.RegisterLibFunc(&report, h, "report")
	var id ncclUniqueID
	for i := range id.internal {
		id.internal[i] = byte(255 - i)
	}
	var comm uintptr
	if r := api.ncclCommInitRank(&comm, 5, id, 3); r != 0 || comm != 0x1234 {
		t.Fatalf("result %d, comm %#x", r, comm)
	}
	var got [128]byte
	var n, rank int32
	report(&got[0], &n, &rank)
	if !bytes.Equal(got[:], id.internal[:]) || n != 5 || rank != 3 {
		t.Errorf("C got nranks %d, rank %d, id %v; want 5, 3, %v", n, rank, got, id.internal)
	}
	if reflect.TypeOf(api.ncclCommInitRank).In(2) != reflect.TypeOf(id) {
		t.Error("the binding does not take the id by value")
	}
}

// On a GPU: a communicator of one rank, set up through the rendezvous file, all-reduces and
// broadcasts for real (over one rank both leave the values as they are), and the rendezvous
// file is gone once it is up. Skipped on the emulated device, which has no NCCL.
func TestGPUNCCL(t *testing.T) {
	if _, ok := Available(); !ok && os.Getenv("PIPE_GPU") != "1" {
		t.Skip("no GPU, and the emulated device has no NCCL")
	}
	g := openGPU(t)
	if g.cuda == nil {
		t.Fatal("PIPE_GPU=1 but no GPU")
	}
	dir := t.TempDir()
	c, err := NewComm(g, dir, 0, 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NCCL %d from %s", c.nccl.Version, c.nccl.Path)
	if _, err := os.Stat(filepath.Join(dir, RendezvousFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the rendezvous file is still there: %v", err)
	}
	run := func() (err error) {
		defer Recover(&err)
		want := make([]float32, 1000)
		for i := range want {
			want[i] = float32(i) - 0.5
		}
		x := g.Alloc(len(want))
		g.Upload(x, want)
		if err := c.AllReduce(x.View(0, len(want))); err != nil {
			return err
		}
		if err := c.Broadcast(x); err != nil {
			return err
		}
		got := make([]float32, len(want))
		g.Download(got, x)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("after all-reduce and broadcast over one rank: [%d] = %v, want %v", i, got[i], want[i])
				break
			}
		}
		var red trainer.GradReducer = c
		if red.Rank() != 0 || red.WorldSize() != 1 {
			t.Errorf("rank %d of %d", red.Rank(), red.WorldSize())
		}
		return c.Close()
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewComm(g, dir, 1, 1, time.Second); err == nil {
		t.Error("rank 1 of 1: no error")
	}
}

// A communicator needs a CUDA device: on a dry one NewComm says so.
func TestNCCLNeedsDevice(t *testing.T) {
	g, err := newGPU(newDryDevice(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewComm(g, t.TempDir(), 0, 1, time.Second); err == nil || !strings.Contains(err.Error(), "needs a CUDA device") {
		t.Errorf("NewComm on %s: %v", g.Describe(), err)
	}
}
