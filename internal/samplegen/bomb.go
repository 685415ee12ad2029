package samplegen

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
)

// Bomb is a hostile workbook: valid in every part but one, Part, which is
// Head, then Fill repeated up to Size bytes, then Tail. A sheet of 2 GiB of
// zeros is about 2 MB on disk. It is written as a stream: the repeated
// filler is deflated once and its compressed bytes repeated, so a bomb of
// any size costs a few milliseconds and a few megabytes.
type Bomb struct {
	Part       string // default xl/worksheets/sheet1.xml; or xl/sharedStrings.xml, xl/styles.xml…
	Head, Tail string
	Fill       []byte // default "0"
	Size       int64  // unpacked size of Part, Head and Tail included
}

// SheetHead is the start of a worksheet up to its first row.
const SheetHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`

// smallBook are the parts of a one-sheet workbook (sheet "Sheet1", one
// shared string), around the bomb's part.
var smallBook = map[string]string{
	"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`,
	"_rels/.rels": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
	"xl/workbook.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`,
	"xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`,
	"xl/worksheets/sheet1.xml": SheetHead + `<row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>`,
	"xl/sharedStrings.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>declaration_id</t></si></sst>`,
}

// Write writes the workbook to w.
func (b Bomb) Write(w io.Writer) error {
	if b.Part == "" {
		b.Part = "xl/worksheets/sheet1.xml"
	}
	if len(b.Fill) == 0 {
		b.Fill = []byte("0")
	}
	fill := b.Size - int64(len(b.Head)+len(b.Tail))
	if fill < 0 {
		return errors.New("bomb: Size is smaller than Head and Tail")
	}
	zw := zip.NewWriter(w)
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"} {
		if name == b.Part {
			continue
		}
		pw, err := zw.Create(name)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(pw, smallBook[name]); err != nil {
			return err
		}
	}
	var body bytes.Buffer // the compressed part, but for the repeated chunks
	crc := crc32.NewIEEE()
	fw, _ := flate.NewWriter(&body, flate.BestCompression)
	put := func(p []byte) error {
		crc.Write(p)
		_, err := fw.Write(p)
		return err
	}
	if err := put([]byte(b.Head)); err != nil {
		return err
	}
	// Chunks of whole fillers, deflated until the compressed chunk repeats
	// (the window then holds nothing but filler): from there every chunk
	// compresses to the same bytes, which are counted, not written.
	chunk := bytes.Repeat(b.Fill, max(1, (1<<20)/len(b.Fill)))
	if err := fw.Flush(); err != nil {
		return err
	}
	var last, same []byte
	var repeats int64
	for fill >= int64(len(chunk)) {
		fill -= int64(len(chunk))
		if same != nil {
			crc.Write(chunk)
			repeats++
			continue
		}
		n := body.Len()
		if err := put(chunk); err != nil {
			return err
		}
		if err := fw.Flush(); err != nil {
			return err
		}
		c := body.Bytes()[n:]
		if bytes.Equal(last, c) {
			same = last
		}
		last = append(last[:0:0], c...)
	}
	head := append([]byte(nil), body.Bytes()...)
	body.Reset()
	if err := put(chunk[:fill]); err != nil {
		return err
	}
	if err := put([]byte(b.Tail)); err != nil {
		return err
	}
	if err := fw.Close(); err != nil {
		return err
	}
	pw, err := zw.CreateRaw(&zip.FileHeader{
		Name: b.Part, Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64:   uint64(len(head)) + uint64(repeats)*uint64(len(same)) + uint64(body.Len()),
		UncompressedSize64: uint64(b.Size),
	})
	if err != nil {
		return err
	}
	if _, err := pw.Write(head); err != nil {
		return err
	}
	for range repeats {
		if _, err := pw.Write(same); err != nil {
			return err
		}
	}
	if _, err := pw.Write(body.Bytes()); err != nil {
		return err
	}
	return zw.Close()
}
