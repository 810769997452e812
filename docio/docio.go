// Package docio reads and writes the documents that travel between stages:
// JSON Lines in the datatrove / Dolma shape, one object per line,
//
//	{"id":"cc-0001","text":"Hello.","url":"https://example.com/","date":"2024-05-01","metadata":{"lang":"en"}}
//
// plain or compressed (gzip, zstd), from files, globs or stdin.
//
// The pieces:
//   - Open and Create turn a path into a stream: "-" is stdin/stdout, ".gz"
//     and ".zst" are decompressed and compressed, and outputs appear only
//     when complete (temp file + rename).
//   - Reader and Writer turn a stream into documents and back (Reader.Next,
//     Writer.Write, Writer.Flush), following encoding/csv: io.EOF is a clean
//     end, a bad line is a *ParseError that wraps ErrBadRecord, and the writer
//     keeps its first error.
//   - Inputs and Partition turn command-line arguments into the sorted list
//     of files and into one rank's share of it.
package docio

// Document is one text with its provenance. The JSON keys are "id", "text",
// "url", "date" and "metadata".
//
// Fields of a JSON object other than these five are not dropped: the reader
// moves them into Metadata, so FineWeb's top-level "dump" or "language" come
// out as Metadata["dump"], Metadata["language"] (this is what datatrove's
// JSONL reader does). When a key is both top-level and inside "metadata", the
// top-level value wins. The writer always nests them under "metadata".
//
// Numbers inside Metadata are json.Number, so integers of any size survive a
// round trip unchanged.
type Document struct {
	ID       string         `json:"id"`
	Text     string         `json:"text"`
	URL      string         `json:"url,omitempty"`
	Date     string         `json:"date,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}
