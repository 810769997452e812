package clean

import "github.com/pipe-dev/pipe/docio"

// A Filter decides whether a document stays. It answers keep or drop with a
// reason (a short snake_case name such as "gopher_short_doc"), and may record
// what it measured in doc.Metadata under its own keys so that downstream
// users can see why a document passed. Counting, timing and keeping the
// rejected documents are the pipeline's job, not the filter's.
type Filter interface {
	// Name is the step's name as --steps and --stats spell it.
	Name() string
	// Filter returns keep=true, or keep=false with the reason for the drop.
	Filter(doc *docio.Document) (keep bool, reason string)
}
