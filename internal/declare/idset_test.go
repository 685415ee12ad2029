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
	// Force a collision: two ids under one hash must stay distinct.
	s2 := newIDSet(0)
	s2.add("a", 1)
	h := maphash.String(s2.seed, "a")
	s2.m[maphash.String(s2.seed, "b")] = s2.m[h] // "b" now looks like it collides with "a"
	if !s2.add("b", 2) {
		t.Fatal("colliding id not added")
	}
	if v, ok := s2.get("b"); !ok || v != 2 {
		t.Fatalf("colliding id: %d %v", v, ok)
	}
	if v, _ := s2.get("a"); v != 1 {
		t.Fatal("original id lost")
	}
}
