package gpu

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestSelect checks the --device choices on a machine without a GPU: auto falls back to the
// CPU, cuda is an error that says why, an unknown name is refused. With a GPU (PIPE_GPU=1),
// auto and cuda pick it.
func TestSelect(t *testing.T) {
	be, desc, _, err := Select("cpu")
	if err != nil || be.Name() != "cpu" || desc != "cpu" {
		t.Fatalf("cpu: %v %q %v", be, desc, err)
	}
	if _, _, _, err := Select("tpu"); err == nil || !strings.Contains(err.Error(), "cpu, cuda or auto") {
		t.Fatalf("tpu: %v", err)
	}
	_, gpuErr := New()
	if os.Getenv("PIPE_GPU") == "1" {
		if gpuErr != nil {
			t.Fatal(gpuErr)
		}
		for _, d := range []string{"auto", "cuda"} {
			be, desc, peak, err := Select(d)
			if err != nil || be.Name() != "cuda" || peak <= 0 {
				t.Fatalf("%s: %v %q %v %v", d, be, desc, peak, err)
			}
			t.Logf("%s: %s", d, desc)
		}
		return
	}
	if !errors.Is(gpuErr, ErrNoDevice) {
		t.Skipf("a GPU is here but not asked for (PIPE_GPU=1): %v", gpuErr)
	}
	be, desc, _, err = Select("auto")
	if err != nil || be.Name() != "cpu" || !strings.HasPrefix(desc, "cpu (no GPU") {
		t.Fatalf("auto without a GPU: %v %q %v", be, desc, err)
	}
	_, _, _, err = Select("cuda")
	if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "libcuda") {
		t.Fatalf("cuda without a GPU: %v", err)
	}
}

// TestNewOptions checks $PIPE_GPU_FLASH and $PIPE_GPU_HALF: a value New does not know is an
// error naming the variable before any library is looked for; known ones go on to the device.
func TestNewOptions(t *testing.T) {
	for _, c := range []struct{ name, value string }{{"PIPE_GPU_FLASH", "maybe"}, {"PIPE_GPU_HALF", "bf16"}, {"PIPE_GPU_EPILOGUES", "no"}} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(c.name, c.value)
			_, err := New()
			if err == nil || !strings.Contains(err.Error(), c.name) || errors.Is(err, ErrNoDevice) {
				t.Errorf("%s=%s: error %v, want one naming the variable", c.name, c.value, err)
			}
		})
	}
	t.Setenv("PIPE_GPU_FLASH", "forward")
	t.Setenv("PIPE_GPU_HALF", "0")
	t.Setenv("PIPE_GPU_EPILOGUES", "0")
	if _, err := New(); err != nil && !errors.Is(err, ErrNoDevice) {
		t.Errorf("known values: %v", err)
	}
}

// The peaks MFU is reckoned against, by architecture and the name the driver gives.
func TestPeakTFLOPS(t *testing.T) {
	for _, c := range []struct {
		arch, name string
		want       float64
	}{
		{"sm_90", "NVIDIA H100 80GB HBM3", 989},
		{"sm_90", "NVIDIA H200", 989},
		{"sm_90", "NVIDIA H100 PCIe", 756},
		{"sm_90", "NVIDIA H100 NVL", 835},
		{"sm_80", "NVIDIA A100-SXM4-80GB", 312},
		{"sm_89", "NVIDIA L4", 0},
	} {
		if got := peakTFLOPS(c.arch, c.name); got != c.want {
			t.Errorf("%s %q: %v TFLOP/s, want %v", c.arch, c.name, got, c.want)
		}
	}
}
