package crawl

import (
	"errors"
	"net/url"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://example.com", "http://example.com/"},
		{"HTTP://Example.COM/A/b", "http://example.com/A/b"},
		{"http://example.com:80/", "http://example.com/"},
		{"https://example.com:443/x", "https://example.com/x"},
		{"http://example.com:443/x", "http://example.com:443/x"},
		{"https://example.com:80/x", "https://example.com:80/x"},
		{"http://example.com:/x", "http://example.com/x"},
		{"http://example.com:0080/x", "http://example.com/x"},
		{"http://example.com./x", "http://example.com/x"},
		{"http://user:pw@example.com/x", "http://example.com/x"},
		{"http://example.com/a/./b/../c", "http://example.com/a/c"},
		{"http://example.com/a/b/..", "http://example.com/a/"},
		{"http://example.com/../../x", "http://example.com/x"},
		{"http://example.com/a/%2E%2E/b", "http://example.com/b"},
		{"http://example.com/a//b", "http://example.com/a//b"},
		{"http://example.com/x#frag", "http://example.com/x"},
		{"http://example.com/x?#frag", "http://example.com/x"},
		{"http://example.com/x?b=2&a=1", "http://example.com/x?b=2&a=1"},
		{"http://example.com/%7euser/%41", "http://example.com/~user/A"},
		{"http://example.com/a%2fb", "http://example.com/a%2Fb"},
		{"http://example.com/a b", "http://example.com/a%20b"},
		{"http://example.com/ü", "http://example.com/%C3%BC"},
		{"http://example.com/?q=a b&r=%e2%82%ac", "http://example.com/?q=a%20b&r=%E2%82%AC"},
		{"http://example.com/100%", "http://example.com/100%25"},
		{"http://Bücher.example/", "http://xn--bcher-kva.example/"},
		{"http://[::1]:8080/x", "http://[::1]:8080/x"},
		{"http://[0:0::1]/x", "http://[::1]/x"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/"},
		{"http://under_score.example/", "http://under_score.example/"},
		{"  http://example.com/x  ", "http://example.com/x"},
	} {
		got, err := Normalize(c.in)
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		// The normal form is a fixed point.
		if again, err := Normalize(got); err == nil && again != got {
			t.Errorf("Normalize(%q) = %q, not a fixed point", got, again)
		}
	}
	for _, bad := range []string{
		"ftp://example.com/", "mailto:a@example.com", "javascript:alert(1)", "/relative", "http:///x",
		"http://example.com:99999/", "http://example.com:x/", "http://[fe80::1%25eth0]/", "http://exa mple.com/",
	} {
		if got, err := Normalize(bad); !errors.Is(err, ErrURL) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrURL", bad, got, err)
		}
	}
	long := "http://example.com/" + string(make([]byte, 0))
	for len(long) <= MaxURLBytes {
		long += "aaaaaaaaaa"
	}
	if _, err := Normalize(long); !errors.Is(err, errTooLong) {
		t.Errorf("long URL: %v", err)
	}
}

func TestResolve(t *testing.T) {
	base, _ := url.Parse("http://example.com/a/b/c.html?x=1")
	for _, c := range []struct{ ref, want string }{
		{"d.html", "http://example.com/a/b/d.html"},
		{"../d.html", "http://example.com/a/d.html"},
		{"/d", "http://example.com/d"},
		{"?y=2", "http://example.com/a/b/c.html?y=2"},
		{"#top", "http://example.com/a/b/c.html?x=1"},
		{"//other.example/x", "http://other.example/x"},
		{"HTTPS://Other.Example:443", "https://other.example/"},
		{" d.html ", "http://example.com/a/b/d.html"},
	} {
		got, err := Resolve(base, c.ref)
		if err != nil || got != c.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", c.ref, got, err, c.want)
		}
	}
	for _, bad := range []string{"mailto:x@y", "javascript:void(0)", "data:text/html,hi", "tel:123"} {
		if _, err := Resolve(base, bad); err == nil {
			t.Errorf("Resolve(%q): no error", bad)
		}
	}
}

func TestScope(t *testing.T) {
	seeds := []string{"http://www.example.co.uk/", "http://127.0.0.1:8080/"}
	for _, c := range []struct {
		scope, u string
		want     bool
	}{
		{"host", "http://www.example.co.uk/x", true},
		{"host", "https://www.example.co.uk/x", true},
		{"host", "http://www.example.co.uk:81/x", false},
		{"host", "http://example.co.uk/x", false},
		{"host", "http://127.0.0.1:8080/x", true},
		{"host", "http://127.0.0.1:8081/x", false},
		{"domain", "http://www.example.co.uk/x", true},
		{"domain", "http://example.co.uk/x", true},
		{"domain", "http://a.b.example.co.uk:81/x", true},
		{"domain", "http://other.co.uk/x", false},
		{"domain", "http://badexample.co.uk/x", false},
		{"domain", "http://127.0.0.1:9999/x", true},
		{"domain", "http://0.0.1/x", false},
		{`^https?://[^/]*example\.co\.uk/docs/`, "http://www.example.co.uk/docs/a", true},
		{`^https?://[^/]*example\.co\.uk/docs/`, "http://www.example.co.uk/blog/a", false},
	} {
		s, err := NewScope(c.scope, seeds)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(c.u)
		if got := s.Contains(u); got != c.want {
			t.Errorf("scope %s: Contains(%s) = %v, want %v", c.scope, c.u, got, c.want)
		}
	}
	if _, err := NewScope("(", seeds); err == nil {
		t.Error("bad regex accepted")
	}
}
