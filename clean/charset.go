package clean

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// metaScanBytes is how far into a page decodeHTML looks for a <meta> that
// declares the charset. The HTML standard's prescan stops at 1024 bytes;
// real pages often put scripts and styles first, so we look further.
const metaScanBytes = 16 << 10

// decodeHTML returns page as UTF-8 and the WHATWG name of the encoding it
// was decoded from. The encoding is, in order:
//
//  1. a byte order mark (UTF-8, UTF-16LE, UTF-16BE), which wins over any label;
//  2. the first known label of the charset parameter of contentType (the
//     HTTP header) and of a <meta charset> or <meta http-equiv="Content-Type">
//     near the start of the page;
//  3. with no label, UTF-8 when the bytes are valid UTF-8 and windows-1252
//     (what browsers assume) when they are not.
//
// A page that declares labels but none we know, or one whose label maps to
// the WHATWG "replacement" encoding (ISO-2022-KR and kin, which cannot be
// decoded safely), is refused with ErrCharset. Two corrections follow
// browsers and common practice: a <meta> that says UTF-16 means UTF-8 (the
// bytes of an ASCII-compatible document cannot be UTF-16), and a page
// labelled with a legacy ASCII-compatible encoding whose bytes are valid
// UTF-8 with some non-ASCII in them is read as UTF-8 (servers mislabel
// UTF-8 as ISO-8859-1 often; valid multi-byte UTF-8 arising by chance
// from Latin-1 text is rare).
//
// Invalid UTF-8 in the result is replaced by U+FFFD, so the text that comes
// out of extraction is always valid UTF-8.
func decodeHTML(page []byte, contentType string) ([]byte, string, error) {
	switch {
	case bytes.HasPrefix(page, []byte("\xef\xbb\xbf")):
		return validUTF8(page[3:]), "utf-8", nil
	case bytes.HasPrefix(page, []byte("\xfe\xff")):
		return decodeWith(unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), page[2:], "utf-16be")
	case bytes.HasPrefix(page, []byte("\xff\xfe")):
		return decodeWith(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), page[2:], "utf-16le")
	}

	var unknown []string
	enc, name := encoding.Encoding(nil), ""
	for i, label := range []string{contentTypeCharset(contentType), metaCharset(page)} {
		if label == "" {
			continue
		}
		e, err := htmlindex.Get(label)
		if err != nil {
			unknown = append(unknown, label)
			continue
		}
		enc, name = e, canonicalCharset(e)
		if i == 1 && strings.HasPrefix(name, "utf-16") {
			enc, name = encoding.Nop, "utf-8"
		}
		break
	}
	switch {
	case enc == nil && len(unknown) > 0:
		return nil, "", fmt.Errorf("%w: %q", ErrCharset, unknown[0])
	case name == "replacement":
		return nil, "", fmt.Errorf("%w: %q is not decodable", ErrCharset, "replacement")
	case enc == nil || name == "utf-8":
		if utf8.Valid(page) {
			return page, "utf-8", nil
		}
		if enc == nil {
			return decodeWith(htmlindexMust("windows-1252"), page, "windows-1252")
		}
		return validUTF8(page), "utf-8", nil
	case strings.HasPrefix(name, "utf-16"):
		return decodeWith(enc, page, name)
	case hasNonASCII(page) && utf8.Valid(page):
		return page, "utf-8", nil
	}
	return decodeWith(enc, page, name)
}

func decodeWith(enc encoding.Encoding, page []byte, name string) ([]byte, string, error) {
	out, err := enc.NewDecoder().Bytes(page)
	if err != nil {
		return nil, "", fmt.Errorf("%w: decode %s: %v", ErrCharset, name, err)
	}
	return validUTF8(out), name, nil
}

func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return bytes.ToValidUTF8(b, []byte("\uFFFD"))
}

func hasNonASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

func canonicalCharset(e encoding.Encoding) string {
	name, err := htmlindex.Name(e)
	if err != nil {
		return "unknown"
	}
	return name
}

func htmlindexMust(label string) encoding.Encoding {
	e, err := htmlindex.Get(label)
	if err != nil {
		panic(err)
	}
	return e
}

// contentTypeCharset returns the charset parameter of a Content-Type value
// such as `text/html; charset="ISO-8859-1"`, or "".
func contentTypeCharset(ct string) string {
	for _, param := range strings.Split(ct, ";")[1:] {
		key, value, ok := strings.Cut(param, "=")
		if ok && strings.EqualFold(strings.TrimSpace(key), "charset") {
			return strings.Trim(strings.TrimSpace(value), `"'`)
		}
	}
	return ""
}

// metaCharset returns the charset that a <meta> in the first metaScanBytes
// of page declares, or "". It reads tags with the HTML tokenizer, so
// comments, scripts and attribute quoting are handled as a browser would,
// and stops at <body> or the first element that cannot be in <head>.
func metaCharset(page []byte) string {
	if len(page) > metaScanBytes {
		page = page[:metaScanBytes]
	}
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "meta":
			case "body", "p", "div", "article", "main", "table":
				return ""
			default:
				continue
			}
			var charset, content string
			var httpEquiv bool
			for hasAttr {
				var key, val []byte
				key, val, hasAttr = z.TagAttr()
				switch string(key) {
				case "charset":
					charset = string(val)
				case "http-equiv":
					httpEquiv = strings.EqualFold(strings.TrimSpace(string(val)), "content-type")
				case "content":
					content = string(val)
				}
			}
			if charset = strings.TrimSpace(charset); charset != "" {
				return charset
			}
			if httpEquiv {
				if cs := contentCharset(content); cs != "" {
					return cs
				}
			}
		}
	}
}

// contentCharset finds "charset=" in the content of a
// <meta http-equiv="Content-Type">, as the HTML standard's "extracting a
// character encoding from a meta element" does: `text/html; charset=utf-8`
// and `text/html;charset="utf-8"` both give utf-8.
func contentCharset(s string) string {
	i := strings.Index(strings.ToLower(s), "charset")
	if i < 0 {
		return ""
	}
	s = strings.TrimLeft(s[i+len("charset"):], " \t\n\f\r")
	if !strings.HasPrefix(s, "=") {
		return ""
	}
	s = strings.TrimLeft(s[1:], " \t\n\f\r")
	if s != "" && (s[0] == '"' || s[0] == '\'') {
		if end := strings.IndexByte(s[1:], s[0]); end >= 0 {
			return s[1 : 1+end]
		}
		return ""
	}
	if end := strings.IndexAny(s, " \t\n\f\r;"); end >= 0 {
		s = s[:end]
	}
	return s
}
