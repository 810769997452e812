package trainer

// The layers of GPT-2, forward and backward, in model order: the CPU reference.
//
// Every function is generic over float32 and float64. The model runs them in float32; the
// gradient tests run the very same code in float64, where finite differences are exact enough
// to check every gradient to 1e-6, so the checked code and the running code cannot drift apart.
// Matrix products go through gemm, which is the vectorised sgemm for float32 and the plain
// triple loop for float64.
//
// Rows (the B*T positions) are independent in most layers, so they are split across cores
// with parallelFor; sums over rows (parameter gradients) are split by column instead, so that
// no two goroutines add into the same value and results do not depend on scheduling. The first
// argument says over how many cores (allCores, or oneCore for a part of a batch that already
// runs on a core of its own).

import "math"

// Float is the element type of the layers: float32 to train, float64 to check gradients.
type Float interface{ float32 | float64 }

// ----------------------------------------------------------------------------
// encoder: token plus position embedding

// encoderForward: out (B,T,C) = wte[tokens[b,t]] + wpe[t]; tokens (B,T), wte (V,C), wpe (maxT,C).
func encoderForward[F Float](on cores, out []F, tokens []int32, wte, wpe []F, B, T, C int) {
	parallelFor(on, B*T, B*T*C, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			o := out[bt*C : (bt+1)*C]
			e := wte[int(tokens[bt])*C:][:C]
			p := wpe[(bt%T)*C:][:C]
			for i := range o {
				o[i] = e[i] + p[i]
			}
		}
	})
}

// encoderBackward: dwte (V,C) and dwpe (maxT,C) += dout (B,T,C) gathered back by token and position.
func encoderBackward[F Float](on cores, dwte, dwpe []F, dout []F, tokens []int32, B, T, C int) {
	parallelFor(on, C, B*T*C, func(lo, hi int) { // by column: tokens repeat
		for bt := range B * T {
			d := dout[bt*C:][:C]
			e := dwte[int(tokens[bt])*C:][:C]
			p := dwpe[(bt%T)*C:][:C]
			for i := lo; i < hi; i++ {
				e[i] += d[i]
				p[i] += d[i]
			}
		}
	})
}

// ----------------------------------------------------------------------------
// layernorm

const layerNormEps = 1e-5

// layernormForward: out (N,C) = (inp - mean) * rstd * weight + bias, per row of inp (N,C);
// mean, rstd (N) are kept for the backward pass.
func layernormForward[F Float](on cores, out, mean, rstd []F, inp, weight, bias []F, N, C int) {
	parallelFor(on, N, 4*N*C, func(lo, hi int) {
		w, b := weight[:C], bias[:C]
		for r := lo; r < hi; r++ {
			x, o := inp[r*C:][:C], out[r*C:][:C]
			m := sum4(x) / F(C)
			v := sumSq4(x, m) / F(C)
			s := F(1 / math.Sqrt(float64(v)+layerNormEps))
			for i, xi := range x {
				o[i] = (xi-m)*s*w[i] + b[i]
			}
			mean[r], rstd[r] = m, s
		}
	})
}

// sum4 is Σ x, and sumSq4 Σ (x − m)², in four running sums so that the additions overlap
// instead of waiting for each other.
func sum4[F Float](x []F) F {
	var s0, s1, s2, s3 F
	for len(x) >= 4 {
		s0, s1, s2, s3 = s0+x[0], s1+x[1], s2+x[2], s3+x[3]
		x = x[4:]
	}
	for _, xi := range x {
		s0 += xi
	}
	return (s0 + s1) + (s2 + s3)
}

func sumSq4[F Float](x []F, m F) F {
	var s0, s1, s2, s3 F
	for len(x) >= 4 {
		d0, d1, d2, d3 := x[0]-m, x[1]-m, x[2]-m, x[3]-m
		s0, s1, s2, s3 = s0+d0*d0, s1+d1*d1, s2+d2*d2, s3+d3*d3
		x = x[4:]
	}
	for _, xi := range x {
		s0 += (xi - m) * (xi - m)
	}
	return (s0 + s1) + (s2 + s3)
}

