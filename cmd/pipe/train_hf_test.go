package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/internal/peertest"
	"github.com/pipe-dev/pipe/trainer"
)

func parseIDs(t *testing.T, line string) []int32 {
	t.Helper()
	var ids []int32
	for _, f := range strings.Fields(line) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("ids %q: %v", line, err)
		}
		ids = append(ids, int32(n))
	}
	return ids
}

// A checkpoint of pipe train loads in Hugging Face transformers (GPT2LMHeadModel and
// AutoTokenizer from the directory, offline), which encodes text to the ids pipe does and
// computes the logits and loss that pipe's model computes from the same checkpoint.
func TestCheckpointLoadsInTransformers(t *testing.T) {
	py := peertest.TorchPython(t, "transformers")
	data, tok := trainData(t)
	out := filepath.Join(t.TempDir(), "run")
	mustRun(t, nil, "train", "--data", data, "--tokenizer", tok, "--model", "nano", "--context", "16",
		"--batch", "4", "--steps", "10", "--warmup", "2", "--lr", "3e-3", "--eval-every", "0",
		"--ckpt-every", "10", "--out", out)
	ckpt, err := trainer.LatestCheckpoint(out)
	if err != nil || ckpt == "" {
		t.Fatalf("no checkpoint in %s: %v", out, err)
	}

	// pipe's ids, with the checkpoint's own tokenizer.json: a text from the training
	// vocabulary for the sequence the models read, and one with bytes BPE never merged
	text := "the shard of tokens is written to an arrow file and read back by the loader with windows of context"
	odd := "The Loader, read back: café 42!\tEnd of text."
	lines := strings.Split(strings.TrimSpace(string(mustRun(t, jsonl(t, []string{text, odd}),
		"bpe", "encode", "--tokenizer", filepath.Join(ckpt, "tokenizer.json"), "--ids"))), "\n")
	if len(lines) != 2 {
		t.Fatalf("bpe encode --ids: %d lines", len(lines))
	}
	seq, oddIDs := parseIDs(t, lines[0]), parseIDs(t, lines[1])
	if len(seq) < 16 {
		t.Fatalf("%d tokens in %q, want at least 16", len(seq), text)
	}
	seq = seq[:16] // the context: HF's wpe has n_positions rows

	// pipe's logits and loss, from the checkpoint's files through the Go API
	cfg, _, err := trainer.ConfigFromHF(filepath.Join(ckpt, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := trainer.New(cfg, trainer.NewCPU())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadWeights(filepath.Join(ckpt, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	T, V := len(seq)-1, cfg.VocabSize
	loss, err := m.Forward(seq[:T], seq[1:], 1, T)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, T*V)
	m.Backend.Download(logits, m.Acts.Logits.View(0, T*V))

	// transformers' on the same tokens
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "..", "scripts", "hf_gpt2_peer.py")
	var sb strings.Builder
	for i, id := range seq {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.Itoa(int(id)))
	}
	hfRun := func(text string) (hf struct {
		IDs       []int32     `json:"ids"`
		Loss      float64     `json:"loss"`
		Logits    [][]float64 `json:"logits"`
		VocabSize int         `json:"vocab_size"`
		TokClass  string      `json:"tokenizer_class"`
	}) {
		cmd := exec.Command(py, script, ckpt, text, sb.String())
		cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "HF_HOME="+t.TempDir())
		var errb strings.Builder
		cmd.Stderr = &errb
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("hf_gpt2_peer.py: %v\n%s", err, errb.String())
		}
		if err := json.Unmarshal(b, &hf); err != nil {
			t.Fatalf("hf_gpt2_peer.py output: %v\n%.500s", err, b)
		}
		return hf
	}
	hf := hfRun(text)
	if got, want := hf.IDs[:16], seq; !equalIDs(got, want) {
		t.Errorf("AutoTokenizer (%s) ids of %q:\n got %v\nwant %v", hf.TokClass, text, got, want)
	}
	if hf2 := hfRun(odd); !equalIDs(hf2.IDs, oddIDs) {
		t.Errorf("AutoTokenizer ids of %q:\n got %v\nwant %v", odd, hf2.IDs, oddIDs)
	}
	if hf.VocabSize != V || len(hf.Logits) != T {
		t.Fatalf("transformers: vocab %d, %d positions; want %d, %d", hf.VocabSize, len(hf.Logits), V, T)
	}

	lossErr := math.Abs(float64(loss)-hf.Loss) / math.Abs(hf.Loss)
	var maxDiff, maxRef float64
	for i, row := range hf.Logits {
		if len(row) != V {
			t.Fatalf("transformers logits row %d: %d values, want %d", i, len(row), V)
		}
		for j, want := range row {
			maxDiff = max(maxDiff, math.Abs(float64(logits[i*V+j])-want))
			maxRef = max(maxRef, math.Abs(want))
		}
	}
	logitsErr := maxDiff / maxRef
	t.Logf("AutoTokenizer: %s; loss: pipe %.7f transformers %.7f (rel. error %.2e); logits: max |Δ| %.2e of max |x| %.3f (rel. error %.2e)",
		hf.TokClass, loss, hf.Loss, lossErr, maxDiff, maxRef, logitsErr)
	if lossErr >= 1e-4 || logitsErr >= 1e-4 || math.IsNaN(lossErr) || math.IsNaN(logitsErr) {
		t.Errorf("pipe and transformers differ: loss rel. error %.2e, logits rel. error %.2e (want < 1e-4)", lossErr, logitsErr)
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
