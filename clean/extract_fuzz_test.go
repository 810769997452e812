package clean

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzExtract feeds arbitrary bytes and Content-Type values to Extract: it
// must not panic, must finish quickly, must return valid UTF-8, and every
// error must carry a reason.
//
//	go test ./clean -run '^$' -fuzz FuzzExtract -fuzztime 1m
func FuzzExtract(f *testing.F) {
	for _, seed := range []struct{ page, contentType string }{
		{"", ""},
		{"<p>hello</p>", "text/html"},
		{string(page(para("Alpha") + para("Bravo"))), ""},
		{`<html><head><meta charset="iso-8859-1"><title>T</title></head><body><article><p>Gr` + "\xfc\xdf" + ` Gott, sagte er.</p></article></body></html>`, ""},
		{"<nav><a>x</a></nav><div class=comments><p>c</p></div><main><h1>T</h1><p>a<br>b</p><table><tr><td>1<td>2</table><pre> x\n y</pre></main>", "text/html; charset=utf-8"},
		{"\xff\xfe<\x00p\x00>\x00x\x00", ""},
		{"<p>x</p>", "text/html; charset=nonsense"},
		{strings.Repeat("<div>", 600) + "deep", ""},
		{strings.Repeat("<b><p>", 200) + "formatting", ""},
		{"<svg><foreignObject><p>text</p></foreignObject></svg><math><mi>x</mi></math>", ""},
		{"<template><p>x</p></template><noscript><p>y</p></noscript><select><option>z</select>", ""},
		{"<table><td><table><td><p>nested cells, with text.</p></table></table>", ""},
	} {
		f.Add([]byte(seed.page), seed.contentType)
	}
	f.Fuzz(func(t *testing.T, page []byte, contentType string) {
		start := time.Now()
		res, err := Extract(page, contentType)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%d bytes took %v", len(page), took)
		}
		if err != nil && ExtractReason(err) == "" {
			t.Errorf("error without a reason: %v", err)
		}
		if !utf8.ValidString(res.Text) || !utf8.ValidString(res.Title) || !utf8.ValidString(res.Lang) {
			t.Errorf("not UTF-8: %+v", res)
		}
		if err == nil && strings.TrimSpace(res.Text) == "" {
			t.Errorf("no error and no text")
		}
	})
}