// layernormBackward adds the gradient of inp to dinp (N,C), and of weight, bias (C) to
// dweight, dbias.
func layernormBackward[F Float](on cores, dinp, dweight, dbias []F, dout, inp, weight, mean, rstd []F, N, C int) {
	parallelFor(on, N, 8*N*C, func(lo, hi int) {
		w := weight[:C]
		for r := lo; r < hi; r++ {
			x, d, di := inp[r*C:][:C], dout[r*C:][:C], dinp[r*C:][:C]
			m, s := mean[r], rstd[r]
			// the two reductions: mean of dnorm and of dnorm·norm, each in two running sums
			var dm0, dm1, dn0, dn1 F
			i := 0
			for ; i+2 <= C; i += 2 {
				a, b := w[i]*d[i], w[i+1]*d[i+1]
				dm0, dm1 = dm0+a, dm1+b
				dn0, dn1 = dn0+a*(x[i]-m)*s, dn1+b*(x[i+1]-m)*s
			}
			if i < C {
				a := w[i] * d[i]
				dm0, dn0 = dm0+a, dn0+a*(x[i]-m)*s
			}
			dnormMean, dnormNormMean := (dm0+dm1)/F(C), (dn0+dn1)/F(C)
			for i, xi := range x {
				norm := (xi - m) * s
				dnorm := w[i] * d[i]
				di[i] += (dnorm - dnormMean - norm*dnormNormMean) * s
			}
		}
	})
	parallelFor(on, C, 3*N*C, func(lo, hi int) { // by column, two rows at a time
		dw, db := dweight[lo:hi], dbias[lo:hi]
		for r := 0; r < N; r += 2 {
			x0, d0 := inp[r*C+lo:][:len(dw)], dout[r*C+lo:][:len(dw)]
			m0, s0 := mean[r], rstd[r]
			if r+1 == N {
				for i := range dw {
					dw[i] += (x0[i] - m0) * s0 * d0[i]
					db[i] += d0[i]
				}
				break
			}
			x1, d1 := inp[(r+1)*C+lo:][:len(dw)], dout[(r+1)*C+lo:][:len(dw)]
			m1, s1 := mean[r+1], rstd[r+1]
			for i := range dw {
				dw[i] += (x0[i]-m0)*s0*d0[i] + (x1[i]-m1)*s1*d1[i]
				db[i] += d0[i] + d1[i]
			}
		}
	})
}

// ----------------------------------------------------------------------------
// matmul, in Hugging Face's Conv1D layout: weight (C,OC)

// matmulForward: out (N,OC) = inp (N,C) · weight (C,OC) + bias (OC).
func matmulForward[F Float](on cores, out []F, inp, weight, bias []F, N, C, OC int) {
	parallelFor(on, N, N*OC, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(out[r*OC:(r+1)*OC], bias)
		}
	})
	gemm(on, out, OC, inp, C, false, weight, OC, false, N, OC, C, true)
}

// matmulBackward: dinp (N,C) = dout (N,OC) · weightᵀ; dweight (C,OC) += inpᵀ · dout;
// dbias (OC) += the column sums of dout.
func matmulBackward[F Float](on cores, dinp, dweight, dbias []F, dout, inp, weight []F, N, C, OC int) {
	gemm(on, dinp, C, dout, OC, false, weight, OC, true, N, C, OC, false)
	gemm(on, dweight, OC, inp, C, true, dout, OC, false, C, OC, N, true)
	parallelFor(on, OC, N*OC, func(lo, hi int) { // by column, four rows at a time
		db := dbias[lo:hi]
		r := 0
		for ; r+4 <= N; r += 4 {
			d0, d1 := dout[r*OC+lo:][:len(db)], dout[(r+1)*OC+lo:][:len(db)]
			d2, d3 := dout[(r+2)*OC+lo:][:len(db)], dout[(r+3)*OC+lo:][:len(db)]
			for o := range db {
				db[o] += (d0[o] + d1[o]) + (d2[o] + d3[o])
			}
		}
		for ; r < N; r++ {
			for o, x := range dout[r*OC+lo:][:len(db)] {
				db[o] += x
			}
		}
	})
}

