package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/gpu"
	"github.com/pipe-dev/pipe/internal/peertest"
	"github.com/pipe-dev/pipe/trainer"
)

// inspection is the JSON of "pipe inspect --json".
type inspection struct {
	Params []struct {
		Name  string
		Shape []int
		Count int
	}
	Total  int `json:"total_params"`
	Tokens []struct {
		ID   int32
		Text string
	}
	Embedding *activation
	Layers    [][]activation
	LnF       *activation `json:"ln_f"`
	Logits    *activation
	Next      [][]struct {
		ID    int32
		Text  string
		Logit float32
		Prob  float64
	}
}

type activation struct {
	Name  string
	Shape []int
	Data  []float32
}

func inspectJSON(t *testing.T, args ...string) inspection {
	t.Helper()
	var in inspection
	out := mustRun(t, nil, append([]string{"inspect", "--json"}, args...)...)
	if err := json.Unmarshal(out, &in); err != nil {
		t.Fatalf("inspect --json: %v\n%.300s", err, out)
	}
	return in
}

// modelOf loads a checkpoint's model through the Go API, as the trainer writes it.
func modelOf(t *testing.T, ckpt string) *trainer.Model {
	t.Helper()
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
	return m
}

// sameLogits fails t unless logits are, bit for bit, what the model computes for tokens.
func sameLogits(t *testing.T, ckpt string, tokens []int32, logits []float32) {
	t.Helper()
	m := modelOf(t, ckpt)
	T, V := len(tokens), m.Config.VocabSize
	if _, err := m.Forward(tokens, nil, 1, T); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, T*V)
	m.Backend.Download(want, m.Acts.Logits.View(0, T*V))
	if len(logits) != len(want) {
		t.Fatalf("%d logits, the model computes %d", len(logits), len(want))
	}
	for i := range want {
		if logits[i] != want[i] {
			t.Fatalf("logit %d (position %d, token %d): inspect %v, the model %v", i, i/V, i%V, logits[i], want[i])
		}
	}
}

// parseParams reads the parameter table of inspect's text: name → count, and the total.
func parseParams(t *testing.T, out []byte) (map[string]int, []string, int) {
	t.Helper()
	counts, total := map[string]int{}, -1
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	in := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case sc.Text() == "parameters":
			in = true
		case !in || len(f) == 0 || f[0] == "tensor":
		case f[0] == "total":
			n, err := strconv.Atoi(strings.ReplaceAll(f[1], ",", ""))
			if err != nil {
				t.Fatalf("total line %q", sc.Text())
			}
			total = n
			in = false
		default:
			n, err := strconv.Atoi(strings.ReplaceAll(f[len(f)-1], ",", ""))
			if err != nil {
				t.Fatalf("parameter line %q", sc.Text())
			}
			counts[f[0]] = n
			names = append(names, f[0])
		}
	}
	return counts, names, total
}

// checkAttention reads every head's attention matrix printed in inspect's text and checks that
// each row sums to 1 over positions up to its own and is 0 past it; it returns the number of
// matrices.
func checkAttention(t *testing.T, out []byte, T int) int {
	t.Helper()
	lines := strings.Split(string(out), "\n")
	heads := 0
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "  head ") {
			continue
		}
		heads++
		cols := strings.Fields(lines[i+1])
		if len(cols) != T+1 || cols[0] != "t" {
			t.Fatalf("head header %q", lines[i+1])
		}
		for r := range T {
			line := lines[i+2+r]
			f := strings.Fields(line)
			if len(f) != T+2 || f[0] != strconv.Itoa(r) {
				t.Fatalf("attention row %d: %q", r, line)
			}
			var sum float64
			for s, v := range f[2:] {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("attention row %q: %v", line, err)
				}
				if s > r && v != "0" {
					t.Errorf("%s, row %d: weight %s on the future position %d", lines[i], r, v, s)
				}
				sum += x
			}
			if math.Abs(sum-1) > 5e-5*float64(r+1)+1e-9 {
				t.Errorf("%s, row %d sums to %v: %q", lines[i], r, sum, line)
			}
		}
		i += T + 1
	}
	return heads
}

// nextToken is the most likely next token after the last position, from inspect's text.
func nextToken(t *testing.T, out []byte, T int) string {
	t.Helper()
	m := regexp.MustCompile(fmt.Sprintf(`(?m)^ +%d +\S+ +(\d+) +\S+ +[0-9.]+ +-?[0-9.]+$`, T-1)).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no next token for position %d in\n%s", T-1, out[max(0, len(out)-2000):])
	}
	return string(m[1])
}

