// Package peertest finds the peers that tests compare with: the Python
// packages, npm packages and data that scripts/peers.sh installs under
// $PIPE_PEER_DIR (venv/ for most Python peers, torch/ for torch, airflow/
// for Apache Airflow).
//
// One rule holds throughout: a test whose peer is missing is skipped,
// unless the environment asks for the peers (PIPE_PEERS=1, or PIPE_TORCH=1
// for torch), when it fails instead. Only tests import this package.
package peertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Required reports whether PIPE_PEERS=1 asks for the peers, making a
// missing one a failure rather than a skip.
func Required() bool { return os.Getenv("PIPE_PEERS") == "1" }

// Wanted reports whether peer comparisons should run: PIPE_PEER_DIR is set
// or PIPE_PEERS=1. Tests use it to add an optional peer check to a test
// that otherwise runs without peers.
func Wanted() bool { return os.Getenv("PIPE_PEER_DIR") != "" || Required() }

// Missing ends the test because a peer is missing, for the reason why: it
// fails when PIPE_PEERS=1 asks for the peers, and skips otherwise.
func Missing(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("PIPE_PEERS=1 but %s: run scripts/peers.sh", why)
	}
	t.Skipf("%s: run scripts/peers.sh and set PIPE_PEER_DIR (scripts/test.sh does both)", why)
}

// Dir returns $PIPE_PEER_DIR, the directory scripts/peers.sh fills, or
// ends the test with Missing when it is not set.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PIPE_PEER_DIR")
	if dir == "" {
		Missing(t, "PIPE_PEER_DIR is not set")
	}
	return dir
}

// Python returns the Python of the peers' venv, $PIPE_PEER_DIR/venv/bin/python,
// after checking that it imports the modules (none: no check), or ends the
// test with Missing when PIPE_PEER_DIR is not set or an import fails.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	py := filepath.Join(Dir(t), "venv", "bin", "python")
	if len(modules) > 0 {
		if out, err := exec.Command(py, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput(); err != nil {
			Missing(t, fmt.Sprintf("%s is not importable by %s: %v %s", strings.Join(modules, ", "), py, err, out))
		}
	}
	return py
}

// AirflowPython returns the Python of the Airflow venv of scripts/peers.sh,
// $PIPE_PEER_DIR/airflow/bin/python (its bin/ also holds the airflow
// command), after checking that it imports airflow; or ends the test with
// Missing.
func AirflowPython(t testing.TB) string {
	t.Helper()
	py := filepath.Join(Dir(t), "airflow", "bin", "python")
	if out, err := exec.Command(py, "-c", "import airflow.sdk").CombinedOutput(); err != nil {
		Missing(t, fmt.Sprintf("airflow is not importable by %s: %v %s", py, err, out))
	}
	return py
}

// TorchPython returns the first Python that imports torch and the modules
// among $PIPE_TORCH_PYTHON and the torch venv
// of scripts/peers.sh, $PIPE_PEER_DIR/torch/bin/python. Without one it
// skips the test, or fails it when PIPE_TORCH=1 asks for torch.
func TorchPython(t testing.TB, modules ...string) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv("PIPE_TORCH_PYTHON"); p != "" {
		candidates = append(candidates, p)
	}
	if d := os.Getenv("PIPE_PEER_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, "torch", "bin", "python"))
	}
	mods := strings.Join(append([]string{"torch"}, modules...), ", ")
	for _, py := range candidates {
		if exec.Command(py, "-c", "import "+mods).Run() == nil {
			return py
		}
	}
	if os.Getenv("PIPE_TORCH") == "1" {
		t.Fatalf("PIPE_TORCH=1 but no Python that imports %s among %v (set PIPE_TORCH_PYTHON, or run scripts/peers.sh)", mods, candidates)
	}
	t.Skipf("no Python that imports %s among %v: set PIPE_TORCH_PYTHON, or PIPE_PEER_DIR after scripts/peers.sh", mods, candidates)
	return ""
}
