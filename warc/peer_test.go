package warc

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipe-dev/pipe/internal/peertest"
)

// The peer is warcio (PyPI), run by scripts/warc_peer.py with the Python of
// $PIPE_PEER_DIR/venv (scripts/peers.sh installs it).

func runPeer(t *testing.T, py string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(py, append([]string{filepath.Join("..", "scripts", "warc_peer.py")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("warc_peer.py %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// view is what we compare of a record: the fields warc_peer.py read
// prints for each.
type view struct {
	Type          string      `json:"type"`
	Headers       [][2]string `json:"headers"`
	Version       string      `json:"version"`
	ContentLength int64       `json:"content_length"`
	Offset        int64       `json:"offset"`
	HTTP          *httpView   `json:"http"`
	PayloadSHA1   string      `json:"payload_sha1"`
	PayloadLen    int         `json:"payload_len"`
	DigestsOK     *bool       `json:"digests_ok"`
	ContentSHA1   string      `json:"content_sha1"`
}

type httpView struct {
	Protocol   string      `json:"protocol"`
	Statusline string      `json:"statusline"`
	Headers    [][2]string `json:"headers"`
}

// warcioView reads path with warcio.
func warcioView(t *testing.T, py, path string) []view {
	t.Helper()
	var views []view
	for line := range bytes.Lines(runPeer(t, py, "read", path)) {
		var v view
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("warcio output %q: %v", line, err)
		}
		views = append(views, v)
	}
	return views
}

// ourView reads path with our Reader, seeing records as warcio does: HTTP
// headers parsed for request, response and revisit records of http(s)
// URIs, payloads decoded as content_stream() decodes them.
func ourView(t *testing.T, path string) []view {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, path)
	var views []view
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		block, err := io.ReadAll(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		v := view{Type: rec.Type, Version: rec.Version, ContentLength: rec.ContentLength, Offset: rec.Offset}
		for _, f := range rec.Header {
			if strings.EqualFold(f.Name, "WARC-Target-URI") {
				f.Value = rec.TargetURI // warcio takes off the <> too
			}
			v.Headers = append(v.Headers, [2]string{f.Name, f.Value})
		}
		payload, content := block, block
		isHTTP := rec.ContentLength > 0 && (rec.Type == TypeRequest || rec.Type == TypeResponse || rec.Type == TypeRevisit) &&
			(strings.HasPrefix(rec.TargetURI, "http:") || strings.HasPrefix(rec.TargetURI, "https:"))
		if isHTTP && rec.Type == TypeRequest {
			head, body, _ := bytes.Cut(block, []byte("\r\n\r\n"))
			lines := strings.Split(string(head), "\r\n")
			method, rest, _ := strings.Cut(lines[0], " ")
			v.HTTP = &httpView{Protocol: method, Statusline: strings.TrimSpace(rest), Headers: [][2]string{}}
			for _, l := range lines[1:] {
				name, value, _ := strings.Cut(l, ":")
				v.HTTP.Headers = append(v.HTTP.Headers, [2]string{name, strings.TrimSpace(value)})
			}
			payload, content = body, body
		} else if isHTTP {
			resp, err := ReadHTTPResponse(bytes.NewReader(block))
			if err != nil {
				t.Fatalf("%s: record %d: %v", path, len(views), err)
			}
			v.HTTP = &httpView{Protocol: resp.Proto, Statusline: strings.TrimSpace(strconv.Itoa(resp.StatusCode) + " " + resp.Reason), Headers: [][2]string{}}
			for _, f := range resp.Header {
				v.HTTP.Headers = append(v.HTTP.Headers, [2]string{f.Name, f.Value})
			}
			p, _ := httpPayload([][]byte{block})
			payload = bytes.Join(p, nil)
			if content, err = io.ReadAll(resp.Body); err != nil {
				t.Fatalf("%s: record %d: payload: %v", path, len(views), err)
			}
		}
		v.PayloadSHA1, v.PayloadLen = sha1Hex(payload), len(payload)
		v.ContentSHA1 = sha1Hex(content)
		if bd, pd := rec.Header.Get("WARC-Block-Digest"), rec.Header.Get("WARC-Payload-Digest"); rec.Type != TypeRevisit && (bd != "" || pd != "") {
			ok := (bd == "" || bd == blockDigest(block)) && (pd == "" || pd == blockDigest(payload))
			v.DigestsOK = &ok
		}
		views = append(views, v)
	}
	return views
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// agree checks that our Reader and warcio see the same records in path.
func agree(t *testing.T, py, path string) []view {
	t.Helper()
	theirs, ours := warcioView(t, py, path), ourView(t, path)
	if len(theirs) != len(ours) {
		t.Fatalf("%s: warcio reads %d records, we read %d", path, len(theirs), len(ours))
	}
	for i := range theirs {
		if !reflect.DeepEqual(theirs[i], ours[i]) {
			w, _ := json.Marshal(theirs[i])
			o, _ := json.Marshal(ours[i])
			t.Errorf("%s: record %d:\nwarcio %s\nours   %s", path, i, w, o)
		}
	}
	return theirs
}

// Our reader agrees with warcio, record by record, on the files in
// testdata and on files warcio writes: WARC 1.0 and 1.1, plain and a gzip
// member per record.
func TestPeerReadWarcioFiles(t *testing.T) {
	py := peertest.Python(t, "warcio")
	paths, _ := filepath.Glob("testdata/*warc*")
	dir := t.TempDir()
	for i, c := range []struct {
		version string
		plain   bool
	}{{"1.1", false}, {"1.0", false}, {"1.1", true}, {"1.0", true}} {
		path := filepath.Join(dir, fmt.Sprintf("warcio-%s-%d.warc", c.version, i))
		args := []string{"write", path, "--version", c.version, "--seed", strconv.Itoa(i + 1)}
		if c.plain {
			args = append(args, "--plain")
		} else {
			path += ".gz"
			args[1] = path
		}
		runPeer(t, py, args...)
		paths = append(paths, path)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			views := agree(t, py, path)
			if len(views) < 4 {
				t.Errorf("only %d records", len(views))
			}
		})
	}
}

// warcio reads the files our Writer writes, every record and every digest
// checked, and sees what our Reader sees.
func TestPeerWarcioReadsOurs(t *testing.T) {
	py := peertest.Python(t, "warcio")
	dir := t.TempDir()
	sample := filepath.Join(dir, "sample.warc.gz")
	if err := os.WriteFile(sample, writeSample(t), 0o644); err != nil {
		t.Fatal(err)
	}

	// A bigger file: many captures, payloads chunked, gzipped, binary.
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.WriteWarcinfo("big.warc.gz", Header{{"software", "pipe"}})
	exs := sampleExchanges(t)
	for i := range 60 {
		ex := *exs[i%len(exs)]
		ex.TargetURI = fmt.Sprintf("%s?i=%d", ex.TargetURI, i)
		ex.Date = ex.Date.Add(time.Duration(i) * 1234567 * time.Microsecond)
		if i%5 == 1 {
			ex.ResponseHeader = []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n")
			ex.Payload = []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 10+i, strings.Repeat("z", 10+i)))
		}
		if _, _, err := w.WriteExchange(&ex); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			w.WriteRecord(Header{{"WARC-Type", TypeConversion}, {"WARC-Target-URI", ex.TargetURI}, {"Content-Type", "text/plain"}}, []byte("text of the page\n"))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.warc.gz")
	if err := os.WriteFile(big, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{sample, big} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			views := agree(t, py, path)
			for i, v := range views {
				if v.Type == TypeRevisit {
					continue
				}
				if v.DigestsOK == nil || !*v.DigestsOK {
					t.Errorf("record %d (%s): warcio's digest check: %v", i, v.Type, v.DigestsOK)
				}
				if v.Version != Version {
					t.Errorf("record %d: version %q", i, v.Version)
				}
			}
		})
	}
}
