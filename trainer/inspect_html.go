package trainer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
)

// The inspection page is one HTML file that needs nothing but itself: the values travel in it
// as JSON (4 significant digits) and a short inline script draws each as a heatmap on a canvas,
// a row per prompt position (attention: a square per head), with the value under the pointer
// shown beside it. Tables (parameters, next tokens) are plain HTML.

// maxHeatmapCols is the widest row drawn: a vocabulary past it (GPT-2's 50,257) shows its
// logits as the next-token table only.
const maxHeatmapCols = 4096

// WriteHTML writes the inspection as a self-contained page titled title.
func (in *Inspection) WriteHTML(w io.Writer, title string) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	esc := html.EscapeString
	c := in.Model
	p("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
	p("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	p("<title>pipe inspect: %s</title>\n<style>%s</style></head>\n<body>\n", esc(title), inspectCSS)
	p("<h1>pipe inspect: %s</h1>\n", esc(title))
	p("<p>GPT-2, %d layers, %d heads, %d channels, vocabulary %d, context %d: %s parameters.</p>\n",
		c.Layers, c.Heads, c.Dim, c.VocabSize, c.Context, thousands(in.Total))

	p("<section id=\"params\"><h2>Parameters</h2>\n<table class=\"params\"><tr><th>tensor</th><th>shape</th><th>count</th><th></th></tr>\n")
	most := 1
	for _, t := range in.Params {
		most = max(most, t.Count)
	}
	for _, t := range in.Params {
		p("<tr><td>%s</td><td>%s</td><td class=\"num\">%s</td><td><div class=\"bar\" style=\"width:%.1f%%\"></div></td></tr>\n",
			esc(t.Name), shapeString(t.Shape), thousands(t.Count), 100*float64(t.Count)/float64(most))
	}
	p("<tr><th>total</th><td></td><th class=\"num\">%s</th><td></td></tr>\n</table></section>\n", thousands(in.Total))
	if len(in.Tokens) == 0 {
		p("</body></html>\n")
		return bw.Flush()
	}

	p("<section id=\"prompt\"><h2>Prompt</h2>\n<p class=\"tokens\">")
	for t, tk := range in.Tokens {
		p("<span title=\"t=%d, id %d\">%s</span>", t, tk.ID, esc(tk.Text))
	}
	p("</p>\n<p class=\"small\">Each heatmap has a row per position; blue is negative, red positive, white 0, scaled to the largest magnitude in the tensor (given beside it). Attention weights run from white (0) to dark blue (1); the part above the diagonal is the future, masked. Point at a cell for its value.</p></section>\n")
	figure := func(key string, a Activation) {
		p("<figure><figcaption><b>%s</b> (%s): %s</figcaption>", esc(a.Name), shapeString(a.Shape), esc(a.What))
		if a.Name == "attn" {
			p("<div class=\"heads\">")
			for h := range a.Shape[0] {
				p("<div><div class=\"small\">head %d</div><canvas data-act=\"%s\" data-head=\"%d\"></canvas></div>", h, key, h)
			}
			p("</div>")
		} else if a.Shape[len(a.Shape)-1] <= maxHeatmapCols {
			p("<canvas data-act=\"%s\"></canvas>", key)
		} else {
			p("<p class=\"small\">%d values a row: too wide to draw; see the table below.</p>", a.Shape[len(a.Shape)-1])
		}
		p("</figure>\n")
	}
	p("<section id=\"embedding\"><h2>Embedding</h2>\n")
	figure("embedding", *in.Embedding)
	p("</section>\n")
	for l, acts := range in.Layers {
		p("<section id=\"layer-%d\"><h2>Layer %d</h2>\n", l, l)
		for _, a := range acts {
			figure(fmt.Sprintf("%d.%s", l, a.Name), a)
		}
		p("</section>\n")
	}
	p("<section id=\"output\"><h2>Output</h2>\n")
	figure("ln_f", *in.LnF)
	figure("logits", *in.Logits)
	p("<h3>Next token</h3>\n<table class=\"next\"><tr><th>t</th><th>token</th><th>most likely next tokens: probability (logit)</th></tr>\n")
	for t, cands := range in.Next {
		p("<tr><td>%d</td><td class=\"tok\">%s</td><td>", t, esc(in.Tokens[t].Text))
		for _, cand := range cands {
			p("<span class=\"cand\" title=\"id %d, logit %.4f\"><span class=\"tok\">%s</span> %.4f <span class=\"small\">(%.3f)</span><span class=\"pbar\" style=\"width:%.1fem\"></span></span>",
				cand.ID, cand.Logit, esc(cand.Text), cand.Prob, cand.Logit, 4*cand.Prob)
		}
		p("</td></tr>\n")
	}
	p("</table></section>\n<div id=\"tip\"></div>\n")

	// the values: {"tokens": [...], "acts": {key: {"shape": [...], "data": [...]}}}
	p("<script type=\"application/json\" id=\"acts\">{\"tokens\":")
	texts := make([]string, len(in.Tokens))
	for i, tk := range in.Tokens {
		texts[i] = tk.Text
	}
	b, err := json.Marshal(texts) // escapes <, > and &: it cannot end the script
	if err != nil {
		return err
	}
	bw.Write(b)
	p(",\"acts\":{")
	first := true
	put := func(key string, a Activation) {
		if a.Name != "attn" && a.Shape[len(a.Shape)-1] > maxHeatmapCols {
			return
		}
		if !first {
			p(",")
		}
		first = false
		p("%q:{\"shape\":[", key)
		for i, d := range a.Shape {
			if i > 0 {
				p(",")
			}
			p("%d", d)
		}
		p("],\"data\":[")
		var num []byte
		for i, v := range a.Data {
			if i > 0 {
				bw.WriteByte(',')
			}
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				bw.WriteString("null")
				continue
			}
			num = strconv.AppendFloat(num[:0], float64(v), 'g', 4, 32)
			bw.Write(num)
		}
		p("]}")
	}
	put("embedding", *in.Embedding)
	for l, acts := range in.Layers {
		for _, a := range acts {
			put(fmt.Sprintf("%d.%s", l, a.Name), a)
		}
	}
	put("ln_f", *in.LnF)
	put("logits", *in.Logits)
	p("}}</script>\n<script>%s</script>\n</body></html>\n", inspectJS)
	return bw.Flush()
}

