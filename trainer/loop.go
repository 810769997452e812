package trainer

import (
	"fmt"
	"math"
	"time"

	"github.com/pipe-dev/pipe/shard"
)

// Source serves micro-batches for training or evaluation.
type Source interface {
	// Next fills tokens and targets, each (B,T), with the next micro-batch; a target may be
	// IgnoreTarget.
	Next(tokens, targets []int32) error
	// State is where the source stands, for a checkpoint; Restore puts it back there.
	State() SourceState
	Restore(SourceState) error
}

// SourceState is a Source's position: the shard loader's, or the count of examples a task
// has drawn.
type SourceState struct {
	Loader *shard.LoaderState `json:"loader,omitempty"`
	Drawn  uint64             `json:"drawn,omitempty"`
}

// WindowSource serves a shard.Loader's windows of T+1 tokens as (inputs, targets) pairs: the
// first T tokens and the last T.
type WindowSource struct {
	Loader *shard.Loader
	B, T   int
	buf    []uint32 // (B,T+1)
}

var _ Source = (*WindowSource)(nil)

// Next fills tokens and targets (B,T) from the loader's next batch.
func (w *WindowSource) Next(tokens, targets []int32) error {
	B, T := w.B, w.T
	if len(w.buf) != B*(T+1) {
		w.buf = make([]uint32, B*(T+1))
	}
	if err := w.Loader.Next(w.buf); err != nil {
		return err
	}
	for b := range B {
		row := w.buf[b*(T+1) : (b+1)*(T+1)]
		for t := range T {
			tokens[b*T+t] = int32(row[t])
			targets[b*T+t] = int32(row[t+1])
		}
	}
	return nil
}

func (w *WindowSource) State() SourceState {
	s := w.Loader.State()
	return SourceState{Loader: &s}
}

func (w *WindowSource) Restore(s SourceState) error {
	if s.Loader == nil {
		return fmt.Errorf("restore: the state has no loader position")
	}
	return w.Loader.Restore(*s.Loader)
}

// Evaluator measures a model on held-out data; it must not change the model's parameters
// and must give the same result for the same parameters.
type Evaluator interface {
	Evaluate(m *Model) (Eval, error)
}

// Eval is what an evaluation measured.
type Eval struct {
	Loss     float64
	Accuracy float64 // 0..1, where HasAccuracy
	HasAcc   bool
}

// LossEval is the mean loss over Batches micro-batches of a source that it rewinds to Start
// before each evaluation, so that every evaluation sees the same batches.
type LossEval struct {
	Src     Source
	Start   SourceState
	B, T    int
	Batches int
}

func (e LossEval) Evaluate(m *Model) (Eval, error) {
	if err := e.Src.Restore(e.Start); err != nil {
		return Eval{}, err
	}
	tokens, targets := make([]int32, e.B*e.T), make([]int32, e.B*e.T)
	var sum float64
	for range e.Batches {
		if err := e.Src.Next(tokens, targets); err != nil {
			return Eval{}, fmt.Errorf("eval: %w", err)
		}
		loss, err := m.Loss(tokens, targets, e.B, e.T)
		if err != nil {
			return Eval{}, fmt.Errorf("eval: %w", err)
		}
		sum += float64(loss)
	}
	return Eval{Loss: sum / float64(max(e.Batches, 1))}, nil
}

// LoopConfig is the training loop's settings.
type LoopConfig struct {
	Batch, Context int // B, T of a micro-batch
	Accum          int // micro-batches per optimizer step
	Steps          int // optimizer steps of the whole run, the schedule's end
	StopAfter      int // stop after this step (a checkpoint is written); 0: at Steps
	EvalEvery      int // evaluate every so many steps and at the last; 0: only at the last
	CkptEvery      int // checkpoint every so many steps and at the last; 0: only at the last
	// TargetAccuracy, when above 0, ends the run (with a checkpoint) at the first evaluation
	// whose accuracy reaches it.
	TargetAccuracy float64
	Opt            AdamW
	Sched          Schedule
	// PeakFLOPS is the hardware's peak FLOP/s, for the MFU of each step; 0: no MFU.
	PeakFLOPS float64
	// Reducer joins the ranks of a data-parallel run (see GradReducer); nil: one rank. Each
	// rank's src serves its own micro-batches of Batch rows.
	Reducer GradReducer
}

// Metric is one step's line of metrics.jsonl.
type Metric struct {
	Step       int      `json:"step"`
	Loss       float32  `json:"loss"`
	LR         float32  `json:"lr"`
	GradNorm   float32  `json:"grad_norm"`
	TokensPerS float64  `json:"tokens_per_s"`
	MFU        float64  `json:"mfu,omitempty"` // model FLOPs utilisation, 0..1 (see FlopsPerToken); 0: peak unknown
	ValLoss    *float32 `json:"val_loss,omitempty"`
	Accuracy   *float64 `json:"accuracy,omitempty"`
	Sample     string   `json:"sample,omitempty"` // at evaluations, a sample from the model, if the caller draws one
}

