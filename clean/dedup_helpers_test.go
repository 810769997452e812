package clean

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/internal/peertest"
)

func mustCreate(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func docText(s string) docio.Document { return docio.Document{Text: s} }

// runPeer runs scripts/NAME with the peers' Python, skipping the test when
// the peers are not installed (failing it when PIPE_PEERS=1).
func runPeer(t *testing.T, script string, stdin []byte) []byte {
	t.Helper()
	py := peertest.Python(t)
	_, self, _, _ := runtime.Caller(0)
	cmd := exec.Command(py, filepath.Join(filepath.Dir(self), "..", "scripts", script))
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, errb.Bytes())
	}
	return out.Bytes()
}
