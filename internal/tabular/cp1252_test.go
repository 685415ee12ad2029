package tabular

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"golang.org/x/text/encoding/charmap"
)

// TestCP1252MatchesXText: the fast Windows-1252 decoder gives exactly what
// x/text's does, for every byte and for a mixed stream read in odd sizes.
func TestCP1252MatchesXText(t *testing.T) {
	var all []byte
	for b := range 256 {
		all = append(all, byte(b))
	}
	in := bytes.Repeat(append(all, "Société Générale; 1.234,50 €\r\n"...), 3000)
	want, err := charmap.Windows1252.NewDecoder().Bytes(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(iotest.OneByteReader(newCP1252Reader(iotest.HalfReader(bytes.NewReader(in)))))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("decoded %d bytes, want %d (err %v)", len(got), len(want), err)
	}
}
