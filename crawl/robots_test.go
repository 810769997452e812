package crawl

import (
	"strings"
	"testing"
	"time"
)

// robotsCase is one row of the conformance table: a robots.txt file, the
// product token of the crawler, a URL path, and whether it may be fetched.
type robotsCase struct {
	name   string
	robots string
	agent  string
	path   string
	want   bool
}

// The conformance table. Rows marked RFC come from RFC 9309 (sections
// 2.1-2.2.4 and the examples of section 5); rows marked G from Google's
// published robots.txt documentation ("How Google interprets the
// robots.txt specification": the path-matching and order-of-precedence
// tables, and the user-agent and grouping examples). Any robots.txt
// library we might adopt instead of ours must pass it.
var robotsTable = []robotsCase{
	// --- user-agent matching ---
	{"RFC: no group, no rules", "", "foobot", "/x", true},
	{"RFC: star group applies when no group matches", "user-agent: *\ndisallow: /", "foobot", "/x", false},
	{"RFC: specific group wins over star", "user-agent: *\ndisallow: /\n\nuser-agent: foobot\nallow: /", "foobot", "/x", true},
	{"RFC: agent matched case-insensitively", "User-Agent: FooBot\nDisallow: /", "foobot", "/x", false},
	{"RFC: key matched case-insensitively", "USER-AGENT: foobot\nDISALLOW: /", "foobot", "/x", false},
	{"RFC: group names several agents", "user-agent: a\nuser-agent: foobot\nuser-agent: b\ndisallow: /p", "foobot", "/p", false},
	{"RFC: groups of the same agent combine", "user-agent: foobot\ndisallow: /a\n\nuser-agent: *\ndisallow: /c\n\nuser-agent: foobot\ndisallow: /b", "foobot", "/b", false},
	{"RFC: combined groups, first part", "user-agent: foobot\ndisallow: /a\n\nuser-agent: *\ndisallow: /c\n\nuser-agent: foobot\ndisallow: /b", "foobot", "/a", false},
	{"RFC: combined groups leave out star", "user-agent: foobot\ndisallow: /a\n\nuser-agent: *\ndisallow: /c\n\nuser-agent: foobot\ndisallow: /b", "foobot", "/c", true},
	{"RFC: star groups combine", "user-agent: *\ndisallow: /a\nuser-agent: x\ndisallow: /\nuser-agent: *\ndisallow: /b", "foobot", "/b", false},
	{"G: exact token, not prefix (news group)", "user-agent: googlebot-news\ndisallow: /", "googlebot", "/x", true},
	{"G: exact token, not prefix (longer crawler)", "user-agent: googlebot\ndisallow: /", "googlebot-news", "/x", true},
	{"G: longer crawler falls back to star", "user-agent: googlebot\nallow: /\nuser-agent: *\ndisallow: /", "googlebot-news", "/x", false},
	{"G: version after token ignored", "user-agent: Googlebot/2.1\ndisallow: /", "googlebot", "/x", false},
	{"G: words after token ignored", "user-agent: googlebot (compatible)\ndisallow: /", "googlebot", "/x", false},
	{"G: groups 1,2,3: news gets group 1", "user-agent: googlebot-news\ndisallow: /1\n\nuser-agent: *\ndisallow: /2\n\nuser-agent: googlebot\ndisallow: /3", "googlebot-news", "/1", false},
	{"G: groups 1,2,3: news skips group 3", "user-agent: googlebot-news\ndisallow: /1\n\nuser-agent: *\ndisallow: /2\n\nuser-agent: googlebot\ndisallow: /3", "googlebot-news", "/3", true},
	{"G: groups 1,2,3: googlebot gets group 3", "user-agent: googlebot-news\ndisallow: /1\n\nuser-agent: *\ndisallow: /2\n\nuser-agent: googlebot\ndisallow: /3", "googlebot", "/3", false},
	{"G: groups 1,2,3: googlebot skips star", "user-agent: googlebot-news\ndisallow: /1\n\nuser-agent: *\ndisallow: /2\n\nuser-agent: googlebot\ndisallow: /3", "googlebot", "/2", true},
	{"G: groups 1,2,3: other gets star", "user-agent: googlebot-news\ndisallow: /1\n\nuser-agent: *\ndisallow: /2\n\nuser-agent: googlebot\ndisallow: /3", "otherbot", "/2", false},
	{"G: non-group line does not split a group", "user-agent: a\nsitemap: https://example.com/sitemap.xml\nuser-agent: foobot\ndisallow: /", "a", "/x", false},
	{"G: non-group line does not split a group (second agent)", "user-agent: a\nsitemap: https://example.com/sitemap.xml\nuser-agent: foobot\ndisallow: /", "foobot", "/x", false},
	{"RFC: rules before any user-agent ignored", "disallow: /\nuser-agent: foobot\nallow: /x", "foobot", "/y", true},
	{"RFC: rules before any user-agent do not reach star", "disallow: /\nuser-agent: *\ndisallow: /z", "foobot", "/y", true},
	{"RFC: a user-agent after rules starts a new group", "user-agent: foobot\ndisallow: /a\nuser-agent: other\ndisallow: /b", "foobot", "/b", true},
	{"star with trailing space is star", "user-agent: * \ndisallow: /", "foobot", "/x", false},
	{"star prefix is not star", "user-agent: *bot\ndisallow: /", "foobot", "/x", true},

	// --- rules: longest match, allow wins ties ---
	{"RFC: empty disallow allows all", "user-agent: *\ndisallow:", "foobot", "/x", true},
	{"RFC: empty allow does not disallow", "user-agent: *\nallow:\ndisallow: /x", "foobot", "/x", false},
	{"RFC: most specific (longest) wins, allow", "user-agent: *\ndisallow: /example/\nallow: /example/page/", "foobot", "/example/page/x", true},
	{"RFC: most specific (longest) wins, disallow", "user-agent: *\nallow: /example/\ndisallow: /example/page/", "foobot", "/example/page/x", false},
	{"RFC: outside both rules", "user-agent: *\ndisallow: /example/\nallow: /example/page/", "foobot", "/other", true},
	{"RFC 5.1 example: allow longer path", "user-agent: *\ndisallow: *.gif$\ndisallow: /example/\nallow: /publications/", "foobot", "/publications/a", true},
	{"RFC 5.1 example: gif disallowed", "user-agent: *\ndisallow: *.gif$\ndisallow: /example/\nallow: /publications/", "foobot", "/img/x.gif", false},
	{"RFC 5.1 example: gif with query not anchored", "user-agent: *\ndisallow: *.gif$\ndisallow: /example/\nallow: /publications/", "foobot", "/img/x.gif?a", true},
	{"G: /page allowed over / (allow /p)", "user-agent: *\nallow: /p\ndisallow: /", "foobot", "/page", true},
	{"G: tie allow wins", "user-agent: *\nallow: /folder\ndisallow: /folder", "foobot", "/folder/page", true},
	{"G: tie allow wins, disallow first", "user-agent: *\ndisallow: /folder\nallow: /folder", "foobot", "/folder/page", true},
	{"G: longer wildcard disallow wins", "user-agent: *\nallow: /page\ndisallow: /*.htm", "foobot", "/page.htm", false},
	{"G: equal length wildcard, allow wins", "user-agent: *\nallow: /page\ndisallow: /*.ph", "foobot", "/page.php5", true},
	{"G: /$ allows root", "user-agent: *\nallow: /$\ndisallow: /", "foobot", "/", true},
	{"G: /$ does not allow other pages", "user-agent: *\nallow: /$\ndisallow: /", "foobot", "/page.htm", false},
	{"RFC: /robots.txt always allowed", "user-agent: *\ndisallow: /", "foobot", "/robots.txt", true},
	{"RFC: /robots.txt allowed despite exact rule", "user-agent: *\ndisallow: /robots.txt", "foobot", "/robots.txt", true},

	// --- path matching (Google's table) ---
	{"G: / matches root", "user-agent: *\ndisallow: /", "foobot", "/", false},
	{"G: / matches any", "user-agent: *\ndisallow: /", "foobot", "/a/b?c", false},
	{"G: /* same as /", "user-agent: *\ndisallow: /*", "foobot", "/a", false},
	{"G: /$ matches root only", "user-agent: *\ndisallow: /$", "foobot", "/", false},
	{"G: /$ not /a", "user-agent: *\ndisallow: /$", "foobot", "/a", true},
	{"G: /$ not /?a", "user-agent: *\ndisallow: /$", "foobot", "/?a", true},
	{"G: /fish matches /fish", "user-agent: *\ndisallow: /fish", "foobot", "/fish", false},
	{"G: /fish matches /fish.html", "user-agent: *\ndisallow: /fish", "foobot", "/fish.html", false},
	{"G: /fish matches /fish/salmon.html", "user-agent: *\ndisallow: /fish", "foobot", "/fish/salmon.html", false},
	{"G: /fish matches /fishheads", "user-agent: *\ndisallow: /fish", "foobot", "/fishheads", false},
	{"G: /fish matches /fishheads/yummy.html", "user-agent: *\ndisallow: /fish", "foobot", "/fishheads/yummy.html", false},
	{"G: /fish matches /fish.php?id=anything", "user-agent: *\ndisallow: /fish", "foobot", "/fish.php?id=anything", false},
	{"G: /fish not /Fish.asp", "user-agent: *\ndisallow: /fish", "foobot", "/Fish.asp", true},
	{"G: /fish not /catfish", "user-agent: *\ndisallow: /fish", "foobot", "/catfish", true},
	{"G: /fish not /?id=fish", "user-agent: *\ndisallow: /fish", "foobot", "/?id=fish", true},
	{"G: /fish not /desert/fish", "user-agent: *\ndisallow: /fish", "foobot", "/desert/fish", true},
	{"G: /fish* matches /fish.html", "user-agent: *\ndisallow: /fish*", "foobot", "/fish.html", false},
	{"G: /fish* matches /fishheads/yummy.html", "user-agent: *\ndisallow: /fish*", "foobot", "/fishheads/yummy.html", false},
	{"G: /fish* not /catfish", "user-agent: *\ndisallow: /fish*", "foobot", "/catfish", true},
	{"G: /fish/ matches /fish/", "user-agent: *\ndisallow: /fish/", "foobot", "/fish/", false},
	{"G: /fish/ matches /fish/?id=anything", "user-agent: *\ndisallow: /fish/", "foobot", "/fish/?id=anything", false},
	{"G: /fish/ matches /fish/salmon.htm", "user-agent: *\ndisallow: /fish/", "foobot", "/fish/salmon.htm", false},
	{"G: /fish/ not /fish", "user-agent: *\ndisallow: /fish/", "foobot", "/fish", true},
	{"G: /fish/ not /fish.html", "user-agent: *\ndisallow: /fish/", "foobot", "/fish.html", true},
	{"G: /fish/ not /animals/fish/", "user-agent: *\ndisallow: /fish/", "foobot", "/animals/fish/", true},
	{"G: /fish/ not /Fish/Salmon.asp", "user-agent: *\ndisallow: /fish/", "foobot", "/Fish/Salmon.asp", true},
	{"G: /*.php matches /index.php", "user-agent: *\ndisallow: /*.php", "foobot", "/index.php", false},
	{"G: /*.php matches /folder/filename.php?parameters", "user-agent: *\ndisallow: /*.php", "foobot", "/folder/filename.php?parameters", false},
	{"G: /*.php matches /folder/any.php.file.html", "user-agent: *\ndisallow: /*.php", "foobot", "/folder/any.php.file.html", false},
	{"G: /*.php matches /filename.php/", "user-agent: *\ndisallow: /*.php", "foobot", "/filename.php/", false},
	{"G: /*.php not /", "user-agent: *\ndisallow: /*.php", "foobot", "/", true},
	{"G: /*.php not /windows.PHP", "user-agent: *\ndisallow: /*.php", "foobot", "/windows.PHP", true},
	{"G: /*.php$ matches /filename.php", "user-agent: *\ndisallow: /*.php$", "foobot", "/filename.php", false},
	{"G: /*.php$ matches /folder/filename.php", "user-agent: *\ndisallow: /*.php$", "foobot", "/folder/filename.php", false},
	{"G: /*.php$ not /filename.php?parameters", "user-agent: *\ndisallow: /*.php$", "foobot", "/filename.php?parameters", true},
	{"G: /*.php$ not /filename.php/", "user-agent: *\ndisallow: /*.php$", "foobot", "/filename.php/", true},
	{"G: /*.php$ not /filename.php5", "user-agent: *\ndisallow: /*.php$", "foobot", "/filename.php5", true},
	{"G: /*.php$ not /windows.PHP", "user-agent: *\ndisallow: /*.php$", "foobot", "/windows.PHP", true},
	{"G: /fish*.php matches /fish.php", "user-agent: *\ndisallow: /fish*.php", "foobot", "/fish.php", false},
	{"G: /fish*.php matches /fishheads/catfish.php?parameters", "user-agent: *\ndisallow: /fish*.php", "foobot", "/fishheads/catfish.php?parameters", false},
	{"G: /fish*.php not /Fish.PHP", "user-agent: *\ndisallow: /fish*.php", "foobot", "/Fish.PHP", true},
	{"wildcards: several stars", "user-agent: *\ndisallow: /a*b*c", "foobot", "/a-x-b-y-c", false},
	{"wildcards: several stars, order matters", "user-agent: *\ndisallow: /a*b*c", "foobot", "/a-c-b", true},
	{"wildcards: anchored suffix cannot overlap", "user-agent: *\ndisallow: /ab*b$", "foobot", "/ab", true},
	{"wildcards: dollar inside is literal", "user-agent: *\ndisallow: /a$b", "foobot", "/a$b/c", false},

	// --- percent-encoding (RFC 9309 2.2.2's table) ---
	{"RFC: plain query", "user-agent: *\ndisallow: /foo/bar?baz=quz", "foobot", "/foo/bar?baz=quz", false},
	{"RFC: reserved in query, encoded in URL", "user-agent: *\ndisallow: /foo/bar?baz=https://foo.bar", "foobot", "/foo/bar?baz=https%3A%2F%2Ffoo.bar", false},
	{"RFC: UTF-8 in rule, encoded in URL", "user-agent: *\ndisallow: /foo/bar/ツ", "foobot", "/foo/bar/%E3%83%84", false},
	{"RFC: encoded in both", "user-agent: *\ndisallow: /foo/bar/%E3%83%84", "foobot", "/foo/bar/%E3%83%84", false},
	{"RFC: lower-case hex matches upper", "user-agent: *\ndisallow: /foo/bar/%e3%83%84", "foobot", "/foo/bar/%E3%83%84", false},
	{"RFC: encoded unreserved in rule matches plain", "user-agent: *\ndisallow: /foo/bar/%62%61%7A", "foobot", "/foo/bar/baz", false},
	{"RFC: encoded unreserved in URL matches plain rule", "user-agent: *\ndisallow: /foo/bar/baz", "foobot", "/foo/bar/%62%61%7A", false},
	{"RFC: encoded slash in path stays distinct", "user-agent: *\ndisallow: /a/b", "foobot", "/a%2Fb", true},

	// --- syntax ---
	{"comments and blank lines", "# hello\n\nuser-agent: * # all\n\n# rule\ndisallow: /x # no x\n", "foobot", "/x", false},
	{"comment does not leak into path", "user-agent: *\ndisallow: /x#y", "foobot", "/xz", false},
	{"CRLF line ends", "user-agent: *\r\ndisallow: /x\r\n", "foobot", "/x", false},
	{"CR line ends", "user-agent: *\rdisallow: /x\r", "foobot", "/x", false},
	{"UTF-8 BOM", "\xef\xbb\xbfuser-agent: *\ndisallow: /x", "foobot", "/x", false},
	{"spaces around key and value", "  user-agent :  *  \n  disallow :  /x  ", "foobot", "/x", false},
	{"G: missing colon", "user-agent *\ndisallow /x", "foobot", "/x", false},
	{"G: typo disalow", "user-agent: *\ndisalow: /x", "foobot", "/x", false},
	{"G: typo useragent", "useragent: foobot\ndisallow: /x", "foobot", "/x", false},
	{"unknown lines ignored", "user-agent: *\nfoo: bar\nnoindex: /x\ndisallow: /y", "foobot", "/x", true},
	{"HTML instead of robots.txt", "<html><body>Not found</body></html>", "foobot", "/x", true},
}

