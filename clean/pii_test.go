package clean

import (
	"testing"

	"github.com/pipe-dev/pipe/docio"
)

// The expected outputs are datatrove 0.10.1's PIIFormatter on the same
// inputs, in the same order (the replacements go round across documents).
func TestPII(t *testing.T) {
	p := NewPII(DefaultPII())
	cases := []struct {
		in, want    string
		emails, ips int
	}{
		{"Write to john.doe@example.com or jane@example.org, or jim@example.net.",
			"Write to email@example.com or firstname.lastname@example.org, or email@example.com.", 3, 0},
		{"Servers 8.8.8.8, 192.168.1.1, 10.0.0.1, 100.64.1.1 and 1.1.1.1.",
			"Servers 22.214.171.124, 192.168.1.1, 10.0.0.1, 100.64.1.1 and 126.96.36.199.", 0, 2},
		// No word boundaries around addresses: 1.2.3.25 in 1.2.3.256 and
		// 184.5.6.78 in 1184.5.6.78; 01.2.3.4 has a leading zero, which
		// Python's ipaddress refuses.
		{"Not quite: 1.2.3.256 and 01.2.3.4 and 1184.5.6.78.",
			"Not quite: 188.8.131.526 and 01.2.3.4 and 1184.108.40.206.", 0, 2},
		{"Mail root@[192.168.0.1] now; x@y.z- ; a.b@c ; foo@bar.com@baz.org",
			"Mail firstname.lastname@example.org now; email@example.com- ; a.b@c ; firstname.lastname@example.org@baz.org", 3, 0},
		// The local part starts at a word boundary (Unicode, as in Python)
		// and after any "..".
		{"é.user@site.org and _x@site.org and -y@site.org and foo..bar@example.com",
			"é.email@example.com and firstname.lastname@example.org and -email@example.com and foo..firstname.lastname@example.org", 4, 0},
		{"me@host.co.uk. and sub@domain-.com",
			"email@example.com. and sub@domain-.com", 1, 0},
	}
	for _, c := range cases {
		d := docio.Document{Text: c.in}
		emails, ips := p.Apply(&d)
		if d.Text != c.want || emails != c.emails || ips != c.ips {
			t.Errorf("Apply(%q) = %q, %d e-mails, %d IPs;\nwant %q, %d, %d", c.in, d.Text, emails, ips, c.want, c.emails, c.ips)
		}
	}
	if e, i := p.Counts(); e != 11 || i != 4 {
		t.Errorf("Counts() = %d, %d, want 11, 4", e, i)
	}

	cfg := DefaultPII()
	cfg.OnlyPublicIPs = false
	cfg.RemoveEmails = false
	d := docio.Document{Text: "a@b.co at 10.0.0.1"}
	NewPII(cfg).Apply(&d)
	if d.Text != "a@b.co at 22.214.171.124" {
		t.Errorf("all IPs, no e-mails: %q", d.Text)
	}
}

func TestIsGlobalIPv4(t *testing.T) {
	for ip, want := range map[[4]byte]bool{
		{8, 8, 8, 8}: true, {10, 1, 2, 3}: false, {100, 64, 0, 1}: false, {100, 128, 0, 1}: true,
		{172, 15, 0, 1}: true, {172, 16, 0, 1}: false, {172, 31, 255, 255}: false, {172, 32, 0, 0}: true,
		{192, 0, 0, 7}: false, {192, 0, 0, 8}: true, {192, 0, 0, 170}: false, {192, 0, 0, 172}: true,
		{224, 0, 0, 1}: true, {240, 0, 0, 1}: false, {255, 255, 255, 255}: false, {0, 1, 2, 3}: false,
	} {
		v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
		if got := isGlobalIPv4(v); got != want {
			t.Errorf("isGlobalIPv4(%v) = %v", ip, got)
		}
	}
}
