package clean

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeHTML(t *testing.T) {
	utf16le := []byte{0xff, 0xfe}
	for _, r := range "<p>Grüß</p>" {
		utf16le = append(utf16le, byte(r), byte(r>>8))
	}
	utf16be := []byte{0xfe, 0xff}
	for _, r := range "<p>Grüß</p>" {
		utf16be = append(utf16be, byte(r>>8), byte(r))
	}
	for _, tc := range []struct {
		name, page, contentType string
		want, charset           string
	}{
		{"plain ASCII", "<p>hi</p>", "", "<p>hi</p>", "utf-8"},
		{"UTF-8 BOM", "\xef\xbb\xbf<p>Grüß</p>", "text/html; charset=iso-8859-1", "<p>Grüß</p>", "utf-8"},
		{"UTF-16LE BOM", string(utf16le), "", "<p>Grüß</p>", "utf-16le"},
		{"UTF-16BE BOM", string(utf16be), "", "<p>Grüß</p>", "utf-16be"},
		{"header", "<p>Gr\xfc\xdf</p>", "text/html; charset=ISO-8859-1", "<p>Grüß</p>", "windows-1252"},
		{"header quoted, odd spacing", "<p>Gr\xfc\xdf</p>", `text/html ;Charset = "latin1"`, "<p>Grüß</p>", "windows-1252"},
		{"meta charset", `<meta charset=windows-1251><p>` + "\xcf\xf0\xe8\xe2\xe5\xf2" + `</p>`, "", `<meta charset=windows-1251><p>Привет</p>`, "windows-1251"},
		{"meta http-equiv", `<meta http-equiv="content-type" content="text/html;charset=Shift_JIS"><p>` + "\x93\xfa\x96\x7b" + `</p>`, "",
			`<meta http-equiv="content-type" content="text/html;charset=Shift_JIS"><p>日本</p>`, "shift_jis"},
		{"meta after a long script", "<script>" + strings.Repeat("x", 5000) + "</script><meta charset=gbk><p>\xd6\xd0\xce\xc4</p>", "",
			"<script>" + strings.Repeat("x", 5000) + "</script><meta charset=gbk><p>中文</p>", "gbk"},
		{"meta in body is not read", "<body><meta charset=gbk><p>plain</p>", "", "<body><meta charset=gbk><p>plain</p>", "utf-8"},
		{"meta says UTF-16: UTF-8", `<meta charset="utf-16"><p>Grüß</p>`, "", `<meta charset="utf-16"><p>Grüß</p>`, "utf-8"},
		{"unknown header label, known meta", `<meta charset="utf-8"><p>Grüß</p>`, "text/html; charset=bogus", `<meta charset="utf-8"><p>Grüß</p>`, "utf-8"},
		{"labelled Latin-1, bytes are UTF-8", "<p>Grüß</p>", "text/html; charset=iso-8859-1", "<p>Grüß</p>", "utf-8"},
		{"undeclared, not UTF-8", "<p>Gr\xfc\xdf</p>", "", "<p>Grüß</p>", "windows-1252"},
		{"declared UTF-8, bad bytes replaced", "<p>Gr\xfc\xdf</p>", "text/html; charset=utf-8", "<p>Gr\uFFFD</p>", "utf-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, charset, err := decodeHTML([]byte(tc.page), tc.contentType)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || charset != tc.charset {
				t.Errorf("got %q (%s), want %q (%s)", got, charset, tc.want, tc.charset)
			}
			if !utf8.Valid(got) {
				t.Errorf("not UTF-8: %q", got)
			}
		})
	}
}

func TestDecodeHTMLRefuses(t *testing.T) {
	for _, tc := range []struct{ name, page, contentType string }{
		{"unknown header label", "<p>x</p>", "text/html; charset=martian"},
		{"unknown meta label", `<meta charset="martian"><p>x</p>`, ""},
		{"unknown in both", `<meta charset="venusian"><p>x</p>`, "text/html; charset=martian"},
		{"replacement encoding", "<p>x</p>", "text/html; charset=iso-2022-kr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeHTML([]byte(tc.page), tc.contentType)
			if !errors.Is(err, ErrCharset) {
				t.Fatalf("got %v, want ErrCharset", err)
			}
		})
	}
}

func TestContentCharset(t *testing.T) {
	for in, want := range map[string]string{
		"text/html; charset=utf-8":     "utf-8",
		"text/html;charset='koi8-r'":   "koi8-r",
		`text/html; charset = "gbk" x`: "gbk",
		"text/html; charset=":          "",
		"text/html":                    "",
		`charset="unterminated`:        "",
	} {
		if got := contentCharset(in); got != want {
			t.Errorf("contentCharset(%q) = %q, want %q", in, got, want)
		}
	}
}
