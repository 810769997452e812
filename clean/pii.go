package clean

import (
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/pipe-dev/pipe/docio"
)

// PIIConfig says what the PII formatter replaces and with what. The
// replacements are used in turn, the first for the first match of a run,
// the next for the next, and so on around, as in datatrove.
type PIIConfig struct {
	RemoveEmails     bool
	RemoveIPs        bool
	OnlyPublicIPs    bool // replace only public (global) addresses
	EmailReplacement []string
	IPReplacement    []string
}

// DefaultPII returns datatrove 0.10.1's PIIFormatter defaults: e-mail
// addresses become email@example.com and firstname.lastname@example.org in
// turn, public IPv4 addresses become one of six addresses that did not
// answer pings when datatrove chose them.
func DefaultPII() PIIConfig {
	return PIIConfig{
		RemoveEmails:     true,
		RemoveIPs:        true,
		OnlyPublicIPs:    true,
		EmailReplacement: []string{"email@example.com", "firstname.lastname@example.org"},
		IPReplacement: []string{
			"22.214.171.124", "126.96.36.199", "188.8.131.52",
			"184.108.40.206", "220.127.116.11", "18.104.22.168",
		},
	}
}

// PII replaces e-mail addresses and IPv4 addresses in the text of
// documents, finding exactly what datatrove's PIIFormatter finds:
//
//   - e-mail: datatrove's pattern, a word boundary (Unicode, as Python's
//     \b), a local part of [A-Za-z0-9!#$%&'*+/=?^_`{|}~-] runs joined by
//     single dots, '@', then dot-separated labels of letters, digits and
//     inner hyphens (the last label ends the match where the pattern stops
//     matching), or a bracketed IPv4 address;
//   - IPv4: four dot-separated numbers 0-255 anywhere (no word boundary,
//     so "1234.5.6.78" holds 234.5.6.78, and "1.2.3.256" holds 1.2.3.25),
//     replaced only when Python's ipaddress accepts it (no leading zeros)
//     and, with OnlyPublicIPs, calls it global (Python 3.11's tables).
//
// E-mails are replaced first, then addresses in the result. It is a
// formatter, not a filter: it keeps every document. Its replacement
// counters are shared by all goroutines that use it.
type PII struct {
	cfg         PIIConfig
	emailN, ipN atomic.Uint64 // replacements made so far; they pick the next replacement
}

// NewPII returns the formatter for cfg.
func NewPII(cfg PIIConfig) *PII { return &PII{cfg: cfg} }

func (p *PII) Name() string { return "pii" }

// Apply rewrites doc.Text and returns how many e-mail and IP addresses it
// replaced.
func (p *PII) Apply(doc *docio.Document) (emails, ips int) {
	text := doc.Text
	if p.cfg.RemoveEmails && len(p.cfg.EmailReplacement) > 0 {
		text, emails = p.replaceEmails(text)
	}
	if p.cfg.RemoveIPs && len(p.cfg.IPReplacement) > 0 {
		text, ips = p.replaceIPs(text)
	}
	doc.Text = text
	return emails, ips
}

// Counts returns the replacements made so far.
func (p *PII) Counts() (emails, ips uint64) { return p.emailN.Load(), p.ipN.Load() }

// --- e-mail -----------------------------------------------------------------

func isEmailLocal(c byte) bool {
	return c < utf8.RuneSelf && emailLocal[c]
}

var emailLocal = func() (t [utf8.RuneSelf]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-" {
		t[c] = true
	}
	return t
}()

func isAlnumASCII(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func (p *PII) replaceEmails(text string) (string, int) {
	var b strings.Builder
	last, n := 0, 0 // text[:last] is written (or unchanged), the next match starts at last or later
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '@')
		if j < 0 {
			break
		}
		at := i + j
		start, end := emailAround(text, last, at)
		if start < 0 {
			i = at + 1
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(text))
		}
		b.WriteString(text[last:start])
		k := p.emailN.Add(1) - 1
		b.WriteString(p.cfg.EmailReplacement[k%uint64(len(p.cfg.EmailReplacement))])
		n++
		last = end
		i = end
	}
	if n == 0 {
		return text, 0
	}
	b.WriteString(text[last:])
	return b.String(), n
}

