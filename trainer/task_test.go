package trainer

import (
	"slices"
	"testing"
)

func TestSortRow(t *testing.T) {
	tokens, targets := make([]int32, SortContext), make([]int32, SortContext)
	sortRow(tokens, targets, 2*243+0*81+1*27+1*9+0*3+2) // 2 0 1 1 0 2
	if want := []int32{2, 0, 1, 1, 0, 2, 0, 0, 1, 1, 2}; !slices.Equal(tokens, want) {
		t.Errorf("tokens %v, want %v", tokens, want)
	}
	if want := []int32{-1, -1, -1, -1, -1, 0, 0, 1, 1, 2, 2}; !slices.Equal(targets, want) {
		t.Errorf("targets %v, want %v", targets, want)
	}
}

func TestSortTask(t *testing.T) {
	s := NewSortTask(4, 1)
	if len(s.train)+len(s.test) != 729 || len(s.test) < 150 || len(s.test) > 220 {
		t.Fatalf("%d train, %d test inputs", len(s.train), len(s.test))
	}
	test := map[int]bool{}
	for _, n := range s.test {
		test[n] = true
	}
	tokens, targets := make([]int32, 4*SortContext), make([]int32, 4*SortContext)
	for range 50 {
		if err := s.Next(tokens, targets); err != nil {
			t.Fatal(err)
		}
		for b := range 4 {
			n := 0
			for _, x := range tokens[b*SortContext : b*SortContext+sortLen] {
				n = 3*n + int(x)
			}
			if test[n] {
				t.Fatalf("a held-out input (%d) served for training", n)
			}
		}
	}
	a := slices.Clone(tokens)
	s.Restore(SourceState{Drawn: 196})
	s.Next(tokens, targets)
	if !slices.Equal(a, tokens) || s.State().Drawn != 200 {
		t.Error("restoring the draw count does not repeat the batch")
	}

	// an untrained model sorts few held-out inputs, and evaluation leaves it as it was
	m, _ := NamedConfig("nano", 0, 0)
	model, err := New(m, NewCPU())
	if err != nil {
		t.Fatal(err)
	}
	model.Init(1)
	before := slices.Clone(model.Params.All.Host)
	e, err := s.Evaluate(model)
	if err != nil {
		t.Fatal(err)
	}
	if !e.HasAcc || e.Accuracy > 0.5 || e.Loss < 0.5 {
		t.Errorf("untrained: %+v", e)
	}
	if !slices.Equal(before, model.Params.All.Host) {
		t.Error("evaluation changed the weights")
	}
}
