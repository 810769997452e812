package clean

import (
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/pipe-dev/pipe/docio"
)

// parity drops documents with an odd number; its Apply is slow enough on
// some documents that workers finish out of order.
type parity struct{}

func (parity) Name() string { return "parity" }
func (parity) Filter(d *docio.Document) (bool, string) {
	n, _ := strconv.Atoi(d.ID)
	for i := 0; i < (n%7)*2000; i++ {
		_ = strings.Repeat("x", 1)
	}
	if n%2 == 1 {
		return false, "odd"
	}
	d.Metadata = map[string]any{"seen": true}
	return true, ""
}

type memRejects struct{ got []string }

func (m *memRejects) Reject(step, reason string, d *Doc) error {
	m.got = append(m.got, step+":"+reason+":"+d.ID)
	return nil
}

func feed(docs []*Doc) func() (*Doc, error) {
	i := 0
	return func() (*Doc, error) {
		if i == len(docs) {
			return nil, io.EOF
		}
		i++
		return docs[i-1], nil
	}
}

func TestPipelineOrderAndCounts(t *testing.T) {
	var docs []*Doc
	for i := range 500 {
		docs = append(docs, &Doc{Document: docio.Document{ID: strconv.Itoa(i), Text: "text " + strings.Repeat("a", i%100+1)}})
	}
	docs = append(docs, &Doc{Skip: "bad_gzip", SkipStep: StepRead}, &Doc{Document: docio.Document{ID: "page"}, Skip: ReasonNotHTML, SkipStep: StepExtract})
	rej := &memRejects{}
	dd := NewDedup(true, false)
	p := &Pipeline{Steps: []Step{ExtractStep(&Extractor{}), FilterStep(parity{}), dd.Step()}, Workers: 8, Rejected: rej}
	var out []string
	st, err := p.Run(feed(docs), func(d *Doc) error { out = append(out, d.ID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < 100; i += 2 { // even, and the first of each text
		want = append(want, strconv.Itoa(i))
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("out %v", out)
	}
	if st.Read.In != 502 || !reflect.DeepEqual(st.Read.Dropped, map[string]int64{"bad_gzip": 1}) {
		t.Errorf("read %+v", st.Read)
	}
	ex, par, dup := st.Steps[0], st.Steps[1], st.Steps[2]
	if ex.In != 501 || ex.Kept != 500 || ex.Dropped[ReasonNotHTML] != 1 || par.In != 500 || par.Kept != 250 || par.Dropped["odd"] != 250 ||
		dup.In != 250 || dup.Kept != 50 || dup.Dropped[ReasonExactDup] != 200 || st.Written != 50 || st.Rejected != 451 {
		t.Errorf("stats %+v %+v %+v written %d rejected %d", ex, par, dup, st.Written, st.Rejected)
	}
	if len(rej.got) != 451 || rej.got[0] != "parity:odd:1" || rej.got[len(rej.got)-1] != "extract:not_html:page" {
		t.Errorf("rejected %d, first %q last %q", len(rej.got), rej.got[0], rej.got[len(rej.got)-1])
	}
}

func TestPipelineStopsOnError(t *testing.T) {
	var docs []*Doc
	for i := range 1000 {
		docs = append(docs, &Doc{Document: docio.Document{ID: strconv.Itoa(i)}})
	}
	p := &Pipeline{Steps: []Step{FilterStep(parity{})}, Workers: 4}
	n := 0
	_, err := p.Run(feed(docs), func(d *Doc) error {
		if n++; n == 3 {
			return io.ErrShortWrite
		}
		return nil
	})
	if err != io.ErrShortWrite || n != 3 {
		t.Fatalf("err %v after %d", err, n)
	}
}
