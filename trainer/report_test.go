package trainer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func testMetrics(n, evalEvery int) []Metric {
	var ms []Metric
	for s := 1; s <= n; s++ {
		m := Metric{Step: s, Loss: 5 / float32(s), TokensPerS: 1000, MFU: 0.25}
		if s%evalEvery == 0 {
			v, acc := 6/float32(s), float64(s)/float64(n)
			m.ValLoss, m.Accuracy = &v, &acc
			m.Sample = fmt.Sprintf("sample <%d> & more", s)
		}
		ms = append(ms, m)
	}
	return ms
}

// The page shows every evaluation's val loss and sample, escaped, needs nothing outside it,
// and is written atomically.
func TestReport(t *testing.T) {
	info := ReportInfo{Run: "runs/<a>", Model: tinyConfig, Steps: 40, Settings: "lr 1e-3", Peak: "1 GFLOP/s"}
	ms := testMetrics(30, 5)
	var b bytes.Buffer
	if err := Report(&b, info, ms); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	checkSelfContained(t, page)
	if strings.Contains(page, "<script") {
		t.Error("the report has a script")
	}
	for _, m := range ms {
		if m.ValLoss == nil {
			if strings.Contains(page, fmt.Sprintf(`id="eval-%d"`, m.Step)) {
				t.Errorf("a row for step %d, no evaluation", m.Step)
			}
			continue
		}
		row := fmt.Sprintf(`<tr id="eval-%d"><td>%d</td><td>%.4f</td><td class="val">%.4f</td><td>%.3f</td><td><pre>sample &lt;%d&gt; &amp; more</pre></td></tr>`,
			m.Step, m.Step, m.Loss, *m.ValLoss, *m.Accuracy, m.Step)
		if !strings.Contains(page, row) {
			t.Errorf("no row %s", row)
		}
		if !strings.Contains(page, fmt.Sprintf("<title>step %d: val %.4f</title>", m.Step, *m.ValLoss)) {
			t.Errorf("no val point for step %d", m.Step)
		}
	}
	for _, want := range []string{"runs/&lt;a&gt;", "Step 30 of 40: loss 0.1667, val loss 0.2000 at step 30", "MFU 25.0%", "<h2>Accuracy</h2>"} {
		if !strings.Contains(page, want) {
			t.Errorf("no %q", want)
		}
	}

	path := filepath.Join(t.TempDir(), "report.html")
	if err := WriteReport(path, info, ms); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, b.Bytes()) {
		t.Error("WriteReport wrote another page than Report")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A long run's curve is drawn from at most 800 points, the last at the last step.
func TestReportLongRun(t *testing.T) {
	ms := testMetrics(20000, 1000)
	var b bytes.Buffer
	if err := Report(&b, ReportInfo{Run: "r", Model: tinyConfig, Steps: 20000}, ms); err != nil {
		t.Fatal(err)
	}
	lines := regexp.MustCompile(`<polyline [^>]*points="([^"]*)"`).FindAllStringSubmatch(b.String(), -1)
	if len(lines) != 3 { // train, val, accuracy
		t.Fatalf("%d curves", len(lines))
	}
	train := strings.Fields(lines[0][1])
	if len(train) != 800 || !strings.HasPrefix(train[799], "744.0,") {
		t.Errorf("the train curve has %d points, the last %s", len(train), train[len(train)-1])
	}
	if b.Len() > 200_000 {
		t.Errorf("%d bytes for 20,000 steps", b.Len())
	}
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		n      int
		want   []float64
	}{
		{2.13, 4.87, 6, []float64{2, 3, 4, 5}},
		{2.13, 4.87, 8, []float64{2, 2.5, 3, 3.5, 4, 4.5, 5}},
		{0, 1, 6, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}},
		{0, 2000, 6, []float64{0, 500, 1000, 1500, 2000}},
	} {
		if got := niceTicks(c.lo, c.hi, c.n); !slices.Equal(got, c.want) {
			t.Errorf("niceTicks(%v, %v, %d) = %v, want %v", c.lo, c.hi, c.n, got, c.want)
		}
	}
	if got := thousands(124439808); got != "124,439,808" {
		t.Errorf("thousands: %s", got)
	}
}
