package declare

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// idSet is an exact set of short strings (declaration and customer ids),
// each with a 32-bit value, compact enough for millions of ids: an
// open-addressing table of 8-byte slots (32 bits of the id's hash, the offset
// of the id in an arena) over an arena holding each value and id. A slot
// whose hash bits match is confirmed against the arena, so a collision never
// confuses two ids. A new id costs one slot read and write, in one cache
// line most often; Go's map cost about twice that at a million ids.
type idSet struct {
	seed  maphash.Seed
	slots []uint64 // 0: empty; else hash32<<32 | arena offset
	n     int
	arena []byte            // at each offset: value (4 bytes, little endian), length (1 byte), the id
	over  map[string]uint32 // ids of 256 bytes or more, and all once the arena reaches 4 GiB
}

const maxArena = 1<<32 - 1<<10

func newIDSet(expected int) *idSet {
	size := 1 << 10
	if expected > 0 {
		size = max(size, 1<<bits.Len(uint(expected*2)))
	}
	arena := make([]byte, 1, max(expected, 1<<10)*12)
	return &idSet{seed: maphash.MakeSeed(), slots: make([]uint64, size), arena: arena} // offset 0 is never an id's, so no slot is 0
}

// holds reports whether the arena holds id at off; the conversion in the
// comparison does not allocate.
func (s *idSet) holds(off uint32, id string) bool {
	n := uint32(s.arena[off+4])
	return string(s.arena[off+5:off+5+n]) == id
}

func (s *idSet) value(off uint32) uint32 { return binary.LittleEndian.Uint32(s.arena[off:]) }

// hash is id's hash in s; safe to call from any goroutine.
func (s *idSet) hash(id string) uint32 { return uint32(maphash.String(s.seed, id) >> 32) }

// touch loads the slot where a probe for hash f starts. Loads of many slots
// in a row overlap in the CPU, where one probe after another waits for
// memory each time: the finishing stage touches a batch's slots first,
// then probes them from cache (the table is too large for any cache).
func (s *idSet) touch(f uint32) uint64 { return s.slots[f&uint32(len(s.slots)-1)] }

// get returns the value of id.
func (s *idSet) get(id string) (uint32, bool) { return s.getHashed(id, s.hash(id)) }

// getHashed is get with id's hash already computed.
func (s *idSet) getHashed(id string, f uint32) (uint32, bool) {
	if len(id) > 255 || s.over != nil {
		if v, ok := s.over[id]; ok {
			return v, true
		}
		if len(id) > 255 {
			return 0, false
		}
	}
	mask := uint32(len(s.slots) - 1)
	for i := f & mask; ; i = (i + 1) & mask {
		e := s.slots[i]
		if e == 0 {
			return 0, false
		}
		if uint32(e>>32) == f && s.holds(uint32(e), id) {
			return s.value(uint32(e)), true
		}
	}
}

// add records id with value v unless present; it reports whether it added.
func (s *idSet) add(id string, v uint32) bool {
	_, existed := s.put(id, v)
	return !existed
}

// addHashed is add with id's hash already computed.
func (s *idSet) addHashed(id string, f, v uint32) bool {
	_, existed := s.putHashed(id, f, v)
	return !existed
}

// put records id with value v unless present, in one probe sequence; it
// returns the value already recorded, if any.
func (s *idSet) put(id string, v uint32) (uint32, bool) { return s.putHashed(id, s.hash(id), v) }

// putHashed is put with id's hash already computed.
func (s *idSet) putHashed(id string, f, v uint32) (uint32, bool) {
	if len(id) > 255 || len(s.arena) >= maxArena {
		if old, ok := s.get(id); ok {
			return old, true
		}
		if s.over == nil {
			s.over = map[string]uint32{}
		}
		s.over[id] = v
		return 0, false
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint32(len(s.slots) - 1)
	for i := f & mask; ; i = (i + 1) & mask {
		e := s.slots[i]
		if e == 0 {
			off := uint32(len(s.arena))
			s.arena = binary.LittleEndian.AppendUint32(s.arena, v)
			s.arena = append(s.arena, byte(len(id)))
			s.arena = append(s.arena, id...)
			s.slots[i] = uint64(f)<<32 | uint64(off)
			s.n++
			return 0, false
		}
		if uint32(e>>32) == f && s.holds(uint32(e), id) {
			return s.value(uint32(e)), true
		}
	}
}

// grow doubles the table; slots move by the hash bits they keep.
func (s *idSet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	mask := uint32(len(s.slots) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := uint32(e>>32) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = e
	}
}
