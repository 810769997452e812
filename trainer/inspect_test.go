package trainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// inspected is a model of tinyConfig with GPT-2's initial weights and biases made non-zero,
// and its inspection of a prompt.
func inspected(t *testing.T, prompt []int32, topK int, label func(int32) string) (*Model, *Inspection) {
	t.Helper()
	m, err := New(tinyConfig, NewCPU())
	if err != nil {
		t.Fatal(err)
	}
	m.Init(3)
	for _, spec := range tinyConfig.Tensors() { // biases and LayerNorm shifts too, so each shows
		if !spec.Decay {
			for i := range spec.Size() {
				m.Params.All.Host[spec.Offset+i] += 0.1 * float32(math.Sin(float64(spec.Offset+i)))
			}
		}
	}
	in, err := m.Inspect(prompt, topK, label)
	if err != nil {
		t.Fatal(err)
	}
	return m, in
}

// Each value an inspection holds is the one its name says: recomputed here from the values
// before it and the weights, in float64 where a sum is involved.
func TestInspect(t *testing.T) {
	prompt := []int32{1, 2, 6, 0}
	m, in := inspected(t, prompt, 3, nil)
	c := m.Config
	T, C, NH, V, hs := len(prompt), c.Dim, c.Heads, c.VocabSize, c.Dim/c.Heads
	p := m.Params

	if len(in.Params) != len(c.Tensors()) || in.Total != c.NumParams() {
		t.Fatalf("%d tensors, total %d; want %d, %d", len(in.Params), in.Total, len(c.Tensors()), c.NumParams())
	}
	sum := 0
	for i, pc := range in.Params {
		spec := c.Tensors()[i]
		if pc.Name != spec.Name || pc.Count != spec.Size() || !slices.Equal(pc.Shape, spec.Shape) {
			t.Errorf("param %d: %+v, want %s %v", i, pc, spec.Name, spec.Shape)
		}
		sum += pc.Count
	}
	if sum != in.Total {
		t.Errorf("counts sum to %d, total %d", sum, in.Total)
	}

	near := func(what string, got []float32, want []float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
		}
		for i := range got {
			if math.Abs(float64(got[i])-want[i]) > 1e-5*(1+math.Abs(want[i])) {
				t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	add := func(a, b []float32) []float64 {
		out := make([]float64, len(a))
		for i := range a {
			out[i] = float64(a[i] + b[i]) // float32 addition, as the model does it
		}
		return out
	}
	// layernorm64 is LayerNorm of x (T,C) in float64 with weight w and bias b.
	layernorm64 := func(x, w, b []float32) []float64 {
		out := make([]float64, len(x))
		for r := range len(x) / C {
			row := x[r*C : (r+1)*C]
			var mean, v float64
			for _, a := range row {
				mean += float64(a)
			}
			mean /= float64(C)
			for _, a := range row {
				v += (float64(a) - mean) * (float64(a) - mean)
			}
			rstd := 1 / math.Sqrt(v/float64(C)+layerNormEps)
			for i, a := range row {
				out[r*C+i] = (float64(a)-mean)*rstd*float64(w[i]) + float64(b[i])
			}
		}
		return out
	}
	// matmul64 is x (T,K) · w (K,N) + b (N), or x · wᵀ with w (N,K) and no bias.
	matmul64 := func(x, w, b []float32, K, N int, transposed bool) []float64 {
		rows := len(x) / K
		out := make([]float64, rows*N)
		for r := range rows {
			for n := range N {
				var s float64
				if b != nil {
					s = float64(b[n])
				}
				for k := range K {
					if transposed {
						s += float64(x[r*K+k]) * float64(w[n*K+k])
					} else {
						s += float64(x[r*K+k]) * float64(w[k*N+n])
					}
				}
				out[r*N+n] = s
			}
		}
		return out
	}

	var emb []float64
	for ti, id := range prompt {
		emb = append(emb, add(p.Wte.Host[int(id)*C:int(id+1)*C], p.Wpe.Host[ti*C:(ti+1)*C])...)
	}
	near("embedding", in.Embedding.Data, emb)
	if len(in.Layers) != c.Layers {
		t.Fatalf("%d layers, want %d", len(in.Layers), c.Layers)
	}
	prev := in.Embedding.Data
	for l, acts := range in.Layers {
		w := p.Blocks[l]
		got := map[string][]float32{}
		for i, a := range acts {
			if a.Name != LayerActNames[i] || len(a.Data) != shapeSize(a.Shape) {
				t.Fatalf("layer %d activation %d: %s %v with %d values", l, i, a.Name, a.Shape, len(a.Data))
			}
			got[a.Name] = a.Data
		}
		at := func(name string) string { return fmt.Sprintf("layer %d %s", l, name) }
		near(at("ln_1"), got["ln_1"], layernorm64(prev, w.Ln1W.Host, w.Ln1B.Host))
		near(at("qkv"), got["qkv"], matmul64(got["ln_1"], w.QkvW.Host, w.QkvB.Host, C, 3*C, false))
		att, qkv := got["attn"], got["qkv"]
		wantAtt, wantOut := make([]float64, NH*T*T), make([]float64, T*C)
		for h := range NH {
			for r := range T {
				// softmax over s ≤ r of q_r · k_s / √hs; 0 for s > r; out_r = Σ att · v_s
				scores := make([]float64, r+1)
				maxv := math.Inf(-1)
				for s := range r + 1 {
					for i := range hs {
						scores[s] += float64(qkv[r*3*C+h*hs+i]) * float64(qkv[s*3*C+C+h*hs+i])
					}
					scores[s] /= math.Sqrt(float64(hs))
					maxv = max(maxv, scores[s])
				}
				var z float64
				for s := range scores {
					scores[s] = math.Exp(scores[s] - maxv)
					z += scores[s]
				}
				for s := range scores {
					wantAtt[(h*T+r)*T+s] = scores[s] / z
					for i := range hs {
						wantOut[r*C+h*hs+i] += scores[s] / z * float64(qkv[s*3*C+2*C+h*hs+i])
					}
				}
				for s := r + 1; s < T; s++ {
					if att[(h*T+r)*T+s] != 0 {
						t.Errorf("%s head %d row %d: weight %v on future position %d", at("attn"), h, r, att[(h*T+r)*T+s], s)
					}
				}
			}
		}
		near(at("attn"), att, wantAtt)
		near(at("attn_out"), got["attn_out"], wantOut)
		near(at("attn_proj"), got["attn_proj"], matmul64(got["attn_out"], w.AttProjW.Host, w.AttProjB.Host, C, C, false))
		near(at("resid_mid"), got["resid_mid"], add(prev, got["attn_proj"]))
		near(at("ln_2"), got["ln_2"], layernorm64(got["resid_mid"], w.Ln2W.Host, w.Ln2B.Host))
		near(at("mlp_fc"), got["mlp_fc"], matmul64(got["ln_2"], w.FcW.Host, w.FcB.Host, C, 4*C, false))
		gelu := make([]float64, len(got["mlp_fc"]))
		for i, x := range got["mlp_fc"] {
			x := float64(x)
			gelu[i] = 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}
		near(at("mlp_gelu"), got["mlp_gelu"], gelu)
		near(at("mlp_proj"), got["mlp_proj"], matmul64(got["mlp_gelu"], w.FcProjW.Host, w.FcProjB.Host, 4*C, C, false))
		near(at("resid"), got["resid"], add(got["resid_mid"], got["mlp_proj"]))
		prev = got["resid"]
	}
	near("ln_f", in.LnF.Data, layernorm64(prev, p.LnfW.Host, p.LnfB.Host))
	near("logits", in.Logits.Data, matmul64(in.LnF.Data, p.Wte.Host, nil, C, V, true))

	// next tokens: the 3 highest logits of each row, most likely first, with their softmax
	for r, cands := range in.Next {
		row := in.Logits.Data[r*V : (r+1)*V]
		var z float64
		for _, x := range row {
			z += math.Exp(float64(x))
		}
		sorted := slices.Clone(row)
		slices.Sort(sorted)
		slices.Reverse(sorted)
		if len(cands) != 3 {
			t.Fatalf("position %d: %d candidates", r, len(cands))
		}
		for i, cand := range cands {
			if cand.Logit != sorted[i] || cand.Logit != row[cand.ID] || math.Abs(cand.Prob-math.Exp(float64(cand.Logit))/z) > 1e-9 {
				t.Errorf("position %d candidate %d: %+v; logits %v", r, i, cand, row)
			}
			if cand.Text != fmt.Sprint(cand.ID) {
				t.Errorf("label of %d: %q", cand.ID, cand.Text)
			}
		}
	}
	// the last position's best is the token greedy sampling picks
	var greedy int32 = -1
	if err := m.Sample(prompt, SampleConfig{Tokens: 1}, func(id int32) error { greedy = id; return nil }); err != nil {
		t.Fatal(err)
	}
	if best := in.Next[T-1][0].ID; best != greedy {
		t.Errorf("best next token %d, greedy sampling %d", best, greedy)
	}

	for _, bad := range [][]int32{nil, {1, 2, 3, 4, 5, 6}, {7}} {
		if _, err := m.Inspect(bad, 3, nil); err == nil {
			t.Errorf("prompt %v: no error", bad)
		}
	}
}

func TestInspectText(t *testing.T) {
	prompt := []int32{1, 2, 6}
	_, in := inspected(t, prompt, 2, func(id int32) string { return "tok" + fmt.Sprint(id) })
	var b bytes.Buffer
	if err := in.WriteText(&b, 0); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		fmt.Sprintf("  %-30s %-12s %12s\n", "total", "", thousands(tinyConfig.NumParams())),
		fmt.Sprintf("  %-30s %-12s %12s\n", "h.1.mlp.c_fc.weight", "6×24", "144"),
		"embedding (3×6)", "== layer 0 ==", "== layer 1 ==", "ln_f (3×6)", "logits (3×7)", "head 1",
		"    2 tok6  ", // a row of position 2, its token's label
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	// every value of a row with --values 0; the first 2 and a count of the rest with 2
	row := regexp.MustCompile(`(?m)^ +0 tok1 +(.*)$`)
	if m := row.FindStringSubmatch(out); len(strings.Fields(m[1])) != tinyConfig.Dim {
		t.Errorf("a row of the embedding with --values 0: %q", m[1])
	}
	b.Reset()
	in.WriteText(&b, 2)
	if m := row.FindStringSubmatch(b.String()); !strings.HasSuffix(m[1], "… (4 more)") {
		t.Errorf("a row of the embedding with --values 2: %q", m[1])
	}
	b.Reset()
	InspectParams(tinyConfig).WriteText(&b, 0)
	if s := b.String(); strings.Contains(s, "embedding") || !strings.Contains(s, thousands(tinyConfig.NumParams())) {
		t.Errorf("without a prompt:\n%s", s)
	}
}

// The page is self-contained, holds every stage with every head, and a token's text cannot end
// its script.
func TestInspectHTML(t *testing.T) {
	prompt := []int32{1, 2, 6}
	evil := `</script><script src="https://example.com/x.js">`
	_, in := inspected(t, prompt, 2, func(id int32) string { return evil + fmt.Sprint(id) })
	var b bytes.Buffer
	if err := in.WriteHTML(&b, "ckpt-<1>"); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	checkSelfContained(t, page)
	if n := strings.Count(page, "<script"); n != 2 {
		t.Errorf("%d <script tags, want 2 (the data and the drawing)", n)
	}
	for _, want := range []string{`id="params"`, `id="prompt"`, `id="embedding"`, `id="layer-0"`, `id="layer-1"`, `id="output"`, "ckpt-&lt;1&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("no %s", want)
		}
	}
	blob := regexp.MustCompile(`(?s)<script type="application/json" id="acts">(.*?)</script>`).FindStringSubmatch(page)
	if blob == nil {
		t.Fatal("no data")
	}
	var data struct {
		Tokens []string
		Acts   map[string]struct {
			Shape []int
			Data  []float64
		}
	}
	if err := json.Unmarshal([]byte(blob[1]), &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Tokens) != 3 || data.Tokens[2] != evil+"6" {
		t.Errorf("tokens %q", data.Tokens)
	}
	keys := []string{"embedding", "ln_f", "logits"}
	for l := range tinyConfig.Layers {
		for _, n := range LayerActNames {
			keys = append(keys, fmt.Sprintf("%d.%s", l, n))
		}
	}
	for _, k := range keys {
		a, ok := data.Acts[k]
		if !ok || len(a.Data) != shapeSize(a.Shape) || len(a.Data) == 0 {
			t.Errorf("data %s: %v, %d values", k, a.Shape, len(a.Data))
		}
		if !strings.Contains(page, `data-act="`+k+`"`) {
			t.Errorf("no canvas for %s", k)
		}
	}
	for l := range tinyConfig.Layers {
		for h := range tinyConfig.Heads {
			if !strings.Contains(page, fmt.Sprintf(`data-act="%d.attn" data-head="%d"`, l, h)) {
				t.Errorf("no canvas for layer %d head %d", l, h)
			}
		}
	}
	// the values, to 4 significant digits
	emb := data.Acts["embedding"].Data
	for i, v := range in.Embedding.Data {
		if math.Abs(emb[i]-float64(v)) > 5e-4*math.Abs(float64(v)) {
			t.Fatalf("embedding[%d] %v on the page, %v", i, emb[i], v)
		}
	}
}

// checkSelfContained fails t if page would load anything: a URL, a src or href attribute that
// is not a fragment, a stylesheet link, an import or a CSS url().
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	bad := regexp.MustCompile(`(?i)<(script|img|iframe|link|embed|object|source|audio|video|use|image)[^>]*\s(src|href|data|xlink:href)\s*=|\shref\s*=\s*"[^#]|@import|url\(|<link`)
	for _, m := range bad.FindAllStringIndex(page, -1) {
		// the data may hold a token's text: only markup counts
		if !insideDataScript(page, m[0]) {
			t.Errorf("the page loads something: %q", page[max(0, m[0]-40):min(len(page), m[1]+40)])
		}
	}
}

func insideDataScript(page string, at int) bool {
	open := strings.LastIndex(page[:at], `<script type="application/json"`)
	return open >= 0 && !strings.Contains(page[open:at], "</script>")
}