// emailAround finds the match of datatrove's e-mail pattern whose '@' is at
// text[at], starting at or after min: the leftmost start whose local part
// reaches the '@', with a word boundary before it, and the end of the
// domain. start is -1 when there is none.
func emailAround(text string, min, at int) (start, end int) {
	end = emailDomain(text, at+1)
	if end < 0 {
		return -1, 0
	}
	// The local part: a run of local characters and dots ending at '@', not
	// ending in a dot, without two dots in a row; it starts after the last
	// ".." and not at a dot.
	if at-1 < min || text[at-1] == '.' || !isEmailLocal(text[at-1]) {
		return -1, 0
	}
	r := at - 1
	for r > min && (isEmailLocal(text[r-1]) || text[r-1] == '.') {
		if text[r-1] == '.' && text[r] == '.' {
			break
		}
		r--
	}
	// Candidates r..at-1, leftmost first: not a dot, word boundary before.
	for s := r; s < at; s++ {
		if text[s] == '.' {
			continue
		}
		if wordBoundaryBefore(text, s) {
			return s, end
		}
	}
	return -1, 0
}

// wordBoundaryBefore is Python's \b at text[i] (Unicode word characters).
func wordBoundaryBefore(text string, i int) bool {
	after := i < len(text) && isPyWordAt(text, i)
	before := false
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(text[:i])
		before = runeClass(r)&cPyWord != 0
	}
	return before != after
}

func isPyWordAt(text string, i int) bool {
	r, _ := utf8.DecodeRuneInString(text[i:])
	return runeClass(r)&cPyWord != 0
}

// emailDomain matches the domain of the pattern at text[i:] and returns its
// end, or -1:
//
//	(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?
//	| \[(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)]
func emailDomain(text string, i int) int {
	// label: the longest run of [A-Za-z0-9-] from an alphanumeric, cut back
	// to its last alphanumeric; (label\.)+ takes as many as it can, and the
	// final label is the next one, or the last of those (without its dot).
	labels := 0
	lastLabelEnd := -1
	pos := i
	for {
		if pos >= len(text) || !isAlnumASCII(text[pos]) {
			break
		}
		q := pos
		for q < len(text) && (isAlnumASCII(text[q]) || text[q] == '-') {
			q++
		}
		t := q
		for text[t-1] == '-' {
			t--
		}
		if t == q && q < len(text) && text[q] == '.' {
			labels++
			lastLabelEnd = q
			pos = q + 1
			continue
		}
		// Not followed by a dot: this is the final label.
		if labels > 0 {
			return t
		}
		break
	}
	if labels >= 2 {
		return lastLabelEnd
	}
	if labels == 0 && pos < len(text) && text[pos] == '[' {
		return emailBracketIP(text, pos)
	}
	return -1
}

// emailBracketIP matches the bracketed alternative at text[i] == '['.
func emailBracketIP(text string, i int) int {
	pos := i + 1
	for k := 0; k < 3; k++ {
		n := digitRun(text, pos)
		if !isOctet(text[pos:pos+n]) || pos+n >= len(text) || text[pos+n] != '.' {
			return -1
		}
		pos += n + 1
	}
	if n := digitRun(text, pos); n > 0 && isOctet(text[pos:pos+n]) && pos+n < len(text) && text[pos+n] == ']' {
		return pos + n + 1
	}
	// [A-Za-z0-9-]*[A-Za-z0-9]:]
	q := pos
	for q < len(text) && (isAlnumASCII(text[q]) || text[q] == '-') {
		q++
	}
	if q > pos && isAlnumASCII(text[q-1]) && q+1 < len(text) && text[q] == ':' && text[q+1] == ']' {
		return q + 2
	}
	return -1
}

func digitRun(text string, i int) int {
	n := 0
	for i+n < len(text) && isASCIIDigit(text[i+n]) {
		n++
	}
	return n
}

// isOctet: s is 25[0-5] | 2[0-4][0-9] | [01]?[0-9][0-9]? as a whole.
func isOctet(s string) bool {
	switch len(s) {
	case 1, 2:
		return true
	case 3:
		return s[0] == '0' || s[0] == '1' || s[0] == '2' && (s[1] <= '4' || s[1] == '5' && s[2] <= '5')
	}
	return false
}

// --- IPv4 -------------------------------------------------------------------

