package declare

import (
	"fmt"
	"hash/maphash"
	"testing"
)

func TestIDSetIsExact(t *testing.T) {
	t.Parallel()
	s := newIDSet(0)
	for i := range 100000 {
		if !s.add(fmt.Sprintf("ID-%d", i), uint32(i)) {
			t.Fatalf("ID-%d reported present", i)
		}
	}
	if s.add("ID-42", 7) {
		t.Fatal("duplicate added")
	}
	if v, ok := s.get("ID-42"); !ok || v != 42 {
		t.Fatalf("get: %d %v", v, ok)
	}
	if _, ok := s.get("ID-100000"); ok {
		t.Fatal("absent id found")
	}
	// Force a collision: a slot with the hash bits of "b" that points at
	// "a" must not make "b" present, and both must stay distinct.
	s2 := newIDSet(0)
	s2.add("a", 1)
	fb := uint32(maphash.String(s2.seed, "b") >> 32)
	for i, e := range s2.slots {
		if e != 0 {
			s2.slots[i] = 0
			s2.slots[fb&uint32(len(s2.slots)-1)] = uint64(fb)<<32 | uint64(uint32(e))
		}
	}
	if _, ok := s2.get("b"); ok {
		t.Fatal("a colliding slot made b present")
	}
	if !s2.add("b", 2) {
		t.Fatal("colliding id not added")
	}
	if v, ok := s2.get("b"); !ok || v != 2 {
		t.Fatalf("colliding id: %d %v", v, ok)
	}
	// "a" now sits in a slot of another hash: it is not found by its own,
	// which is what the forged slot means; its value is still in the arena.
	if v := s2.value(1); v != 1 {
		t.Fatal("original value lost")
	}
	// Growth keeps every id, and ids of 256 bytes or more live apart.
	s3 := newIDSet(1)
	long := string(make([]byte, 300))
	for i := range 5000 {
		s3.add(fmt.Sprintf("G-%d", i), uint32(i))
	}
	if !s3.add(long, 9) || s3.add(long, 10) {
		t.Fatal("long id")
	}
	for i := range 5000 {
		if v, ok := s3.get(fmt.Sprintf("G-%d", i)); !ok || v != uint32(i) {
			t.Fatalf("G-%d lost in growth", i)
		}
	}
	if v, ok := s3.get(long); !ok || v != 9 {
		t.Fatal("long id lost")
	}
}

// BenchmarkIDSet1M fills a set sized for a million ids the way a file's
// in-order stage does: the slots of a batch touched first, then put.
func BenchmarkIDSet1M(b *testing.B) {
	ids := make([]string, 1_000_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("GEN-%d", i+1)
	}
	for b.Loop() {
		s := newIDSet(len(ids))
		hs := make([]uint32, 512)
		var warm uint64
		for i := 0; i < len(ids); i += 512 {
			batch := ids[i:min(i+512, len(ids))]
			for j, id := range batch {
				hs[j] = s.hash(id)
				warm += s.touch(hs[j])
			}
			for j, id := range batch {
				s.putHashed(id, hs[j], uint32(i+j))
			}
		}
		_ = warm
	}
}

// TestIDSetRemove: ids removed are gone, the others stay, through the
// rebuilds that removals and growth bring, with a sliding window of ids as
// a prescanned file keeps them.
func TestIDSetRemove(t *testing.T) {
	t.Parallel()
	s := newIDSet(0)
	const window = 1000
	for i := range 200_000 {
		if !s.add(fmt.Sprintf("ID-%d", i), uint32(i)) {
			t.Fatalf("ID-%d reported present", i)
		}
		if i >= window {
			old := fmt.Sprintf("ID-%d", i-window)
			if v, ok := s.remove(old); !ok || v != uint32(i-window) {
				t.Fatalf("remove %s: %d %v", old, v, ok)
			}
			if _, ok := s.get(old); ok {
				t.Fatalf("%s still present", old)
			}
			if _, ok := s.remove(old); ok {
				t.Fatalf("%s removed twice", old)
			}
		}
		if i%997 == 0 {
			for j := max(0, i-window+1); j <= i; j += 37 {
				if v, ok := s.get(fmt.Sprintf("ID-%d", j)); !ok || v != uint32(j) {
					t.Fatalf("ID-%d lost at %d: %d %v", j, i, v, ok)
				}
			}
		}
	}
	if len(s.slots) > 8*window || len(s.arena) > 64*window {
		t.Fatalf("a window of %d ids takes %d slots and %d arena bytes", window, len(s.slots), len(s.arena))
	}
}
