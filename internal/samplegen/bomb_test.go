package samplegen

import (
	"archive/zip"
	"bytes"
	"io"
	"testing"
)

// A bomb is what it says: its big part unpacks, with a right CRC, to exactly
// Head, the filler and Tail.
func TestBombUnpacksToItsSize(t *testing.T) {
	t.Parallel()
	for _, b := range []Bomb{
		{Head: SheetHead, Size: 64 << 20},
		{Head: SheetHead + `<row r="1"><c r="A1"><v>`, Tail: `</v></c></row></sheetData></worksheet>`, Size: 3<<20 + 17},
		{Part: "xl/sharedStrings.xml", Head: `<sst>`, Fill: []byte(`<si><t>x</t></si>`), Tail: `</sst>`, Size: 5 << 20},
		{Size: 100},
	} {
		var buf bytes.Buffer
		if err := b.Write(&buf); err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		part := b.Part
		if part == "" {
			part = "xl/worksheets/sheet1.xml"
		}
		rc, err := zr.Open(part)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		if err != nil || int64(len(data)) != b.Size || !bytes.HasPrefix(data, []byte(b.Head)) || !bytes.HasSuffix(data, []byte(b.Tail)) {
			t.Fatalf("%s: %d bytes (want %d), %v", part, len(data), b.Size, err)
		}
		fill := b.Fill
		if fill == nil {
			fill = []byte("0")
		}
		if mid := data[len(b.Head) : len(data)-len(b.Tail)]; len(mid) > 0 && !bytes.Equal(mid, bytes.Repeat(fill, len(mid)/len(fill)+1)[:len(mid)]) {
			t.Fatalf("%s: filler differs", part)
		}
		t.Logf("%s: %d bytes on disk for %d", part, buf.Len(), b.Size)
	}
}