func (p *PII) replaceIPs(text string) (string, int) {
	var b strings.Builder
	last, n := 0, 0
	for i := 0; i < len(text); {
		// A match starts at a digit and has a dot within its first 4 bytes.
		d := strings.IndexByte(text[i:], '.')
		if d < 0 {
			break
		}
		s := i + d - 3
		if s < i {
			s = i
		}
		found := false
		for ; s < i+d; s++ {
			if !isASCIIDigit(text[s]) {
				continue
			}
			if e := ipv4At(text, s); e > 0 {
				if p.replaceable(text[s:e]) {
					if b.Len() == 0 {
						b.Grow(len(text))
					}
					b.WriteString(text[last:s])
					k := p.ipN.Add(1) - 1
					b.WriteString(p.cfg.IPReplacement[k%uint64(len(p.cfg.IPReplacement))])
					n++
					last = e
				}
				i = e
				found = true
				break
			}
		}
		if !found {
			i += d + 1
		}
	}
	if n == 0 {
		return text, 0
	}
	b.WriteString(text[last:])
	return b.String(), n
}

// ipv4At matches datatrove's IP pattern at text[s:]:
//
//	(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)
//
// and returns its end, or 0. The first three numbers must reach their dot;
// the last one is what the alternatives take, in order.
func ipv4At(text string, s int) int {
	pos := s
	for k := 0; k < 3; k++ {
		n := digitRun(text, pos)
		if n == 0 || !isOctet(text[pos:pos+n]) || pos+n >= len(text) || text[pos+n] != '.' {
			return 0
		}
		pos += n + 1
	}
	d := func(j int) byte {
		if pos+j < len(text) {
			return text[pos+j]
		}
		return 0
	}
	isD := func(j int) bool { return isASCIIDigit(d(j)) }
	switch {
	case d(0) == '2' && d(1) == '5' && d(2) >= '0' && d(2) <= '5':
		return pos + 3
	case d(0) == '2' && d(1) >= '0' && d(1) <= '4' && isD(2):
		return pos + 3
	case (d(0) == '0' || d(0) == '1') && isD(1):
		if isD(2) {
			return pos + 3
		}
		return pos + 2
	case isD(0):
		if isD(1) {
			return pos + 2
		}
		return pos + 1
	}
	return 0
}

// replaceable: Python's ipaddress.ip_address(s) succeeds (no leading
// zeros) and, with OnlyPublicIPs, the address is global.
func (p *PII) replaceable(s string) bool {
	var ip uint32
	for k := 0; k < 4; k++ {
		i := strings.IndexByte(s, '.')
		part := s
		if i >= 0 {
			part, s = s[:i], s[i+1:]
		}
		if len(part) > 1 && part[0] == '0' {
			return false
		}
		v := 0
		for j := 0; j < len(part); j++ {
			v = v*10 + int(part[j]-'0')
		}
		ip = ip<<8 | uint32(v)
	}
	return !p.cfg.OnlyPublicIPs || isGlobalIPv4(ip)
}

// ipv4NotGlobal are the networks that Python 3.11.7's ipaddress does not
// call global: its private networks and the shared 100.64.0.0/10.
var ipv4NotGlobal = [...]struct {
	net  uint32
	bits uint
}{
	{0x00000000, 8},  // 0.0.0.0/8
	{0x0A000000, 8},  // 10.0.0.0/8
	{0x64400000, 10}, // 100.64.0.0/10
	{0x7F000000, 8},  // 127.0.0.0/8
	{0xA9FE0000, 16}, // 169.254.0.0/16
	{0xAC100000, 12}, // 172.16.0.0/12
	{0xC0000000, 29}, // 192.0.0.0/29
	{0xC00000AA, 31}, // 192.0.0.170/31
	{0xC0000200, 24}, // 192.0.2.0/24
	{0xC0A80000, 16}, // 192.168.0.0/16
	{0xC6120000, 15}, // 198.18.0.0/15
	{0xC6336400, 24}, // 198.51.100.0/24
	{0xCB007100, 24}, // 203.0.113.0/24
	{0xF0000000, 4},  // 240.0.0.0/4
	{0xFFFFFFFF, 32}, // 255.255.255.255/32
}

func isGlobalIPv4(ip uint32) bool {
	for _, n := range ipv4NotGlobal {
		if ip>>(32-n.bits) == n.net>>(32-n.bits) {
			return false
		}
	}
	return true
}
