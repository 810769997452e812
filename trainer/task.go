package trainer

import (
	"fmt"
	"slices"
)

// SortTask is minGPT's sorting toy, the task of the nano model: a row is six symbols from
// {0,1,2} (A, B, C) followed by the same six sorted, and the model learns to write the sorted
// half. The model reads 11 tokens (the input and the first five sorted ones) and is scored
// only where it predicts the sorted half: the first five targets are IgnoreTarget.
//
//	tokens   2 0 1 1 0 2 | 0 0 1 1 2
//	targets  - - - - - 0 | 0 1 1 2 2
//
// Of the 3⁶ = 729 inputs, about a quarter (those whose hash is 0 mod 4) are held out for
// evaluation; training draws from the rest. Draws are a hash of (seed, draw count), so the
// count is the whole state.
type SortTask struct {
	B     int
	Seed  uint64
	drawn uint64
	train []int // input numbers (base 3, first symbol most significant)
	test  []int
}

const (
	sortLen     = 6
	sortSymbols = 3
)

var _ Source = (*SortTask)(nil)

// NewSortTask returns the task serving batches of B rows.
func NewSortTask(B int, seed uint64) *SortTask {
	s := &SortTask{B: B, Seed: seed}
	n := 1
	for range sortLen {
		n *= sortSymbols
	}
	for i := range n {
		if mix64(uint64(i)+0x5eed)%4 == 0 {
			s.test = append(s.test, i)
		} else {
			s.train = append(s.train, i)
		}
	}
	return s
}

// SortContext and SortVocab are the task's context (T) and vocabulary (V).
const (
	SortContext = 2*sortLen - 1
	SortVocab   = sortSymbols
)

// mix64 is splitmix64's finaliser: a well-mixed hash of x.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// sortRow writes the row of input number n into tokens and targets (T each).
func sortRow(tokens, targets []int32, n int) {
	var seq [2 * sortLen]int32
	for i := sortLen - 1; i >= 0; i-- {
		seq[i] = int32(n % sortSymbols)
		n /= sortSymbols
	}
	copy(seq[sortLen:], seq[:sortLen])
	slices.Sort(seq[sortLen:])
	copy(tokens, seq[:SortContext])
	copy(targets, seq[1:])
	for i := range sortLen - 1 {
		targets[i] = IgnoreTarget
	}
}

// Next fills tokens and targets (B,T) with B training rows.
func (s *SortTask) Next(tokens, targets []int32) error {
	T := SortContext
	if len(tokens) != s.B*T || len(targets) != s.B*T {
		return fmt.Errorf("sort task: %d tokens for a batch of %d×%d", len(tokens), s.B, T)
	}
	for b := range s.B {
		n := s.train[mix64(s.Seed^mix64(s.drawn))%uint64(len(s.train))]
		s.drawn++
		sortRow(tokens[b*T:(b+1)*T], targets[b*T:(b+1)*T], n)
	}
	return nil
}

func (s *SortTask) State() SourceState { return SourceState{Drawn: s.drawn} }

func (s *SortTask) Restore(st SourceState) error {
	s.drawn = st.Drawn
	return nil
}

// Evaluate is the loss on the held-out rows and the accuracy of greedy decoding: the share
// of held-out inputs whose six sorted symbols the model writes exactly, each one fed back.
func (s *SortTask) Evaluate(m *Model) (Eval, error) {
	T, V := SortContext, m.Config.VocabSize
	B := len(s.test)
	tokens, targets := make([]int32, B*T), make([]int32, B*T)
	for b, n := range s.test {
		sortRow(tokens[b*T:(b+1)*T], targets[b*T:(b+1)*T], n)
	}
	loss, err := m.Forward(tokens, targets, B, T)
	if err != nil {
		return Eval{}, err
	}
	want := slices.Clone(tokens)
	for b := range B { // keep the inputs only
		clear(tokens[b*T+sortLen : (b+1)*T])
	}
	logits := make([]float32, B*T*V)
	out := make([]int32, B*sortLen)
	for i := range sortLen {
		t := sortLen - 1 + i // the position whose logits predict sorted symbol i
		if _, err := m.Forward(tokens, nil, B, T); err != nil {
			return Eval{}, err
		}
		m.Backend.Download(logits, m.Acts.Logits)
		for b := range B {
			row := logits[(b*T+t)*V : (b*T+t+1)*V]
			next := int32(0)
			for v := range row {
				if row[v] > row[next] {
					next = int32(v)
				}
			}
			out[b*sortLen+i] = next
			if t+1 < T {
				tokens[b*T+t+1] = next
			}
		}
	}
	right := 0
	for b := range B {
		ok := true
		for i := range sortLen {
			var w int32
			if sortLen+i < T {
				w = want[b*T+sortLen+i]
			} else {
				w = targets[b*T+T-1]
			}
			ok = ok && out[b*sortLen+i] == w
		}
		if ok {
			right++
		}
	}
	return Eval{Loss: float64(loss), Accuracy: float64(right) / float64(B), HasAcc: true}, nil
}
