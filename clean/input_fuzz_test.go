package clean

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/warc"
)

// sourceReasons are the reasons a Source may give for a record it cannot
// read or a page it will not extract.
var sourceReasons = map[string]bool{}

func init() {
	for _, r := range []string{
		warc.ReasonBadHeader, warc.ReasonBadVersion, warc.ReasonHeaderTooLong, warc.ReasonTruncated, warc.ReasonBadLength, warc.ReasonBadGzip,
		docio.ReasonInvalidJSON, docio.ReasonMissingText, docio.ReasonBadField, docio.ReasonLineTooLong, docio.ReasonInvalidUTF8,
		ReasonNotHTML, ReasonHTTPStatus, ReasonBadPayload, ReasonEncoded, ReasonHTMLTooLarge,
	} {
		sourceReasons[r] = true
	}
}

// FuzzSource feeds arbitrary bytes to clean's input reader, as a file of
// any format: it must not panic or loop, an input it refuses or cannot read
// to the end must be named in the error, and every record or line it cannot
// read must come back as a skip with a known reason and an error that names
// the input and the record (its offset, or the line).
//
//	go test ./clean -run '^$' -fuzz FuzzSource -fuzztime 1m
func FuzzSource(f *testing.F) {
	const name = "fuzz-input"
	var w bytes.Buffer
	ww := warc.NewWriter(&w)
	ww.WriteRecord(hdr("WARC-Type", "conversion", "WARC-Target-URI", "https://a/", "WARC-Date", "2024-01-02T03:04:05Z"), []byte("text of a page\n"))
	ww.WriteRecord(hdr("WARC-Type", "response", "WARC-Target-URI", "https://b/", "Content-Type", "application/http; msgtype=response"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Encoding: gzip\r\n\r\n<p>caf\xe9</p>"))
	ww.WriteRecord(hdr("WARC-Type", "response", "WARC-Target-URI", "https://c/", "Content-Type", "application/http; msgtype=response"),
		[]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n5\r\n<p>x<\r\n3\r\n/p>\r\n0\r\n\r\n"))
	ww.Close()
	gzWARC := w.Bytes()
	plainWARC := []byte("WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: https://d/\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: 44\r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc\r\n\r\n" +
		"WARC/1.0\r\nWARC-Type: conversion\r\nContent-Length: 2\r\n\r\nhi\r\n\r\n")
	jsonl := []byte("{\"id\":\"a\",\"text\":\"one\",\"metadata\":{\"k\":[1,{\"x\":null}]}}\nnot json\n{\"text\":2}\n\n{\"text\":\"two\",\"url\":\"u\"}")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(jsonl)
	zw.Close()
	enc, _ := zstd.NewWriter(nil)
	for _, seed := range [][]byte{
		nil, gzWARC, gzWARC[:len(gzWARC)/2], gzWARC[:len(gzWARC)-7], plainWARC, plainWARC[:70],
		jsonl, gz.Bytes(), enc.EncodeAll(jsonl, nil), enc.EncodeAll(plainWARC, nil),
		[]byte("WARC/1.1\r\nno colon here\r\n\r\n"), []byte("WARC/9.9\r\nContent-Length: 0\r\n\r\n\r\n\r\n"),
		[]byte("\ufeff  {\"text\":\"\\ud800\"}"), []byte("\x1f\x8b\x08\x00garbage"), []byte("hello"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := NewSource(bytes.NewReader(data), name)
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("refused without naming the input: %v", err)
			}
			return
		}
		defer s.Close()
		s.MaxHTMLBytes = 1 << 16
		for n := 0; ; n++ {
			if n > len(data)+1 {
				t.Fatalf("%d documents from %d bytes: the reader does not advance", n, len(data))
			}
			d, err := s.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				// A compressed JSONL stream that does not decompress ends
				// the input (a WARC file resyncs at the next gzip member;
				// one gzip or zstd stream cannot): the error must say which.
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("document %d: an error that does not name the input: %v", n, err)
				}
				if _, again := s.Next(); again != err {
					t.Fatalf("Next after %v: %v", err, again)
				}
				return
			}
			if d.Skip == "" {
				if !utf8.ValidString(d.Text) {
					t.Fatalf("document %d: text is not UTF-8", n)
				}
				continue
			}
			if !sourceReasons[d.Skip] || (d.SkipStep != StepRead && d.SkipStep != StepExtract) {
				t.Fatalf("document %d: skip %q under %q", n, d.Skip, d.SkipStep)
			}
			if d.SkipStep == StepRead {
				var re *warc.RecordError
				var pe *docio.ParseError
				switch {
				case errors.As(d.SkipErr, &re):
					if !strings.Contains(d.SkipErr.Error(), name+": record at offset ") {
						t.Fatalf("document %d: %v does not name the record", n, d.SkipErr)
					}
				case errors.As(d.SkipErr, &pe):
					if pe.Line < 1 || !strings.HasPrefix(d.SkipErr.Error(), name+":") {
						t.Fatalf("document %d: %v does not name the line", n, d.SkipErr)
					}
				case d.Skip != ReasonHTMLTooLarge:
					t.Fatalf("document %d: skipped as %s with error %v", n, d.Skip, d.SkipErr)
				}
			}
		}
	})
}
