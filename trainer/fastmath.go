package trainer

import "math"

// Elementwise functions in float32 that are faster than converting to float64 for package
// math, and accurate to a few float32 ulps (TestFastMath). The layers take them through
// expOf and tanhOf, so float64 (the gradient checks) keeps package math's exact ones.

// expOf is e^x for F: exp32 for float32, math.Exp for float64.
func expOf[F Float]() func(F) F {
	var z F
	if _, ok := any(z).(float32); ok {
		return any(exp32).(func(F) F)
	}
	return func(x F) F { return F(math.Exp(float64(x))) }
}

// tanhOf is tanh for F: tanh32 for float32, math.Tanh for float64.
func tanhOf[F Float]() func(F) F {
	var z F
	if _, ok := any(z).(float32); ok {
		return any(tanh32).(func(F) F)
	}
	return func(x F) F { return F(math.Tanh(float64(x))) }
}

// exp32 is e^x: x = n ln2 + r with |r| ≤ ln2/2 (ln2 split in two, Cody and Waite), e^r by its
// Taylor polynomial to r⁷, then 2ⁿ put into the exponent bits. Results below 2⁻¹²⁶ flush to 0.
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	switch {
	case x > 88.7:
		return float32(math.Inf(1))
	case x < -87.3:
		return 0
	case x != x:
		return x
	}
	t := x*log2e + 0.5
	n := int32(t)
	if t < float32(n) { // floor, for negative t
		n--
	}
	fn := float32(n)
	r := x - fn*ln2hi - fn*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// The rational function of tanh32: the minimax fit that Eigen uses for float, odd numerator
// of degree 13 over even denominator of degree 6, and where tanh rounds to ±1 in float32.
const (
	tanhA1, tanhA3, tanhA5, tanhA7 = 4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08
	tanhA9, tanhA11, tanhA13       = -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16
	tanhB0, tanhB2, tanhB4, tanhB6 = 4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06
	tanhClamp                      = 7.90531110763549805
)

// tanh32 is tanh x as x·p(x²)/q(x²), and exactly ±1 past the clamp, so that GELU's
// derivative, which has 1 − tanh², is 0 there as it should be.
func tanh32(x float32) float32 {
	switch {
	case x >= tanhClamp:
		return 1
	case x <= -tanhClamp:
		return -1
	case x < 0.0004 && x > -0.0004:
		return x
	}
	x2 := x * x
	p := float32(tanhA13)
	p = p*x2 + tanhA11
	p = p*x2 + tanhA9
	p = p*x2 + tanhA7
	p = p*x2 + tanhA5
	p = p*x2 + tanhA3
	p = p*x2 + tanhA1
	q := float32(tanhB6)
	q = q*x2 + tanhB4
	q = q*x2 + tanhB2
	q = q*x2 + tanhB0
	return x * p / q
}

// geluVec and geluBackwardVec, where the CPU has them (simd_amd64.go), compute geluForward and
// geluBackward in float32 over the longest prefix whose length is a multiple of 8.
var (
	geluVec         func(out, inp []float32)
	geluBackwardVec func(dinp, inp, dout []float32)
)

// geluConsts are the constants of the vectorised GELU, each repeated across 8 lanes, in the
// order gelu_amd64.s reads them.
const geluConstN = 19

var geluConsts = func() (k [geluConstN][8]float32) {
	const s, c = 0.7978845608028654, 0.044715 // √(2/π), GELU's cubic coefficient
	vals := [geluConstN]float32{s, s * c, tanhClamp, -tanhClamp,
		tanhA13, tanhA11, tanhA9, tanhA7, tanhA5, tanhA3, tanhA1,
		tanhB6, tanhB4, tanhB2, tanhB0, 0.5, 1, 3 * s * c, -1}
	for i, v := range vals {
		for j := range k[i] {
			k[i][j] = v
		}
	}
	return k
}()

// expSumVec, where the CPU has it (simd_amd64.go), sets dst[i] = e^(scale·src[i] − shift) and
// returns their sum, 8 values at a time: the softmaxes' inner loop.
var expSumVec func(dst, src []float32, scale, shift float32) float32

// expConsts are the constants of the vectorised exp32, each repeated across 8 lanes, in the
// order exp_amd64.s reads them; the last is the integer 127, the exponent bias.
const expConstN = 13

var expConsts = func() (k [expConstN][8]float32) {
	vals := [expConstN]float32{1.44269504088896341, 0.693359375, -2.12194440e-4,
		1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1,
		88.7, -87.3, math.Float32frombits(127)}
	for i, v := range vals {
		for j := range k[i] {
			k[i][j] = v
		}
	}
	return k
}()
