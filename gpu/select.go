package gpu

import (
	"errors"
	"fmt"

	"github.com/pipe-dev/pipe/trainer"
)

// Select returns the backend that a --device flag names, and a line that says what it is:
//
//	cpu   the CPU backend
//	cuda  this package's backend on GPU 0; an error when there is none or it cannot start
//	auto  cuda when a GPU is there (an error if one is there but cannot start), else cpu
//
// peakFLOPS is the device's dense bf16 peak for MFU (0 on the CPU or an unknown GPU).
func Select(device string) (be trainer.Backend, desc string, peakFLOPS float64, err error) {
	switch device {
	case "cpu":
		return trainer.NewCPU(), "cpu", 0, nil
	case "cuda", "auto":
		g, err := New()
		if err == nil {
			return g, "cuda: " + g.Describe(), g.PeakTFLOPS() * 1e12, nil
		}
		if device == "auto" && errors.Is(err, ErrNoDevice) {
			return trainer.NewCPU(), "cpu (no GPU: " + firstLine(err.Error()) + ")", 0, nil
		}
		return nil, "", 0, fmt.Errorf("--device %s: %w", device, err)
	}
	return nil, "", 0, fmt.Errorf("--device %q: want cpu, cuda or auto", device)
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' || c == ':' && i > 60 {
			return s[:i]
		}
	}
	return s
}