const inspectCSS = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:64em;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}h3{font-size:1em}
.small{color:#666;font-size:.85em}figure{margin:1em 0}figcaption{margin-bottom:.3em}
canvas{max-width:100%;image-rendering:pixelated;display:block}
.heads{display:flex;flex-wrap:wrap;gap:1.2em}
table{border-collapse:collapse}td,th{padding:.15em .6em;text-align:left;border-bottom:1px solid #eee}
.num{text-align:right;font-variant-numeric:tabular-nums}.params td:last-child{width:14em}
.bar{height:.7em;background:#4a7bb7}.tokens span,.tok{font-family:ui-monospace,monospace;white-space:pre;background:#f2f2f2;padding:0 .2em;margin-right:.25em}
.cand{display:inline-block;margin-right:1.2em}.pbar{display:inline-block;height:.6em;background:#d6604d;margin-left:.3em}
#tip{position:absolute;display:none;background:#222;color:#fff;padding:.2em .5em;font:12px ui-monospace,monospace;pointer-events:none;white-space:pre}`

const inspectJS = `(function(){
var D=JSON.parse(document.getElementById('acts').textContent),tip=document.getElementById('tip');
function rgb(v,s,seq){
  if(v===null)return[150,150,150];
  var u;
  if(seq){u=Math.max(0,Math.min(1,v));return[255-u*222,255-u*153,255-u*83];}
  u=Math.max(-1,Math.min(1,v/s));
  return u<0?[255+u*222,255+u*153,255+u*83]:[255-u*77,255-u*231,255-u*212];
}
function fmt(v){return v===null?'NaN':(Math.abs(v)>=1e4||(v!==0&&Math.abs(v)<1e-3)?v.toExponential(3):v.toFixed(4));}
document.querySelectorAll('canvas[data-act]').forEach(function(cv){
  var a=D.acts[cv.dataset.act];if(!a)return;
  var attn=a.shape.length===3,h=+(cv.dataset.head||0);
  var rows=attn?a.shape[1]:a.shape[0],cols=attn?a.shape[2]:a.shape[1],off=attn?h*rows*cols:0;
  var s=0,i;
  if(!attn){for(i=0;i<rows*cols;i++)if(a.data[i]!==null)s=Math.max(s,Math.abs(a.data[i]));}
  if(!s)s=1;
  var cw=attn?Math.max(6,Math.min(28,Math.floor(300/cols))):Math.max(1,Math.min(14,Math.floor(880/cols)));
  var ch=attn?cw:Math.max(3,Math.min(16,Math.floor(480/rows)));
  var gx=90,W=cols*cw,H=rows*ch;
  cv.width=gx+W;cv.height=H;
  var g=cv.getContext('2d'),img=g.createImageData(W,H);
  for(var r=0;r<rows;r++)for(var c=0;c<cols;c++){
    var col=rgb(a.data[off+r*cols+c],s,attn);
    for(var y=r*ch;y<(r+1)*ch;y++)for(var x=c*cw;x<(c+1)*cw;x++){
      var k=4*(y*W+x);img.data[k]=col[0];img.data[k+1]=col[1];img.data[k+2]=col[2];img.data[k+3]=255;}
  }
  g.putImageData(img,gx,0);
  if(ch>=9){g.font='11px ui-monospace,monospace';g.textAlign='right';g.fillStyle='#333';
    for(r=0;r<rows;r++)g.fillText(JSON.stringify(D.tokens[r]).slice(1,-1).slice(0,10),gx-4,r*ch+ch-2);}
  var fc=cv.parentNode.querySelector('figcaption');
  if(!attn&&fc){var sp=document.createElement('span');sp.className='small';sp.textContent=' scale ±'+fmt(s);fc.appendChild(sp);}
  cv.addEventListener('mousemove',function(e){
    var b=cv.getBoundingClientRect(),x=(e.clientX-b.left)*cv.width/b.width-gx,y=(e.clientY-b.top)*cv.height/b.height;
    var c=Math.floor(x/cw),r=Math.floor(y/ch);
    if(c<0||c>=cols||r<0||r>=rows){tip.style.display='none';return;}
    var v=a.data[off+r*cols+c];
    tip.textContent='t='+r+' '+JSON.stringify(D.tokens[r])+(attn?' attends to t='+c+' '+JSON.stringify(D.tokens[c]):' ['+c+']')+': '+fmt(v);
    tip.style.display='block';tip.style.left=(e.pageX+14)+'px';tip.style.top=(e.pageY+10)+'px';
  });
  cv.addEventListener('mouseleave',function(){tip.style.display='none';});
});
})();`