// Hooks are what the loop reports to: each step's metrics, and checkpoints.
type Hooks struct {
	Step       func(Metric) error
	Checkpoint func(step int) error
}

// Train runs optimizer steps m.Step()+1 … on micro-batches from src: each step zeroes the
// gradients, accumulates cfg.Accum micro-batches' gradients of the mean loss, clips, and takes
// an AdamW step at the schedule's learning rate. The model's step count (restored from a
// checkpoint) says where the run stands, src must stand at the same place.
//
// With cfg.Reducer, every rank calls Train: the ranks start from rank 0's weights, scale
// their losses by 1/WorldSize and sum their gradients before clipping, so that a step is
// one over all the ranks' micro-batches. A step's loss is the mean over the ranks; every rank
// evaluates (on the same weights: the same result, so all stop together), and only rank 0
// calls the hooks.
func Train(m *Model, src Source, ev Evaluator, cfg LoopConfig, h Hooks) error {
	B, T := cfg.Batch, cfg.Context
	last := cfg.Steps
	if cfg.StopAfter > 0 && cfg.StopAfter < last {
		last = cfg.StopAfter
	}
	tokens, targets := make([]int32, B*T), make([]int32, B*T)
	world, red := 1, cfg.Reducer
	var lossBuf Buf
	if red != nil && red.WorldSize() > 1 {
		world = red.WorldSize()
		if err := red.Broadcast(m.Params.All); err != nil {
			return fmt.Errorf("broadcast the weights: %w", err)
		}
		lossBuf = m.Backend.Alloc(1)
	} else {
		red = nil
	}
	if red != nil && red.Rank() != 0 {
		h = Hooks{}
	}
	for step := m.Step() + 1; step <= last; step++ {
		start := time.Now()
		m.ZeroGrad()
		var sum float64
		for range cfg.Accum {
			if err := src.Next(tokens, targets); err != nil {
				return fmt.Errorf("step %d: %w", step, err)
			}
			loss, err := m.ForwardBackward(tokens, targets, B, T, 1/float32(cfg.Accum*world))
			if err != nil {
				return fmt.Errorf("step %d: %w", step, err)
			}
			sum += float64(loss)
		}
		meanLoss := float32(sum / float64(cfg.Accum))
		if red != nil {
			if err := red.AllReduce(m.Grads.All); err != nil {
				return fmt.Errorf("step %d: all-reduce the gradients: %w", step, err)
			}
			l, err := reduceMean(red, m.Backend, lossBuf, meanLoss)
			if err != nil {
				return fmt.Errorf("step %d: all-reduce the loss: %w", step, err)
			}
			meanLoss = l
		}
		lr := cfg.Sched.LR(step - 1)
		norm := m.Update(cfg.Opt, lr)
		met := Metric{Step: step, Loss: meanLoss, LR: lr, GradNorm: norm}
		if sec := time.Since(start).Seconds(); sec > 0 {
			met.TokensPerS = float64(cfg.Accum*B*T*world) / sec
			met.MFU = m.Config.MFU(met.TokensPerS/float64(world), T, cfg.PeakFLOPS) // PeakFLOPS is one device's
		}
		if math.IsNaN(float64(met.Loss)) || math.IsInf(float64(met.Loss), 0) {
			return fmt.Errorf("step %d: loss is %v", step, met.Loss)
		}
		done := false
		if ev != nil && (step == last || (cfg.EvalEvery > 0 && step%cfg.EvalEvery == 0)) {
			e, err := ev.Evaluate(m)
			if err != nil {
				return fmt.Errorf("step %d: %w", step, err)
			}
			if math.IsNaN(e.Loss) || math.IsInf(e.Loss, 0) {
				return fmt.Errorf("step %d: val loss is %v", step, e.Loss)
			}
			vl := float32(e.Loss)
			met.ValLoss = &vl
			if e.HasAcc {
				acc := e.Accuracy
				met.Accuracy = &acc
				done = cfg.TargetAccuracy > 0 && acc >= cfg.TargetAccuracy
			}
		}
		if h.Step != nil {
			if err := h.Step(met); err != nil {
				return err
			}
		}
		if h.Checkpoint != nil && (done || step == last || (cfg.CkptEvery > 0 && step%cfg.CkptEvery == 0)) {
			if err := h.Checkpoint(step); err != nil {
				return fmt.Errorf("step %d: checkpoint: %w", step, err)
			}
		}
		if done {
			return nil
		}
	}
	return nil
}

// reduceMean is the mean over the ranks of x, through buf (one value on the backend).
func reduceMean(red GradReducer, be Backend, buf Buf, x float32) (float32, error) {
	v := []float32{x}
	be.Upload(buf, v)
	if err := red.AllReduce(buf); err != nil {
		return 0, err
	}
	be.Download(v, buf)
	return v[0] / float32(red.WorldSize()), nil
}