// ----------------------------------------------------------------------------
// attention

// attentionForward: causal self-attention. qkv (B,T,3C) holds q, k, v side by side, each
// (B,T,NH,hs); per batch row b and head h,
//
//	att (T,T) = softmax(q kᵀ / √hs) over the keys t2 ≤ t, 0 above the diagonal
//	out (T,hs) = att · v
//
// out is (B,T,C) with the heads side by side; att (B,NH,T,T) is kept for the backward pass.
// The products go attnChunk rows at a time, each only as far right as the diagonal.
func attentionForward[F Float](on cores, out, att []F, qkv []F, B, T, C, NH int) {
	hs := C / NH
	scale := F(1 / math.Sqrt(float64(hs)))
	exp := expOf[F]()
	parallelFor(on, B*NH, 4*B*T*T*C, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			q := qkv[b*T*3*C+h*hs:]       // (T,hs), row stride 3C
			k := qkv[b*T*3*C+C+h*hs:]     // (T,hs), row stride 3C
			v := qkv[b*T*3*C+2*C+h*hs:]   // (T,hs), row stride 3C
			a := att[bh*T*T : (bh+1)*T*T] // (T,T)
			o := out[b*T*C+h*hs:]         // (T,hs), row stride C
			for r0 := 0; r0 < T; r0 += attnChunk {
				r1 := min(r0+attnChunk, T)
				// att[r0:r1, :r1] = q[r0:r1] · k[:r1]ᵀ, then softmax; out[r0:r1] = att[r0:r1, :r1] · v[:r1]
				gemm(oneCore, a[r0*T:], T, q[r0*3*C:], 3*C, false, k, 3*C, true, r1-r0, r1, hs, false)
				for t := r0; t < r1; t++ {
					softmaxCausalRow(a[t*T:(t+1)*T], t, scale, exp)
				}
				gemm(oneCore, o[r0*C:], C, a[r0*T:], T, false, v, 3*C, false, r1-r0, hs, r1, false)
			}
		}
	})
}

// attnChunk is the rows of attention computed at a time: smaller skips more of the zeros above
// the diagonal, larger makes longer products.
var attnChunk = 64

// softmaxCausalRow turns row (T) of q·k into softmax(scale·row) over row[:t+1], and zeroes the rest.
func softmaxCausalRow[F Float](row []F, t int, scale F, exp func(F) F) {
	maxv := maxOf(row[:t+1])
	var sum F
	if r, ok := any(row).([]float32); ok && expSumVec != nil {
		sum = F(expSumVec(r[:t+1], r[:t+1], float32(scale), float32(scale*maxv)))
	} else {
		for i := range t + 1 {
			e := exp(scale * (row[i] - maxv))
			row[i] = e
			sum += e
		}
	}
	inv := 1 / sum
	for i := range t + 1 {
		row[i] *= inv
	}
	clear(row[t+1:])
}

// maxOf is the largest of x (at least one value), in four running maxima so that the
// comparisons overlap instead of waiting for each other.
func maxOf[F Float](x []F) F {
	m0, m1, m2, m3 := x[0], x[0], x[0], x[0]
	for len(x) >= 4 {
		m0, m1, m2, m3 = max(m0, x[0]), max(m1, x[1]), max(m2, x[2]), max(m3, x[3])
		x = x[4:]
	}
	for _, xi := range x {
		m0 = max(m0, xi)
	}
	return max(m0, m1, m2, m3)
}

