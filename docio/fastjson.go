package docio

// The fast path of Reader.parse. Nearly every line is an object whose
// "text", "id", "url" and "date" are plain strings, perhaps with a
// "metadata" object and a few other keys. parseFast decodes that shape
// without encoding/json's per-byte state machine on the text, which is
// almost all of a line: it finds the end of a string a word at a time and
// unescapes it in one pass. Anything else (a number or null in a field of
// its own, an escaped or repeated key, any error at all) sends the line to
// parseSlow, the encoding/json reader, which decides. FuzzParseFast holds
// the two to the same documents.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"maps"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseFast returns the document of line (valid UTF-8, trimmed) and true, or
// false when parseSlow must decide.
func (r *Reader) parseFast(line []byte) (Document, bool) {
	var (
		doc   Document
		extra map[string]any
		seen  uint8 // bits of the keys below that were given
	)
	const (
		seenText = 1 << iota
		seenID
		seenURL
		seenDate
		seenMeta
	)
	i := skipSpace(line, 0)
	if i == len(line) || line[i] != '{' {
		return Document{}, false
	}
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return Document{}, false // no "text": parseSlow says so
	}
	for {
		if i == len(line) || line[i] != '"' {
			return Document{}, false
		}
		end := plainStringEnd(line, i+1)
		if end < 0 {
			return Document{}, false // an escaped key, or a bad one
		}
		key := line[i+1 : end]
		i = skipSpace(line, end+1)
		if i == len(line) || line[i] != ':' {
			return Document{}, false
		}
		i = skipSpace(line, i+1)
		var bit uint8
		var field *string
		switch string(key) {
		case "text":
			bit, field = seenText, &doc.Text
		case "id":
			bit, field = seenID, &doc.ID
		case "url":
			bit, field = seenURL, &doc.URL
		case "date":
			bit, field = seenDate, &doc.Date
		case "metadata":
			bit = seenMeta
		}
		if seen&bit != 0 {
			return Document{}, false // a key given twice
		}
		seen |= bit
		switch {
		case field != nil:
			// A string, or parseSlow decides (null, a number id, a wrong type).
			if i == len(line) || line[i] != '"' {
				return Document{}, false
			}
			s, next, ok := readString(line, i+1, &r.scratch)
			if !ok {
				return Document{}, false
			}
			*field, i = s, next
		default:
			end := valueEnd(line, i)
			if end < 0 {
				return Document{}, false
			}
			v, ok := decodeValue(line[i:end], bit == seenMeta)
			if !ok {
				return Document{}, false
			}
			if bit == seenMeta {
				doc.Metadata, _ = v.(map[string]any) // nil for null
			} else {
				if extra == nil {
					extra = map[string]any{}
				} else if _, dup := extra[string(key)]; dup {
					return Document{}, false
				}
				extra[string(key)] = v
			}
			i = end
		}
		i = skipSpace(line, i)
		if i == len(line) {
			return Document{}, false
		}
		if line[i] == '}' {
			break
		}
		if line[i] != ',' {
			return Document{}, false
		}
		i = skipSpace(line, i+1)
	}
	if skipSpace(line, i+1) != len(line) || seen&seenText == 0 {
		return Document{}, false
	}
	if seen&seenID == 0 {
		doc.ID = r.name + ":" + strconv.Itoa(r.line)
	}
	if extra != nil {
		if doc.Metadata == nil {
			doc.Metadata = extra
		} else {
			maps.Copy(doc.Metadata, extra)
		}
	}
	return doc, true
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainStringEnd returns the index of the quote that ends the string whose
// contents start at b[i], or -1 if it has an escape or a control character
// first (or no end).
func plainStringEnd(b []byte, i int) int {
	end, esc := stringRun(b, i)
	if esc || end == len(b) || b[end] != '"' {
		return -1
	}
	return end
}

// stringRun returns the index of the first quote, backslash or control
// character (below 0x20, which JSON strings may not hold) at or after b[i],
// len(b) if none, and whether it is a backslash. It reads eight bytes at a
// time while none of them is one of those.
func stringRun(b []byte, i int) (int, bool) {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		// A byte is flagged if it is below 0x20, or equal to '"' or '\\'
		// (their XOR is zero): the classic "has zero byte" tests.
		q, s := w^(ones*'"'), w^(ones*'\\')
		if ((w-ones*0x20)&^w|(q-ones)&^q|(s-ones)&^s)&highs != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c == '"' || c == '\\' {
			return i, c == '\\'
		}
	}
	return i, false
}

// readString decodes the JSON string whose contents start at b[i], as
// encoding/json does, and returns it with the index after its closing
// quote; ok is false for a malformed string. A string with escapes is
// unescaped in *scratch first.
func readString(b []byte, i int, scratch *[]byte) (s string, next int, ok bool) {
	end, esc := stringRun(b, i)
	if !esc {
		if end == len(b) || b[end] != '"' {
			return "", 0, false
		}
		return string(b[i:end]), end + 1, true
	}
	out := (*scratch)[:0]
	defer func() { *scratch = out[:0] }()
	for {
		out = append(out, b[i:end]...)
		if end == len(b) || b[end] < 0x20 {
			return "", 0, false
		}
		if b[end] == '"' {
			return string(out), end + 1, true
		}
		// A backslash.
		if end+1 == len(b) {
			return "", 0, false
		}
		i = end + 2
		switch c := b[end+1]; c {
		case '"', '\\', '/':
			out = append(out, c)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(b, end+2)
			if r < 0 {
				return "", 0, false
			}
			i = end + 6
			if utf16.IsSurrogate(r) {
				// A valid pair is one character; anything else is U+FFFD,
				// and what follows is read on its own.
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if d := utf16.DecodeRune(r, hex4(b, i+2)); d != utf8.RuneError {
						r, i = d, i+6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", 0, false
		}
		end, _ = stringRun(b, i)
	}
}

// hex4 returns the value of the four hex digits at b[i], or -1.
func hex4(b []byte, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// valueEnd returns the index just after the JSON value that starts at b[i]
// (its brackets balanced and its strings closed; what is inside is checked
// by decodeValue), or -1.
func valueEnd(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			end, esc := stringRun(b, i+1)
			for esc {
				if end+1 >= len(b) {
					return -1
				}
				end, esc = stringRun(b, end+2) // past the escaped byte
			}
			if end == len(b) || b[end] != '"' {
				return -1
			}
			i = end + 1
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of a scalar before the object's brace
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	if depth != 0 {
		return -1
	}
	return i
}

// decodeValue decodes one JSON value with encoding/json, numbers as
// json.Number as parseSlow has them; wantObject asks for an object or null.
func decodeValue(raw []byte, wantObject bool) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if wantObject {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, false
		}
		if m != nil {
			v = m
		}
	} else if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if dec.InputOffset() != int64(len(raw)) {
		return nil, false
	}
	return v, true
}
