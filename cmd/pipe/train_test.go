package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/trainer"
)

// trainData shards 120 short documents with a 300-token tokenizer trained on them, and
// returns the shard directory and the tokenizer file.
func trainData(t *testing.T) (dir, tok string) {
	t.Helper()
	tmp := t.TempDir()
	docs := jsonl(t, texts(120))
	tok = filepath.Join(tmp, "tok.bpe")
	mustRun(t, docs, "bpe", "train", "--vocab-size", "300", "--out", tok)
	dir = filepath.Join(tmp, "data")
	mustRun(t, docs, "shard", "--tokenizer", tok, "--out", dir, "--val-tokens", "600")
	return dir, tok
}

// readMetrics returns the lines of RUN/metrics.jsonl with tokens_per_s (the one value that
// depends on the clock) removed.
func readMetrics(t *testing.T, run string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		if _, ok := m["tokens_per_s"]; !ok {
			t.Fatalf("metrics line without tokens_per_s: %s", sc.Text())
		}
		delete(m, "tokens_per_s")
		out = append(out, m)
	}
	return out
}

func sameMetrics(t *testing.T, what string, got, want []map[string]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d metrics lines, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, _ := json.Marshal(got[i])
		w, _ := json.Marshal(want[i])
		if !bytes.Equal(g, w) {
			t.Errorf("%s: line %d\n got %s\nwant %s", what, i+1, g, w)
		}
	}
}