func TestRobotsConformance(t *testing.T) {
	for _, c := range robotsTable {
		t.Run(c.name, func(t *testing.T) {
			rules := ParseRobots([]byte(c.robots)).For(c.agent)
			if got := rules.Allowed(c.path); got != c.want {
				t.Errorf("robots.txt\n%s\nagent %q path %q: allowed %v, want %v", c.robots, c.agent, c.path, got, c.want)
			}
		})
	}
}

func TestRobotsSizeLimit(t *testing.T) {
	// A rule just inside the 500 KiB limit is read; one past it is not.
	pad := "# " + strings.Repeat("x", 1000) + "\n"
	var b strings.Builder
	b.WriteString("user-agent: *\ndisallow: /first\n")
	for b.Len()+len(pad) < RobotsMaxBytes-100 {
		b.WriteString(pad)
	}
	b.WriteString("disallow: /inside\n")
	for b.Len() < RobotsMaxBytes+10 {
		b.WriteString(pad)
	}
	b.WriteString("disallow: /outside\n")
	rules := ParseRobots([]byte(b.String())).For("foobot")
	for path, want := range map[string]bool{"/first": false, "/inside": false, "/outside": true} {
		if got := rules.Allowed(path); got != want {
			t.Errorf("%s: allowed %v, want %v", path, got, want)
		}
	}

	// A line cut by the limit is dropped rather than read in part:
	// "disallow: /" cut from "disallow: /abc" would disallow everything.
	head := "user-agent: *\n"
	cut := strings.Repeat("#", RobotsMaxBytes-len(head)-len("disallow: /")) + "\n"
	cut = cut[1:]
	body := head + cut + "disallow: /abc\n"
	if len(head+cut+"disallow: /") != RobotsMaxBytes {
		t.Fatalf("setup: cut at %d", len(head+cut+"disallow: /"))
	}
	if !ParseRobots([]byte(body)).For("foobot").Allowed("/x") {
		t.Error("a rule cut by the size limit was read in part")
	}
}

