// Package job is the bookkeeping that turns one run of a stage into a batch
// job that an orchestrator (Airflow, a shell loop, a cluster scheduler) can
// run, rerun and read the result of. The stage itself knows nothing of it:
// the command file of each stage fills in a Job, asks Begin whether the work
// is already done, does the work, and calls Finish.
//
// A batch run is one whose data goes to files (--out), so that stdout is
// free. For such a run Finish
//
//   - writes the stage's statistics as JSON (Job.Stats, per rank);
//   - writes the completion marker (Job.Marker): a small JSON file, first key
//     "format": "pipe-job", "version": 1, that records a fingerprint of what
//     the result depends on (the command line; the inputs' names, sizes and
//     modification times; the content of the small other files read, such as
//     a tokenizer; the pipe executable's size and time), the outputs with
//     their sizes, and the summary;
//   - prints the summary as one JSON object on the last line of stdout, the
//     line Airflow's BashOperator keeps as the task's result.
//
// A rerun whose fingerprint matches the marker, and whose outputs are all
// there at their recorded sizes, does nothing but print the recorded summary
// with "up_to_date": true (Force turns this off). Anything else (changed
// inputs or flags, a rebuilt pipe, a missing or truncated output) runs the
// stage again. A marker written by a run that read stdin never matches.
//
// Begin removes the old marker before the work starts, and Finish writes
// the new one last, so a run that fails or is killed leaves no marker that
// claims its outputs.
package job

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pipe-dev/pipe/docio"
)

// Marker file format name and version.
const (
	Format  = "pipe-job"
	Version = 1
)

// ForceUsage is the help text of the --force flag that stages share.
const ForceUsage = "run even when the completion marker says that this rank's outputs are up to date"

// Job is one rank's run of a stage.
type Job struct {
	Stage     string   // the subcommand: "clean", "bpe count", …
	Rank      int      // this run's rank
	WorldSize int      // how many ranks share the inputs
	Inputs    []string // this rank's inputs; "-" is stdin
	Reads     []string // small other files the result depends on (a tokenizer, a seeds file), hashed whole
	Args      []string // the command line (os.Args[1:]); --force is left out of the fingerprint
	Marker    string   // the completion marker; "" writes none
	Stats     string   // the statistics file; "" writes none
	Force     bool     // run even when the marker says the outputs are up to date
	Stdout    io.Writer

	fingerprint string
	start       time.Time
}

// Marker is the content of a completion marker file.
type Marker struct {
	Format      string          `json:"format"`
	Version     int             `json:"version"`
	Stage       string          `json:"stage"`
	Rank        int             `json:"rank"`
	WorldSize   int             `json:"world_size"`
	Fingerprint string          `json:"fingerprint"` // "" when an input was stdin: never up to date
	Args        []string        `json:"args"`
	Inputs      int             `json:"inputs"`
	Outputs     []Output        `json:"outputs"`
	Finished    string          `json:"finished"` // RFC 3339, UTC
	Summary     json.RawMessage `json:"summary"`
}

// Output is a file a job wrote, with its size when the job finished.
type Output struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// ErrMarker wraps the errors of a marker file that is not one this version
// of pipe can read.
var ErrMarker = errors.New("not a pipe-job marker")

// Expand replaces "{rank}" in path with the rank as five digits, so that
// every rank of a job can be given the same command line:
// Expand("docs-{rank}.jsonl.zst", 3) is "docs-00003.jsonl.zst".
func Expand(path string, rank int) string {
	return strings.ReplaceAll(path, "{rank}", fmt.Sprintf("%05d", rank))
}

// MarkerFor and StatsFor name the marker and the statistics of a job whose
// output is the file out: out+".done.json" and out+".stats.json".
func MarkerFor(out string) string { return out + ".done.json" }
func StatsFor(out string) string  { return out + ".stats.json" }

// Begin says whether the job is already done. If the marker matches (see
// the package documentation) it prints the recorded summary, with
// "up_to_date": true, and returns true: the caller returns without doing
// the work. Otherwise it removes the marker, starts the clock and returns
// false. It creates the directories of the marker and the statistics (so
// those of outputs beside them). A marker file that is not a pipe-job
// marker of this version is an error, never overwritten silently.
func (j *Job) Begin() (done bool, err error) {
	j.start = time.Now()
	if j.WorldSize < 1 || j.Rank < 0 || j.Rank >= j.WorldSize {
		return false, fmt.Errorf("%s: rank %d of world size %d: want 0 ≤ rank < world size", j.Stage, j.Rank, j.WorldSize)
	}
	if j.fingerprint, err = j.fingerprintOf(); err != nil {
		return false, err
	}
	for _, p := range []string{j.Marker, j.Stats} {
		if p != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return false, err
			}
		}
	}
	if j.Marker == "" {
		return false, nil
	}
	m, err := ReadMarker(j.Marker)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w (remove it to run again)", err)
	}
	why := j.stale(m)
	if why == "" && !j.Force {
		slog.Info("up to date: outputs of an earlier run with the same inputs and settings", "stage", j.Stage, "rank", j.Rank, "marker", j.Marker)
		var sum map[string]any
		if err := json.Unmarshal(m.Summary, &sum); err != nil || sum == nil {
			return false, fmt.Errorf("%s: summary: %w", j.Marker, ErrMarker)
		}
		sum["up_to_date"] = true
		return true, j.print(sum)
	}
	if j.Force {
		why = "--force"
	}
	slog.Info("running again", "stage", j.Stage, "rank", j.Rank, "marker", j.Marker, "because", why)
	if err := os.Remove(j.Marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return false, nil
}

