package trainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A checkpoint is a directory RUN/ckpt-<step>/, written under a temporary name and renamed
// when complete:
//
//	model.safetensors      the weights, HF GPT-2 names without the "transformer." prefix and no
//	                       lm_head (tied to wte), as HF's own gpt2 checkpoint has them
//	config.json            HF GPT2Config, so GPT2LMHeadModel.from_pretrained(dir) loads it
//	optimizer.safetensors  AdamW's moments "exp_avg" and "exp_avg_sq" (flat, Tensors order),
//	                       metadata format pipe-adamw, version 1, and the step
//	state.json             TrainState: the step, the data position, the run's settings
//	tokenizer.json         the tokenizer, when the caller writes one (Extra)

// StateFormat and StateVersion head state.json.
const (
	StateFormat      = "pipe-train-state"
	StateVersion     = 1
	optimizerFormat  = "pipe-adamw"
	optimizerVersion = "1"
	ckptPrefix       = "ckpt-"
)

// TrainState is state.json: everything besides the weights and moments that a resumed run
// needs to continue exactly.
type TrainState struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	Step    int             `json:"step"`
	Model   Config          `json:"model"`
	Source  SourceState     `json:"source"`
	Run     json.RawMessage `json:"run,omitempty"` // the command's settings, opaque here
}

// HFConfig is the part of Hugging Face's GPT2Config that a checkpoint writes.
type HFConfig struct {
	Architectures  []string `json:"architectures"`
	ModelType      string   `json:"model_type"`
	VocabSize      int      `json:"vocab_size"`
	NPositions     int      `json:"n_positions"`
	NCtx           int      `json:"n_ctx"`
	NEmbd          int      `json:"n_embd"`
	NLayer         int      `json:"n_layer"`
	NHead          int      `json:"n_head"`
	NInner         *int     `json:"n_inner"`
	Activation     string   `json:"activation_function"`
	LayerNormEps   float64  `json:"layer_norm_epsilon"`
	InitRange      float64  `json:"initializer_range"`
	ResidPdrop     float64  `json:"resid_pdrop"`
	EmbdPdrop      float64  `json:"embd_pdrop"`
	AttnPdrop      float64  `json:"attn_pdrop"`
	BOS            *int     `json:"bos_token_id"`
	EOS            *int     `json:"eos_token_id"`
	TieEmbeddings  bool     `json:"tie_word_embeddings"`
	TorchDType     string   `json:"torch_dtype"`
	ScaleAttnWeigh bool     `json:"scale_attn_weights"`
}

// NewHFConfig is c as GPT2Config; eot < 0 leaves bos/eos null.
func NewHFConfig(c Config, eot int) HFConfig {
	h := HFConfig{Architectures: []string{"GPT2LMHeadModel"}, ModelType: "gpt2", VocabSize: c.VocabSize,
		NPositions: c.Context, NCtx: c.Context, NEmbd: c.Dim, NLayer: c.Layers, NHead: c.Heads,
		Activation: "gelu_new", LayerNormEps: layerNormEps, InitRange: 0.02, TieEmbeddings: true,
		TorchDType: "float32", ScaleAttnWeigh: true}
	if eot >= 0 {
		h.BOS, h.EOS = &eot, &eot
	}
	return h
}

// Moments returns copies of AdamW's first and second moments (nil before the first step).
func (m *Model) Moments() (mom, vel []float32) {
	if m.mom.N == 0 {
		return nil, nil
	}
	mom, vel = make([]float32, m.mom.N), make([]float32, m.vel.N)
	m.Backend.Download(mom, m.mom)
	m.Backend.Download(vel, m.vel)
	return mom, vel
}

// SetMoments sets AdamW's moments and its step count, as a checkpoint saved them.
func (m *Model) SetMoments(mom, vel []float32, step int) error {
	n := m.Params.All.N
	if len(mom) != n || len(vel) != n {
		return fmt.Errorf("moments of %d and %d values for %d parameters", len(mom), len(vel), n)
	}
	if m.mom.N == 0 {
		m.mom, m.vel = m.Backend.Alloc(n), m.Backend.Alloc(n)
	}
	m.Backend.Upload(m.mom, mom)
	m.Backend.Upload(m.vel, vel)
	m.step = step
	return nil
}

// WeightTensors are the model's parameters as named tensors (copies, on the host).
func (m *Model) WeightTensors() []NamedTensor {
	all := make([]float32, m.Params.All.N)
	m.Backend.Download(all, m.Params.All)
	var ts []NamedTensor
	for _, t := range m.Config.Tensors() {
		ts = append(ts, NamedTensor{Name: t.Name, Shape: t.Shape, Data: all[t.Offset : t.Offset+t.Size()]})
	}
	return ts
}

// LoadWeights sets the parameters from a model.safetensors, which must hold every tensor of
// the config with its shape; a "transformer." prefix is accepted, lm_head.weight ignored.
func (m *Model) LoadWeights(path string) error {
	ts, _, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	all := make([]float32, m.Params.All.N)
	for _, spec := range m.Config.Tensors() {
		t, ok := ts[spec.Name]
		if !ok {
			t, ok = ts["transformer."+spec.Name]
		}
		if !ok {
			return fmt.Errorf("%s: no tensor %s", path, spec.Name)
		}
		if fmt.Sprint(t.Shape) != fmt.Sprint(spec.Shape) {
			return fmt.Errorf("%s: tensor %s has shape %v, the model wants %v", path, spec.Name, t.Shape, spec.Shape)
		}
		copy(all[spec.Offset:], t.Data)
	}
	m.Backend.Upload(m.Params.All, all)
	return nil
}