func TestRobotsCrawlDelayAndSitemaps(t *testing.T) {
	r := ParseRobots([]byte("Sitemap: https://a.example/s1.xml\nuser-agent: foobot\ncrawl-delay: 2.5\ndisallow: /x\n\nuser-agent: *\ncrawl-delay: 10\nsitemap: https://a.example/s2.xml\n"))
	if got := r.Sitemaps; len(got) != 2 || got[0] != "https://a.example/s1.xml" || got[1] != "https://a.example/s2.xml" {
		t.Errorf("sitemaps %q", got)
	}
	if f := r.For("FooBot"); !f.HasCrawlDelay || f.CrawlDelay != 2500*time.Millisecond {
		t.Errorf("foobot crawl-delay %v %v", f.HasCrawlDelay, f.CrawlDelay)
	}
	if o := r.For("other"); !o.HasCrawlDelay || o.CrawlDelay != 10*time.Second {
		t.Errorf("other crawl-delay %v %v", o.HasCrawlDelay, o.CrawlDelay)
	}
	if n := ParseRobots([]byte("user-agent: *\ncrawl-delay: soon\n")).For("x"); n.HasCrawlDelay {
		t.Error("a crawl-delay that is not a number was read")
	}
}

func TestProductToken(t *testing.T) {
	for ua, want := range map[string]string{
		"pipe-crawler/0.1 (+https://example.com)": "pipe-crawler",
		"Googlebot/2.1": "googlebot",
		"My_Bot":        "my_bot",
		"/1.0":          "",
	} {
		if got := ProductToken(ua); got != want {
			t.Errorf("ProductToken(%q) = %q, want %q", ua, got, want)
		}
	}
}

func FuzzRobots(f *testing.F) {
	for _, c := range robotsTable {
		f.Add(c.robots, c.path)
	}
	f.Fuzz(func(t *testing.T, robots, path string) {
		r := ParseRobots([]byte(robots))
		r.For("foobot").Allowed(path)
		r.For("*").Allowed(path)
	})
}

func BenchmarkRobotsAllowed(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("user-agent: *\n")
	for i := range 200 {
		sb.WriteString("disallow: /section" + string(rune('a'+i%26)) + "/*.php$\n")
		sb.WriteString("allow: /section" + string(rune('a'+i%26)) + "/public/\n")
	}
	rules := ParseRobots([]byte(sb.String())).For("foobot")
	b.ReportAllocs()
	for b.Loop() {
		rules.Allowed("/sectionq/public/some/long/path/page.php?x=1")
	}
}
