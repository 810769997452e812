package clean

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Hints: what an element's tag and its class, id, role and itemprop
// attributes say about it before any text is counted.
//
// Class and id values are cut into words at anything that is not a letter or
// digit and at lower-to-upper case changes ("relatedArticles",
// "post-comments__list" → related articles, post comments list), and each
// word is looked up in small tables. A word that names boilerplate wins over
// one that names content ("comment-content" is a comment's text, not the
// article's), and a word that names an embedded post wins over both
// ("social-media-embed" is a tweet quoted in the article). Words glued
// together without separators ("sharebar", "wpcomments") are caught by a
// short list of stems.
//
// The tags nav, aside, header, footer, menu and figcaption are boilerplate
// by themselves, article and main are content. A hint is a guess: the
// selection pass (extract_select.go) ignores boilerplate hints on the
// wrappers of the text it finds.

type hint uint8

const (
	hintNone    hint = iota
	hintDrop         // boilerplate: leave out the element and all inside it
	hintContent      // says it holds the main content
)

// boilerplateWords name page furniture. Each group is one kind of thing
// that is not the main text.
var boilerplateWords = []string{
	// discussion under the article
	"comment", "comments", "disqus", "respond", "discussion", "replies",
	// consent and privacy prompts
	"cookie", "cookies", "consent", "gdpr", "cmp",
	// sharing and following
	"share", "shares", "sharing", "social", "follow", "addthis", "sharethis",
	// recirculation: more links into the site
	"related", "recommended", "recommendations", "recirc", "outbrain", "taboola",
	"trending", "popular", "mostread", "readmore", "teaser", "teasers",
	// advertising
	"ad", "ads", "advert", "adverts", "advertisement", "advertising", "sponsor",
	"sponsored", "promo", "promoted", "promotion", "dfp", "adslot", "adunit",
	// selling the site itself
	"newsletter", "subscribe", "subscription", "signup", "banner",
	// navigation
	"nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs",
	"pagination", "pager", "skip", "sitemap",
	// page chrome around the article
	"footer", "header", "masthead", "topbar", "toolbar", "sidebar", "rail",
	"widget", "widgets", "popup", "modal", "overlay",
	// things about the article rather than in it
	"caption", "credit", "credits", "byline", "author", "tags", "meta",
}

// boilerplateStems catch words glued together without separators.
var boilerplateStems = [][]byte{
	[]byte("comment"), []byte("share"), []byte("social"), []byte("cookie"),
	[]byte("sidebar"), []byte("newsletter"), []byte("advert"), []byte("sponsor"),
	[]byte("related"), []byte("recommend"), []byte("breadcrumb"), []byte("subscribe"),
}

// notBoilerplate are words that contain a stem but mean something else.
var notBoilerplate = []string{"commentary", "commentator", "commentators", "shared"}

// contentWords name the container of the main text.
var contentWords = []string{
	"article", "articlebody", "content", "entry", "post", "story", "body",
	"text", "main", "blog", "prose", "richtext",
}

// embedWords name posts embedded in the text (a tweet, an Instagram post):
// they belong to it even when a word like "social" sits beside them.
var embedWords = []string{"embed", "embedded", "tweet", "instagram"}

// hintWords is the tables above in one map, so that a word is looked up
// once: the kinds each word names, and wordNotStem for notBoilerplate.
var hintWords = func() map[string]wordKinds {
	m := map[string]wordKinds{}
	for _, t := range []struct {
		words []string
		kind  wordKinds
	}{{boilerplateWords, wordBoilerplate}, {contentWords, wordContent}, {embedWords, wordEmbed}, {notBoilerplate, wordNotStem}} {
		for _, w := range t.words {
			m[w] |= t.kind
		}
	}
	return m
}()

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// elementHint reads the tag and attributes of an element node.
func elementHint(n *html.Node) hint {
	switch n.DataAtom {
	case atom.Nav, atom.Aside, atom.Footer, atom.Header, atom.Menu, atom.Figcaption:
		return hintDrop
	case atom.Article, atom.Main:
		return hintContent
	case atom.Html, atom.Body: // their classes describe the page, not a part
		return hintNone
	}
	var words wordKinds
	for _, a := range n.Attr {
		if a.Namespace != "" {
			continue
		}
		switch a.Key {
		case "class", "id":
			words |= classWords(a.Val)
		case "role":
			words |= roleWords(a.Val)
		case "itemprop":
			if strings.EqualFold(a.Val, "articleBody") {
				words |= wordContent
			}
		}
	}
	switch {
	case words&wordEmbed != 0:
		return hintNone
	case words&wordBoilerplate != 0:
		return hintDrop
	case words&wordContent != 0:
		return hintContent
	}
	return hintNone
}

// wordKinds is a set of the kinds of words found in an element's attributes.
type wordKinds uint8

const (
	wordBoilerplate wordKinds = 1 << iota // names page furniture
	wordContent                           // names the main content
	wordEmbed                             // names an embedded post or quote, which belongs to the text
	wordNotStem                           // holds a boilerplate stem but is not boilerplate (hintWords only)
)

// roleWords reads a WAI-ARIA role.
func roleWords(role string) wordKinds {
	switch strings.ToLower(strings.TrimSpace(role)) {
	case "navigation", "banner", "contentinfo", "complementary", "search",
		"menu", "menubar", "dialog", "alertdialog":
		return wordBoilerplate
	case "main", "article":
		return wordContent
	}
	return 0
}

// classWords cuts a class or id value into lower-case words and looks each
// up in the tables.
func classWords(s string) wordKinds {
	var kinds wordKinds
	var buf [32]byte
	word := buf[:0]
	flush := func() {
		if len(word) == 0 {
			return
		}
		k := hintWords[string(word)] // m[string(b)] does not allocate
		switch {
		case k&wordBoilerplate != 0:
			kinds |= wordBoilerplate
		case k&wordContent != 0:
			kinds |= wordContent
		case k&wordEmbed != 0:
			kinds |= wordEmbed
		case len(word) > 5 && k&wordNotStem == 0 && hasStem(word):
			kinds |= wordBoilerplate
		}
		word = word[:0]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			word = append(word, c)
		case 'A' <= c && c <= 'Z':
			if i > 0 && 'a' <= s[i-1] && s[i-1] <= 'z' {
				flush()
			}
			word = append(word, c+'a'-'A')
		default:
			flush()
		}
	}
	flush()
	return kinds
}

func hasStem(w []byte) bool {
	for _, stem := range boilerplateStems {
		if bytes.Contains(w, stem) {
			return true
		}
	}
	return false
}
