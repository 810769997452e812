package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixture is a job over one input file with one output file.
type fixture struct {
	dir, in, out string
	side         string // a small file the result depends on, such as a tokenizer
	stdout       bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.in = filepath.Join(f.dir, "in.jsonl")
	f.out = filepath.Join(f.dir, "out-00001.jsonl")
	f.side = filepath.Join(f.dir, "tok.json")
	if err := os.WriteFile(f.side, []byte(`{"vocab": 300}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.in, []byte("{\"id\":\"a\",\"text\":\"x\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) job(args ...string) *Job {
	f.stdout.Reset()
	return &Job{Stage: "clean", Rank: 1, WorldSize: 2, Inputs: []string{f.in}, Reads: []string{f.side}, Args: append([]string{"clean", "--out", f.out}, args...),
		Marker: MarkerFor(f.out), Stats: StatsFor(f.out), Stdout: &f.stdout, Force: slices.Contains(args, "--force")}
}

// run does what a stage does: Begin, and when not done, the work and Finish.
// It reports whether the work ran.
func (f *fixture) run(t *testing.T, j *Job) bool {
	t.Helper()
	done, err := j.Begin()
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if done {
		return false
	}
	if err := os.WriteFile(f.out, []byte("{\"id\":\"a\",\"text\":\"x\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := j.Finish([]string{f.out}, map[string]int{"kept": 1, "dropped": 0}, map[string]any{"documents": 1}); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return true
}

// summary parses the last line of stdout.
func (f *fixture) summary(t *testing.T) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(f.stdout.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line of stdout %q: %v", lines[len(lines)-1], err)
	}
	return m
}

func TestFinishWritesStatsMarkerSummary(t *testing.T) {
	f := newFixture(t)
	if !f.run(t, f.job()) {
		t.Fatal("first run did not run")
	}
	sum := f.summary(t)
	want := map[string]any{"stage": "clean", "rank": 1.0, "world_size": 2.0, "documents": 1.0, "up_to_date": false,
		"stats": StatsFor(f.out), "marker": MarkerFor(f.out), "outputs": []any{f.out}}
	for k, v := range want {
		got, _ := json.Marshal(sum[k])
		exp, _ := json.Marshal(v)
		if !bytes.Equal(got, exp) {
			t.Errorf("summary[%q] = %s, want %s", k, got, exp)
		}
	}
	var stats map[string]int
	b, err := os.ReadFile(StatsFor(f.out))
	if err != nil || json.Unmarshal(b, &stats) != nil || stats["kept"] != 1 {
		t.Errorf("stats file: %s (%v)", b, err)
	}
	m, err := ReadMarker(MarkerFor(f.out))
	if err != nil {
		t.Fatal(err)
	}
	if m.Stage != "clean" || m.Rank != 1 || m.WorldSize != 2 || len(m.Fingerprint) != 64 || len(m.Outputs) != 2 ||
		m.Outputs[0] != (Output{f.out, 22}) || m.Outputs[1].Path != StatsFor(f.out) {
		t.Errorf("marker %+v", m)
	}
}

func TestRerun(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *fixture) // between the first run and the rerun
		args   []string         // of the rerun
		runs   bool             // whether the rerun does the work
	}{
		{"nothing changed", func(*fixture) {}, nil, false},
		{"--force", func(*fixture) {}, []string{"--force"}, true},
		{"input grew", func(f *fixture) { appendTo(f.in, "{\"id\":\"b\",\"text\":\"y\"}\n") }, nil, true},
		{"input touched", func(f *fixture) {
			later := time.Now().Add(time.Hour)
			os.Chtimes(f.in, later, later)
		}, nil, true},
		{"another flag", func(*fixture) {}, []string{"--lang", "de"}, true},
		{"side file changed", func(f *fixture) { os.WriteFile(f.side, []byte(`{"vocab": 301}`), 0o644) }, nil, true},
		{"side file rewritten the same", func(f *fixture) {
			os.WriteFile(f.side, []byte(`{"vocab": 300}`), 0o644)
			later := time.Now().Add(time.Hour)
			os.Chtimes(f.side, later, later)
		}, nil, false},
		{"output truncated", func(f *fixture) { os.WriteFile(f.out, []byte("{}\n"), 0o644) }, nil, true},
		{"output removed", func(f *fixture) { os.Remove(f.out) }, nil, true},
		{"stats removed", func(f *fixture) { os.Remove(StatsFor(f.out)) }, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.run(t, f.job())
			first := f.summary(t)
			c.change(f)
			if got := f.run(t, f.job(c.args...)); got != c.runs {
				t.Fatalf("rerun ran: %v, want %v", got, c.runs)
			}
			sum := f.summary(t)
			if sum["up_to_date"] != !c.runs {
				t.Errorf("up_to_date %v, want %v", sum["up_to_date"], !c.runs)
			}
			if !c.runs && (sum["documents"] != first["documents"] || sum["seconds"] != first["seconds"]) {
				t.Errorf("an up-to-date rerun printed %v, not the recorded %v", sum, first)
			}
		})
	}
}

func TestStdinNeverUpToDate(t *testing.T) {
	f := newFixture(t)
	j := f.job()
	j.Inputs = []string{"-"}
	f.run(t, j)
	j = f.job()
	j.Inputs = []string{"-"}
	if !f.run(t, j) {
		t.Error("a job that read stdin was taken as up to date")
	}
}

// Begin removes the marker before the work, so a run that fails leaves none.
func TestFailedRunLeavesNoMarker(t *testing.T) {
	f := newFixture(t)
	f.run(t, f.job())
	appendTo(f.in, "more\n")
	if done, err := f.job().Begin(); done || err != nil {
		t.Fatalf("Begin: %v %v", done, err)
	}
	// ... and the work fails here: no Finish.
	if _, err := os.Stat(MarkerFor(f.out)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the marker of the earlier run is still there (%v)", err)
	}
}

func TestBadMarkerRefused(t *testing.T) {
	for _, content := range []string{"not json", `{"format":"pipe-job","version":2}`, `{"format":"other","version":1}`} {
		f := newFixture(t)
		os.WriteFile(MarkerFor(f.out), []byte(content), 0o644)
		_, err := f.job().Begin()
		if !errors.Is(err, ErrMarker) || !strings.Contains(err.Error(), MarkerFor(f.out)) {
			t.Errorf("marker %q: err %v, want ErrMarker naming the file", content, err)
		}
	}
}

func TestBadRank(t *testing.T) {
	f := newFixture(t)
	j := f.job()
	j.Rank = 2
	if _, err := j.Begin(); err == nil || !strings.Contains(err.Error(), "rank 2") {
		t.Errorf("rank 2 of 2: %v", err)
	}
}

// A stage's own summary keys win over the common ones.
func TestSummaryKeysOfTheStage(t *testing.T) {
	f := newFixture(t)
	j := f.job()
	j.Marker, j.Stats = "", ""
	j.Begin()
	if err := j.Finish(nil, nil, struct {
		Outputs []string `json:"outputs"`
		Pages   int      `json:"pages"`
	}{[]string{"a.warc.gz"}, 3}); err != nil {
		t.Fatal(err)
	}
	sum := f.summary(t)
	if sum["pages"] != 3.0 || sum["outputs"].([]any)[0] != "a.warc.gz" || sum["marker"] != "" {
		t.Errorf("summary %v", sum)
	}
}

func TestExpand(t *testing.T) {
	for in, want := range map[string]string{
		"docs-{rank}.jsonl.zst": "docs-00007.jsonl.zst",
		"{rank}/{rank}.bin":     "00007/00007.bin",
		"plain.jsonl":           "plain.jsonl",
	} {
		if got := Expand(in, 7); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func appendTo(path, s string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		panic(err)
	}
	f.WriteString(s)
	f.Close()
}
