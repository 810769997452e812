#!/usr/bin/env python3
"""Builds the bundled demo website, pipelines/site/site.tar.zst, from two public-domain texts:

  - the King James Version of the Bible (1611; public domain), as Debian's bible-kjv package
    prints it (`apt-get install bible-kjv`: the `bible` program and its data);
  - Isaac Newton's Opticks (1730; public domain), which every Go installation ships as
    $GOROOT/src/testdata/Isaac.Newton-Opticks.txt.

The site is what a small online library looks like: a home page, an about page, a robots.txt,
a contents page per work and per book, one page per Bible chapter and one per part of the
Opticks, each with navigation, breadcrumbs and a footer around the text, so that crawling and
main-text extraction have real work to do. It is built once and committed; rerun this script
only to change the site:

    python3 pipelines/site/build_site.py --out pipelines/site/site.tar.zst

The archive is reproducible: the same inputs give the same bytes (sorted names, fixed times).
"""
import argparse
import html
import io
import os
import re
import subprocess
import tarfile

SITE_NAME = "The Loopback Library"
MTIME = 946684800  # 2000-01-01, so the archive does not change with the day it is built

STYLE = """body{font-family:Georgia,serif;max-width:44em;margin:auto;padding:0 1em;color:#222}
header,footer,nav{font-family:sans-serif;font-size:.9em;color:#555}
nav.crumbs a,nav.pager a{margin-right:.8em}
ul.toc{columns:3}
"""


def page(title, crumbs, body, pager=""):
    """An HTML page: the boilerplate of every page around its body."""
    crumb = " &rsaquo; ".join('<a href="%s">%s</a>' % (href, html.escape(text)) for href, text in crumbs)
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
        "<title>%s &middot; %s</title>\n<link rel=stylesheet href=/style.css></head>\n<body>\n"
        '<header><a href="/index.html">%s</a> &middot; <a href="/kjv/index.html">Bible</a> &middot; '
        '<a href="/opticks/index.html">Opticks</a> &middot; <a href="/about.html">About</a> &middot; '
        '<a href="/search?q=light">Search</a></header>\n'
        '<nav class=crumbs>%s</nav>\n<main><article>\n%s\n</article></main>\n%s'
        "<footer>%s. Public-domain texts served for pipe's demo. "
        '<a href="/about.html">About this site</a>.</footer>\n</body></html>\n'
        % (html.escape(title), SITE_NAME, SITE_NAME, crumb, body, pager, SITE_NAME)
    )


