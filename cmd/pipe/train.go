package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/gpu"
	"github.com/pipe-dev/pipe/shard"
	"github.com/pipe-dev/pipe/tokstream"
	"github.com/pipe-dev/pipe/trainer"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// trainSettings are a run's settings: the flags, kept in every checkpoint's state.json so
// that --resume continues the same run.
type trainSettings struct {
	Data        string  `json:"data,omitempty"`
	Task        string  `json:"task,omitempty"`
	Tokenizer   string  `json:"tokenizer,omitempty"`
	Model       string  `json:"model"`
	Context     int     `json:"context"`
	Batch       int     `json:"batch"`
	BatchTokens int     `json:"batch_tokens"`
	Steps       int     `json:"steps"`
	LR          float32 `json:"lr"`
	MinLR       float32 `json:"min_lr"`
	Warmup      int     `json:"warmup"`
	WeightDecay float32 `json:"weight_decay"`
	Clip        float32 `json:"clip"`
	Seed        uint64  `json:"seed"`
	EvalEvery   int     `json:"eval_every"`
	EvalBatches int     `json:"eval_batches"`
	CkptEvery   int     `json:"ckpt_every"`
	Device      string  `json:"device"`
	// WorldSize is the number of data-parallel ranks (0 in runs from before it existed: 1).
	WorldSize int `json:"world_size,omitempty"`
	// SampleTokens is the length of the sample drawn at each evaluation; 0 draws none (and
	// is what runs from before samples existed read).
	SampleTokens int `json:"sample_tokens,omitempty"`
	// PadVocab rounds the model's vocabulary up to a multiple of it (0, in runs from before
	// it existed, and 1: none); DataVocab is then the shards' own, below which samples stay.
	PadVocab  int `json:"pad_vocab,omitempty"`
	DataVocab int `json:"data_vocab,omitempty"`

	TargetAccuracy float64 `json:"-"` // this invocation's --target-accuracy, not saved
	PeakFLOPS      float64 `json:"-"` // this invocation's --peak-flops, not saved
}

// resumeFlags may be given with --resume to change a run's plan; any other flag is refused.
var resumeFlags = map[string]bool{"resume": true, "steps": true, "stop-after": true, "eval-every": true, "ckpt-every": true, "device": true, "target-accuracy": true, "peak-flops": true,
	"rank": true, "world-size": true}

// dataParallel is this process's place in a data-parallel run.
type dataParallel struct {
	Rank, World int
	LocalRank   int // the rank among those on this machine: which GPU it takes
}

// parallelFrom reads --rank and --world-size, else torchrun's RANK and WORLD_SIZE (and
// LOCAL_RANK; without it the local rank is the rank, as on one machine).
func parallelFrom(c *cobra.Command, rank, world int) (dataParallel, error) {
	env := func(name string, v *int) error {
		s := os.Getenv(name)
		if s == "" {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return usagef("train: $%s=%q: not an integer", name, s)
		}
		*v = n
		return nil
	}
	dp := dataParallel{Rank: 0, World: 1}
	if err := env("RANK", &dp.Rank); err != nil {
		return dp, err
	}
	if err := env("WORLD_SIZE", &dp.World); err != nil {
		return dp, err
	}
	if c.Flags().Changed("rank") {
		dp.Rank = rank
	}
	if c.Flags().Changed("world-size") {
		dp.World = world
	}
	dp.LocalRank = dp.Rank
	if err := env("LOCAL_RANK", &dp.LocalRank); err != nil {
		return dp, err
	}
	if dp.World < 1 || dp.Rank < 0 || dp.Rank >= dp.World || dp.LocalRank < 0 {
		return dp, usagef("train: rank %d of world size %d (local rank %d): want 0 ≤ rank < world size", dp.Rank, dp.World, dp.LocalRank)
	}
	return dp, nil
}

