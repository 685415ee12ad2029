package tabular

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/samplegen"
)

// writeBomb writes b to a temporary .xlsx, streaming.
func writeBomb(t *testing.T, b samplegen.Bomb) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bomb.xlsx")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := b.Write(f); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWorkbookBombsAreRefusedQuickly: workbooks that unpack to a little
// under the 2 GiB limit, or hold one row, text or tag far beyond a record,
// are refused before excelize reads them, each with its own located
// problem, in well under a second of reading. Before, the sheet of 2 GiB of
// zeros took 60 s and 4 GB and was "the file is empty".
func TestWorkbookBombsAreRefusedQuickly(t *testing.T) {
	t.Parallel()
	const huge = 2<<30 - 16<<20
	row1 := samplegen.SheetHead + `<row r="1"><c r="A1"><v>`
	cases := []struct {
		name string
		bomb samplegen.Bomb
		lim  Limits
		code problem.Code
		line int
		want string
	}{
		{"a sheet of zeros", samplegen.Bomb{Size: huge}, Limits{}, CodeWorkbookRowTooLarge, 0, "sheet Sheet1 holds more than 1024 KB of text or markup in one piece (before its first row)"},
		{"zeros after the start of a sheet", samplegen.Bomb{Head: samplegen.SheetHead, Size: huge}, Limits{}, CodeWorkbookRowTooLarge, 0, "more than 1024 KB of text or markup"},
		{"NUL bytes", samplegen.Bomb{Head: samplegen.SheetHead, Fill: []byte{0}, Size: huge}, Limits{}, CodeWorkbookRowTooLarge, 0, "more than 1024 KB"},
		{"a cell of 100 MiB", samplegen.Bomb{Head: row1, Tail: `</v></c></row></sheetData></worksheet>`, Size: 100 << 20}, Limits{}, CodeWorkbookRowTooLarge, 1,
			"row 1 of sheet Sheet1 holds more than 1024 KB: the workbook is damaged or not a spreadsheet export; save it again from Excel"},
		{"a row of a million cells", samplegen.Bomb{Head: samplegen.SheetHead + `<row r="1">`, Fill: []byte(`<c><v>1</v></c>`), Size: huge}, Limits{}, CodeWorkbookRowTooLarge, 1, "row 1 of sheet Sheet1 holds more than 1024 KB"},
		{"cells after the end of a row", samplegen.Bomb{Head: samplegen.SheetHead + `<row r="1"></row>`, Fill: []byte(`<c><v>1</v></c>`), Size: huge}, Limits{}, CodeWorkbookRowTooLarge, 1, "row 1 of sheet Sheet1"},
		{"a row over a smaller record limit", samplegen.Bomb{Head: samplegen.SheetHead + `<row r="1"><c t="inlineStr"><is><t>x</t></is></c></row><row r="2">`, Fill: []byte(`<c><v>1</v></c>`), Size: 1 << 20}, Limits{MaxRecordBytes: 4 << 10, MaxFieldBytes: 1 << 10}, CodeWorkbookRowTooLarge, 2, "row 2 of sheet Sheet1 holds more than 4 KB"},
		{"an attribute of zeros", samplegen.Bomb{Head: samplegen.SheetHead + `<row r="1"><c r="`, Size: huge}, Limits{}, CodeWorkbookRowTooLarge, 1, "row 1"},
		{"a comment of 2 GiB", samplegen.Bomb{Head: samplegen.SheetHead + `<!--`, Fill: []byte("-> "), Size: huge}, Limits{}, CodeWorkbookRowTooLarge, 0, "in one piece"},
		{"nesting", samplegen.Bomb{Head: samplegen.SheetHead, Fill: []byte("<a>"), Size: huge}, Limits{}, CodeWorkbookDamaged, 0, "nests its XML more than 100 levels deep"},
		{"a shared string of 100 MiB", samplegen.Bomb{Part: "xl/sharedStrings.xml", Head: `<sst><si><t>`, Size: 100 << 20}, Limits{}, CodeWorkbookRowTooLarge, 0, "text 1 of the workbook's shared strings holds more than 1024 KB"},
		{"too many shared strings", samplegen.Bomb{Part: "xl/sharedStrings.xml", Head: `<sst>`, Fill: []byte(`<si/>`), Size: huge}, Limits{}, CodeWorkbookTooLarge, 0, "more than 2000000 different texts (its shared strings), the most accepted"},
		{"a workbook part held in memory", samplegen.Bomb{Part: "xl/workbook.xml", Head: `<workbook>`, Fill: []byte(" "), Size: 40 << 20}, Limits{}, CodeWorkbookTooLarge, 0, "xl/workbook.xml unpacks to 40 MB, more than the 16 MB accepted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := writeBomb(t, c.bomb)
			start := time.Now()
			s := readBook(t, p, Options{Limits: c.lim})
			if len(s.probs) != 1 || s.probs[0].Code != c.code || s.probs[0].Scope != problem.ScopeFile || s.probs[0].Pos.File != "bomb.xlsx" ||
				s.probs[0].Pos.Line != c.line || !strings.Contains(s.probs[0].Message, c.want) {
				t.Fatalf("%+v", s.probs)
			}
			t.Logf("%s in %v", s.probs[0].Message, time.Since(start))
			if c.code != CodeWorkbookTooLarge && s.probs[0].Pos.Sheet != "Sheet1" {
				t.Errorf("not located on its sheet: %+v", s.probs[0].Pos)
			}
			if d := time.Since(start); d > 10*time.Second { // well under a second alone; the machine is shared
				t.Errorf("refused in %v", d)
			}
		})
	}
}

