package trainer

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Inspection is a look inside a model: its parameter count per tensor and, for a prompt, the
// values every layer computes in the forward pass, in model order, read back from the
// activations that Model.Forward keeps (the same pass training runs, on any backend). It is
// what "pipe inspect" prints, draws as a page (WriteHTML) and writes as JSON.
type Inspection struct {
	Model  Config       `json:"model"`
	Params []ParamCount `json:"params"`
	Total  int          `json:"total_params"`

	// For a prompt of T tokens: the tokens, then each stage's values.
	Tokens    []TokenLabel   `json:"tokens,omitempty"`
	Embedding *Activation    `json:"embedding,omitempty"` // (T,C)
	Layers    [][]Activation `json:"layers,omitempty"`    // L blocks, each as LayerActNames
	LnF       *Activation    `json:"ln_f,omitempty"`      // (T,C)
	Logits    *Activation    `json:"logits,omitempty"`    // (T,V)
	Next      [][]TokenProb  `json:"next,omitempty"`      // (T,K): at each position the K most likely next tokens
}

// ParamCount is one parameter tensor's name, shape and number of values.
type ParamCount struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Count int    `json:"count"`
}

// Activation is one intermediate value of the forward pass: row-major Data of Shape.
type Activation struct {
	Name  string    `json:"name"`
	What  string    `json:"what"` // what the values are, in a line
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// TokenLabel is a token and how it reads.
type TokenLabel struct {
	ID   int32  `json:"id"`
	Text string `json:"text"`
}

// TokenProb is a candidate next token: its logit and its probability (softmax of the row).
type TokenProb struct {
	TokenLabel
	Logit float32 `json:"logit"`
	Prob  float64 `json:"prob"`
}

// LayerActNames are the names of a block's activations in an Inspection, in model order.
var LayerActNames = []string{"ln_1", "qkv", "attn", "attn_out", "attn_proj", "resid_mid", "ln_2", "mlp_fc", "mlp_gelu", "mlp_proj", "resid"}

// InspectParams is the Inspection of config c without a prompt: the parameter counts.
func InspectParams(c Config) *Inspection {
	in := &Inspection{Model: c}
	for _, t := range c.Tensors() {
		in.Params = append(in.Params, ParamCount{Name: t.Name, Shape: t.Shape, Count: t.Size()})
		in.Total += t.Size()
	}
	return in
}

// Inspect runs the model forward on prompt (one row of 1..Context tokens) and reads back every
// layer's values; Next gets the topK most likely tokens after each position. label says how a
// token reads (nil: its id).
func (m *Model) Inspect(prompt []int32, topK int, label func(id int32) string) (*Inspection, error) {
	c := m.Config
	V, C, NH := c.VocabSize, c.Dim, c.Heads
	T := len(prompt)
	if T < 1 || T > c.Context {
		return nil, fmt.Errorf("inspect: a prompt of %d tokens: want 1 to %d, the model's context", T, c.Context)
	}
	if label == nil {
		label = func(id int32) string { return strconv.Itoa(int(id)) }
	}
	if _, err := m.Forward(prompt, nil, 1, T); err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	read := func(name, what string, b Buf, shape ...int) Activation {
		a := Activation{Name: name, What: what, Shape: shape, Data: make([]float32, b.N)}
		if n := shapeSize(shape); n != b.N {
			panic(fmt.Sprintf("trainer: inspect %s: shape %v of a buffer of %d", name, shape, b.N))
		}
		m.Backend.Download(a.Data, b)
		return a
	}
	in := InspectParams(c)
	for _, id := range prompt {
		in.Tokens = append(in.Tokens, TokenLabel{id, label(id)})
	}
	acts := m.Acts
	emb := read("embedding", "token embedding wte[token] + position embedding wpe[t]", acts.Encoded, T, C)
	in.Embedding = &emb
	for l := range c.Layers {
		a := acts.Layers[l]
		in.Layers = append(in.Layers, []Activation{
			read("ln_1", "LayerNorm of the residual stream, the attention's input", a.Ln1, T, C),
			read("qkv", "attn.c_attn: queries, keys, values side by side, each heads side by side", a.Qkv, T, 3*C),
			read("attn", "attention weights per head after softmax: row t spreads position t's attention over positions 0..t", a.Att, NH, T, T),
			read("attn_out", "the heads' attention-weighted values, side by side", a.Atty, T, C),
			read("attn_proj", "attn.c_proj of them: what attention adds to the residual stream", a.AttProj, T, C),
			read("resid_mid", "residual stream + attention", a.Residual2, T, C),
			read("ln_2", "LayerNorm of it, the MLP's input", a.Ln2, T, C),
			read("mlp_fc", "mlp.c_fc: the MLP's hidden layer before GELU", a.Fch, T, 4*C),
			read("mlp_gelu", "the MLP's hidden layer after GELU", a.FchGelu, T, 4*C),
			read("mlp_proj", "mlp.c_proj: what the MLP adds to the residual stream", a.FcProj, T, C),
			read("resid", "residual stream + MLP: the block's output", a.Residual3, T, C),
		})
	}
	lnf := read("ln_f", "final LayerNorm of the residual stream", acts.Lnf, T, C)
	logits := read("logits", "ln_f · wteᵀ: a score for every token of the vocabulary to come next", acts.Logits.View(0, T*V), T, V)
	in.LnF, in.Logits = &lnf, &logits
	k := min(max(topK, 1), V)
	order := make([]int, V)
	probs := make([]float64, V)
	for t := range T {
		row := logits.Data[t*V : (t+1)*V]
		softmax64(probs, row)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
		var next []TokenProb
		for _, id := range order[:k] {
			next = append(next, TokenProb{TokenLabel{int32(id), label(int32(id))}, row[id], probs[id]})
		}
		in.Next = append(in.Next, next)
	}
	return in, nil
}

// softmax64 is softmax(row) in float64, into p.
func softmax64(p []float64, row []float32) {
	maxv := math.Inf(-1)
	for _, x := range row {
		maxv = max(maxv, float64(x))
	}
	var sum float64
	for i, x := range row {
		p[i] = math.Exp(float64(x) - maxv)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
}

func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func shapeString(shape []int) string {
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, "×")
}

// Stats are the mean, standard deviation, least and greatest of some values.
type Stats struct{ Mean, Std, Min, Max float64 }

// StatsOf returns the Stats of x (NaN where x is empty).
func StatsOf(x []float32) Stats {
	if len(x) == 0 {
		return Stats{math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	}
	s := Stats{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, v := range x {
		s.Mean += float64(v)
		s.Min, s.Max = min(s.Min, float64(v)), max(s.Max, float64(v))
	}
	s.Mean /= float64(len(x))
	for _, v := range x {
		d := float64(v) - s.Mean
		s.Std += d * d
	}
	s.Std = math.Sqrt(s.Std / float64(len(x)))
	return s
}

// WriteText writes the inspection as text: the model, the parameter table, and for a prompt
// each stage's values with their statistics, a row per position showing the first `values`
// values of the row (0: all), each head's attention weights in full, and the next tokens.
func (in *Inspection) WriteText(w io.Writer, values int) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	c := in.Model
	p("model: GPT-2, %d layers, %d heads, %d channels, vocabulary %d, context %d\n\n", c.Layers, c.Heads, c.Dim, c.VocabSize, c.Context)
	p("parameters\n  %-30s %-12s %12s\n", "tensor", "shape", "count")
	for _, t := range in.Params {
		p("  %-30s %-12s %12s\n", t.Name, shapeString(t.Shape), thousands(t.Count))
	}
	p("  %-30s %-12s %12s\n", "total", "", thousands(in.Total))
	if len(in.Tokens) == 0 {
		return bw.Flush()
	}
	T := len(in.Tokens)
	lw := 6 // the width of the token column
	for _, tk := range in.Tokens {
		lw = max(lw, utf8.RuneCountInString(tk.Text))
	}
	lw = min(lw, 16)
	p("\nprompt: %d tokens\n  %3s %6s  %s\n", T, "t", "id", "token")
	for t, tk := range in.Tokens {
		p("  %3d %6d  %s\n", t, tk.ID, tk.Text)
	}
	rows := func(a Activation) {
		st := StatsOf(a.Data)
		p("\n%s (%s): %s\n  mean %.4f  std %.4f  min %.4f  max %.4f\n", a.Name, shapeString(a.Shape), a.What, st.Mean, st.Std, st.Min, st.Max)
		n := a.Shape[len(a.Shape)-1]
		show := n
		if values > 0 {
			show = min(values, n)
		}
		for t := range T {
			p("  %3d %-*s", t, lw, clip(in.Tokens[t].Text, lw))
			for _, v := range a.Data[t*n : t*n+show] {
				p(" %9.4f", v)
			}
			if show < n {
				p("  … (%d more)", n-show)
			}
			p("\n")
		}
	}
	attention := func(a Activation) {
		st := StatsOf(a.Data)
		p("\n%s (%s): %s\n  mean %.4f  std %.4f  min %.4f  max %.4f\n", a.Name, shapeString(a.Shape), a.What, st.Mean, st.Std, st.Min, st.Max)
		NH := a.Shape[0]
		for h := range NH {
			p("  head %d\n  %3s %-*s", h, "t", lw, "")
			for s := range T {
				p(" %7d", s)
			}
			p("\n")
			for t := range T {
				p("  %3d %-*s", t, lw, clip(in.Tokens[t].Text, lw))
				for _, v := range a.Data[(h*T+t)*T : (h*T+t+1)*T] {
					if v == 0 {
						p(" %7s", "0")
					} else {
						p(" %7.4f", v)
					}
				}
				p("\n")
			}
		}
	}
	rows(*in.Embedding)
	for l, acts := range in.Layers {
		p("\n== layer %d ==\n", l)
		for _, a := range acts {
			if a.Name == "attn" {
				attention(a)
			} else {
				rows(a)
			}
		}
	}
	p("\n== output ==\n")
	rows(*in.LnF)
	rows(*in.Logits)
	if len(in.Next) > 0 {
		nw := 6 // the width of the next-token column
		for _, cands := range in.Next {
			for _, cand := range cands {
				nw = max(nw, utf8.RuneCountInString(cand.Text))
			}
		}
		nw = min(nw, 16)
		p("\nnext: the %d most likely tokens after each position (softmax of the logits)\n", len(in.Next[0]))
		p("  %3s %-*s  %6s %-*s %8s %9s\n", "t", lw, "token", "id", nw, "next", "prob", "logit")
		for t, cands := range in.Next {
			for i, cand := range cands {
				if i == 0 {
					p("  %3d %-*s", t, lw, clip(in.Tokens[t].Text, lw))
				} else {
					p("  %3s %-*s", "", lw, "")
				}
				p("  %6d %-*s %8.4f %9.4f\n", cand.ID, nw, clip(cand.Text, nw), cand.Prob, cand.Logit)
			}
		}
	}
	return bw.Flush()
}

// clip cuts s to n characters, marking a cut with "…".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(n-1, 0)]) + "…"
}
