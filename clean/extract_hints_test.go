package clean

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestElementHint(t *testing.T) {
	for _, tc := range []struct {
		tag  string
		want hint
	}{
		{`<div class="relatedArticles">`, hintDrop},
		{`<div class="post-comments__list">`, hintDrop},
		{`<div id="wpcomments">`, hintDrop},
		{`<div class="sharebar top">`, hintDrop},
		{`<div class="ad-slot">`, hintDrop},
		{`<div class="cookie-consent">`, hintDrop},
		{`<div role="navigation">`, hintDrop},
		{`<div class="comment-content">`, hintDrop},
		{`<nav class="article-body">`, hintDrop},
		{`<div class="entry-content">`, hintContent},
		{`<div itemprop="articleBody">`, hintContent},
		{`<section class="StoryBody">`, hintContent},
		{`<article class="comments">`, hintContent},
		{`<div class="commentary">`, hintNone},
		{`<div class="add-to-cart shadow">`, hintNone},
		{`<div class="social-media-embed">`, hintNone},
		{`<div class="grid col-8">`, hintNone},
		{`<body class="single has-sidebar">`, hintNone},
	} {
		doc, err := html.Parse(strings.NewReader("<html>" + tc.tag + "x"))
		if err != nil {
			t.Fatal(err)
		}
		n := doc.FirstChild.LastChild // <body>
		if !strings.HasPrefix(tc.tag, "<body") {
			n = n.FirstChild
		}
		if got := elementHint(n); got != tc.want {
			t.Errorf("%s: hint %d, want %d", tc.tag, got, tc.want)
		}
	}
}
