package trainer

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The bytes of a two-tensor file, worked out by hand from the format's definition.
func TestSafetensorsLayout(t *testing.T) {
	var b bytes.Buffer
	err := WriteSafetensors(&b, []NamedTensor{
		{Name: "b", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "a", Shape: []int{1, 1}, Data: []float32{-1}},
	}, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	n := binary.LittleEndian.Uint64(data)
	header := string(data[8 : 8+n])
	want := `{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`
	if strings.TrimRight(header, " ") != want || n%8 != 0 {
		t.Errorf("header (%d bytes) %q\nwant %q", n, header, want)
	}
	body := data[8+n:]
	wantBody := []byte{0, 0, 0x80, 0xbf, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40} // -1, 1, 2
	if !bytes.Equal(body, wantBody) {
		t.Errorf("data % x, want % x", body, wantBody)
	}

	path := filepath.Join(t.TempDir(), "x.safetensors")
	os.WriteFile(path, data, 0o644)
	ts, meta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" || len(ts) != 2 || ts["b"].Data[1] != 2 || ts["a"].Data[0] != -1 || ts["a"].Shape[1] != 1 {
		t.Errorf("read back %v %v", ts, meta)
	}
	os.WriteFile(path, data[:len(data)-4], 0o644)
	if _, _, err := ReadSafetensors(path); err == nil {
		t.Error("a file cut short: no error")
	}
	if err := WriteSafetensors(&b, []NamedTensor{{Name: "x", Shape: []int{3}, Data: []float32{1}}}, nil); err == nil {
		t.Error("a shape that disagrees with the data: no error")
	}
}
