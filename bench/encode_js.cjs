// The JavaScript tiktoken peers, for orientation beside pipe and Python's
// tiktoken: the npm "tiktoken" package (OpenAI's Rust encoder compiled to
// WASM) and "js-tiktoken" (pure JavaScript). Both ship OpenAI's ranks.
//
//   node bench/encode_js.cjs NPM_DIR PASSES DOCS.jsonl PEER:ENCODING...
//
// PEER is tiktoken-wasm or js-tiktoken, ENCODING cl100k_base, o200k_base or
// r50k_base. For each pair: the documents' "text" encoded one by one on
// this one thread as ordinary text (special tokens' text is plain text, as
// tiktoken's encode_ordinary), the best of PASSES passes. Prints one JSON line
// each: bytes, tokens, seconds, MB/s, and the sha256 of the ids written as
// pipe's --ids writes them (a line of space-separated ids per document), so
// the caller checks they are the ids of the other peers and of pipe.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const [npmDir, passes, docsPath, ...pairs] = process.argv.slice(2);
const need = (name) => require(path.resolve(npmDir, "node_modules", name));
const wasm = need("tiktoken");
const js = need("js-tiktoken");

const texts = fs.readFileSync(docsPath, "utf8").split("\n").filter((l) => l).map((l) => JSON.parse(l).text);
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);

const peers = {
  "tiktoken-wasm": (name) => {
    const e = wasm.get_encoding(name);
    return (t) => e.encode_ordinary(t);
  },
  "js-tiktoken": (name) => {
    const e = js.getEncoding(name);
    return (t) => e.encode(t, [], []);
  },
};
const versions = {
  "tiktoken-wasm": need("tiktoken/package.json").version,
  "js-tiktoken": need("js-tiktoken/package.json").version,
};

for (const pair of pairs) {
  const [peer, name] = pair.split(":");
  const encode = peers[peer](name);
  encode(texts[0].slice(0, 1000)); // warm up
  let best = Infinity;
  let ids = [];
  for (let i = 0; i < Number(passes); i++) {
    const start = process.hrtime.bigint();
    ids = texts.map(encode);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  const h = crypto.createHash("sha256");
  let tokens = 0;
  for (const d of ids) {
    h.update(Array.from(d).join(" ") + "\n");
    tokens += d.length;
  }
  console.log(JSON.stringify({
    peer: peer + " " + versions[peer], encoding: name, bytes, tokens,
    seconds: best, mb_per_s: bytes / best / 1e6, sha256: h.digest("hex"),
  }));
}
