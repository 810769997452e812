package docio

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fastCases are lines for parseFast: those it must decode itself (fast),
// and those it must leave to parseSlow.
var fastCases = []struct {
	line string
	fast bool
}{
	{`{"text":"hi"}`, true},
	{`{"id":"i","text":"t","url":"u","date":"d","metadata":{"k":1,"l":[true,null,"x\"y"],"m":{"n":-1.5e3}}}`, true},
	{` { "text" : "t" , "id" : "x" }  `, true},
	{`{"text":"a\u00e9\n\ud83d\ude42\"\\\/\b\f\r\t"}`, true},
	{`{"text":"lone \ud83d then \u0041, low \ude42, pair split \ud83d\u0041, \ud83d\ud83d\ude42"}`, true},
	{`{"text":"t","dump":"CC-MAIN","language_score":0.97,"tags":["a","b"],"n":null}`, true},
	{`{"text":"t","metadata":{"a":1,"b":2},"b":3}`, true},
	{`{"text":"t","metadata":null}`, true},
	{`{"text":"日本語 \u65e5 ` + "\x7f" + `"}`, true},
	{`{"text":"` + strings.Repeat("long text, no escapes. ", 100) + `"}`, true},
	{`{"id":42,"text":"t"}`, false},        // a number id: parseSlow keeps its JSON text
	{`{"id":null,"text":"t"}`, false},      // null
	{`{"text":"a","text":"b"}`, false},     // a key twice
	{`{"t\u0065xt":"a"}`, false},           // an escaped key
	{`{"text":"a","x":1,"x":2}`, false},    // an extra key twice
	{`{"text":1}`, false},                  // missing_text
	{`{"text":"t","metadata":[1]}`, false}, // bad_field
	{`{"text":"t"} x`, false},
	{`{"text":"t",}`, false},
	{`{"text":"t" "id":"x"}`, false},
	{`{"text":"a` + "\t" + `b"}`, false}, // a raw control character
	{`{"text":"\x"}`, false},
	{`{"text":"\u12"}`, false},
	{`{"text":"t","m":{"a":1}}}`, false},
	{`{"text":"t","m":1"x"}`, false},
	{`{"text":"t","m":[1,}`, false},
	{`{}`, false},
	{`[]`, false},
	{`{"text":"t"`, false},
	{`{"text":"t\`, false},
}

func TestParseFast(t *testing.T) {
	for _, c := range fastCases {
		r := NewReader(nil, "f")
		r.line = 7
		got, ok := r.parseFast([]byte(c.line))
		if ok != c.fast {
			t.Errorf("%s: fast = %v, want %v", c.line, ok, c.fast)
		}
		want, perr := r.parseSlow([]byte(c.line))
		if ok && (perr != nil || !reflect.DeepEqual(got, want)) {
			t.Errorf("%s:\nfast %#v\nslow %#v, %v", c.line, got, want, perr)
		}
	}
}

// FuzzParseFast holds parseFast to encoding/json: whatever it decodes,
// parseSlow decodes to the same document.
func FuzzParseFast(f *testing.F) {
	for _, c := range fastCases {
		f.Add([]byte(c.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if !utf8.Valid(line) {
			return // parse refuses these before either path
		}
		line = bytes.TrimSpace(line)
		r := NewReader(nil, "fz")
		r.line = 1
		got, ok := r.parseFast(line)
		if !ok {
			return
		}
		want, perr := r.parseSlow(line)
		if perr != nil {
			t.Fatalf("%q: parseFast accepted, parseSlow: %v", line, perr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nfast %#v\nslow %#v", line, got, want)
		}
	})
}
