package clean

import (
	"bytes"
	"math"
	"testing"

	"github.com/pipe-dev/pipe/docio"
)

// Measures are written with their keys sorted (as a map would be), NaN and
// infinities as null, and a second run of a step replaces the first one's
// values.
func TestMeasuresJSON(t *testing.T) {
	d := docio.Document{ID: "x", Text: "t", Metadata: map[string]any{"fineweb": "old"}}
	m := Measures(&d, "fineweb")
	m.Set("line_punct_ratio", 1.0/3)
	m.Set("words", 49)
	m.Set("list_ratio", math.NaN())
	m.Set("char_dup_ratio", math.Inf(1))
	m.Set("small", 1e-7)
	var buf bytes.Buffer
	w := docio.NewWriter(&buf)
	if err := w.Write(d); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	want := `{"id":"x","text":"t","metadata":{"fineweb":{"char_dup_ratio":null,"line_punct_ratio":0.3333333333333333,"list_ratio":null,"small":1e-7,"words":49}}}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}
	if v, ok := m.Get("words"); !ok || v != 49 {
		t.Errorf("Get(words) = %v, %v", v, ok)
	}
	if _, ok := m.Get("nope"); ok {
		t.Error("Get(nope) found a value")
	}
}
