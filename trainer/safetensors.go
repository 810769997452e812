package trainer

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// Safetensors is Hugging Face's tensor file format
// (github.com/huggingface/safetensors), the one transformers reads first:
//
//	8 bytes     N, the header's length, little-endian uint64
//	N bytes     a JSON object: per tensor {"dtype":"F32","shape":[…],"data_offsets":[begin,end]},
//	            offsets into the data that follows, and "__metadata__": string → string
//	the data    the tensors' bytes, little-endian, row-major, one after another
//
// We write float32 only, tensors in name order (json sorts the header's keys the same way),
// and pad the header with spaces to a multiple of 8 bytes, as the reference writer does.

// NamedTensor is a tensor of a safetensors file.
type NamedTensor struct {
	Name  string
	Shape []int
	Data  []float32 // len = product of Shape
}

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// WriteSafetensors writes tensors, F32, and metadata (may be nil) to w.
func WriteSafetensors(w io.Writer, tensors []NamedTensor, metadata map[string]string) error {
	ts := append([]NamedTensor(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for i, t := range ts {
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("safetensors: %s: shape %v holds %d values, have %d", t.Name, t.Shape, n, len(t.Data))
		}
		if t.Name == "__metadata__" || (i > 0 && ts[i-1].Name == t.Name) {
			return fmt.Errorf("safetensors: tensor name %q used twice or reserved", t.Name)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = stEntry{DType: "F32", Shape: shape, Offsets: [2]int64{off, off + 4*int64(n)}}
		off += 4 * int64(n)
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: header: %w", err)
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hj)))
	bw.Write(n[:])
	bw.Write(hj)
	var b [4]byte
	for _, t := range ts {
		for _, x := range t.Data {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}

// ReadSafetensors reads the F32 tensors of a safetensors file and its metadata; it refuses
// any other dtype and a header whose offsets do not tile the data exactly.
func ReadSafetensors(path string) (map[string]NamedTensor, map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("%s: not a safetensors file: %d bytes", path, len(data))
	}
	hn := binary.LittleEndian.Uint64(data)
	if hn > uint64(len(data)-8) || hn > 100<<20 {
		return nil, nil, fmt.Errorf("%s: not a safetensors file: header of %d bytes in a file of %d", path, hn, len(data))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+hn], &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: safetensors header: %w", path, err)
	}
	body := data[8+hn:]
	var meta map[string]string
	out := map[string]NamedTensor{}
	type span struct{ a, b int64 }
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("%s: safetensors metadata: %w", path, err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %s: %w", path, name, err)
		}
		if e.DType != "F32" {
			return nil, nil, fmt.Errorf("%s: tensor %s is %s: only F32 is read", path, name, e.DType)
		}
		n := int64(1)
		for _, d := range e.Shape {
			n *= int64(d)
		}
		a, b := e.Offsets[0], e.Offsets[1]
		if a < 0 || b < a || b > int64(len(body)) || b-a != 4*n {
			return nil, nil, fmt.Errorf("%s: tensor %s: offsets %v do not hold shape %v in %d bytes of data", path, name, e.Offsets, e.Shape, len(body))
		}
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[a+4*int64(i):]))
		}
		out[name] = NamedTensor{Name: name, Shape: e.Shape, Data: vals}
		spans = append(spans, span{a, b})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].a < spans[j].a })
	var end int64
	for _, s := range spans {
		if s.a != end {
			return nil, nil, fmt.Errorf("%s: tensor data has a gap or overlap at byte %d", path, end)
		}
		end = s.b
	}
	if end != int64(len(body)) {
		return nil, nil, fmt.Errorf("%s: %d bytes of data, the tensors hold %d", path, len(body), end)
	}
	return out, meta, nil
}
