package shard

import "math/bits"

// permutation is a pseudo-random permutation of [0, n) that is computed at
// any index without being stored, so that it costs the same memory for a
// thousand windows as for a billion: a balanced Feistel network on the
// smallest even number of bits that covers n, applied again while its value
// is n or more ("cycle walking", which stays a bijection of [0, n)). The
// domain is less than 4n, so a value takes fewer than four applications on
// average.
//
// Each of the rounds mixes one half with a key drawn from (seed, epoch) by
// splitmix64, so a seed and an epoch give the same order on every machine
// and Go version. Checkpoints resume by it: changing it changes the batches
// of every saved run (TestPermutationGolden pins it).
type permutation struct {
	n     uint64
	half  uint   // bits in a half
	mask  uint64 // (1<<half) - 1
	keys  [feistelRounds]uint64
	ident bool
}

const feistelRounds = 6

// newPermutation is the order of n items for seed and epoch.
func newPermutation(n, seed, epoch uint64) permutation {
	b := uint(2)
	if n > 4 {
		b = uint(bits.Len64(n - 1))
		b += b & 1
	}
	p := permutation{n: n, half: b / 2, mask: 1<<(b/2) - 1}
	k := splitmix(splitmix(seed) ^ epoch)
	for i := range p.keys {
		k = splitmix(k + uint64(i))
		p.keys[i] = k
	}
	return p
}

// identity is the permutation that leaves [0, n) in order.
func identity(n uint64) permutation { return permutation{n: n, ident: true} }

// at returns the item at position i < n.
func (p *permutation) at(i uint64) uint64 {
	if p.ident {
		return i
	}
	x := p.feistel(i)
	for x >= p.n {
		x = p.feistel(x)
	}
	return x
}

// feistel is a bijection of [0, 2^(2·half)).
func (p *permutation) feistel(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for _, k := range p.keys {
		l, r = r, l^(splitmix(r^k)&p.mask)
	}
	return l<<p.half | r
}

// splitmix is the output function of splitmix64 (Steele, Lea and Flood):
// a bijection of 64-bit words whose every output bit depends on every
// input bit.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
