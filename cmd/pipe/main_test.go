package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/internal/peertest"
)

// pipeBin is the pipe binary built once for the tests, so that they run the
// command exactly as a user does.
var pipeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pipe-test-")
	if err != nil {
		panic(err)
	}
	pipeBin = filepath.Join(dir, "pipe")
	if out, err := exec.Command("go", "build", "-o", pipeBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build pipe: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a command did.
type result struct {
	stdout, stderr []byte
	code           int
}

// run runs pipe with args and stdin, and returns what it wrote and its exit code.
func run(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	return runWithEnv(t, nil, stdin, args...)
}

// runWithEnv is run with env added to the environment.
func runWithEnv(t *testing.T, env []string, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(pipeBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run pipe %v: %v", args, err)
	}
	return result{out.Bytes(), errb.Bytes(), code}
}

// mustRun is run that fails the test on a non-zero exit.
func mustRun(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	r := run(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("pipe %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// peerDir is peertest.Dir: the directory scripts/peers.sh fills, or a skip
// (a failure with PIPE_PEERS=1).
func peerDir(t *testing.T) string { t.Helper(); return peertest.Dir(t) }

// peer runs one of the peer scripts in scripts/ with the peers' Python.
func peer(t *testing.T, stdin []byte, script string, args ...string) []byte {
	t.Helper()
	py := peertest.Python(t)
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	cmd := exec.Command(py, append([]string{filepath.Join(root, "scripts", script)}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, errb.Bytes())
	}
	return out.Bytes()
}