// checkPage fails t unless the page is self-contained and holds a section per layer.
func checkPage(t *testing.T, page string, layers int) {
	t.Helper()
	// markup that would load something: only the JSON data may hold such text, as a token's
	data := regexp.MustCompile(`(?s)<script type="application/json" id="acts">.*?</script>`)
	markup := data.ReplaceAllString(page, "")
	bad := regexp.MustCompile(`(?i)<(script|img|iframe|link|embed|object|source|audio|video|image|use)[^>]*\s(src|href|data|xlink:href)\s*=|\shref\s*=\s*"[^#]|@import|url\(|https?:`)
	if m := bad.FindString(markup); m != "" {
		t.Errorf("the page loads something: %q", m)
	}
	if n := strings.Count(markup, "<script"); n != 1 {
		t.Errorf("%d scripts besides the data, want 1 (inline)", n)
	}
	for l := range layers {
		if !strings.Contains(page, fmt.Sprintf(`<section id="layer-%d">`, l)) {
			t.Errorf("no section for layer %d", l)
		}
	}
	for _, s := range []string{"params", "prompt", "embedding", "output"} {
		if !strings.Contains(page, `<section id="`+s+`">`) {
			t.Errorf("no section %s", s)
		}
	}
}

// pipe inspect on the sort task's nano checkpoint: the parameter table is the model's, the
// attention printed is causal and normalised, the next token is the one sampling picks, the
// logits are the model's, the page holds every layer and its script draws every heatmap.
func TestInspectSort(t *testing.T) {
	sortRun := filepath.Join(t.TempDir(), "sort")
	mustRun(t, nil, "train", "--task", "sort", "--steps", "300", "--eval-every", "100", "--seed", "3", "--out", sortRun)
	ck, err := trainer.LatestCheckpoint(sortRun)
	if err != nil || ck == "" {
		t.Fatalf("no checkpoint: %v", err)
	}
	cfg := modelOf(t, ck).Config

	counts, names, total := parseParams(t, mustRun(t, nil, "inspect", "--ckpt", ck))
	sum := 0
	for i, spec := range cfg.Tensors() {
		if i >= len(names) || names[i] != spec.Name || counts[spec.Name] != spec.Size() {
			t.Errorf("tensor %d: %s %d, want %s %d", i, names[min(i, len(names)-1)], counts[spec.Name], spec.Name, spec.Size())
		}
		sum += counts[spec.Name]
	}
	if len(names) != len(cfg.Tensors()) || total != cfg.NumParams() || sum != total || total != 85_584 {
		t.Errorf("%d tensors summing to %d, total %d; the model has %d tensors, %d parameters", len(names), sum, total, len(cfg.Tensors()), cfg.NumParams())
	}

	page := filepath.Join(t.TempDir(), "sort.html")
	out := mustRun(t, nil, "inspect", "--ckpt", ck, "--prompt", "CABBAC", "--values", "0", "--html", page)
	if ids := mustRun(t, nil, "inspect", "--ckpt", ck, "--prompt", "2 0 1 1 0 2", "--values", "0"); !bytes.Equal(ids, out) {
		t.Error("the prompt CABBAC and the prompt 2 0 1 1 0 2 inspect differently")
	}
	const T = 6
	if !strings.Contains(string(out), "    5      2  C\n") {
		t.Errorf("the prompt's tokens are not shown as letters:\n%.2000s", out)
	}
	if n := checkAttention(t, out, T); n != cfg.Layers*cfg.Heads {
		t.Errorf("%d attention matrices printed, want %d", n, cfg.Layers*cfg.Heads)
	}
	greedy := strings.TrimSpace(string(mustRun(t, nil, "sample", "--ckpt", ck, "--prompt", "CABBAC", "--max-tokens", "1", "--temperature", "0")))
	if got := nextToken(t, out, T); got != greedy {
		t.Errorf("the most likely next token %s, pipe sample --temperature 0 draws %s", got, greedy)
	}
	// sample's --device: cpu draws the same; a device that is not there is an error naming why
	args := []string{"sample", "--ckpt", ck, "--prompt", "CABBAC", "--max-tokens", "1", "--temperature", "0"}
	if cpu := strings.TrimSpace(string(mustRun(t, nil, append(args, "--device", "cpu")...))); cpu != greedy {
		t.Errorf("sample --device cpu draws %s, --device auto %s", cpu, greedy)
	}
	if r := run(t, nil, append(args, "--device", "tpu")...); r.code != 2 || !strings.Contains(string(r.stderr), `"tpu"`) {
		t.Errorf("sample --device tpu: exit %d, want 2 and a message naming it\n%s", r.code, r.stderr)
	}
	if _, err := gpu.New(); errors.Is(err, gpu.ErrNoDevice) {
		if r := run(t, nil, append(args, "--device", "cuda")...); r.code == 0 || !strings.Contains(string(r.stderr), "libcuda") {
			t.Errorf("sample --device cuda without a GPU: exit %d, want an error naming libcuda\n%s", r.code, r.stderr)
		}
	}
	in := inspectJSON(t, "--ckpt", ck, "--prompt", "CABBAC", "--top-k", "3")
	if len(in.Tokens) != T || in.Tokens[0].ID != 2 || in.Tokens[0].Text != "C" || len(in.Layers) != cfg.Layers || len(in.Next[T-1]) != 3 {
		t.Fatalf("inspect --json: %d tokens %v, %d layers", len(in.Tokens), in.Tokens, len(in.Layers))
	}
	tokens := []int32{2, 0, 1, 1, 0, 2}
	sameLogits(t, ck, tokens, in.Logits.Data)

	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, string(b), cfg.Layers)
	for l := range cfg.Layers {
		for _, name := range trainer.LayerActNames {
			if !strings.Contains(string(b), fmt.Sprintf(`"%d.%s":{"shape":[`, l, name)) {
				t.Errorf("the page has no values of layer %d %s", l, name)
			}
		}
	}
	if node, err := exec.LookPath("node"); err != nil {
		peertest.Missing(t, "node is not on PATH to run the page's script")
	} else {
		_, self, _, _ := runtime.Caller(0)
		res, err := exec.Command(node, filepath.Join(filepath.Dir(self), "testdata", "inspect_page.js"), page).CombinedOutput()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, res)
		}
		want := fmt.Sprintf(`{"canvases":%d,"undrawn":[]}`, 1+cfg.Layers*(len(trainer.LayerActNames)-1+cfg.Heads)+2)
		if got := strings.TrimSpace(string(res)); got != want {
			t.Errorf("the page's script: %s, want %s", got, want)
		}
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--prompt", "CAXB"}, 2, `"CAXB"`},
		{[]string{"--prompt", "CABBACCABBAC"}, 2, "context 11"},
		{[]string{"--prompt", "3"}, 2, "below 3"},
		{[]string{"--top-k", "0"}, 2, "--top-k"},
		{[]string{"--html", filepath.Join(t.TempDir(), "no", "such", "dir.html"), "--prompt", "CAB"}, 1, "dir.html"},
	} {
		r := run(t, nil, append([]string{"inspect", "--ckpt", ck}, c.args...)...)
		if r.code != c.code || !strings.Contains(string(r.stderr), c.msg) {
			t.Errorf("inspect %v: exit %d, want %d with %q\n%s", c.args, r.code, c.code, c.msg, r.stderr)
		}
	}
	if r := run(t, nil, "inspect", "--prompt", "CAB"); r.code != 2 {
		t.Errorf("inspect without --ckpt: exit %d", r.code)
	}
	if r := run(t, nil, "inspect", "--ckpt", filepath.Join(sortRun, "ckpt-9")); r.code != 1 || !strings.Contains(string(r.stderr), "ckpt-9") {
		t.Errorf("inspect of a missing checkpoint: exit %d\n%s", r.code, r.stderr)
	}
}

