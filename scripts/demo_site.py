#!/usr/bin/env python3
"""Serve the demo website on loopback: the public-domain text of Newton's Opticks
(shipped with every Go installation) cut into linked HTML pages.

Usage: demo_site.py TEXT_FILE SITE_DIR   -- writes the pages, serves them on 127.0.0.1
and prints the URL of the index on stdout; stops when stdin closes.
"""
import html
import http.server
import os
import re
import sys
import threading


def build(text_path, site):
    with open(text_path, encoding="utf-8") as f:
        text = f.read()
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    paras = [p for p in paras if len(p) > 0]
    pages, cur, size = [], [], 0
    for p in paras:
        cur.append(p)
        size += len(p)
        if size > 6000:
            pages.append(cur)
            cur, size = [], 0
    if cur:
        pages.append(cur)
    os.makedirs(site, exist_ok=True)
    n = len(pages)
    for i, page in enumerate(pages):
        nav = '<nav><a href="index.html">Contents</a>'
        if i > 0:
            nav += ' | <a href="page-%03d.html">Previous</a>' % (i - 1)
        if i + 1 < n:
            nav += ' | <a href="page-%03d.html">Next</a>' % (i + 1)
        nav += "</nav>"
        body = "\n".join("<p>%s</p>" % html.escape(p) for p in page)
        with open(os.path.join(site, "page-%03d.html" % i), "w", encoding="utf-8") as f:
            f.write("<!doctype html><html><head><meta charset=utf-8><title>Opticks, part %d</title></head>"
                    "<body>%s<article><h1>Opticks, part %d</h1>\n%s</article>"
                    "<footer>Isaac Newton, Opticks (1730). Public domain.</footer></body></html>"
                    % (i + 1, nav, i + 1, body))
    links = "\n".join('<li><a href="page-%03d.html">Part %d</a></li>' % (i, i + 1) for i in range(n))
    with open(os.path.join(site, "index.html"), "w", encoding="utf-8") as f:
        f.write("<!doctype html><html><head><meta charset=utf-8><title>Opticks</title></head>"
                "<body><h1>Opticks</h1><ul>%s</ul></body></html>" % links)


def main():
    text_path, site = sys.argv[1], sys.argv[2]
    build(text_path, site)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=site, **k)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("http://127.0.0.1:%d/index.html" % srv.server_address[1], flush=True)
    sys.stdin.read()
    srv.shutdown()


if __name__ == "__main__":
    main()
