"""warcio (PyPI), the peer of package warc: it writes the WARC files our
reader must read, and reads the files our writer writes.

    python scripts/warc_peer.py testdata warc/testdata   # regenerate the committed samples
    python scripts/warc_peer.py write OUT [--plain] [--version 1.0|1.1] [--seed N]
    python scripts/warc_peer.py read FILE                # one JSON object per record

`read` reads FILE twice with warcio's ArchiveIterator: once for the raw
payload (checking WARC-Block-Digest and WARC-Payload-Digest), once for the
payload as content_stream() decodes it (chunked, gzip, deflate).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys
import zlib

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def sha1(b):
    return hashlib.sha1(b).hexdigest()


# --- read --------------------------------------------------------------------

def read(path):
    raw = []
    with open(path, "rb") as f:
        it = ArchiveIterator(f, check_digests=True)
        for rec in it:
            payload = rec.raw_stream.read()
            h = rec.http_headers
            raw.append({
                "type": rec.rec_type,
                "headers": [[k, v] for k, v in rec.rec_headers.headers],
                "version": rec.rec_headers.protocol,
                "content_length": int(rec.rec_headers.get_header("Content-Length")),
                "offset": it.get_record_offset(),
                "http": None if h is None else {
                    "protocol": h.protocol,
                    "statusline": h.statusline,
                    "headers": [[k, v] for k, v in h.headers],
                },
                "payload_sha1": sha1(payload),
                "payload_len": len(payload),
                "digests_ok": rec.digest_checker.passed,
                "digest_problems": rec.digest_checker.problems,
            })
    with open(path, "rb") as f:
        for i, rec in enumerate(ArchiveIterator(f)):
            try:
                content = rec.content_stream().read()
                raw[i]["content_sha1"] = sha1(content)
            except Exception as e:  # a payload that does not decode as declared
                raw[i]["content_sha1"] = "error: %s" % e
    for r in raw:
        print(json.dumps(r))


# --- write -------------------------------------------------------------------

def chunk(b, size):
    out = b""
    for i in range(0, len(b), size):
        piece = b[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def html(rng, n):
    words = ["web", "page", "text", "crawl", "données", "Straße", "日本語", "<b>bold</b>", "&amp;", "\u00e9t\u00e9"]
    body = " ".join(rng.choice(words) for _ in range(n))
    return ("<!doctype html><html><head><title>t</title></head><body><p>%s</p></body></html>" % body).encode()


def write(out, plain, version, seed, n):
    rng = random.Random(seed)
    ids = iter("<urn:uuid:%08x-0000-4000-8000-%012x>" % (seed, i) for i in range(1 << 20))
    with open(out, "wb") as f:
        w = WARCWriter(f, gzip=not plain, warc_version=version)

        def rec(uri, typ, payload, http=None, ctype="", **extra):
            hd = {"WARC-Record-ID": next(ids), "WARC-Date": "2024-0%d-1%dT0%d:1%d:2%dZ" % (1 + rng.randrange(9), rng.randrange(10), rng.randrange(10), rng.randrange(10), rng.randrange(10))}
            if version == "1.1" and rng.random() < 0.5:
                hd["WARC-Date"] = hd["WARC-Date"][:-1] + ".%06dZ" % rng.randrange(10**6)
            hd.update(extra)
            r = w.create_warc_record(uri, typ, payload=io.BytesIO(payload), length=len(payload),
                                     http_headers=http, warc_content_type=ctype, warc_headers_dict=hd)
            w.write_record(r)

        info = w.create_warcinfo_record("peer.warc", {"software": "warcio", "format": "WARC File Format " + version})
        w.write_record(info)
        for i in range(n):
            uri = "https://example.com/%d/page?q=%d" % (i, rng.randrange(1000))
            req = StatusAndHeaders("GET /%d/page HTTP/1.1" % i, [("Host", "example.com"), ("User-Agent", "peer")], is_http_request=True)
            rec(uri, "request", b"", http=req)
            kind = i % 5
            body = html(rng, rng.randrange(1, 400))
            headers = [("Content-Type", "text/html; charset=utf-8")]
            if kind == 1:  # stored as sent: gzip inside chunked
                body = chunk(gzip.compress(body, mtime=0), 100)
                headers += [("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]
            elif kind == 2:  # zlib deflate
                body = zlib.compress(body)
                headers += [("Content-Encoding", "deflate"), ("Content-Length", str(len(body)))]
            elif kind == 3:  # binary, not HTML
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
                headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))]
            elif kind == 4:  # chunked only
                body = chunk(body, 7)
                headers += [("Transfer-Encoding", "chunked")]
            status = "404 Not Found" if rng.random() < 0.2 else "200 OK"
            resp = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
            rec(uri, "response", body, http=resp, **{"WARC-IP-Address": "192.0.2.%d" % (i % 250 + 1)})
            if i % 3 == 0:
                rec(uri, "metadata", b"fetchTimeMs: %d\r\n" % rng.randrange(5000), ctype="application/warc-fields")
            if i % 4 == 0:
                rec(uri, "conversion", html(rng, 30).replace(b"<", b" "), ctype="text/plain")
            if i % 7 == 0:
                rec("urn:x:%d" % i, "resource", b"", ctype="text/plain")


# --- testdata ----------------------------------------------------------------

CC_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>An example page</title></head>
<body><h1>Example</h1><p>A page as Common Crawl stores it: the payload decoded,
the encodings the server used kept as X-Crawler- fields.</p></body></html>
""".encode()


