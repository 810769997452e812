package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/gpu"
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

// readMetrics returns the lines of RUN/metrics.jsonl with tokens_per_s and mfu (the values
// that depend on the clock) removed.
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
		delete(m, "mfu")
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
	fullRun := run(t, nil, append(args(full), "--peak-flops", "1e9")...)
	if fullRun.code != 0 {
		t.Fatalf("train: exit %d\n%s", fullRun.code, fullRun.stderr)
	}
	mustRun(t, nil, append(args(parts), "--stop-after", "10")...)
	partsReport := evalRows(t, parts)
	if n := len(readMetrics(t, parts)); n != 10 {
		t.Fatalf("--stop-after 10: %d metrics lines", n)
	}
	if _, err := os.Stat(filepath.Join(parts, "ckpt-20")); err == nil {
		t.Fatal("--stop-after 10 wrote ckpt-20")
	}
	mustRun(t, nil, "train", "--resume", parts)
	want := readMetrics(t, full)
	sameMetrics(t, "resumed", readMetrics(t, parts), want)
	checkProgress(t, full, fullRun.stderr, 1e9)
	checkReport(t, full, want)
	if rows := evalRows(t, parts); len(rows) != 4 || !slices.Equal(rows[:2], partsReport) || !slices.Equal(rows, evalRows(t, full)) {
		t.Errorf("the resumed run's report: %d evaluations\n%s\nbefore the resume:\n%s", len(rows), strings.Join(rows, "\n"), strings.Join(partsReport, "\n"))
	}
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
	// the vocabulary padded from the tokenizer's 300 to a multiple of 64 (--pad-vocab's default)
	if hf["model_type"] != "gpt2" || hf["vocab_size"] != 320.0 || hf["n_positions"] != 16.0 || hf["n_layer"] != 3.0 || hf["activation_function"] != "gelu_new" {
		t.Errorf("config.json: %s", b)
	}
	ts, meta, err := trainer.ReadSafetensors(filepath.Join(ckpt, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" || len(ts["wte.weight"].Data) != 320*48 || len(ts["h.2.mlp.c_proj.weight"].Shape) != 2 {
		t.Errorf("model.safetensors: metadata %v, %d tensors", meta, len(ts))
	}

	// sampling with the checkpoint's tokenizer.json: the prompt, then text; the same twice
	sample := func() string {
		return string(mustRun(t, nil, "sample", "--ckpt", ckpt, "--prompt", "the shard", "--max-tokens", "8", "--top-k", "5", "--seed", "2"))
	}
	if a, b := sample(), sample(); a != b || !strings.HasPrefix(a, "the shard") || len(a) <= len("the shard\n") {
		t.Errorf("samples %q and %q", a, b)
	}
	// hot samples as ids (no tokenizer read): never one of the padding's ids, 300 to 319
	hot := strings.Fields(string(mustRun(t, nil, "sample", "--ckpt", ckpt, "--ids", "--prompt", "1 2", "--max-tokens", "300", "--temperature", "8")))
	for _, f := range hot {
		if id, err := strconv.Atoi(f); err != nil || id < 0 || id >= 300 {
			t.Fatalf("sampled %q, want ids below the tokenizer's 300", f)
		}
	}
	if len(hot) != 300 {
		t.Errorf("%d ids sampled, want 300", len(hot))
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
	// the report is rewritten whole at each evaluation, keeping the earlier ones
	first := evalRows(t, killed)
	for {
		rows := evalRows(t, killed)
		if len(rows) > len(first) {
			if !slices.Equal(rows[:len(first)], first) {
				t.Errorf("the report's evaluations went from\n%s\nto\n%s", strings.Join(first, "\n"), strings.Join(rows, "\n"))
			}
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the report stayed at %d evaluations", len(first))
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
	if a, b := evalRows(t, killed), evalRows(t, ref); !slices.Equal(a, b) || len(a) != (step+15+6)/7 { // every 7th step and the last
		t.Errorf("the killed and resumed run's report has evaluations\n%s\nthe uninterrupted run's\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// evalRows returns the rows of the evaluations table of RUN/report.html, which must be whole.
func evalRows(t *testing.T, run string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte("</html>\n")) {
		t.Fatalf("%s/report.html is cut short:\n%s", run, b[max(0, len(b)-200):])
	}
	return regexp.MustCompile(`<tr id="eval-\d+">.*</tr>`).FindAllString(string(b), -1)
}

// checkReport checks that RUN/report.html needs nothing outside itself and shows every
// evaluation of metrics ms: its val loss and a sample.
func checkReport(t *testing.T, run string, ms []map[string]any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	bad := regexp.MustCompile(`(?i)<script|<link|<img|<iframe|\s(src|href)\s*=|@import|url\(|https?:`)
	if m := bad.FindString(page); m != "" {
		t.Errorf("report.html loads something: %q", m)
	}
	rows := evalRows(t, run)
	n := 0
	for _, m := range ms {
		v, ok := m["val_loss"].(float64)
		if !ok {
			continue
		}
		step := int(m["step"].(float64))
		want := regexp.MustCompile(fmt.Sprintf(`^<tr id="eval-%d"><td>%d</td><td>%.4f</td><td class="val">%.4f</td>(<td>[0-9.]+</td>)?<td><pre>.+</pre></td></tr>$`,
			step, step, m["loss"].(float64), v))
		if n >= len(rows) || !want.MatchString(rows[n]) {
			t.Errorf("report.html: evaluation %d of step %d: no row matching %s", n, step, want)
		}
		if s, _ := m["sample"].(string); s == "" || !strings.Contains(page, html.EscapeString(s)) {
			t.Errorf("step %d: the sample %q is not in report.html", step, s)
		}
		n++
	}
	if n == 0 || n != len(rows) {
		t.Errorf("%d evaluations in metrics.jsonl, %d in report.html", n, len(rows))
	}
}

// checkProgress checks the progress lines (step, loss, tokens/s, MFU, ETA) that a run printed
// against its metrics.jsonl, whose mfu must be tokens_per_s × FLOPs a token ÷ peak.
func checkProgress(t *testing.T, run string, stderr []byte, peak float64) {
	t.Helper()
	ck, _ := trainer.LatestCheckpoint(run)
	cfg, _, err := trainer.ConfigFromHF(filepath.Join(ck, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		Step       int
		Loss       float32
		TokensPerS float64 `json:"tokens_per_s"`
		MFU        *float64
	}
	steps := map[int]line{}
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m line
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		if m.MFU == nil {
			t.Fatalf("no mfu in %s", l)
		}
		if want := m.TokensPerS * cfg.FlopsPerToken(cfg.Context) / peak; math.Abs(*m.MFU-want) > 1e-12*want {
			t.Errorf("step %d: mfu %v, want %v", m.Step, *m.MFU, want)
		}
		steps[m.Step] = m
	}
	re := regexp.MustCompile(`(?m)^step (\d+)/(\d+) loss ([0-9.]+) lr \S+ (\d+) tok/s mfu ([0-9.]+)% eta (\S+)`)
	lines := re.FindAllSubmatch(stderr, -1)
	if len(lines) == 0 {
		t.Fatalf("no progress line with tok/s, mfu and eta in\n%s", stderr)
	}
	for _, l := range lines {
		step, _ := strconv.Atoi(string(l[1]))
		tps, _ := strconv.ParseFloat(string(l[4]), 64)
		mfu, _ := strconv.ParseFloat(string(l[5]), 64)
		m, ok := steps[step]
		if _, err := time.ParseDuration(string(l[6])); err != nil || !ok {
			t.Errorf("progress %q: eta %v, step in metrics %v", l[0], err, ok)
			continue
		}
		if string(l[3]) != fmt.Sprintf("%.4f", m.Loss) || math.Abs(tps-m.TokensPerS) > 0.5 || math.Abs(mfu-100**m.MFU) > 0.005+1e-9 {
			t.Errorf("progress %q; metrics: loss %v, %v tokens/s, mfu %v", l[0], m.Loss, m.TokensPerS, *m.MFU)
		}
	}
	if last := lines[len(lines)-1]; string(last[1]) != string(last[2]) || string(last[6]) != "0s" {
		t.Errorf("last progress line %q: want the last step and eta 0s", last[0])
	}
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
	// each evaluation's sample is the greedy sort of one held-out input, in letters
	samples := regexp.MustCompile(`(?m)^sample: "([ABC]{6}) → ([ABC]{6})"$`).FindAllSubmatch(r.stderr, -1)
	if len(samples) == 0 || len(samples) != len(ms)/50 {
		t.Fatalf("%d samples for %d steps:\n%s", len(samples), len(ms), r.stderr)
	}
	s := samples[len(samples)-1]
	in := slices.Clone(s[1])
	slices.Sort(in)
	if string(in) != string(s[2]) {
		t.Errorf("at accuracy 1 the sample %s → %s is not sorted", s[1], s[2])
	}
	checkReport(t, out, ms)
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
		{"train", "--task", "sort", "--model", "nano", "--device", "tpu", "--out", "x"},
		{"train", "--task", "sort", "--model", "huge", "--out", "x"},
		{"train", "--model", "nano", "--out", "x"},
		{"train", "--task", "sort", "--model", "nano"},
	} {
		if r := run(t, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
}

// TestTrainDevice runs --device through the binary: cuda is an error naming
// the driver it looked for when there is no GPU (the device machine runs the
// GPU side: gpu/check.sh), and auto then trains on the CPU.
func TestTrainDevice(t *testing.T) {
	if _, err := gpu.New(); err == nil {
		t.Skip("a GPU is here: gpu/check.sh tests --device cuda")
	} else if !errors.Is(err, gpu.ErrNoDevice) {
		t.Fatalf("gpu.New: %v", err)
	}
	dir := t.TempDir()
	r := run(t, nil, "train", "--task", "sort", "--model", "nano", "--steps", "2", "--device", "cuda", "--out", filepath.Join(dir, "cuda"))
	if r.code != 1 || !bytes.Contains(r.stderr, []byte("libcuda")) || !bytes.Contains(r.stderr, []byte("--device cuda")) {
		t.Errorf("--device cuda without a GPU: exit %d, want 1 and a message naming libcuda\n%s", r.code, r.stderr)
	}
	r = run(t, nil, "train", "--task", "sort", "--model", "nano", "--steps", "2", "--device", "auto", "--out", filepath.Join(dir, "auto"))
	if r.code != 0 || !bytes.Contains(r.stderr, []byte(`backend="cpu (no GPU`)) {
		t.Errorf("--device auto without a GPU: exit %d, want 0 and the cpu backend\n%s", r.code, r.stderr)
	}
}

// TestTrainDataParallelFlags runs --rank/--world-size and torchrun's variables through the
// binary, up to where a GPU is needed: bad ranks and values are usage errors, the CPU and the
// sort task refuse world sizes above 1, --device auto without a GPU says that NCCL needs GPUs,
// a world size of 1 from the environment trains as usual, and a run resumes only with its own
// world size. (The NCCL side runs on a GPU: gpu's TestGPUNCCL.)
func TestTrainDataParallelFlags(t *testing.T) {
	data, _ := trainData(t)
	dir := t.TempDir()
	runEnv := func(env []string, args ...string) result {
		t.Helper()
		return runWithEnv(t, env, nil, args...)
	}
	base := []string{"train", "--data", data, "--model", "nano", "--context", "16", "--batch", "2", "--steps", "2", "--eval-batches", "1", "--sample-tokens", "0"}
	for _, c := range []struct {
		env  []string
		args []string
		code int
		want string
	}{
		{nil, []string{"--world-size", "2", "--rank", "2", "--device", "cuda"}, 2, "want 0 ≤ rank < world size"},
		{[]string{"RANK=1", "WORLD_SIZE=2"}, []string{"--device", "cpu"}, 2, "give --device cuda"},
		{[]string{"RANK=one"}, nil, 2, "$RANK"},
		{nil, []string{"--world-size", "2", "--rank", "1", "--device", "cuda", "--batch-tokens", "96"}, 2, "on each of 2 ranks"},
		{[]string{"WORLD_SIZE=2"}, []string{"--rank", "3", "--device", "cuda"}, 2, "rank 3 of world size 2"},
	} {
		r := runEnv(c.env, append(append(base, c.args...), "--out", filepath.Join(dir, "x"))...)
		if r.code != c.code || !bytes.Contains(r.stderr, []byte(c.want)) {
			t.Errorf("%v %v: exit %d, want %d and %q\n%s", c.env, c.args, r.code, c.code, c.want, r.stderr)
		}
	}
	r := runEnv(nil, "train", "--task", "sort", "--world-size", "2", "--device", "cuda", "--out", filepath.Join(dir, "s"))
	if r.code != 2 || !bytes.Contains(r.stderr, []byte("does not split across ranks")) {
		t.Errorf("--task sort --world-size 2: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := gpu.New(); errors.Is(err, gpu.ErrNoDevice) {
		r := runEnv([]string{"WORLD_SIZE=2", "RANK=0"}, append(base, "--device", "auto", "--out", filepath.Join(dir, "auto"))...)
		if r.code != 1 || !bytes.Contains(r.stderr, []byte("runs over NCCL on GPUs")) {
			t.Errorf("world size 2, --device auto, no GPU: exit %d\n%s", r.code, r.stderr)
		}
	}
	one := filepath.Join(dir, "one")
	if r := runEnv([]string{"WORLD_SIZE=1", "RANK=0", "LOCAL_RANK=0"}, append(base, "--device", "cpu", "--out", one)...); r.code != 0 {
		t.Fatalf("world size 1: exit %d\n%s", r.code, r.stderr)
	}
	if ms := readMetrics(t, one); len(ms) != 2 {
		t.Errorf("world size 1: %d metrics lines", len(ms))
	}
	r = runEnv(nil, "train", "--resume", one, "--steps", "3", "--world-size", "2")
	if r.code != 1 || !bytes.Contains(r.stderr, []byte("trained by 1 ranks")) {
		t.Errorf("resume with another world size: exit %d\n%s", r.code, r.stderr)
	}
}