// attentionBackward: dqkv (B,T,3C) from dout (B,T,C), with qkv and att from the forward pass.
// Per batch row and head:
//
//	datt = dout · vᵀ          dv = attᵀ · dout
//	dpre = att ⊙ (datt − Σ att⊙datt) / √hs   (softmax backward, row by row)
//	dq = dpre · k             dk = dpreᵀ · q
//
// by chunks of rows (datt, dq) and of columns (dv, dk) that stop at the diagonal.
func attentionBackward[F Float](on cores, dqkv []F, dout, qkv, att []F, B, T, C, NH int) {
	hs := C / NH
	scale := F(1 / math.Sqrt(float64(hs)))
	parallelFor(on, B*NH, 8*B*T*T*C, func(lo, hi int) {
		dpre := make([]F, T*T) // (T,T) scratch: datt, then dpre in place
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b * T * 3 * C
			q, k, v := qkv[base+h*hs:], qkv[base+C+h*hs:], qkv[base+2*C+h*hs:]       // (T,hs), stride 3C
			dq, dk, dv := dqkv[base+h*hs:], dqkv[base+C+h*hs:], dqkv[base+2*C+h*hs:] // (T,hs), stride 3C
			a := att[bh*T*T : (bh+1)*T*T]                                            // (T,T)
			do := dout[b*T*C+h*hs:]                                                  // (T,hs), stride C
			for r0 := 0; r0 < T; r0 += attnChunk {
				r1 := min(r0+attnChunk, T)
				// datt[r0:r1, :r1] = dout[r0:r1] · v[:r1]ᵀ
				gemm(oneCore, dpre[r0*T:], T, do[r0*C:], C, false, v, 3*C, true, r1-r0, r1, hs, false)
				for t := r0; t < r1; t++ {
					ar, dr := a[t*T:t*T+t+1], dpre[t*T:(t+1)*T]
					var dot F
					for i, ai := range ar {
						dot += ai * dr[i]
					}
					for i, ai := range ar {
						dr[i] = ai * (dr[i] - dot) * scale
					}
					clear(dr[t+1:])
				}
				// dq[r0:r1] = dpre[r0:r1, :r1] · k[:r1]
				gemm(oneCore, dq[r0*3*C:], 3*C, dpre[r0*T:], T, false, k, 3*C, false, r1-r0, hs, r1, false)
			}
			for c0 := 0; c0 < T; c0 += attnChunk {
				c1 := min(c0+attnChunk, T)
				// dv[c0:c1] = att[c0:, c0:c1]ᵀ · dout[c0:]; dk[c0:c1] = dpre[c0:, c0:c1]ᵀ · q[c0:]
				gemm(oneCore, dv[c0*3*C:], 3*C, a[c0*T+c0:], T, true, do[c0*C:], C, false, c1-c0, hs, T-c0, false)
				gemm(oneCore, dk[c0*3*C:], 3*C, dpre[c0*T+c0:], T, true, q[c0*3*C:], 3*C, false, c1-c0, hs, T-c0, false)
			}
		}
	})
}

// ----------------------------------------------------------------------------
// gelu

var geluScale = math.Sqrt(2 / math.Pi)

// geluForward: out (N) = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))), GPT-2's GELU. In float32
// it runs 8 values at a time where the CPU can (geluVec).
func geluForward[F Float](on cores, out []F, inp []F, N int) {
	tanh, s := tanhOf[F](), F(geluScale)
	parallelFor(on, N, 20*N, func(lo, hi int) {
		if o, ok := any(out).([]float32); ok && geluVec != nil {
			geluVec(o[lo:hi], any(inp).([]float32)[lo:hi])
			lo += (hi - lo) &^ 7
		}
		for i := lo; i < hi; i++ {
			x := inp[i]
			out[i] = 0.5 * x * (1 + tanh(s*(x+0.044715*x*x*x)))
		}
	})
}