// bindLocalGPU makes this machine's GPU localRank the process's GPU 0, which the backend
// opens, through CUDA_VISIBLE_DEVICES (the driver reads it when it starts): unset, it becomes
// the local rank; a list of several devices gives its localRank-th; a single device is left as
// the launcher bound it.
func bindLocalGPU(localRank int) error {
	vis, ok := os.LookupEnv("CUDA_VISIBLE_DEVICES")
	devs := strings.Split(vis, ",")
	switch {
	case !ok:
		return os.Setenv("CUDA_VISIBLE_DEVICES", strconv.Itoa(localRank))
	case len(devs) == 1:
		return nil
	case localRank >= len(devs):
		return fmt.Errorf("train: local rank %d, but CUDA_VISIBLE_DEVICES=%s names %d devices", localRank, vis, len(devs))
	}
	return os.Setenv("CUDA_VISIBLE_DEVICES", strings.TrimSpace(devs[localRank]))
}

func newTrain() *cobra.Command {
	var (
		s         trainSettings
		out       string
		resume    string
		stopAfter int
		targetAcc float64
		rank      int
		world     int
	)
	c := &cobra.Command{
		Use:   "train (--data DIR | --task sort) --model NAME --out RUN | --resume RUN",
		Short: "Train a GPT-2 model on shards, writing checkpoints and metrics",
		Long: `train trains a GPT-2 model of a named size (` + fmt.Sprint(trainer.SizeNames()) + `) on the
train split of a shard directory (--data), or on the built-in sorting task
(--task sort: six symbols from {A,B,C} to sort, the nano model's task). The
vocabulary comes from the shards' tokenizer.

Each optimizer step accumulates the gradients of --batch-tokens tokens in
micro-batches of --batch rows of --context tokens, clips them to --clip, and
takes an AdamW step; the learning rate warms up over --warmup steps and then
follows a cosine down to --min-lr at --steps. Every --eval-every steps (and
at the last) the loss on --eval-batches fixed batches of the val split is
measured (and with --task sort, the accuracy on held-out inputs).

RUN/metrics.jsonl gets one JSON line per step (step, loss, lr, grad_norm,
tokens_per_s, mfu, and val_loss / accuracy / sample at evaluations); a
progress line goes to stderr (step, loss, lr, tokens/s, MFU, ETA). At each
evaluation a sample of --sample-tokens tokens is drawn from the model (from
the end-of-text token, temperature 0.8, top-k 200, --seed; with --task sort,
the greedy sort of a held-out input), and RUN/report.html, a page that needs
no network, is rewritten with the loss curves and every evaluation's sample.

MFU (model FLOPs utilisation) is the FLOP/s achieved by nanoGPT's count
(6N + 12·L·H·Q·T FLOPs a token, N the parameters less the position
embedding; PaLM, appendix B) over the peak: --peak-flops, or an estimate for
the CPU (cores × 32 FLOP/cycle with AVX2/FMA × clock from /proc/cpuinfo).

Every --ckpt-every steps (and at the last) RUN/ckpt-STEP/ is written
atomically: model.safetensors and config.json in Hugging Face GPT-2 layout
(with --tokenizer, tokenizer.json too), optimizer.safetensors and state.json.
"pipe train --resume RUN" continues from the latest checkpoint exactly as the
run would have gone on, given the same machine and threads.

Data-parallel training runs one process per GPU (--device cuda), each started
with --rank i --world-size n (or torchrun's RANK, WORLD_SIZE, LOCAL_RANK) and
the same --out: rank 0 writes the NCCL communicator's id to RUN/nccl-id.json,
the others wait for it. Each rank takes its share of the windows in
micro-batches of --batch rows, the gradients are averaged over the ranks
before clipping, and rank 0 alone writes metrics and checkpoints. Process i
uses GPU LOCAL_RANK (default i) of its machine, through CUDA_VISIBLE_DEVICES.`,
		Example: `  pipe train --data data/ --model micro --context 256 --batch 16 --steps 2000 --out run1
  pipe train --resume run1
  pipe train --task sort --model nano --steps 1500 --out sort-run
  torchrun --nproc-per-node 8 --no-python pipe train --data data/ --model gpt2 --device cuda --out run2`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			dp, err := parallelFrom(c, rank, world)
			if err != nil {
				return err
			}
			if resume != "" {
				var bad []string
				c.Flags().Visit(func(f *pflag.Flag) {
					if !resumeFlags[f.Name] {
						bad = append(bad, "--"+f.Name)
					}
				})
				if len(bad) > 0 {
					return usagef("train: with --resume the run's own settings hold; %v may not be given", bad)
				}
				s.TargetAccuracy = targetAcc
				return resumeRun(c, resume, s, stopAfter, dp)
			}
			if out == "" {
				return usagef("train: --out RUN is required")
			}
			if (s.Data == "") == (s.Task == "") {
				return usagef("train: give --data DIR or --task sort")
			}
			if s.Task != "" && s.Task != "sort" {
				return usagef("train: unknown task %q (have sort)", s.Task)
			}
			if s.Task == "sort" { // minGPT's settings for the demo, where not given
				for name, v := range map[string]string{"model": "nano", "batch": "64", "lr": "5e-4", "steps": "2000", "eval-every": "100",
					"pad-vocab": "1"} {
					if !c.Flags().Changed(name) {
						c.Flags().Set(name, v)
					}
				}
				if !c.Flags().Changed("context") {
					s.Context = trainer.SortContext
				}
				if s.Context != trainer.SortContext {
					return usagef("train: --task sort has context %d", trainer.SortContext)
				}
			}
			if !c.Flags().Changed("min-lr") {
				s.MinLR = s.LR / 10
			}
			s.WorldSize = dp.World
			if !c.Flags().Changed("batch-tokens") {
				s.BatchTokens = s.Batch * s.Context * dp.World
			}
			if err := checkSettings(s); err != nil {
				return err
			}
			if latest, _ := trainer.LatestCheckpoint(out); latest != "" {
				return fmt.Errorf("train: %s already has checkpoints: resume it with --resume %s, or choose another --out", out, out)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			return runTrain(c, out, s, "", stopAfter, targetAcc, dp)
		},
	}
	f := c.Flags()
	f.StringVar(&s.Data, "data", "", "shard directory (manifest.json) to train on")
	f.StringVar(&s.Task, "task", "", "a built-in task instead of --data: sort")
	f.StringVar(&s.Tokenizer, "tokenizer", "", "the shards' tokenizer, copied into checkpoints as tokenizer.json")
	f.StringVar(&s.Model, "model", "micro", "model size")
	f.IntVar(&s.Context, "context", 256, "context length T")
	f.IntVar(&s.Batch, "batch", 8, "rows per micro-batch B")
	f.IntVar(&s.BatchTokens, "batch-tokens", 0, "tokens per optimizer step over all ranks, a multiple of B×T×world size (default B×T×world size)")
	f.IntVar(&s.Steps, "steps", 1000, "optimizer steps")
	f.Float32Var(&s.LR, "lr", 6e-4, "peak learning rate")
	f.Float32Var(&s.MinLR, "min-lr", 0, "learning rate at the end of the cosine (default lr/10)")
	f.IntVar(&s.Warmup, "warmup", 10, "warmup steps")
	f.Float32Var(&s.WeightDecay, "weight-decay", 0.1, "AdamW weight decay (matrices and embeddings)")
	f.Float32Var(&s.Clip, "clip", 1, "clip the global gradient norm to this (0: no clipping)")
	f.Uint64Var(&s.Seed, "seed", 1, "seed of the initial weights and the data order")
	f.IntVar(&s.EvalEvery, "eval-every", 100, "evaluate every so many steps (0: only at the end)")
	f.IntVar(&s.EvalBatches, "eval-batches", 10, "val batches per evaluation")
	f.IntVar(&s.CkptEvery, "ckpt-every", 0, "checkpoint every so many steps (0: only at the end)")
	f.IntVar(&s.SampleTokens, "sample-tokens", 32, "tokens of the sample drawn at each evaluation (0: none)")
	f.IntVar(&s.PadVocab, "pad-vocab", 64, "round the model's vocabulary up to a multiple of this, as GPT-2's 50,257 to 50,304, so that the logits' rows are aligned for the GPU's products (the extra ids are never targets and never sampled; 1: none)")
	f.Float64Var(&s.PeakFLOPS, "peak-flops", 0, "the hardware's peak FLOP/s, for MFU (0: estimate the CPU's)")
	f.StringVar(&s.Device, "device", "auto", "backend: cpu, cuda (NVIDIA GPU 0), or auto (cuda when a GPU is there, else cpu)")
	f.IntVar(&rank, "rank", 0, "this process's rank in a data-parallel run (default $RANK, else 0)")
	f.IntVar(&world, "world-size", 1, "processes (one per GPU, over NCCL) in a data-parallel run (default $WORLD_SIZE, else 1)")
	f.StringVar(&out, "out", "", "run directory to write")
	f.StringVar(&resume, "resume", "", "continue the run in this directory from its latest checkpoint")
	f.Float64Var(&targetAcc, "target-accuracy", 0, "with --task sort: stop at the first evaluation whose accuracy reaches this (0: never)")
	f.IntVar(&stopAfter, "stop-after", 0, "stop after this step with a checkpoint, as if interrupted (the schedule still ends at --steps)")
	return c
}

