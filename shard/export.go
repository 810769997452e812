package shard

import (
	"bufio"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/pipe-dev/pipe/tokstream"
)

// ExportStream writes the rows of f to w as an Arrow IPC stream, batch for
// batch: a token stream (package tokstream, format "pipe-tokens") that
// `pipe shard` reads back, and that Hugging Face datasets loads with
// Dataset.from_file, which reads the streaming format.
func ExportStream(w io.Writer, f *File) error {
	s, err := tokstream.SchemaFor(tokstream.FormatName, tokstream.Version, f.Meta())
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	iw := ipc.NewWriter(bw, ipc.WithSchema(s))
	for i := range f.NumBatches() {
		rec, _, err := f.batch(i)
		if err != nil {
			iw.Close()
			return err
		}
		out := array.NewRecordBatch(s, []arrow.Array{rec.Column(f.idCol), rec.Column(f.tokCol)}, rec.NumRows())
		err = iw.Write(out)
		out.Release()
		rec.Release()
		if err != nil {
			iw.Close()
			return fmt.Errorf("export %s: %w", f.Path(), err)
		}
	}
	if err := iw.Close(); err != nil {
		return fmt.Errorf("export %s: %w", f.Path(), err)
	}
	return bw.Flush()
}
