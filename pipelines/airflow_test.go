// Package pipelines_test runs the Airflow DAG of dags/ with real Airflow (the
// venv that scripts/peers.sh installs): the DagBag imports with no errors, and
// dag.test() runs the whole DAG on a tiny crawl of the bundled site on this
// machine, twice: the first run leaves a valid shard manifest and a
// checkpoint, the second finds every stage's outputs up to date.
package pipelines_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/internal/peertest"
	"github.com/pipe-dev/pipe/pipelines/site"
	"github.com/pipe-dev/pipe/shard"
)

// here is the directory of this file: pipelines/.
func here() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Dir(self)
}

// airflow is an Airflow installation with its home (config, SQLite
// database) in a temporary directory.
type airflow struct {
	python string
	env    []string
}

func newAirflow(t *testing.T) *airflow {
	t.Helper()
	py := peertest.AirflowPython(t)
	home := t.TempDir()
	a := &airflow{python: py, env: append(os.Environ(),
		"AIRFLOW_HOME="+home,
		"AIRFLOW__CORE__DAGS_FOLDER="+filepath.Join(here(), "dags"),
		"AIRFLOW__CORE__LOAD_EXAMPLES=False",
		"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///"+filepath.Join(home, "airflow.db"),
	)}
	a.run(t, filepath.Join(filepath.Dir(py), "airflow"), "db", "migrate")
	// The training task's pool, as an operator creates it: one slot per GPU.
	a.run(t, filepath.Join(filepath.Dir(py), "airflow"), "pools", "set", "gpus", "1", "one slot per GPU")
	return a
}

func (a *airflow) run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = a.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(out))
	}
}

// runDAG runs pipelines/tests/run_dag.py and decodes the JSON it writes.
func (a *airflow) runDAG(t *testing.T, v any, args ...string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "result.json")
	cmd := exec.Command(a.python, append([]string{filepath.Join(here(), "tests", "run_dag.py"), args[0], filepath.Join(here(), "dags"), out}, args[1:]...)...)
	cmd.Env = a.env
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run_dag.py %s: %v\n%s", args[0], err, tail(log))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("run_dag.py %s wrote no result: %v\n%s", args[0], err, tail(log))
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("run_dag.py %s: %v\n%s", args[0], err, b)
	}
}

// tail is the end of a long log.
func tail(b []byte) []byte {
	if len(b) > 6000 {
		return b[len(b)-6000:]
	}
	return b
}

// The DagBag imports the DAG with no errors, and it has the shape the
// README describes.
func TestDAGImports(t *testing.T) {
	a := newAirflow(t)
	var got struct {
		DAGs   []string `json:"dags"`
		Params []string `json:"params"`
		Tasks  map[string]struct {
			Upstream []string `json:"upstream"`
			Pool     string   `json:"pool"`
			Mapped   bool     `json:"mapped"`
		} `json:"tasks"`
	}
	a.runDAG(t, &got, "check")
	if !slices.Equal(got.DAGs, []string{"pipe"}) {
		t.Errorf("DAGs %v, want [pipe]", got.DAGs)
	}
	for _, p := range []string{"seeds", "warc", "output_root", "vocab_size", "model", "partitions"} {
		if !slices.Contains(got.Params, p) {
			t.Errorf("no parameter %q (have %v)", p, got.Params)
		}
	}
	// task: mapped, its upstream tasks.
	want := map[string]struct {
		mapped   bool
		upstream []string
	}{
		"plan":            {false, nil},
		"crawl":           {true, []string{"plan"}},
		"list_warcs":      {false, []string{"crawl"}},
		"clean":           {true, []string{"list_warcs"}},
		"dedup_buckets":   {false, []string{"clean"}},
		"dedup_remove":    {true, []string{"dedup_buckets", "list_warcs"}},
		"partitions":      {false, nil},
		"bpe_count":       {true, []string{"dedup_remove", "partitions"}},
		"bpe_train":       {false, []string{"bpe_count"}},
		"shard":           {true, []string{"bpe_train", "partitions"}},
		"merge_manifests": {false, []string{"shard"}},
		"train":           {false, []string{"merge_manifests"}},
		"report":          {false, []string{"merge_manifests", "train"}},
	}
	for id, w := range want {
		g, ok := got.Tasks[id]
		if !ok {
			t.Errorf("no task %s", id)
			continue
		}
		if g.Mapped != w.mapped || !slices.Equal(g.Upstream, w.upstream) && !(len(g.Upstream) == 0 && len(w.upstream) == 0) {
			t.Errorf("task %s: mapped %v, upstream %v; want %v, %v", id, g.Mapped, g.Upstream, w.mapped, w.upstream)
		}
	}
	if len(got.Tasks) != len(want) {
		t.Errorf("%d tasks, want %d", len(got.Tasks), len(want))
	}
	if got.Tasks["train"].Pool != "gpus" {
		t.Errorf("train runs in pool %q, want gpus", got.Tasks["train"].Pool)
	}
}