// With a checkpoint's tokenizer the prompt is text, encoded as "pipe bpe encode" encodes it,
// and the tokens read as their text.
func TestInspectTokenizer(t *testing.T) {
	data, tok := trainData(t)
	dir := filepath.Join(t.TempDir(), "run")
	mustRun(t, nil, "train", "--data", data, "--tokenizer", tok, "--model", "nano", "--context", "16",
		"--batch", "4", "--steps", "10", "--eval-every", "0", "--out", dir)
	ck, _ := trainer.LatestCheckpoint(dir)
	text := "the shard of tokens"
	ids := parseIDs(t, strings.TrimSpace(string(mustRun(t, jsonl(t, []string{text}), "bpe", "encode", "--tokenizer", filepath.Join(ck, "tokenizer.json"), "--ids"))))
	in := inspectJSON(t, "--ckpt", ck, "--prompt", text)
	if len(in.Tokens) != len(ids) {
		t.Fatalf("%d tokens, pipe bpe encode gives %d", len(in.Tokens), len(ids))
	}
	var joined string
	for i, tk := range in.Tokens {
		s, err := strconv.Unquote(tk.Text)
		if tk.ID != ids[i] || err != nil {
			t.Errorf("token %d: %d %s, want %d", i, tk.ID, tk.Text, ids[i])
		}
		joined += s
	}
	if joined != text {
		t.Errorf("the tokens read %q", joined)
	}
	sameLogits(t, ck, ids, in.Logits.Data)
	var idText []string
	for _, id := range ids {
		idText = append(idText, strconv.Itoa(int(id)))
	}
	greedy := strings.TrimSpace(string(mustRun(t, nil, "sample", "--ckpt", ck, "--ids", "--prompt", strings.Join(idText, " "), "--max-tokens", "1", "--temperature", "0")))
	if got := in.Next[len(ids)-1][0].ID; strconv.Itoa(int(got)) != greedy {
		t.Errorf("most likely next token %d, pipe sample --temperature 0 draws %s", got, greedy)
	}
	if ins := inspectJSON(t, "--ckpt", ck, "--ids", "--prompt", strings.Join(idText, " ")); !sameJSON(ins, in) {
		t.Error("--ids with the ids of the text inspects differently from the text")
	}
	if r := run(t, nil, "inspect", "--ckpt", ck, "--prompt", strings.Repeat("the shard ", 20)); r.code != 2 || !strings.Contains(string(r.stderr), "context 16") {
		t.Errorf("a prompt past the context: exit %d\n%s", r.code, r.stderr)
	}
}

