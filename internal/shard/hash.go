package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"slices"
	"strings"
)

// View is one membership: the identities of the live members, sorted.
type View []string

// NewView returns the view of members, sorted and without duplicates.
func NewView(members ...string) View {
	v := slices.Clone(members)
	slices.Sort(v)
	return slices.Compact(v)
}

// ID is the view's short name, the value a member publishes to say it acts on the view.
func (v View) ID() string {
	if len(v) == 0 {
		return ""
	}
	h := sha256.Sum256([]byte(strings.Join(v, "\n")))
	return hex.EncodeToString(h[:8])
}

// Owner is the member of v that owns key: the highest rendezvous weight, so that a member
// leaving moves only its own keys, and a member joining takes about 1/N of everyone's. Empty
// when v is.
func (v View) Owner(key string) string {
	var best string
	var bestW uint64
	for _, m := range v {
		if w := weight(m, key); best == "" || w > bestW || (w == bestW && m > best) {
			best, bestW = m, w
		}
	}
	return best
}

// weight is the rendezvous weight of member for key: FNV-1a, then a 64-bit finaliser so that
// keys and members that differ in a few bytes spread evenly.
func weight(member, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(member))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb93fe53e3dc3
	x ^= x >> 33
	return x
}
