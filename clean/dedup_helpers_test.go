package clean

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pipe-dev/pipe/docio"
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
	dir := os.Getenv("PIPE_PEER_DIR")
	if dir == "" {
		if os.Getenv("PIPE_PEERS") == "1" {
			t.Fatal("PIPE_PEERS=1 but PIPE_PEER_DIR is not set")
		}
		t.Skip("peers not installed: run scripts/test.sh")
	}
	_, self, _, _ := runtime.Caller(0)
	cmd := exec.Command(filepath.Join(dir, "venv", "bin", "python"), filepath.Join(filepath.Dir(self), "..", "scripts", script))
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, errb.Bytes())
	}
	return out.Bytes()
}