func sameJSON(a, b inspection) bool {
	x, _ := json.Marshal(a.Logits)
	y, _ := json.Marshal(b.Logits)
	return bytes.Equal(x, y) && len(a.Tokens) == len(b.Tokens)
}

// Every value pipe inspect shows is the one Hugging Face transformers computes in the same
// module of GPT2LMHeadModel from the same checkpoint (forward hooks; eager attention's weights).
func TestInspectTransformers(t *testing.T) {
	py := peertest.TorchPython(t, "transformers")
	data, tok := trainData(t)
	dir := filepath.Join(t.TempDir(), "run")
	mustRun(t, nil, "train", "--data", data, "--tokenizer", tok, "--model", "nano", "--context", "16",
		"--batch", "4", "--steps", "10", "--lr", "3e-3", "--eval-every", "0", "--out", dir)
	ck, _ := trainer.LatestCheckpoint(dir)
	in := inspectJSON(t, "--ckpt", ck, "--prompt", "the shard of tokens")
	var ids []string
	for _, tk := range in.Tokens {
		ids = append(ids, strconv.Itoa(int(tk.ID)))
	}
	_, self, _, _ := runtime.Caller(0)
	cmd := exec.Command(py, filepath.Join(filepath.Dir(self), "testdata", "hf_inspect_peer.py"), ck, strings.Join(ids, " "))
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "HF_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("hf_inspect_peer.py: %v\n%s", err, stderr.Bytes())
	}
	var hf map[string][]float64
	if err := json.Unmarshal(b, &hf); err != nil {
		t.Fatalf("hf_inspect_peer.py output: %v", err)
	}
	ours := map[string]*activation{"embedding": in.Embedding, "ln_f": in.LnF, "logits": in.Logits}
	for l, acts := range in.Layers {
		for i := range acts {
			ours[fmt.Sprintf("%d.%s", l, acts[i].Name)] = &acts[i]
		}
	}
	if want := 3 + len(in.Layers)*len(trainer.LayerActNames); len(ours) != want || len(hf) != want {
		t.Fatalf("%d values from pipe, %d from transformers; want %d each", len(ours), len(hf), want)
	}
	worst, worstName := 0.0, ""
	for name, a := range ours {
		ref, ok := hf[name]
		if !ok || len(ref) != len(a.Data) {
			t.Errorf("%s: %d values from pipe, %d from transformers", name, len(a.Data), len(ref))
			continue
		}
		var maxDiff, maxRef float64
		for i, want := range ref {
			maxDiff = max(maxDiff, math.Abs(float64(a.Data[i])-want))
			maxRef = max(maxRef, math.Abs(want))
		}
		rel := maxDiff / max(maxRef, 1e-30)
		if rel > worst || math.IsNaN(rel) {
			worst, worstName = rel, name
		}
		if !(rel < 1e-4) {
			t.Errorf("%s: max |Δ| %.3g of max |x| %.3g (relative %.2g), want under 1e-4", name, maxDiff, maxRef, rel)
		}
	}
	t.Logf("%d values of %d tokens agree with transformers; the worst, %s, to a relative %.2g", len(ours), len(ids), worstName, worst)
}
