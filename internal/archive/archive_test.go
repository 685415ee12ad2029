package archive

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestPutIsContentAddressed(t *testing.T) {
	t.Parallel()
	s := &Store{Dir: t.TempDir()}
	b1, err := s.Put(strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := s.Put(strings.NewReader("hello"))
	if b1 != b2 || b1.Hex() != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Fatalf("%v %v", b1.Hex(), b2.Hex())
	}
	f, _ := s.Open(b1)
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != "hello" {
		t.Fatal(string(got))
	}
	if left, _ := os.ReadDir(s.Dir + "/tmp"); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
