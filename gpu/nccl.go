package gpu

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pipe-dev/pipe/trainer"
)

// NCCL, loaded at run time like the other libraries, sums the gradients of a data-parallel run
// across GPUs: one process per GPU, each with its own GPU backend and a Comm, which is the
// trainer's GradReducer. Types follow nccl.h: ncclResult_t, ncclDataType_t, ncclRedOp_t and
// int are int32, ncclComm_t and cudaStream_t are pointers, size_t is uint64, and ncclUniqueId
// is a struct of 128 bytes that ncclCommInitRank takes by value.

var specNCCL = libSpec{"NCCL (libnccl)", []string{"libnccl.so.2", "libnccl.so"}}

type ncclResult int32

// Values from nccl.h, checked by TestConstants.
const (
	ncclSuccess       = 0   // ncclSuccess
	ncclFloat32       = 7   // ncclFloat32
	ncclSum           = 0   // ncclSum
	ncclUniqueIDBytes = 128 // NCCL_UNIQUE_ID_BYTES
)

// ncclUniqueID is nccl.h's ncclUniqueId: what every rank passes to ncclCommInitRank.
type ncclUniqueID struct {
	internal [ncclUniqueIDBytes]byte
}

type ncclAPI struct {
	ncclGetVersion     func(version *int32) ncclResult
	ncclGetUniqueId    func(id *ncclUniqueID) ncclResult
	ncclCommInitRank   func(comm *uintptr, nranks int32, id ncclUniqueID, rank int32) ncclResult
	ncclAllReduce      func(send, recv uintptr, count uint64, dtype, op int32, comm, stream uintptr) ncclResult
	ncclBroadcast      func(send, recv uintptr, count uint64, dtype, root int32, comm, stream uintptr) ncclResult
	ncclCommDestroy    func(comm uintptr) ncclResult
	ncclGetErrorString func(r ncclResult) *byte
	ncclGetLastError   func(comm uintptr) *byte
}

func (n *ncclAPI) bindings() []binding {
	return []binding{
		b("ncclGetVersion", "", &n.ncclGetVersion),
		b("ncclGetUniqueId", "", &n.ncclGetUniqueId),
		b("ncclCommInitRank", "", &n.ncclCommInitRank),
		b("ncclAllReduce", "", &n.ncclAllReduce),
		b("ncclBroadcast", "", &n.ncclBroadcast),
		b("ncclCommDestroy", "", &n.ncclCommDestroy),
		b("ncclGetErrorString", "", &n.ncclGetErrorString),
		b("ncclGetLastError", "", &n.ncclGetLastError),
	}
}

// NCCL is a loaded NCCL library.
type NCCL struct {
	api     ncclAPI
	Path    string // the file loaded
	Version int    // NCCL_VERSION_CODE: 23007 for 2.30.7
}

// LoadNCCL finds and loads libnccl (see searchDirs: PyTorch's wheels put it in
// nvidia/nccl/lib).
func LoadNCCL() (*NCCL, error) {
	h, path, err := openLib(specNCCL, searchDirs(true), 0)
	if err != nil {
		return nil, err
	}
	n := &NCCL{Path: path}
	if err := bindAll(h, path, n.api.bindings()); err != nil {
		return nil, err
	}
	var v int32
	if err := n.check("ncclGetVersion", n.api.ncclGetVersion(&v), 0); err != nil {
		return nil, err
	}
	n.Version = int(v)
	return n, nil
}

// check turns an ncclResult into an error naming the call, with NCCL's last message when
// there is a communicator.
func (n *NCCL) check(what string, r ncclResult, comm uintptr) error {
	if r == ncclSuccess {
		return nil
	}
	msg := cString(n.api.ncclGetErrorString(r))
	if last := cString(n.api.ncclGetLastError(comm)); last != "" {
		msg += ": " + last
	}
	return fmt.Errorf("%s: NCCL error %d: %s", what, int32(r), msg)
}

// uniqueID makes a new communicator id (rank 0 does, once per run).
func (n *NCCL) uniqueID() (ncclUniqueID, error) {
	var id ncclUniqueID
	err := n.check("ncclGetUniqueId", n.api.ncclGetUniqueId(&id), 0)
	return id, err
}

// RendezvousFile is the file in the run directory through which rank 0 gives the other ranks
// the communicator's id.
const RendezvousFile = "nccl-id.json"

// rendezvousFormat is the first field of the file; its version is rendezvousVersion.
const (
	rendezvousFormat  = "pipe-nccl-id"
	rendezvousVersion = 1
)

type rendezvousDoc struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	WorldSize int    `json:"world_size"`
	ID        string `json:"id"`               // the 128 bytes of ncclUniqueId, in hex
	Launch    string `json:"launch,omitempty"` // launchID of rank 0
}