func checkSettings(s trainSettings) error {
	switch {
	case s.Steps < 1:
		return usagef("train: --steps %d: want at least 1", s.Steps)
	case s.Batch < 1 || s.Context < 1:
		return usagef("train: --batch %d, --context %d: want both at least 1", s.Batch, s.Context)
	case s.Warmup < 0 || s.EvalEvery < 0 || s.CkptEvery < 0 || s.EvalBatches < 1 || s.SampleTokens < 0 || s.PeakFLOPS < 0 || s.PadVocab < 0:
		return usagef("train: --warmup, --eval-every, --ckpt-every, --sample-tokens, --peak-flops and --pad-vocab must not be negative, --eval-batches at least 1")
	case s.Device != "cpu" && s.Device != "cuda" && s.Device != "auto":
		return usagef("train: --device %q: want cpu, cuda or auto", s.Device)
	}
	world := max(s.WorldSize, 1)
	if _, err := trainer.AccumSteps(s.BatchTokens, s.Batch*world, s.Context); err != nil {
		return usagef("train: --%v (--batch %d on each of %d ranks)", err, s.Batch, world)
	}
	if world > 1 && s.Task != "" {
		return usagef("train: --task %s does not split across ranks; data-parallel training (world size %d) takes --data", s.Task, world)
	}
	if world > 1 && s.Device == "cpu" {
		return usagef("train: data-parallel training (world size %d) runs one process per GPU over NCCL: give --device cuda", world)
	}
	if _, ok := trainer.Sizes[s.Model]; !ok {
		return usagef("train: unknown --model %q (have %v)", s.Model, trainer.SizeNames())
	}
	return nil
}

