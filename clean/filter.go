package clean

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pipe-dev/pipe/docio"
)

// A Filter decides whether a document stays. It answers keep or drop with a
// reason (a short snake_case name such as "gopher_short_doc"), and may record
// what it measured in the document's metadata (see Measures) so that
// downstream users can see why a document passed or was dropped. Counting,
// timing and keeping the rejected documents are the pipeline's job, not the
// filter's.
type Filter interface {
	// Name is the step's name as --steps and --stats spell it.
	Name() string
	// Filter returns keep=true, or keep=false with the reason for the drop.
	Filter(doc *docio.Document) (keep bool, reason string)
}

// Measured is what a filter measured in one document: each check that ran
// records the value it compared with its limit, under the check's name,
// before deciding. So a kept document carries the values of every check,
// and a dropped one those of the checks up to the one that dropped it, that
// one included, with the value that crossed the limit. Ratios are
// fractions, counts whole numbers.
//
// It is stored in doc.Metadata under the step's name and written as a JSON
// object with its keys sorted, as encoding/json writes a map, so that a
// document read back and written again comes out the same, e.g.
//
//	"metadata":{"fineweb":{"char_dup_ratio":0,"line_punct_ratio":0.9,"list_ratio":0.02,"short_line_ratio":0.1}}
//
// (read back from JSONL it is a map like any other metadata).
type Measured struct {
	list []Measure
	buf  [13]Measure // room for the checks of any filter, in the same allocation
}

// Measure is one named value.
type Measure struct {
	Name  string
	Value float64
}

// Measures returns a new, empty Measured stored in doc.Metadata[step]; a
// value from an earlier run of the same step is replaced.
func Measures(doc *docio.Document, step string) *Measured {
	if doc.Metadata == nil {
		doc.Metadata = map[string]any{}
	}
	m := &Measured{}
	m.list = m.buf[:0]
	doc.Metadata[step] = m
	return m
}

// Set records a value.
func (m *Measured) Set(name string, v float64) { m.list = append(m.list, Measure{name, v}) }

// Get returns the value recorded under name.
func (m *Measured) Get(name string) (float64, bool) {
	for _, x := range m.list {
		if x.Name == name {
			return x.Value, true
		}
	}
	return 0, false
}

// All returns the values in the order they were recorded.
func (m *Measured) All() []Measure { return m.list }

// MarshalJSON writes the values as a JSON object, keys sorted. JSON has no
// NaN or infinity, so those (a ratio over zero words, say) are written as
// null.
func (m *Measured) MarshalJSON() ([]byte, error) {
	sorted := append(make([]Measure, 0, len(m.buf)), m.list...)
	slices.SortFunc(sorted, func(a, b Measure) int { return strings.Compare(a.Name, b.Name) })
	b := make([]byte, 0, 32*len(sorted)+2)
	b = append(b, '{')
	for i, x := range sorted {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, x.Name)
		b = append(b, ':')
		if math.IsNaN(x.Value) || math.IsInf(x.Value, 0) {
			b = append(b, "null"...)
		} else {
			b = appendFloat(b, x.Value)
		}
	}
	return append(b, '}'), nil
}

// appendFloat writes v as encoding/json does: the shortest decimal that
// reads back as v, in exponent form only below 1e-6 or from 1e21 on.
func appendFloat(b []byte, v float64) []byte {
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-07 → e-7
		b = b[:n-1]
	}
	return b
}