// patchCentral sets the 32-bit field at off (16 CRC-32, 20 compressed
// size, 24 size) of the central directory entry of part name.
func patchCentral(t *testing.T, book []byte, name string, off int, v func(uint32) uint32) []byte {
	t.Helper()
	b := bytes.Clone(book)
	for i := 0; ; i += 4 {
		j := bytes.Index(b[i:], []byte("PK\x01\x02"))
		if j < 0 {
			t.Fatalf("no part %s", name)
		}
		i += j
		if n := int(binary.LittleEndian.Uint16(b[i+28:])); string(b[i+46:i+46+n]) == name {
			binary.LittleEndian.PutUint32(b[i+off:], v(binary.LittleEndian.Uint32(b[i+off:])))
			return b
		}
	}
}

// TestDamagedWorkbooks: a real workbook with bytes patched the ways
// transfers and broken writers damage files is refused as damaged, naming
// the part; before, it was read as if whole, or was "the file is empty".
func TestDamagedWorkbooks(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("../../samples/drops/telco-fr/07_declarations_2026-10.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	sheet, sst := "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"
	flip := func(b []byte, name string) []byte { // a byte of the part's compressed data
		zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		for _, e := range zr.File {
			if e.Name == name {
				off, _ := e.DataOffset()
				b = bytes.Clone(b)
				b[off+int64(e.CompressedSize64/2)] ^= 0x55
			}
		}
		return b
	}
	crc := func(v uint32) uint32 { return v ^ 1 }
	cases := []struct {
		name string
		book []byte
		want string
	}{
		{"the sheet's CRC", patchCentral(t, good, sheet, 16, crc), "its part xl/worksheets/sheet1.xml does not match its checksum"},
		{"the shared strings' CRC", patchCentral(t, good, sst, 16, crc), "its part xl/sharedStrings.xml does not match its checksum"},
		{"the workbook's CRC", patchCentral(t, good, "xl/workbook.xml", 16, crc), "its part xl/workbook.xml does not match its checksum"},
		{"the content types' CRC", patchCentral(t, good, "[Content_Types].xml", 16, crc), "its part [Content_Types].xml does not match its checksum"},
		{"a sheet that inflates past its size", patchCentral(t, good, sheet, 24, func(v uint32) uint32 { return v - 10 }), "unpacks to more than the 1609 bytes it declares"},
		{"a sheet shorter than its size", patchCentral(t, good, sheet, 24, func(v uint32) uint32 { return v + 10 }), "unpacks to less than the 1629 bytes it declares"},
		{"a byte of the sheet's data", flip(good, sheet), "its part xl/worksheets/sheet1.xml"},
	}
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), "ventes.xlsx")
		if err := os.WriteFile(p, c.book, 0o600); err != nil {
			t.Fatal(err)
		}
		s := readBook(t, p, Options{})
		if len(s.probs) != 1 || s.probs[0].Code != CodeWorkbookDamaged || s.probs[0].Scope != problem.ScopeFile ||
			!strings.Contains(s.probs[0].Message, c.want) || !strings.Contains(s.probs[0].Message, "open it in Excel and save it again") {
			t.Errorf("%s: %+v", c.name, s.probs)
		} else {
			t.Logf("%s: %s", c.name, s.probs[0].Message)
		}
	}
	// Unpatched, the same workbook reads whole.
	p := filepath.Join(t.TempDir(), "ventes.xlsx")
	_ = os.WriteFile(p, good, 0o600)
	if s := readBook(t, p, Options{}); len(s.probs) != 0 || len(s.rows) < 3 {
		t.Fatalf("%v %v", s.rows, s.probs)
	}
}