// launchID names the launch that started this process, as far as the launcher says:
// torchrun's TORCHELASTIC_RUN_ID, MASTER_ADDR and MASTER_PORT (torchrun --standalone takes a
// new port each run); "" for ranks started by hand. A rank takes the id only from a file of
// its own launch, so that a file an earlier run left (it crashed before rank 0 removed it) is
// not mistaken for this run's.
func launchID() string {
	var parts []string
	for _, k := range []string{"TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT"} {
		if v := os.Getenv(k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// errOtherLaunch is readRendezvous's error for a file written by rank 0 of another launch.
var errOtherLaunch = errors.New("written by another launch")

// writeRendezvous writes id for world ranks of launch to path atomically (a temporary file
// renamed).
func writeRendezvous(path string, id ncclUniqueID, world int, launch string) error {
	b, err := json.Marshal(rendezvousDoc{Format: rendezvousFormat, Version: rendezvousVersion, WorldSize: world,
		ID: hex.EncodeToString(id.internal[:]), Launch: launch})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nccl-id-*.tmp")
	if err != nil {
		return fmt.Errorf("rendezvous: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("rendezvous: %w", err)
	}
	return nil
}

// readRendezvous reads the id that writeRendezvous wrote, refusing another format, version or
// world size, and a file of another launch (errOtherLaunch).
func readRendezvous(path string, world int, launch string) (ncclUniqueID, error) {
	var id ncclUniqueID
	b, err := os.ReadFile(path)
	if err != nil {
		return id, err
	}
	var d rendezvousDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return id, fmt.Errorf("%s: %w", path, err)
	}
	if d.Format != rendezvousFormat || d.Version != rendezvousVersion {
		return id, fmt.Errorf("%s: format %q version %d, want %s %d", path, d.Format, d.Version, rendezvousFormat, rendezvousVersion)
	}
	if d.Launch != launch {
		return id, fmt.Errorf("%s: %w (%q, this rank's is %q)", path, errOtherLaunch, d.Launch, launch)
	}
	if d.WorldSize != world {
		return id, fmt.Errorf("%s: written for world size %d, this rank is of %d (a file left by another run?)", path, d.WorldSize, world)
	}
	raw, err := hex.DecodeString(d.ID)
	if err != nil || len(raw) != ncclUniqueIDBytes {
		return id, fmt.Errorf("%s: the id is not %d bytes in hex", path, ncclUniqueIDBytes)
	}
	copy(id.internal[:], raw)
	return id, nil
}

// rendezvous gives every rank of launch the same id: rank 0 makes one with newID and writes it
// to path; the others wait up to timeout for the file to appear, and while it is one of another
// launch, for rank 0 to replace it. Rank 0 removes a file left by an earlier run first; it
// removes its own once the communicator is up (see NewComm), as every rank has read it by then.
func rendezvous(path, launch string, rank, world int, newID func() (ncclUniqueID, error), timeout time.Duration) (ncclUniqueID, error) {
	if rank == 0 {
		id, err := newID()
		if err != nil {
			return id, err
		}
		return id, writeRendezvous(path, id, world, launch)
	}
	deadline := time.Now().Add(timeout)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		id, err := readRendezvous(path, world, launch)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, errOtherLaunch) {
			return id, fmt.Errorf("rendezvous of rank %d: %w", rank, err)
		}
		if time.Now().After(deadline) {
			if errors.Is(err, errOtherLaunch) {
				return id, fmt.Errorf("rendezvous of rank %d of %d: rank 0 of this launch wrote no id in %v: %w", rank, world, timeout, err)
			}
			return id, fmt.Errorf("rendezvous of rank %d of %d: rank 0 wrote no %s in %v (is rank 0 running, with the same run directory?)", rank, world, path, timeout)
		}
		time.Sleep(wait)
	}
}

// Comm is one rank's NCCL communicator over its GPU: the trainer's GradReducer for a run of
// one process per GPU. Its collectives run on the backend's stream (the default stream), in
// order with the backend's kernels.
type Comm struct {
	nccl        *NCCL
	g           *GPU
	comm        uintptr
	rank, world int
}

var _ trainer.GradReducer = (*Comm)(nil)

// NewComm joins rank of world ranks on g: rank 0 writes the communicator's id to
// dir/RendezvousFile, the others wait for it (up to timeout), then every rank initialises the
// communicator, which returns when all have joined.
func NewComm(g *GPU, dir string, rank, world int, timeout time.Duration) (*Comm, error) {
	if world < 1 || rank < 0 || rank >= world {
		return nil, fmt.Errorf("nccl: rank %d of world size %d: want 0 ≤ rank < world size", rank, world)
	}
	if g.cuda == nil {
		return nil, fmt.Errorf("nccl: needs a CUDA device, not %s", g.Describe())
	}
	n, err := LoadNCCL()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, RendezvousFile)
	if rank == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	id, err := rendezvous(path, launchID(), rank, world, n.uniqueID, timeout)
	if err != nil {
		return nil, err
	}
	c := &Comm{nccl: n, g: g, rank: rank, world: world}
	defer g.enter()()
	if err := n.check(fmt.Sprintf("ncclCommInitRank (rank %d of %d)", rank, world), n.api.ncclCommInitRank(&c.comm, int32(world), id, int32(rank)), 0); err != nil {
		return nil, err
	}
	if rank == 0 {
		os.Remove(path)
	}
	return c, nil
}

func (c *Comm) Rank() int      { return c.rank }
func (c *Comm) WorldSize() int { return c.world }

// AllReduce sums x over the ranks, in place.
func (c *Comm) AllReduce(x trainer.Buf) error {
	defer c.g.enter()()
	return c.nccl.check("ncclAllReduce", c.nccl.api.ncclAllReduce(x.Dev, x.Dev, uint64(x.N), ncclFloat32, ncclSum, c.comm, 0), c.comm)
}

// Broadcast copies rank 0's x to every rank.
func (c *Comm) Broadcast(x trainer.Buf) error {
	defer c.g.enter()()
	return c.nccl.check("ncclBroadcast", c.nccl.api.ncclBroadcast(x.Dev, x.Dev, uint64(x.N), ncclFloat32, 0, c.comm, 0), c.comm)
}

// Close frees the communicator, after the work queued on it.
func (c *Comm) Close() error {
	if c.comm == 0 {
		return nil
	}
	defer c.g.enter()()
	if err := c.g.dev.sync(); err != nil {
		return err
	}
	err := c.nccl.check("ncclCommDestroy", c.nccl.api.ncclCommDestroy(c.comm), 0)
	c.comm = 0
	return err
}
