// Runs the script of a "pipe inspect --html" page under Node against a small stand-in for the
// browser's DOM and canvas, and prints {"canvases": N, "undrawn": [keys]}: how many heatmaps
// the page has and which of them the script failed to draw (no data, no size, not drawn once).
// usage: node inspect_page.js PAGE.html   (for cmd/pipe's TestInspectSort)
const fs = require('fs');
const html = fs.readFileSync(process.argv[2], 'utf8');
const data = html.match(/<script type="application\/json" id="acts">([\s\S]*?)<\/script>/)[1];
const js = html.match(/<script>([\s\S]*?)<\/script>/)[1];
const canvases = [];
const re = /<canvas data-act="([^"]*)"(?: data-head="(\d+)")?><\/canvas>/g;
let m; while ((m = re.exec(html))) {
  const ds = {act: m[1]}; if (m[2] !== undefined) ds.head = m[2];
  canvases.push({dataset: ds, drawn: 0, listeners: {},
    parentNode: {querySelector: () => ({appendChild() {}})},
    addEventListener(t, f) { this.listeners[t] = f; },
    getContext() { const cv = this; return {createImageData: (w, h) => ({data: new Uint8ClampedArray(w*h*4), w, h}),
      putImageData(img) { cv.drawn++; cv.img = img; }, fillText() {}, set font(v) {}, set textAlign(v) {}, set fillStyle(v) {}}; },
    getBoundingClientRect() { return {left: 0, top: 0, width: this.width, height: this.height}; }});
}
const tip = {style: {}, textContent: ''};
global.document = {getElementById: id => id === 'acts' ? {textContent: data} : tip,
  querySelectorAll: () => canvases, createElement: () => ({})};
eval(js);
// a canvas is drawn when every pixel of its heatmap is painted once, and pointing at its last
// cell shows that cell's value
let bad = canvases.filter(c => {
  if (c.drawn !== 1 || !c.width || !c.height || c.img.data.some((v, i) => i % 4 === 3 && v !== 255)) return true;
  tip.textContent = '';
  c.listeners.mousemove({clientX: c.width - 1, clientY: c.height - 1, pageX: 0, pageY: 0});
  return !/: (-?[0-9.]+(e[-+][0-9]+)?|NaN)$/.test(tip.textContent) || tip.style.display !== 'block';
});
console.log(JSON.stringify({canvases: canvases.length, undrawn: bad.map(c => c.dataset.act)}));