// TestDamagedSheetXML: a sheet whose XML breaks off (a character XML does
// not allow, a sheet cut short) is refused at its end; excelize stops there
// as if the sheet had ended. A part whose CRC-32 is given as 0 is checked
// all the same (archive/zip skips it).
func TestDamagedSheetXML(t *testing.T) {
	t.Parallel()
	rows := func(body string) string { return samplegen.SheetHead + body }
	r := func(n int) string {
		return `<row r="` + string(rune('0'+n)) + `"><c t="inlineStr"><is><t>v</t></is></c></row>`
	}
	cases := []struct {
		name, sheet, want string
	}{
		{"a control character", rows(r(1) + r(2) + `<row r="3"><c t="inlineStr"><is><t>a` + "\x01" + `</t></is></c></row>` + r(4) + `</sheetData></worksheet>`), "sheet S cannot be read past row 3 of its 4"},
		{"a mismatched tag", rows(r(1) + `<row r="2"><c></row>` + r(3) + `</sheetData></worksheet>`), "cannot be read past row 2 of its 3"},
		{"cut short", rows(r(1) + r(2) + `<row r="3"><c t="inlineStr"><is><t>trunc`), "stops in the middle of row 3, cut short"},
	}
	for _, c := range cases {
		p := writeZip(t, map[string][]byte{
			"[Content_Types].xml":        []byte(`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>`),
			"_rels/.rels":                []byte(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`),
			"xl/workbook.xml":            []byte(`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`),
			"xl/_rels/workbook.xml.rels": []byte(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`),
			"xl/worksheets/sheet1.xml":   []byte(c.sheet),
		})
		s := readBook(t, p, Options{})
		last := s.probs
		if len(last) == 0 || last[len(last)-1].Code != CodeWorkbookDamaged || !strings.Contains(last[len(last)-1].Message, c.want) {
			t.Errorf("%s: %d rows, %+v", c.name, len(s.rows), s.probs)
		}
	}

	// A stored part with a CRC-32 of 0 and no data descriptor.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	good, _ := os.ReadFile("../../samples/drops/telco-fr/07_declarations_2026-10.xlsx")
	zr, _ := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	for _, e := range zr.File {
		if e.Name != "xl/worksheets/sheet1.xml" {
			_ = zw.Copy(e)
			continue
		}
		rc, _ := e.Open()
		var data bytes.Buffer
		_, _ = data.ReadFrom(rc)
		rc.Close()
		w, _ := zw.CreateRaw(&zip.FileHeader{Name: e.Name, Method: zip.Store, CompressedSize64: uint64(data.Len()), UncompressedSize64: uint64(data.Len())})
		_, _ = w.Write(data.Bytes())
	}
	_ = zw.Close()
	p := filepath.Join(t.TempDir(), "ventes.xlsx")
	_ = os.WriteFile(p, buf.Bytes(), 0o600)
	if s := readBook(t, p, Options{}); len(s.probs) != 1 || s.probs[0].Code != CodeWorkbookDamaged || !strings.Contains(s.probs[0].Message, "does not match its checksum") {
		t.Fatalf("a CRC of 0: %+v", s.probs)
	}
}

// TestScanCountsExcelizeRows: on every sheet of the real workbooks, the scan
// counts the rows excelize's iterator gives, so that a sheet excelize stops
// reading early (at an XML error) is told from its end.
func TestScanCountsExcelizeRows(t *testing.T) {
	t.Parallel()
	books, _ := filepath.Glob(filepath.Join(workbooks, "*.xlsx"))
	if len(books) == 0 {
		t.Skip("../shared/external not present")
	}
	books = append(books, "../../samples/drops/telco-fr/07_declarations_2026-10.xlsx", "../../samples/drops/cable-be/02_ventes_2026-10.xlsx")
	for _, path := range books {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		zr, _ := triageZip(f, fi.Size(), DefaultLimits)
		first, p := locateParts(zr, "", DefaultLimits)
		if p != nil {
			t.Fatalf("%s: %s", path, p.msg)
		}
		for _, sheet := range first.sheets {
			bp, p := locateParts(zr, sheet, DefaultLimits)
			if p != nil || bp.sheet == nil {
				t.Fatalf("%s %s: %v", path, sheet, p)
			}
			s := newSheetScan(DefaultLimits)
			rc, _ := bp.sheet.Open()
			if err := s.scan(rc, func([]byte) {}); err != nil || !s.rowsKnown {
				t.Fatalf("%s %s: %v, rows known %v", path, sheet, err, s.rowsKnown)
			}
			rc.Close()
			got := readBook(t, path, Options{Sheet: sheet})
			lines := 0
			x, ok := got.r.(*xlsxReader)
			if ok {
				lines = x.line
			}
			for _, p := range got.probs {
				ok = ok && p.Code != CodeWorkbookDamaged
			}
			if !ok || lines != s.rows {
				t.Errorf("%s %s: excelize gave %d rows, the scan counts %d (%v)", filepath.Base(path), sheet, lines, s.rows, got.probs)
			}
		}
		f.Close()
	}
}
