package trainer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// A checkpoint holds the weights, AdamW's moments and step, and the state; loading it into
// a fresh model gives the same model.
func TestCheckpointRoundTrip(t *testing.T) {
	m, err := New(tinyConfig, NewCPU())
	if err != nil {
		t.Fatal(err)
	}
	m.Init(3)
	src := &countSource{}
	cfg := LoopConfig{Batch: 2, Context: 5, Accum: 1, Steps: 3, Opt: DefaultAdamW, Sched: Schedule{MaxLR: 1e-2, Total: 3}}
	if err := Train(m, src, nil, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	run := t.TempDir()
	st := TrainState{Step: m.Step(), Source: src.State(), Run: json.RawMessage(`{"x":1}`)}
	dir, err := SaveCheckpoint(run, m, st, 5, func(d string) error {
		return os.WriteFile(filepath.Join(d, "tokenizer.json"), []byte("{}"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if latest, _ := LatestCheckpoint(run); latest != dir || filepath.Base(dir) != "ckpt-3" {
		t.Errorf("checkpoint %s, latest %s", dir, latest)
	}
	ents, _ := os.ReadDir(run)
	if len(ents) != 1 {
		t.Errorf("run holds %d entries, want the checkpoint only", len(ents))
	}
	got, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	var run1 struct{ X int }
	if err := json.Unmarshal(got.Run, &run1); err != nil || run1.X != 1 || got.Step != 3 || got.Source.Drawn != 3 || got.Model != tinyConfig {
		t.Errorf("state %+v", got)
	}
	m2, _ := New(tinyConfig, NewCPU())
	if err := m2.LoadCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	if !equalF32(m2.Params.All.Host, m.Params.All.Host) || m2.Step() != 3 {
		t.Error("weights or step differ after loading")
	}
	mom, vel := m.Moments()
	mom2, vel2 := m2.Moments()
	if !equalF32(mom, mom2) || !equalF32(vel, vel2) {
		t.Error("moments differ after loading")
	}
	var hf HFConfig
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(b, &hf); err != nil || hf.NEmbd != 6 || hf.NLayer != 2 || hf.NHead != 2 || hf.VocabSize != 7 || *hf.EOS != 5 {
		t.Errorf("config.json %s (%v)", b, err)
	}
	other, _ := New(Config{VocabSize: 8, Context: 5, Layers: 2, Heads: 2, Dim: 6}, NewCPU())
	if err := other.LoadCheckpoint(dir); err == nil {
		t.Error("a checkpoint of another shape: no error")
	}
}