// stale says why marker m does not vouch for this job's outputs ("" when
// it does).
func (j *Job) stale(m *Marker) string {
	switch {
	case m.Fingerprint == "" || j.fingerprint == "":
		return "stdin was an input"
	case m.Fingerprint != j.fingerprint:
		return "the command line, the inputs or the pipe binary changed"
	}
	for _, o := range m.Outputs {
		fi, err := os.Stat(o.Path)
		if err != nil {
			return fmt.Sprintf("output %s: %v", o.Path, err)
		}
		if fi.Size() != o.Size {
			return fmt.Sprintf("output %s has %d bytes, %d when written", o.Path, fi.Size(), o.Size)
		}
	}
	return ""
}

// Finish records a completed run: it writes stats (any JSON value; nil when
// the stage wrote j.Stats itself) to j.Stats, then the marker listing the
// outputs and the statistics file, and prints the summary line.
// summary is a JSON object (a map or a struct) of the stage's own counts;
// Finish adds stage, rank, world_size, outputs, stats, marker, seconds and
// up_to_date (false) to it, unless the stage set a key of the same name.
func (j *Job) Finish(outputs []string, stats, summary any) error {
	if j.Stats != "" && stats != nil {
		b, err := json.MarshalIndent(stats, "", "  ")
		if err != nil {
			return fmt.Errorf("%s: stats: %w", j.Stage, err)
		}
		if err := writeFile(j.Stats, append(b, '\n')); err != nil {
			return err
		}
	}
	sum := map[string]any{}
	if summary != nil {
		b, err := json.Marshal(summary)
		if err != nil {
			return fmt.Errorf("%s: summary: %w", j.Stage, err)
		}
		if err := json.Unmarshal(b, &sum); err != nil {
			return fmt.Errorf("%s: summary is not a JSON object: %w", j.Stage, err)
		}
	}
	if outputs == nil {
		outputs = []string{}
	}
	common := map[string]any{
		"stage": j.Stage, "rank": j.Rank, "world_size": j.WorldSize, "outputs": outputs,
		"stats": j.Stats, "marker": j.Marker, "up_to_date": false,
		"seconds": float64(time.Since(j.start).Milliseconds()) / 1000,
	}
	for k, v := range common {
		if _, ok := sum[k]; !ok {
			sum[k] = v
		}
	}
	if j.Marker != "" {
		m := Marker{Format: Format, Version: Version, Stage: j.Stage, Rank: j.Rank, WorldSize: j.WorldSize,
			Fingerprint: j.fingerprint, Args: j.args(), Inputs: len(j.Inputs), Outputs: []Output{},
			Finished: time.Now().UTC().Format(time.RFC3339)}
		for _, p := range outputs {
			fi, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("%s: output %s: %w", j.Stage, p, err)
			}
			m.Outputs = append(m.Outputs, Output{Path: p, Size: fi.Size()})
		}
		if j.Stats != "" {
			// The statistics, whether Finish or the stage wrote them.
			if fi, err := os.Stat(j.Stats); err == nil {
				m.Outputs = append(m.Outputs, Output{Path: j.Stats, Size: fi.Size()})
			}
		}
		var err error
		if m.Summary, err = json.Marshal(sum); err != nil {
			return err
		}
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFile(j.Marker, append(b, '\n')); err != nil {
			return err
		}
	}
	return j.print(sum)
}

// print writes the summary as one line of JSON.
func (j *Job) print(sum map[string]any) error {
	b, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	w := j.Stdout
	if w == nil {
		w = os.Stdout
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// args is the command line less --force, which does not change a result.
func (j *Job) args() []string {
	return slices.DeleteFunc(slices.Clone(j.Args), func(a string) bool {
		return a == "--force" || a == "--force=true" || a == "--force=false"
	})
}

// fingerprintOf hashes what the job's result depends on; "" when stdin is
// an input.
func (j *Job) fingerprintOf() (string, error) {
	type file struct {
		Path  string `json:"path"`
		Size  int64  `json:"size"`
		MTime int64  `json:"mtime_ns"`
	}
	stat := func(paths []string) ([]file, bool, error) {
		var out []file
		for _, p := range paths {
			if p == "-" || p == "" {
				return nil, false, nil
			}
			fi, err := os.Stat(p)
			if err != nil {
				return nil, false, err
			}
			out = append(out, file{p, fi.Size(), fi.ModTime().UnixNano()})
		}
		return out, true, nil
	}
	inputs, ok, err := stat(j.Inputs)
	if err != nil || !ok {
		return "", err
	}
	// Small side files by content: an upstream step that reran and wrote
	// the same tokenizer or duplicates list again changes nothing here.
	var reads []string
	for _, p := range j.Reads {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(b)
		reads = append(reads, p+" "+hex.EncodeToString(sum[:]))
	}
	var exe []file
	if p, err := os.Executable(); err == nil {
		exe, _, _ = stat([]string{p})
	}
	b, err := json.Marshal(map[string]any{
		"stage": j.Stage, "rank": j.Rank, "world_size": j.WorldSize, "args": j.args(),
		"inputs": inputs, "reads": reads, "executable": exe,
	})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// ReadMarker reads a completion marker, refusing a file of another format
// or version.
func ReadMarker(path string) (*Marker, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Marker
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrMarker, err)
	}
	if m.Format != Format || m.Version != Version {
		return nil, fmt.Errorf("%s: format %q version %d, want %q version %d: %w", path, m.Format, m.Version, Format, Version, ErrMarker)
	}
	return &m, nil
}

// writeFile writes b to path atomically (temp file and rename).
func writeFile(path string, b []byte) error {
	o, err := docio.Create(path)
	if err != nil {
		return err
	}
	defer o.Abort()
	if _, err := o.Write(b); err != nil {
		return err
	}
	return o.Close()
}