func resumeRun(c *cobra.Command, run string, flags trainSettings, stopAfter int, dp dataParallel) error {
	ckpt, err := trainer.LatestCheckpoint(run)
	if err != nil {
		return err
	}
	if ckpt == "" {
		return fmt.Errorf("train: %s has no checkpoint to resume from", run)
	}
	st, err := trainer.ReadState(ckpt)
	if err != nil {
		return err
	}
	var s trainSettings
	if err := json.Unmarshal(st.Run, &s); err != nil {
		return fmt.Errorf("%s/state.json: run settings: %w", ckpt, err)
	}
	fs := c.Flags()
	if fs.Changed("steps") {
		s.Steps = flags.Steps
	}
	if fs.Changed("eval-every") {
		s.EvalEvery = flags.EvalEvery
	}
	if fs.Changed("ckpt-every") {
		s.CkptEvery = flags.CkptEvery
	}
	if fs.Changed("device") {
		s.Device = flags.Device
	}
	s.PeakFLOPS = flags.PeakFLOPS
	if max(s.WorldSize, 1) != dp.World {
		return fmt.Errorf("train: %s was trained by %d ranks; resume it with world size %d, not %d", run, max(s.WorldSize, 1), max(s.WorldSize, 1), dp.World)
	}
	if err := checkSettings(s); err != nil {
		return err
	}
	return runTrain(c, run, s, ckpt, stopAfter, flags.TargetAccuracy, dp)
}