def testdata(out):
    os.makedirs(out, exist_ok=True)

    # A Common Crawl style WARC: WARC/1.0, a gzip member per record,
    # request, response and metadata per capture, in Common Crawl's order.
    with open(os.path.join(out, "cc.warc.gz"), "wb") as f:
        w = WARCWriter(f, gzip=True, warc_version="1.0")
        info_id = "<urn:uuid:00000000-0000-4000-8000-000000000001>"
        info = w.create_warcinfo_record("CC-MAIN-20240101000000-20240101030000-00000.warc.gz", {
            "isPartOf": "CC-MAIN-2024-01",
            "publisher": "Common Crawl",
            "format": "WARC File Format 1.0",
            "conformsTo": "http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf",
        })
        info.rec_headers.replace_header("WARC-Record-ID", info_id)
        info.rec_headers.replace_header("WARC-Date", "2024-01-01T00:00:00Z")
        w.write_record(info)

        def capture(n, uri, status, headers, payload, ptype):
            req_id = "<urn:uuid:00000000-0000-4000-8000-0000000001%02d>" % n
            resp_id = "<urn:uuid:00000000-0000-4000-8000-0000000002%02d>" % n
            date = "2024-01-01T00:0%d:00Z" % n
            req = StatusAndHeaders("GET %s HTTP/1.1" % uri.split("example.com", 1)[1], [
                ("User-Agent", "CCBot/2.0 (https://commoncrawl.org/faq/)"),
                ("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
                ("Accept-Encoding", "br,gzip"),
                ("Host", "example.com"),
                ("Connection", "Keep-Alive"),
            ], is_http_request=True)
            w.write_record(w.create_warc_record(uri, "request", payload=io.BytesIO(b""), length=0, http_headers=req,
                                                warc_headers_dict={"WARC-Record-ID": req_id, "WARC-Date": date,
                                                                   "WARC-Warcinfo-ID": info_id, "WARC-IP-Address": "192.0.2.7"}))
            resp = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(uri, "response", payload=io.BytesIO(payload), length=len(payload), http_headers=resp,
                                                warc_headers_dict={"WARC-Record-ID": resp_id, "WARC-Date": date,
                                                                   "WARC-Warcinfo-ID": info_id, "WARC-Concurrent-To": req_id,
                                                                   "WARC-IP-Address": "192.0.2.7",
                                                                   "WARC-Identified-Payload-Type": ptype}))
            meta = b"fetchTimeMs: 128\r\ncharset-detected: UTF-8\r\n"
            w.write_record(w.create_warc_record(uri, "metadata", payload=io.BytesIO(meta), length=len(meta),
                                                warc_content_type="application/warc-fields",
                                                warc_headers_dict={"WARC-Record-ID": "<urn:uuid:00000000-0000-4000-8000-0000000003%02d>" % n,
                                                                   "WARC-Date": date, "WARC-Warcinfo-ID": info_id,
                                                                   "WARC-Concurrent-To": resp_id}))

        capture(1, "https://example.com/", "200 OK", [
            ("Date", "Mon, 01 Jan 2024 00:01:00 GMT"),
            ("Content-Type", "text/html; charset=UTF-8"),
            ("X-Crawler-Content-Encoding", "gzip"),
            ("X-Crawler-Transfer-Encoding", "chunked"),
            ("Content-Length", str(len(CC_HTML))),
        ], CC_HTML, "text/html")
        raw = chunk(gzip.compress(CC_HTML, mtime=0), 64)  # as sent: gzip inside chunked
        capture(2, "https://example.com/raw", "200 OK", [
            ("Content-Type", "text/html; charset=ISO-8859-1"),
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
        ], raw, "text/html")
        pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
        capture(3, "https://example.com/doc.pdf", "200 OK", [
            ("Content-Type", "application/pdf"),
            ("Content-Length", str(len(pdf))),
        ], pdf, "application/pdf")

    # A Common Crawl style WET file: the text of each page in a conversion record.
    with open(os.path.join(out, "cc.warc.wet.gz"), "wb") as f:
        w = WARCWriter(f, gzip=True, warc_version="1.0")
        info = w.create_warcinfo_record("CC-MAIN-20240101000000-20240101030000-00000.warc.wet.gz", {
            "Software-Info": "ia-web-commons.1.1.10-SNAPSHOT-20231219104815",
            "Extracted-Date": "Mon, 01 Jan 2024 05:00:00 GMT",
            "robots": "checked via crawler-commons 1.5-SNAPSHOT",
            "isPartOf": "CC-MAIN-2024-01",
            "operator": "Common Crawl Admin (info@commoncrawl.org)",
            "description": "Wide crawl of the web for January 2024",
            "publisher": "Common Crawl",
        })
        info.rec_headers.replace_header("WARC-Record-ID", "<urn:uuid:00000000-0000-4000-8000-000000000010>")
        info.rec_headers.replace_header("WARC-Date", "2024-01-01T05:00:00Z")
        w.write_record(info)
        texts = [
            ("https://example.com/", "Example\nA page as Common Crawl stores it: the payload decoded,\nthe encodings the server used kept as X-Crawler- fields.", "eng"),
            ("https://example.org/de", "Straße und Übergrößen\nDer Text einer deutschen Seite, in UTF-8.", "deu"),
            ("https://example.net/ja", "日本語のページです。\n二行目。", "jpn"),
        ]
        for i, (uri, text, lang) in enumerate(texts):
            b = text.encode()
            w.write_record(w.create_warc_record(uri, "conversion", payload=io.BytesIO(b), length=len(b),
                                                warc_content_type="text/plain",
                                                warc_headers_dict={
                                                    "WARC-Date": "2024-01-01T00:0%d:00Z" % (i + 1),
                                                    "WARC-Record-ID": "<urn:uuid:00000000-0000-4000-8000-0000000004%02d>" % i,
                                                    "WARC-Refers-To": "<urn:uuid:00000000-0000-4000-8000-0000000002%02d>" % i,
                                                    "WARC-Identified-Content-Language": lang,
                                                }))

    # A WARC 1.0 file written by hand, plain: lower-case field names, a folded
    # field line, a target URI in angle brackets, LF-only line breaks in one
    # record, records a resource and a revisit.
    def record(fields, block, eol=b"\r\n"):
        head = b"WARC/1.0" + eol
        for f in fields:
            head += f.encode() + eol
        head += b"Content-Length: %d" % len(block) + eol + eol
        return head + block + eol + eol

    page = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nServer: hand\r\n\r\n<html><body>by hand</body></html>"
    parts = [
        record(["WARC-Type: warcinfo", "WARC-Date: 2008-04-30T20:48:25Z",
                "WARC-Record-ID: <urn:uuid:35f02b38-eb19-4f0d-86e4-bfe95815069c>",
                "Content-Type: application/warc-fields",
                "WARC-Filename: hand.warc"],
               b"software: hand\r\nformat: WARC File Format 1.0\r\n"),
        record(["warc-type: response", "WARC-Target-URI: <http://www.archive.org/>",
                "WARC-Date: 2008-04-30T20:48:26Z",
                "WARC-Record-ID: <urn:uuid:ff728363-2d5f-4f5f-b832-9552de1a6037>",
                "Content-Type: application/http;",
                " msgtype=response",
                "WARC-IP-Address: 207.241.229.39",
                "WARC-Warcinfo-ID: <urn:uuid:35f02b38-eb19-4f0d-86e4-bfe95815069c>"],
               page),
        record(["WARC-Type: resource", "WARC-Target-URI: file:///notes.txt",
                "WARC-Date: 2008-04-30T20:48:27Z",
                "WARC-Record-ID: <urn:uuid:0ddea2a9-7e4e-4a64-8c2e-c5a5cbb3a4f1>",
                "Content-Type: text/plain"],
               b"line one\nline two, LF only\n", eol=b"\n"),
        record(["WARC-Type: revisit", "WARC-Target-URI: http://www.archive.org/",
                "WARC-Date: 2008-05-01T00:00:00Z",
                "WARC-Record-ID: <urn:uuid:7a1c2b6e-1b83-4c4a-9f06-6f0c2b9e5d11>",
                "WARC-Profile: http://netpreserve.org/warc/1.0/revisit/identical-payload-digest",
                "WARC-Refers-To: <urn:uuid:ff728363-2d5f-4f5f-b832-9552de1a6037>",
                "Content-Type: application/http; msgtype=response"],
               b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n"),
    ]
    with open(os.path.join(out, "hand10.warc"), "wb") as f:
        f.write(b"".join(parts))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("read")
    r.add_argument("file")
    w = sub.add_parser("write")
    w.add_argument("out")
    w.add_argument("--plain", action="store_true")
    w.add_argument("--version", default="1.1")
    w.add_argument("--seed", type=int, default=1)
    w.add_argument("--n", type=int, default=40)
    t = sub.add_parser("testdata")
    t.add_argument("dir")
    a = p.parse_args()
    if a.cmd == "read":
        read(a.file)
    elif a.cmd == "write":
        write(a.out, a.plain, a.version, a.seed, a.n)
    else:
        testdata(a.dir)


if __name__ == "__main__":
    sys.exit(main())