// SaveCheckpoint writes the checkpoint of m after step st.Step into runDir/ckpt-<step>:
// first into a temporary directory beside it, renamed into place when complete (an older
// checkpoint of the same step is replaced). extra, if not nil, writes more files into the
// temporary directory (a tokenizer). It returns the checkpoint's path.
func SaveCheckpoint(runDir string, m *Model, st TrainState, eot int, extra func(dir string) error) (string, error) {
	st.Format, st.Version, st.Model = StateFormat, StateVersion, m.Config
	final := filepath.Join(runDir, ckptPrefix+strconv.Itoa(st.Step))
	tmp, err := os.MkdirTemp(runDir, ".tmp-"+ckptPrefix)
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := writeFileWith(filepath.Join(tmp, "model.safetensors"), func(f *os.File) error {
		return WriteSafetensors(f, m.WeightTensors(), map[string]string{"format": "pt"})
	}); err != nil {
		return "", err
	}
	mom, vel := m.Moments()
	if mom == nil {
		mom, vel = make([]float32, m.Params.All.N), make([]float32, m.Params.All.N)
	}
	n := len(mom)
	if err := writeFileWith(filepath.Join(tmp, "optimizer.safetensors"), func(f *os.File) error {
		return WriteSafetensors(f, []NamedTensor{{Name: "exp_avg", Shape: []int{n}, Data: mom}, {Name: "exp_avg_sq", Shape: []int{n}, Data: vel}},
			map[string]string{"format": optimizerFormat, "version": optimizerVersion, "step": strconv.Itoa(m.Step())})
	}); err != nil {
		return "", err
	}
	if err := writeJSON(filepath.Join(tmp, "config.json"), NewHFConfig(m.Config, eot)); err != nil {
		return "", err
	}
	if err := writeJSON(filepath.Join(tmp, "state.json"), st); err != nil {
		return "", err
	}
	if extra != nil {
		if err := extra(tmp); err != nil {
			return "", err
		}
	}
	if err := os.RemoveAll(final); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	if d, err := os.Open(runDir); err == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	return final, nil
}

// ReadState reads a checkpoint's state.json, refusing another format or version.
func ReadState(ckpt string) (TrainState, error) {
	var st TrainState
	b, err := os.ReadFile(filepath.Join(ckpt, "state.json"))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s/state.json: %w", ckpt, err)
	}
	if st.Format != StateFormat || st.Version != StateVersion {
		return st, fmt.Errorf("%s/state.json: format %q version %d, want %q version %d", ckpt, st.Format, st.Version, StateFormat, StateVersion)
	}
	return st, nil
}

// LoadCheckpoint sets m's weights and AdamW state from a checkpoint directory.
func (m *Model) LoadCheckpoint(ckpt string) error {
	if err := m.LoadWeights(filepath.Join(ckpt, "model.safetensors")); err != nil {
		return err
	}
	path := filepath.Join(ckpt, "optimizer.safetensors")
	ts, meta, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	if meta["format"] != optimizerFormat || meta["version"] != optimizerVersion {
		return fmt.Errorf("%s: format %q version %q, want %q version %s", path, meta["format"], meta["version"], optimizerFormat, optimizerVersion)
	}
	step, err := strconv.Atoi(meta["step"])
	if err != nil {
		return fmt.Errorf("%s: step %q: %w", path, meta["step"], err)
	}
	if err := m.SetMoments(ts["exp_avg"].Data, ts["exp_avg_sq"].Data, step); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LatestCheckpoint is the checkpoint of the highest step in runDir, or "" when there is none.
func LatestCheckpoint(runDir string) (string, error) {
	ents, err := os.ReadDir(runDir)
	if err != nil {
		return "", err
	}
	var steps []int
	for _, e := range ents {
		if s, ok := strings.CutPrefix(e.Name(), ckptPrefix); ok && e.IsDir() {
			if n, err := strconv.Atoi(s); err == nil {
				steps = append(steps, n)
			}
		}
	}
	if len(steps) == 0 {
		return "", nil
	}
	sort.Ints(steps)
	return filepath.Join(runDir, ckptPrefix+strconv.Itoa(steps[len(steps)-1])), nil
}

// RemoveTemps removes what checkpoints cut short by a kill left in runDir.
func RemoveTemps(runDir string) error {
	tmps, err := filepath.Glob(filepath.Join(runDir, ".tmp-"+ckptPrefix+"*"))
	if err != nil {
		return err
	}
	for _, t := range tmps {
		if err := os.RemoveAll(t); err != nil {
			return err
		}
	}
	return nil
}

// ConfigFromHF is the model shape of an HF GPT2Config (a checkpoint's config.json).
func ConfigFromHF(path string) (Config, HFConfig, error) {
	var h HFConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, h, err
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return Config{}, h, fmt.Errorf("%s: %w", path, err)
	}
	if h.ModelType != "gpt2" {
		return Config{}, h, fmt.Errorf("%s: model_type %q, want gpt2", path, h.ModelType)
	}
	c := Config{VocabSize: h.VocabSize, Context: h.NPositions, Layers: h.NLayer, Heads: h.NHead, Dim: h.NEmbd}
	if err := c.Validate(); err != nil {
		return c, h, fmt.Errorf("%s: %w", path, err)
	}
	return c, h, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func writeFileWith(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