// dagRun is what run_dag.py test reports.
type dagRun struct {
	State string `json:"state"`
	Tasks []struct {
		TaskID   string          `json:"task_id"`
		MapIndex int             `json:"map_index"`
		State    string          `json:"state"`
		Result   json.RawMessage `json:"result"`
	} `json:"tasks"`
}

// summary is the part of a pipe batch job's summary (its task's result)
// that every stage has.
type summary struct {
	Stage     string   `json:"stage"`
	Rank      int      `json:"rank"`
	WorldSize int      `json:"world_size"`
	Outputs   []string `json:"outputs"`
	Marker    string   `json:"marker"`
	UpToDate  bool     `json:"up_to_date"`
	Documents int64    `json:"documents"`
}

// The whole DAG on a tiny crawl of the bundled site: crawl, clean and
// dedup, count and train a tokenizer, shard, train a nano GPT for 20 steps.
func TestDAGRuns(t *testing.T) {
	a := newAirflow(t)
	dir := t.TempDir()
	pipeBin := filepath.Join(dir, "pipe")
	if out, err := exec.Command("go", "build", "-o", pipeBin, filepath.Join(here(), "..", "cmd", "pipe")).CombinedOutput(); err != nil {
		t.Fatalf("build pipe: %v\n%s", err, out)
	}
	s, err := site.Default()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	root := filepath.Join(dir, "out")
	conf, _ := json.Marshal(map[string]any{
		"seeds": []string{srv.URL + "/opticks/index.html"}, "output_root": root, "pipe": pipeBin,
		"vocab_size": 300, "model": "nano", "partitions": 2,
		// About 40 pages in WARC files of ~60 KB: several files, so several clean ranks.
		"crawl_args": "--allow-private --per-host-delay 0 --max-pages 40 --max-file-size 60KB",
		"shard_args": "--val-fraction 0.2",
		"train_args": "--context 32 --batch 8 --steps 20 --warmup 2 --eval-every 10 --eval-batches 2 --ckpt-every 20",
	})

	start := time.Now()
	var first dagRun
	a.runDAG(t, &first, "test", string(conf))
	t.Logf("first run: %.0fs", time.Since(start).Seconds())
	if first.State != "success" {
		t.Fatalf("DAG run %s: %+v", first.State, first.Tasks)
	}
	sums := checkTasks(t, first, false)

	// Every hand-off: WARC files, documents, tokenizer, shards, checkpoint.
	warcs, _ := filepath.Glob(filepath.Join(root, "warc", "*.warc.gz"))
	if len(sums["clean"]) != len(warcs) || len(warcs) < 2 {
		t.Errorf("%d clean tasks for %d WARC files, want one each and at least 2", len(sums["clean"]), len(warcs))
	}
	var docs int64
	for _, s := range sums["dedup_remove"] {
		docs += s.Documents
	}
	if docs < 20 {
		t.Errorf("%d documents after dedup, want at least 20 of ~40 pages", docs)
	}
	if len(sums["bpe_count"]) != 2 || len(sums["shard"]) != 2 {
		t.Errorf("%d count and %d shard tasks, want 2 each (partitions)", len(sums["bpe_count"]), len(sums["shard"]))
	}
	tok, err := bpe.Load(filepath.Join(root, "tokenizer.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := tok.Fingerprint()
	ds, err := shard.Open(filepath.Join(root, "data"))
	if err != nil {
		t.Fatalf("shard manifest: %v", err)
	}
	if err := ds.Verify(); err != nil {
		t.Errorf("verify shards: %v", err)
	}
	tr, va := ds.Manifest.Totals(shard.Train), ds.Manifest.Totals(shard.Val)
	if tok.VocabSize() != 300 || ds.Manifest.Tokenizer.SHA256 != fp || tr.Tokens == 0 || va.Tokens == 0 || tr.Documents+va.Documents != docs {
		t.Errorf("vocab %d, manifest tokenizer %s (tokenizer.json %s), train %+v, val %+v, want %d documents",
			tok.VocabSize(), ds.Manifest.Tokenizer.SHA256, fp, tr, va, docs)
	}
	ckpt := filepath.Join(root, "run", "ckpt-20")
	for _, f := range []string{"model.safetensors", "config.json", "state.json"} {
		if fi, err := os.Stat(filepath.Join(ckpt, f)); err != nil || fi.Size() == 0 {
			t.Errorf("checkpoint %s: %v", f, err)
		}
	}
	var rep struct {
		Manifest, Checkpoint string
	}
	json.Unmarshal(result(t, first, "report", -1), &rep)
	if rep.Manifest != filepath.Join(root, "data", "manifest.json") || rep.Checkpoint != ckpt {
		t.Errorf("report %s", result(t, first, "report", -1))
	}
	manifest, _ := os.ReadFile(filepath.Join(root, "data", "manifest.json"))

	// A second run of the same DAG run configuration does no stage's work
	// again: every task's result says up to date, and the outputs stay.
	start = time.Now()
	var second dagRun
	a.runDAG(t, &second, "test", string(conf))
	t.Logf("second run: %.0fs", time.Since(start).Seconds())
	if second.State != "success" {
		t.Fatalf("second DAG run %s: %+v", second.State, second.Tasks)
	}
	checkTasks(t, second, true)
	if again, _ := os.ReadFile(filepath.Join(root, "data", "manifest.json")); string(again) != string(manifest) {
		t.Errorf("the second run changed manifest.json")
	}
	if ckpts, _ := filepath.Glob(filepath.Join(root, "run", "ckpt-*")); len(ckpts) != 1 {
		t.Errorf("checkpoints after the second run: %v", ckpts)
	}
}

// checkTasks checks that every task succeeded and that each pipe stage's
// result is its summary: the stage and rank of its map index, outputs that
// exist, a marker, and up_to_date as want. It returns the summaries by task.
func checkTasks(t *testing.T, run dagRun, upToDate bool) map[string][]summary {
	t.Helper()
	stages := map[string]string{"crawl": "crawl", "clean": "clean", "dedup_buckets": "clean dedup-buckets", "dedup_remove": "clean dedup-remove",
		"bpe_count": "bpe count", "bpe_train": "bpe train", "shard": "shard"}
	out := map[string][]summary{}
	for _, ti := range run.Tasks {
		if ti.State != "success" {
			t.Errorf("task %s[%d]: %s", ti.TaskID, ti.MapIndex, ti.State)
			continue
		}
		stage, ok := stages[ti.TaskID]
		if !ok {
			continue
		}
		var s summary
		if err := json.Unmarshal(ti.Result, &s); err != nil {
			t.Errorf("task %s[%d]: result %s is not a summary: %v", ti.TaskID, ti.MapIndex, ti.Result, err)
			continue
		}
		name := fmt.Sprintf("%s[%d]", ti.TaskID, ti.MapIndex)
		if s.Stage != stage || (ti.MapIndex >= 0 && s.Rank != ti.MapIndex) || s.UpToDate != upToDate {
			t.Errorf("%s: stage %q rank %d up_to_date %v; want %q, %d, %v", name, s.Stage, s.Rank, s.UpToDate, stage, ti.MapIndex, upToDate)
		}
		if _, err := os.Stat(s.Marker); err != nil {
			t.Errorf("%s: marker: %v", name, err)
		}
		for _, o := range s.Outputs {
			if _, err := os.Stat(o); err != nil {
				t.Errorf("%s: output: %v", name, err)
			}
		}
		out[ti.TaskID] = append(out[ti.TaskID], s)
	}
	return out
}

// result is the result of one task instance.
func result(t *testing.T, run dagRun, task string, mapIndex int) json.RawMessage {
	t.Helper()
	for _, ti := range run.Tasks {
		if ti.TaskID == task && ti.MapIndex == mapIndex {
			return ti.Result
		}
	}
	t.Fatalf("no task %s[%d]", task, mapIndex)
	return nil
}