def pager(prev, up, nxt):
    links = []
    if prev:
        links.append('<a rel=prev href="%s">&larr; %s</a>' % (prev[0], html.escape(prev[1])))
    links.append('<a href="%s">%s</a>' % (up[0], html.escape(up[1])))
    if nxt:
        links.append('<a rel=next href="%s">%s &rarr;</a>' % (nxt[0], html.escape(nxt[1])))
    return "<nav class=pager>%s</nav>\n" % " ".join(links)


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def read_kjv():
    """[(book, [(chapter, [verse text, ...]), ...]), ...] from the `bible` program."""
    out = subprocess.run(["bible", "-l", "100000", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    books = []
    for line in out.splitlines():
        m = re.fullmatch(r"(\S.*) (\d+)", line)
        if m:
            book, chapter = m.group(1), int(m.group(2))
            if not books or books[-1][0] != book:
                books.append((book, []))
            books[-1][1].append((chapter, []))
            continue
        m = re.fullmatch(r"\s+(\d+) (.*)", line)
        if m:
            books[-1][1][-1][1].append(m.group(2).strip())
        elif line.strip():
            raise SystemExit("unexpected line in the bible output: %r" % line)
    return books


def paragraphs(verses, size=600):
    """Verses joined into paragraphs of about size characters, each ending at a verse."""
    paras, cur = [], []
    for v in verses:
        cur.append(v)
        if sum(len(x) for x in cur) >= size:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return paras


def kjv_pages(books):
    files = {}
    toc = "\n".join('<li><a href="/kjv/%s/index.html">%s</a></li>' % (slug(b), html.escape(b)) for b, _ in books)
    files["kjv/index.html"] = page("The Bible (King James Version)", [("/index.html", "Home")],
                                   "<h1>The Bible, King James Version</h1>\n<p>The Authorized Version of 1611: "
                                   "%d books.</p>\n<ul class=toc>\n%s\n</ul>" % (len(books), toc))
    flat = [(b, c) for b, chapters in books for c, _ in chapters]
    pos = {bc: i for i, bc in enumerate(flat)}
    for book, chapters in books:
        base = "/kjv/%s/" % slug(book)
        toc = "\n".join('<li><a href="%s%d.html">Chapter %d</a></li>' % (base, c, c) for c, _ in chapters)
        files["kjv/%s/index.html" % slug(book)] = page(
            book, [("/index.html", "Home"), ("/kjv/index.html", "Bible")],
            "<h1>%s</h1>\n<p>%d chapters.</p>\n<ul class=toc>\n%s\n</ul>" % (html.escape(book), len(chapters), toc))
        for chapter, verses in chapters:
            i = pos[(book, chapter)]
            link = lambda j: ("/kjv/%s/%d.html" % (slug(flat[j][0]), flat[j][1]), "%s %d" % flat[j])
            prev = link(i - 1) if i > 0 else None
            nxt = link(i + 1) if i + 1 < len(flat) else None
            body = "<h1>%s %d</h1>\n%s" % (html.escape(book), chapter,
                                           "\n".join("<p>%s</p>" % html.escape(p) for p in paragraphs(verses)))
            files["kjv/%s/%d.html" % (slug(book), chapter)] = page(
                "%s %d" % (book, chapter), [("/index.html", "Home"), ("/kjv/index.html", "Bible"), (base + "index.html", book)],
                body, pager(prev, (base + "index.html", book), nxt))
    return files


def opticks_pages(path, size=6000):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    paras = [p for p in paras if p]
    parts, cur, n = [], [], 0
    for p in paras:
        cur.append(p)
        n += len(p)
        if n >= size:
            parts.append(cur)
            cur, n = [], 0
    if cur:
        parts.append(cur)
    files = {}
    name = lambda i: "/opticks/part-%03d.html" % (i + 1)
    toc = "\n".join('<li><a href="%s">Part %d</a></li>' % (name(i), i + 1) for i in range(len(parts)))
    files["opticks/index.html"] = page("Opticks", [("/index.html", "Home")],
                                       "<h1>Opticks</h1>\n<p>Isaac Newton, <i>Opticks: or, a Treatise of the Reflections, "
                                       "Refractions, Inflections and Colours of Light</i>, fourth edition (1730), in %d "
                                       "parts.</p>\n<ul class=toc>\n%s\n</ul>" % (len(parts), toc))
    for i, part in enumerate(parts):
        prev = (name(i - 1), "Part %d" % i) if i > 0 else None
        nxt = (name(i + 1), "Part %d" % (i + 2)) if i + 1 < len(parts) else None
        body = "<h1>Opticks, part %d</h1>\n%s" % (i + 1, "\n".join("<p>%s</p>" % html.escape(p) for p in part))
        files[name(i)[1:]] = page("Opticks, part %d" % (i + 1), [("/index.html", "Home"), ("/opticks/index.html", "Opticks")],
                                  body, pager(prev, ("/opticks/index.html", "Contents"), nxt))
    return files


def build(opticks):
    files = {}
    files.update(kjv_pages(read_kjv()))
    files.update(opticks_pages(opticks))
    files["index.html"] = page("Home", [], "<h1>%s</h1>\n<p>Two public-domain works, one page per chapter:</p>\n<ul>\n"
                               '<li><a href="/kjv/index.html">The Bible, King James Version</a> (1611)</li>\n'
                               '<li><a href="/opticks/index.html">Opticks</a>, by Isaac Newton (1730)</li>\n</ul>' % SITE_NAME)
    files["about.html"] = page("About", [("/index.html", "Home")],
                               "<h1>About this site</h1>\n<p>This site is the embedded default of pipe's demo: "
                               "it is served on the loopback interface so that the whole pipeline, from crawling "
                               "to training, runs offline. The texts are in the public domain: the King James "
                               "Version of the Bible (1611), from Debian's bible-kjv package, and Isaac Newton's "
                               "Opticks (1730), from the Go distribution.</p>")
    files["robots.txt"] = "User-agent: *\nDisallow: /search\n"
    files["style.css"] = STYLE
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the archive to write (.tar.zst)")
    ap.add_argument("--opticks", help="the Opticks text (default: from `go env GOROOT`)")
    args = ap.parse_args()
    opticks = args.opticks or os.path.join(
        subprocess.run(["go", "env", "GOROOT"], check=True, capture_output=True, text=True).stdout.strip(),
        "src", "testdata", "Isaac.Newton-Opticks.txt")
    files = build(opticks)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = files[name].encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), MTIME, 0o644
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        subprocess.run(["zstd", "-19", "-q", "-c"], input=buf.getvalue(), stdout=f, check=True)
    os.replace(tmp, args.out)
    text = sum(len(v) for v in files.values())
    print("%s: %d files, %.1f MB of HTML, %.2f MB compressed" % (args.out, len(files), text / 1e6, os.path.getsize(args.out) / 1e6))


if __name__ == "__main__":
    main()
