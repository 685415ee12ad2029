package declare

import "hash/maphash"

// idSet is an exact set of short strings (declaration and customer ids),
// each with a 32-bit value, compact enough for millions of ids: a map from a
// 64-bit hash to an offset into an arena holding the ids themselves. A hash
// match is confirmed against the arena, so a collision never confuses two
// ids; the rare colliding id lives in a small overflow map.
type idSet struct {
	seed  maphash.Seed
	m     map[uint64]uint64 // hash -> arena offset<<32 | value
	arena []byte            // length-prefixed ids
	over  map[string]uint32
}

func newIDSet(expected int) *idSet {
	return &idSet{seed: maphash.MakeSeed(), m: make(map[uint64]uint64, expected/4), arena: make([]byte, 0, expected*12)}
}

// holds reports whether the arena holds id at off; the conversion in the
// comparison does not allocate.
func (s *idSet) holds(off uint32, id string) bool {
	n := uint32(s.arena[off])
	return string(s.arena[off+1:off+1+n]) == id
}

// get returns the value of id.
func (s *idSet) get(id string) (uint32, bool) {
	e, ok := s.m[maphash.String(s.seed, id)]
	if !ok {
		return 0, false
	}
	if s.holds(uint32(e>>32), id) {
		return uint32(e), true
	}
	v, ok := s.over[id]
	return v, ok
}

// add records id with value v unless present; it reports whether it added.
func (s *idSet) add(id string, v uint32) bool {
	_, existed := s.put(id, v)
	return !existed
}

// put records id with value v unless present, in one probe; it returns the
// value already recorded, if any.
func (s *idSet) put(id string, v uint32) (uint32, bool) {
	h := maphash.String(s.seed, id)
	e, taken := s.m[h]
	if !taken && len(id) < 256 && len(s.arena) < 1<<32-300 {
		off := uint32(len(s.arena))
		s.arena = append(s.arena, byte(len(id)))
		s.arena = append(s.arena, id...)
		s.m[h] = uint64(off)<<32 | uint64(v)
		return 0, false
	}
	if taken && s.holds(uint32(e>>32), id) {
		return uint32(e), true
	}
	if old, dup := s.over[id]; dup {
		return old, true
	}
	if s.over == nil {
		s.over = map[string]uint32{}
	}
	s.over[id] = v
	return 0, false
}