// geluBackward: dinp (N) = gelu'(inp) · dout; dinp may be dout.
func geluBackward[F Float](on cores, dinp []F, inp, dout []F, N int) {
	tanh, s := tanhOf[F](), F(geluScale)
	parallelFor(on, N, 30*N, func(lo, hi int) {
		if d, ok := any(dinp).([]float32); ok && geluBackwardVec != nil {
			geluBackwardVec(d[lo:hi], any(inp).([]float32)[lo:hi], any(dout).([]float32)[lo:hi])
			lo += (hi - lo) &^ 7
		}
		for i := lo; i < hi; i++ {
			x := inp[i]
			th := tanh(s * (x + 0.044715*x*x*x))
			sech2 := 1 - th*th
			local := 0.5*(1+th) + 0.5*x*sech2*s*(1+3*0.044715*x*x)
			dinp[i] = local * dout[i]
		}
	})
}

// ----------------------------------------------------------------------------
// residual

// residualForward: out (N) = a + b.
func residualForward[F Float](on cores, out []F, a, b []F, N int) {
	parallelFor(on, N, N, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = a[i] + b[i]
		}
	})
}

// ----------------------------------------------------------------------------
// output layer, tied to the token embedding, and the loss

// logitsForward: logits (N,V) = inp (N,C) · wteᵀ, wte (V,C).
func logitsForward[F Float](on cores, logits []F, inp, wte []F, N, C, V int) {
	gemm(on, logits, V, inp, C, false, wte, C, true, N, V, C, false)
}

// logitsBackward: dinp (N,C) = dlogits (N,V) · wte; dwte (V,C) += dlogitsᵀ · inp.
func logitsBackward[F Float](on cores, dinp, dwte []F, dlogits, inp, wte []F, N, C, V int) {
	gemm(on, dinp, C, dlogits, V, false, wte, C, false, N, C, V, false)
	gemm(on, dwte, C, dlogits, V, true, inp, C, false, V, C, N, true)
}

// crossEntropyForward: probs (N,V) = softmax(logits (N,V)) per row, and
// losses (N) = −log probs[target] = log Σ exp(logits) − logits[target]; a negative target
// (ignored, as PyTorch's ignore_index) has loss 0.
func crossEntropyForward[F Float](on cores, losses, probs []F, logits []F, targets []int32, N, V int) {
	exp := expOf[F]()
	parallelFor(on, N, 20*N*V, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x, p := logits[r*V:(r+1)*V], probs[r*V:(r+1)*V]
			maxv := maxOf(x)
			var sum F
			if p32, ok := any(p).([]float32); ok && expSumVec != nil {
				sum = F(expSumVec(p32, any(x).([]float32), 1, float32(maxv)))
			} else {
				for i, xi := range x {
					e := exp(xi - maxv)
					p[i] = e
					sum += e
				}
			}
			inv := 1 / sum
			for i := range p {
				p[i] *= inv
			}
			if targets[r] < 0 {
				losses[r] = 0
				continue
			}
			losses[r] = F(math.Log(float64(sum))) + maxv - x[targets[r]]
		}
	})
}

// crossEntropyBackward: dlogits (N,V) = scale · (probs − onehot(targets)), and 0 in the rows of
// ignored (negative) targets; dlogits may be probs.
func crossEntropyBackward[F Float](on cores, dlogits []F, probs []F, targets []int32, scale F, N, V int) {
	parallelFor(on, N, N*V, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			p, d := probs[r*V:(r+1)*V], dlogits[r*V:(r+1)*V]
			if targets[r] < 0 {
				clear(d)
				continue
			}
			for i, pi := range p {
				d[i] = scale * pi
			}
			d[targets[r]] -= scale
		}
	})
}

// ----------------------------------------------------------------------------
// optimizer

// sumSquares is Σ x² in float64, over fixed chunks so that the result does not depend on the
// number of cores.
func sumSquares[F Float](on cores, x []F) float64 {
	const chunk = 1 << 16
	parts := make([]float64, (len(x)+chunk-1)/chunk)
	parallelFor(on, len(parts), len(x), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			y := x[c*chunk : min((c+1)*chunk, len(x))]
			var s0, s1, s2, s3 F // four running sums, so that the additions overlap
			for len(y) >= 4 {
				s0, s1, s2, s3 = s0+y[0]*y[0], s1+y[1]*y[1], s2+y[2]*y[2], s3+y[3]*y[3]
				y = y[4:]
			}
			for _, yi := range y {
				s0 += yi * yi
			}
			parts[c] = float64((s0 + s1) + (s2 + s3))
		}
	})
	var s float64
	for _, p := range parts {
		s += p
	}
	return s
}