// runTrain trains in run from a fresh model (ckpt "") or from checkpoint ckpt, as rank dp.Rank
// of dp.World: every rank trains on its share of the windows; rank 0 alone writes the
// metrics, the report and the checkpoints.
func runTrain(c *cobra.Command, run string, s trainSettings, ckpt string, stopAfter int, targetAcc float64, dp dataParallel) (err error) {
	defer gpu.Recover(&err) // a failed CUDA call is an error, not a crash
	accum, _ := trainer.AccumSteps(s.BatchTokens, s.Batch*dp.World, s.Context)
	var (
		src   trainer.Source
		ev    trainer.Evaluator
		task  *trainer.SortTask
		vocab int
		eot   = -1
	)
	if s.Task == "sort" {
		task = trainer.NewSortTask(s.Batch, s.Seed)
		src, ev, vocab = task, task, trainer.SortVocab
	} else {
		ds, err := shard.Open(s.Data)
		if err != nil {
			return err
		}
		meta := ds.Meta()
		vocab = meta.VocabSize
		if s.PadVocab > 1 && vocab%s.PadVocab != 0 {
			s.DataVocab, vocab = vocab, (vocab+s.PadVocab-1)/s.PadVocab*s.PadVocab
		}
		if meta.EOT != tokstream.NoEOT {
			eot = meta.EOT
		}
		lcfg := shard.LoaderConfig{Batch: s.Batch, Context: s.Context, Seed: s.Seed}
		tcfg := lcfg
		tcfg.Rank, tcfg.WorldSize = dp.Rank, dp.World
		train, err := shard.NewLoader(ds, "train", tcfg)
		if err != nil {
			return err
		}
		defer train.Close()
		src = &trainer.WindowSource{Loader: train, B: s.Batch, T: s.Context}
		if len(ds.Manifest.Split("val")) > 0 {
			lcfg.Sequential = true
			val, err := shard.NewLoader(ds, "val", lcfg)
			if err != nil {
				return err
			}
			defer val.Close()
			vs := &trainer.WindowSource{Loader: val, B: s.Batch, T: s.Context}
			ev = trainer.LossEval{Src: vs, Start: vs.State(), B: s.Batch, T: s.Context, Batches: s.EvalBatches}
		} else {
			slog.Warn("no val split: no validation loss", "data", s.Data)
		}
	}
	cfg, err := trainer.NamedConfig(s.Model, vocab, s.Context)
	if err != nil {
		return usageError{err}
	}
	if dp.World > 1 {
		if err := bindLocalGPU(dp.LocalRank); err != nil {
			return err
		}
	}
	be, desc, devicePeak, err := gpu.Select(s.Device)
	if err != nil {
		return err
	}
	slog.Info("device", "backend", desc, "rank", dp.Rank, "world_size", dp.World)
	var reducer trainer.GradReducer
	if dp.World > 1 {
		g, ok := be.(*gpu.GPU)
		if !ok {
			return fmt.Errorf("train: data-parallel training (world size %d) runs over NCCL on GPUs; --device %s gave %s", dp.World, s.Device, desc)
		}
		comm, err := gpu.NewComm(g, run, dp.Rank, dp.World, 10*time.Minute)
		if err != nil {
			return err
		}
		defer comm.Close()
		reducer = comm
	}
	m, err := trainer.New(cfg, be)
	if err != nil {
		return err
	}
	if ckpt == "" {
		m.Init(s.Seed)
	} else {
		st, err := trainer.ReadState(ckpt)
		if err != nil {
			return err
		}
		if st.Model != cfg {
			return fmt.Errorf("%s: the checkpoint's model %+v is not the run's %+v", ckpt, st.Model, cfg)
		}
		if dp.Rank == 0 {
			if err := trainer.RemoveTemps(run); err != nil {
				return err
			}
		}
		if err := m.LoadCheckpoint(ckpt); err != nil {
			return err
		}
		if m.Step() != st.Step {
			return fmt.Errorf("%s: optimizer at step %d, state at step %d", ckpt, m.Step(), st.Step)
		}
		if err := src.Restore(st.Source); err != nil {
			return fmt.Errorf("%s: %w", ckpt, err)
		}
		slog.Info("resuming", "checkpoint", ckpt, "step", st.Step)
	}
	settings, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var (
		metrics *trainer.MetricsFile
		history []trainer.Metric
	)
	if dp.Rank == 0 { // the other ranks call no hooks
		metricsPath := filepath.Join(run, "metrics.jsonl")
		if metrics, err = trainer.OpenMetrics(metricsPath, m.Step()); err != nil {
			return err
		}
		defer metrics.Close()
		if history, err = trainer.ReadMetrics(metricsPath); err != nil { // the steps before a resume, for the report
			return err
		}
	}

	var tok *bpe.Tokenizer
	if s.Tokenizer != "" {
		if tok, err = bpe.Load(s.Tokenizer, ""); err != nil {
			return err
		}
		if s.Data != "" {
			ds, err := shard.Open(s.Data)
			if err != nil {
				return err
			}
			fp, err := tok.Fingerprint()
			if err != nil {
				return err
			}
			if want := ds.Manifest.Tokenizer.SHA256; fp != want {
				return fmt.Errorf("train: --tokenizer %s (sha256 %s) did not make the shards of %s (%s)", s.Tokenizer, fp, s.Data, want)
			}
		}
	}
	lc := trainer.LoopConfig{Batch: s.Batch, Context: s.Context, Accum: accum, Steps: s.Steps, StopAfter: stopAfter,
		EvalEvery: s.EvalEvery, CkptEvery: s.CkptEvery, TargetAccuracy: targetAcc,
		Opt:     trainer.AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: s.WeightDecay, MaxGradNorm: s.Clip},
		Sched:   trainer.Schedule{MaxLR: s.LR, MinLR: s.MinLR, Warmup: s.Warmup, Total: s.Steps},
		Reducer: reducer}
	peakNote := "--peak-flops"
	if lc.PeakFLOPS = s.PeakFLOPS; lc.PeakFLOPS == 0 && devicePeak > 0 {
		lc.PeakFLOPS, peakNote = devicePeak, "the GPU's dense bf16 peak"
	} else if lc.PeakFLOPS == 0 {
		if p, err := trainer.CPUPeak(); err != nil {
			slog.Warn("no MFU: the CPU's peak FLOP/s is not known; give --peak-flops", "err", err)
		} else {
			lc.PeakFLOPS, peakNote = p.FLOPS, p.String()
		}
	}
	if lc.PeakFLOPS > 0 {
		slog.Info("MFU", "flops_per_token", cfg.FlopsPerToken(s.Context), "peak", peakNote)
	}
	var sampler func() (string, error)
	if s.SampleTokens > 0 {
		sampler = evalSampler(m, s, task, tok, eot)
	}
	info := trainer.ReportInfo{Run: run, Model: cfg, Steps: s.Steps, Settings: settingsLine(s), Peak: peakNote}
	reported := 0
	report := func(step int) error {
		reported = step
		return trainer.WriteReport(filepath.Join(run, "report.html"), info, history)
	}
	prog := newProgress(c.ErrOrStderr(), m.Step(), s.Steps)
	hooks := trainer.Hooks{
		Step: func(met trainer.Metric) error {
			if met.ValLoss != nil && sampler != nil {
				text, err := sampler()
				if err != nil {
					return fmt.Errorf("step %d: sample: %w", met.Step, err)
				}
				met.Sample = text
			}
			prog.step(met)
			if err := metrics.Write(met); err != nil {
				return err
			}
			history = append(history, met)
			if met.ValLoss != nil {
				return report(met.Step)
			}
			return nil
		},
		Checkpoint: func(step int) error {
			st := trainer.TrainState{Step: step, Source: src.State(), Run: settings}
			var extra func(string) error
			if tok != nil {
				extra = func(dir string) error { return bpe.WriteHFFile(filepath.Join(dir, "tokenizer.json"), tok) }
			}
			if _, err := trainer.SaveCheckpoint(run, m, st, eot, extra); err != nil {
				return err
			}
			if reported != step { // a run without evaluations still gets its page
				return report(step)
			}
			return nil
		},
	}
	return trainer.Train(m, src, ev, lc, hooks)
}