// A run interrupted at a checkpoint and resumed writes the same losses, bit for bit, as
// one that ran through; and its checkpoints are in Hugging Face's layout.
func TestTrainResumeExact(t *testing.T) {
	data, tok := trainData(t)
	tmp := t.TempDir()
	args := func(out string) []string {
		return []string{"train", "--data", data, "--tokenizer", tok, "--model", "nano", "--context", "16",
			"--batch", "4", "--batch-tokens", "128", "--steps", "20", "--warmup", "3", "--lr", "1e-3",
			"--eval-every", "5", "--eval-batches", "2", "--ckpt-every", "10", "--out", out}
	}
	full, parts := filepath.Join(tmp, "full"), filepath.Join(tmp, "parts")
	mustRun(t, nil, args(full)...)
	mustRun(t, nil, append(args(parts), "--stop-after", "10")...)
	if n := len(readMetrics(t, parts)); n != 10 {
		t.Fatalf("--stop-after 10: %d metrics lines", n)
	}
	if _, err := os.Stat(filepath.Join(parts, "ckpt-20")); err == nil {
		t.Fatal("--stop-after 10 wrote ckpt-20")
	}
	mustRun(t, nil, "train", "--resume", parts)
	want := readMetrics(t, full)
	sameMetrics(t, "resumed", readMetrics(t, parts), want)
	if want[0]["loss"].(float64) <= want[19]["loss"].(float64) {
		t.Errorf("loss did not fall: %v → %v", want[0]["loss"], want[19]["loss"])
	}
	if _, ok := want[4]["val_loss"]; !ok {
		t.Errorf("no val_loss at step 5: %v", want[4])
	}

	ckpt := filepath.Join(full, "ckpt-20")
	for _, f := range []string{"model.safetensors", "optimizer.safetensors", "config.json", "state.json", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(ckpt, f)); err != nil {
			t.Error(err)
		}
	}
	var hf map[string]any
	b, _ := os.ReadFile(filepath.Join(ckpt, "config.json"))
	if err := json.Unmarshal(b, &hf); err != nil {
		t.Fatal(err)
	}
	if hf["model_type"] != "gpt2" || hf["vocab_size"] != 300.0 || hf["n_positions"] != 16.0 || hf["n_layer"] != 3.0 || hf["activation_function"] != "gelu_new" {
		t.Errorf("config.json: %s", b)
	}
	ts, meta, err := trainer.ReadSafetensors(filepath.Join(ckpt, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" || len(ts["wte.weight"].Data) != 300*48 || len(ts["h.2.mlp.c_proj.weight"].Shape) != 2 {
		t.Errorf("model.safetensors: metadata %v, %d tensors", meta, len(ts))
	}

	// sampling with the checkpoint's tokenizer.json: the prompt, then text; the same twice
	sample := func() string {
		return string(mustRun(t, nil, "sample", "--ckpt", ckpt, "--prompt", "the shard", "--max-tokens", "8", "--top-k", "5", "--seed", "2"))
	}
	if a, b := sample(), sample(); a != b || !strings.HasPrefix(a, "the shard") || len(a) <= len("the shard\n") {
		t.Errorf("samples %q and %q", a, b)
	}

	// a new run into a directory with checkpoints is refused; so are other settings with --resume
	if r := run(t, nil, args(full)...); r.code != 1 || !strings.Contains(string(r.stderr), "--resume") {
		t.Errorf("train into a run with checkpoints: exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, nil, "train", "--resume", full, "--model", "micro"); r.code != 2 {
		t.Errorf("--resume with --model: exit %d\n%s", r.code, r.stderr)
	}
}

// A run killed (SIGKILL) after its first checkpoint resumes from its latest one and goes on
// exactly as a run that was never killed.
func TestTrainKillResume(t *testing.T) {
	data, _ := trainData(t)
	tmp := t.TempDir()
	args := func(out string) []string {
		return []string{"train", "--data", data, "--model", "nano", "--context", "16", "--batch", "4",
			"--steps", "100000", "--lr", "1e-3", "--eval-every", "7", "--eval-batches", "2", "--ckpt-every", "10", "--out", out}
	}
	killed := filepath.Join(tmp, "killed")
	cmd := exec.Command(pipeBin, args(killed)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ck, _ := trainer.LatestCheckpoint(killed); ck != "" {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("no checkpoint within 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	ck, err := trainer.LatestCheckpoint(killed)
	if err != nil {
		t.Fatal(err)
	}
	step, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(ck), "ckpt-"))
	stop := strconv.Itoa(step + 15)
	mustRun(t, nil, "train", "--resume", killed, "--stop-after", stop)
	ref := filepath.Join(tmp, "ref")
	mustRun(t, nil, append(args(ref), "--stop-after", stop)...)
	sameMetrics(t, "killed and resumed", readMetrics(t, killed), readMetrics(t, ref))
}

// The nano model learns the sorting task: every held-out input sorted by greedy decoding.
func TestTrainSort(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sort")
	r := run(t, nil, "train", "--task", "sort", "--model", "nano", "--steps", "2000", "--eval-every", "50",
		"--target-accuracy", "1", "--seed", "3", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	ms := readMetrics(t, out)
	last := ms[len(ms)-1]
	if last["accuracy"] != 1.0 {
		t.Fatalf("accuracy at step %v: %v\n%s", last["step"], last["accuracy"], r.stderr)
	}
	if !strings.Contains(string(r.stderr), "accuracy 1.000") {
		t.Errorf("progress:\n%s", r.stderr)
	}
	ck, _ := trainer.LatestCheckpoint(out)
	if ck == "" {
		t.Fatal("no checkpoint")
	}
	// greedy decoding from the checkpoint sorts
	for prompt, want := range map[string]string{"2 0 1 1 0 2": "0 0 1 1 2 2", "1 2 2 0 1 0": "0 0 1 1 2 2", "2 2 2 2 2 1": "1 2 2 2 2 2"} {
		got := strings.TrimSpace(string(mustRun(t, nil, "sample", "--ckpt", ck, "--prompt", prompt, "--tokens", "6", "--temperature", "0")))
		if got != want {
			t.Errorf("sample %q: %q, want %q", prompt, got, want)
		}
	}
}

func TestTrainRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"train", "--task", "sort", "--model", "nano", "--batch-tokens", "100", "--out", "x"},
		{"train", "--task", "sort", "--model", "nano", "--device", "cuda", "--out", "x"},
		{"train", "--task", "sort", "--model", "huge", "--out", "x"},
		{"train", "--model", "nano", "--out", "x"},
		{"train", "--task", "sort", "--model", "nano"},
	} {
		if r := run(t, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
}
