package trainer

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pipe-dev/pipe/internal/peertest"
)

func writeF32(t *testing.T, path string, x []float32) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := binary.Write(f, binary.LittleEndian, x); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTorchParity computes the logits, loss and gradients of a small GPT-2 and has PyTorch
// recompute them from the same weights and tokens (scripts/torch_gpt2_check.py): logits and
// loss must agree to a relative 1e-4, gradients to 1e-3.
func TestTorchParity(t *testing.T) {
	py := peertest.TorchPython(t, "numpy")
	cfg := Config{VocabSize: 67, Context: 20, Layers: 2, Heads: 4, Dim: 32}
	m, _ := New(cfg, NewCPU())
	m.Init(11)
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range m.Params.All.Host { // nonzero biases and LayerNorms, larger activations
		m.Params.All.Host[i] += float32(rng.NormFloat64() * 0.05)
	}
	B, T := 3, 16
	tokens, targets := randTokens(rng, B*T, cfg.VocabSize), randTokens(rng, B*T, cfg.VocabSize)
	loss, err := m.Forward(tokens, targets, B, T)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeF32(t, filepath.Join(dir, "params.f32"), m.Params.All.Host)
	writeF32(t, filepath.Join(dir, "logits.f32"), m.Acts.Logits.Host)
	m.ZeroGrad()
	m.Backward(1)
	writeF32(t, filepath.Join(dir, "grads.f32"), m.Grads.All.Host)
	meta, _ := json.Marshal(map[string]any{
		"format": "pipe-torch-check", "version": 1,
		"config": cfg, "B": B, "T": T, "tokens": tokens, "targets": targets, "loss": loss,
		"tensors": cfg.Tensors(),
	})
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "../scripts/torch_gpt2_check.py", dir).Output()
	t.Logf("%s", out)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("torch_gpt2_check: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
}