// evalSampler returns what draws the sample of each evaluation: text from the end-of-text token
// (token 0 without one), decoded with tok (ids without one); for the sort task, a held-out
// input and the model's greedy sort of it, in letters. The same weights give the same sample.
func evalSampler(m *trainer.Model, s trainSettings, task *trainer.SortTask, tok *bpe.Tokenizer, eot int) func() (string, error) {
	if task != nil {
		in := task.HeldOut(0)
		for i := 1; i < 1000 && !sortSample(in); i++ { // one that shows the sorting
			in = task.HeldOut(i)
		}
		return func() (string, error) {
			var out []int32
			err := m.Sample(in, trainer.SampleConfig{Tokens: len(in)}, func(id int32) error { out = append(out, id); return nil })
			return sortLetters(in) + " → " + sortLetters(out), err
		}
	}
	start := []int32{max(int32(eot), 0)}
	sc := trainer.SampleConfig{Tokens: s.SampleTokens, Temperature: 0.8, TopK: 200, Seed: s.Seed, Vocab: s.DataVocab}
	return func() (string, error) {
		var ids []uint32
		if err := m.Sample(start, sc, func(id int32) error { ids = append(ids, uint32(id)); return nil }); err != nil {
			return "", err
		}
		if tok == nil {
			return strings.Trim(fmt.Sprint(ids), "[]"), nil
		}
		b, err := tok.Decode(ids)
		return strings.ToValidUTF8(string(b), "\uFFFD"), err
	}
}

