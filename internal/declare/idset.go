package declare

import (
	"encoding/binary"
	"hash/maphash"
	"maps"
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
	slots []uint64          // 0: empty; tombstone: removed; else hash32<<32 | arena offset
	n     int               // slots in use, tombstones included
	dead  int               // tombstones
	arena []byte            // at each offset: value (4 bytes, little endian), length (1 byte), the id
	over  map[string]uint32 // ids of 256 bytes or more, and all once the arena reaches 4 GiB
}

const maxArena = 1<<32 - 1<<10

// tombstone is the slot of a removed id: offset 0 is never an id's, and
// probes go on past it. The set is rebuilt when they outnumber the ids.
const tombstone = 1 << 32

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
	if i := s.find(id, f); i >= 0 {
		return s.value(uint32(s.slots[i])), true
	}
	return 0, false
}

// find returns the slot of id, whose hash is f, or -1.
func (s *idSet) find(id string, f uint32) int {
	mask := uint32(len(s.slots) - 1)
	for i := f & mask; ; i = (i + 1) & mask {
		e := s.slots[i]
		if e == 0 {
			return -1
		}
		if uint32(e>>32) == f && uint32(e) != 0 && s.holds(uint32(e), id) {
			return int(i)
		}
	}
}

// remove forgets id; it returns the value it had.
func (s *idSet) remove(id string) (uint32, bool) {
	if v, ok := s.over[id]; ok {
		delete(s.over, id)
		return v, true
	}
	if len(id) > 255 {
		return 0, false
	}
	i := s.find(id, s.hash(id))
	if i < 0 {
		return 0, false
	}
	v := s.value(uint32(s.slots[i]))
	s.slots[i] = tombstone
	s.dead++
	if s.dead > 1<<12 && 2*s.dead > s.n {
		s.rebuild(len(s.slots))
	}
	return v, true
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
			s.insertAt(i, f, v, id)
			return 0, false
		}
		if uint32(e>>32) == f && uint32(e) != 0 && s.holds(uint32(e), id) {
			return s.value(uint32(e)), true
		}
	}
}

// insertAt stores id with hash f and value v in the empty slot i.
func (s *idSet) insertAt(i, f, v uint32, id string) {
	off := uint32(len(s.arena))
	s.arena = binary.LittleEndian.AppendUint32(s.arena, v)
	s.arena = append(s.arena, byte(len(id)))
	s.arena = append(s.arena, id...)
	s.slots[i] = uint64(f)<<32 | uint64(off)
	s.n++
}

// grow doubles the table (or rebuilds it at its size when removed ids fill it).
func (s *idSet) grow() {
	if 2*s.dead > s.n {
		s.rebuild(len(s.slots))
		return
	}
	s.rebuild(2 * len(s.slots))
}

// rebuild moves the ids to a table of size slots, and to a new arena if
// some were removed (their bytes stay behind).
func (s *idSet) rebuild(size int) {
	old, arena, keepArena := s.slots, s.arena, s.dead == 0
	s.slots, s.n, s.dead = make([]uint64, size), 0, 0
	if !keepArena {
		s.arena = make([]byte, 1, len(arena)/2+1)
	}
	mask := uint32(size - 1)
	for _, e := range old {
		if e == 0 || uint32(e) == 0 {
			continue
		}
		i := uint32(e>>32) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		if !keepArena {
			off := uint32(e)
			entry := arena[off : off+5+uint32(arena[off+4])] // value, length, id
			e = e&^(1<<32-1) | uint64(len(s.arena))
			s.arena = append(s.arena, entry...)
		}
		s.slots[i] = e
		s.n++
	}
}

// churnMap is a map that entries leave as others arrive (a prescanned
// file's window of ids): it is copied afresh once more entries have left
// than remain, so that its memory follows what it holds.
type churnMap[K comparable, V any] struct {
	m       map[K]V
	removed int
}

func (c *churnMap[K, V]) remove(k K) {
	if _, ok := c.m[k]; !ok {
		return
	}
	delete(c.m, k)
	c.removed++
	if c.removed > 1<<12 && c.removed > len(c.m) {
		fresh := make(map[K]V, len(c.m)) // a clone would keep the old capacity
		maps.Copy(fresh, c.m)
		c.m, c.removed = fresh, 0
	}
}