// adamW updates params (n) with grads (n) and the moments m, v (n) in place: AdamW with
// decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW computes it. In float32
// it runs 8 values at a time where the CPU can (adamWVec), with the same bits.
func adamW[F Float](on cores, params, m, v []F, grads []F, a AdamWStep) {
	b1, b2 := float64(a.Beta1), float64(a.Beta2)
	inv1 := F(1 / (1 - math.Pow(b1, float64(a.Step)))) // bias corrections
	inv2 := F(1 / (1 - math.Pow(b2, float64(a.Step))))
	lr, wd, eps, gs := F(a.LR), F(a.WeightDecay), F(a.Eps), F(a.GradScale)
	fb1, fb2 := F(b1), F(b2)
	var k [adamWConstN][8]float32
	for i, c := range [adamWConstN]F{gs, fb1, 1 - fb1, fb2, 1 - fb2, inv1, inv2, eps, wd, lr} {
		for j := range k[i] {
			k[i][j] = float32(c)
		}
	}
	parallelFor(on, len(params), 10*len(params), func(lo, hi int) {
		if p, ok := any(params).([]float32); ok && adamWVec != nil {
			adamWVec(p[lo:hi], any(m).([]float32)[lo:hi], any(v).([]float32)[lo:hi], any(grads).([]float32)[lo:hi], &k)
			lo += (hi - lo) &^ 7
		}
		for i := lo; i < hi; i++ {
			g := grads[i] * gs
			m[i] = fb1*m[i] + (1-fb1)*g
			v[i] = fb2*v[i] + (1-fb2)*g*g
			mhat, vhat := m[i]*inv1, v[i]*inv2
			params[i] -= lr * (mhat/(F(math.Sqrt(float64(vhat)))+eps) + wd*params[i])
		}
	})
}

// adamWVec, where the CPU has it (simd_amd64.go), is adamW's loop in float32 over the longest
// prefix whose length is a multiple of 8, with the constants k: grad scale, β1, 1−β1, β2, 1−β2,
// the two bias corrections, ε, weight decay, learning rate, each repeated across 8 lanes.
var adamWVec func(params, m, v, grads []float32, k *[adamWConstN][8]float32)

const adamWConstN = 10

// attentionDecode is attention for the one new position t of a sequence whose earlier keys and
// values are in kcache, vcache (maxT,C) (see Backend.AttentionDecode): it appends position t's
// key and value from qkv (3C), then per head h
//
//	a[s] = q_h · k_h[s] / √hs for s ≤ t;  a = softmax(a);  out_h = Σ_s a[s] v_h[s]
//
// att (NH,maxT) holds the weights. Model.Sample's KV cache calls it once per layer a token.
func attentionDecode[F Float](out, att, kcache, vcache, qkv []F, t, maxT, C, NH int) {
	hs := C / NH
	scale := F(1 / math.Sqrt(float64(hs)))
	exp := expOf[F]()
	copy(kcache[t*C:(t+1)*C], qkv[C:2*C])
	copy(vcache[t*C:(t+1)*C], qkv[2*C:3*C])
	for h := range NH {
		q, a := qkv[h*hs:(h+1)*hs], att[h*maxT:h*maxT+t+1]
		maxv := F(math.Inf(-1))
		for s := range a {
			var dot F
			for i, qi := range q {
				dot += qi * kcache[s*C+h*hs+i]
			}
			a[s] = dot * scale
			maxv = max(maxv, a[s])
		}
		var sum F
		for s := range a {
			a[s] = exp(a[s] - maxv)
			sum += a[s]
		}
		o := out[h*hs : (h+1)*hs]
		clear(o)
		for s, as := range a {
			as /= sum
			for i := range o {
				o[i] += as * vcache[s*C+h*hs+i]
			}
		}
	}
}