// sortSample says whether a sort-task input has every symbol, out of order.
func sortSample(in []int32) bool {
	seen := map[int32]bool{}
	for _, id := range in {
		seen[id] = true
	}
	return len(seen) == len(sortSymbols) && !slices.IsSorted(in)
}

// sortLetters writes sort-task tokens as letters: [2 0 1] → "CAB".
func sortLetters(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteByte(sortSymbols[id])
	}
	return b.String()
}

// settingsLine is a run's settings in a line, for the report.
func settingsLine(s trainSettings) string {
	from := "data " + s.Data
	if s.Task != "" {
		from = "task " + s.Task
	}
	if s.WorldSize > 1 {
		from += fmt.Sprintf("; %d ranks", s.WorldSize)
	}
	return fmt.Sprintf("%s; model %s; micro-batches of %d×%d tokens, %d tokens a step; %d steps; lr %.3g to %.3g, warmup %d; weight decay %.3g; clip %.3g; seed %d",
		from, s.Model, s.Batch, s.Context, s.BatchTokens, s.Steps, s.LR, s.MinLR, s.Warmup, s.WeightDecay, s.Clip, s.Seed)
}

// progress prints a line on stderr at most once a second, and at evaluations.
type progress struct {
	w            io.Writer
	first, last  int
	start, shown time.Time
}

func newProgress(w io.Writer, done, steps int) *progress {
	return &progress{w: w, first: done, last: steps, start: time.Now()}
}

func (p *progress) step(m trainer.Metric) {
	now := time.Now()
	if m.ValLoss == nil && m.Step != p.last && now.Sub(p.shown) < time.Second {
		return
	}
	p.shown = now
	per := now.Sub(p.start) / time.Duration(max(m.Step-p.first, 1))
	eta := (per * time.Duration(p.last-m.Step)).Round(time.Second)
	mfu := "-"
	if m.MFU > 0 {
		mfu = fmt.Sprintf("%.2f%%", 100*m.MFU)
	}
	line := fmt.Sprintf("step %d/%d loss %.4f lr %.2e %.0f tok/s mfu %s eta %s", m.Step, p.last, m.Loss, m.LR, m.TokensPerS, mfu, eta)
	if m.ValLoss != nil {
		line += fmt.Sprintf(" val_loss %.4f", *m.ValLoss)
	}
	if m.Accuracy != nil {
		line += fmt.Sprintf(" accuracy %.3f", *m.Accuracy)
	}
	if m.Sample != "" {
		line += "\nsample: " + strconv.Quote(m.Sample)
	}
	fmt.Fprintln(p.w, line)
}
