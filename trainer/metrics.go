package trainer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// MetricsFile is RUN/metrics.jsonl: one JSON object (Metric) per step, appended and synced
// as the run goes.
type MetricsFile struct {
	f *os.File
}

// OpenMetrics opens path for a run that resumes after step keep: lines of later steps (written
// before an interruption, and about to be written again) are dropped; keep 0 starts afresh.
func OpenMetrics(path string, keep int) (*MetricsFile, error) {
	var kept []byte
	if keep > 0 {
		old, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(old))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m struct{ Step int }
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue // a line cut short by a kill
			}
			if m.Step <= keep {
				kept = append(append(kept, sc.Bytes()...), '\n')
			}
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, kept, 0o644); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	} else if err := os.WriteFile(path, nil, 0o644); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	return &MetricsFile{f: f}, nil
}

// Write appends one step's line.
func (w *MetricsFile) Write(m Metric) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := w.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Close closes the file.
func (w *MetricsFile) Close() error { return w.f.Close() }

// ReadMetrics reads the lines of a metrics.jsonl, as OpenMetrics leaves it for a resumed run.
func ReadMetrics(path string) ([]Metric, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ms []Metric
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var m Metric
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		ms = append(ms, m)
	}
	return ms, sc.Err()
}
