package tabular

import (
	"archive/zip"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// scanAll scans data whole, then again cut in pieces of every size up to
// 9 bytes: the outcome must not depend on where reads end.
func scanAll(t *testing.T, data string, lim Limits, sheet bool) *partScan {
	t.Helper()
	mk := func() *partScan {
		if sheet {
			return newSheetScan(lim)
		}
		return newStringsScan(lim)
	}
	whole := mk()
	_ = whole.feed([]byte(data))
	for n := 1; n <= 9; n++ {
		s := mk()
		for i := 0; i < len(data) && s.err == nil; i += n {
			_ = s.feed([]byte(data[i:min(i+n, len(data))]))
		}
		if !sameScan(whole, s) {
			t.Fatalf("%q in pieces of %d: %+v %+v, whole: %+v %+v", data, n, s, s.err, whole, whole.err)
		}
	}
	return whole
}

func sameScan(a, b *partScan) bool {
	if (a.err == nil) != (b.err == nil) || a.err != nil && *a.err != *b.err {
		return false
	}
	return a.err != nil || a.records == b.records && a.rows == b.rows && a.rowsKnown == b.rowsKnown && a.depth == b.depth && a.state == b.state
}

func TestPartScan(t *testing.T) {
	t.Parallel()
	lim := Limits{MaxRecordBytes: 64, MaxSharedStrings: 3}.withDefaults()
	big := strings.Repeat("0", 65)
	cases := []struct {
		name, xml string
		sheet     bool
		what      string // limit gone over, "" for none
		row       int    // row it is in or after
		rows      int    // rows excelize should give
		known     bool
	}{
		{"rows", `<?xml version="1.0"?><worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row><row><c/></row><row r="5"/></sheetData></worksheet>`, true, "", 0, 5, true},
		{"prefixed", `<x:worksheet><x:sheetData><x:row r="2"></x:row></x:sheetData><x:row r="99"/></x:worksheet>`, true, "", 0, 2, true},
		{"rows out of order merge", `<sheetData><row r="5"/><row r="3"/></sheetData>`, true, "", 0, 5, true},
		{"row number excelize reads otherwise", `<sheetData><row r="&#49;"/></sheetData>`, true, "", 0, 1, false},
		{"markup that is not a tag", `<sheetData><!-- <row> --><![CDATA[<row>]]><?pi <row> ?><row r="1" a='>' b=">"/></sheetData>`, true, "", 0, 1, true},
		{"text too long", `<worksheet>` + big, true, "run", 0, 0, false},
		{"text after a row too long", `<sheetData><row r="7"/></sheetData>` + big, true, "run", 7, 0, false},
		{"tag too long", `<worksheet a="` + big + `"/>`, true, "run", 0, 0, false},
		{"quoted > does not end a tag", `<worksheet a="` + strings.Repeat(">", 65) + `"/>`, true, "run", 0, 0, false},
		{"comment too long", `<!--` + big + `-->`, true, "run", 0, 0, false},
		{"row too long", `<sheetData><row r="3"><c><v>` + strings.Repeat("1", 40) + `</v></c><c><v>1</v></c></row>`, true, "record", 3, 0, false},
		{"cells after </row> are the row's", `<sheetData><row r="1"></row>` + strings.Repeat("<c><v>1</v></c>", 5), true, "record", 1, 0, false},
		{"row ends at the next row", `<sheetData><row r="1">` + strings.Repeat("<c/>", 10) + `<row r="2">` + strings.Repeat("<c/>", 10) + `</sheetData>`, true, "", 0, 2, true},
		{"too deep", strings.Repeat("<a>", maxXMLDepth+1), true, "depth", 0, 0, false},
		{"deep but closed", strings.Repeat("<a><b/></a>", 200), true, "", 0, 0, true},
		{"strings", `<sst><si><t>a</t></si><si><r><t>b</t></r></si><si/></sst>`, false, "", 0, 0, false},
		{"too many strings", `<sst><si/><si/><si/><si/></sst>`, false, "records", 0, 0, false},
		{"string too long", `<sst><si><t>` + strings.Repeat("a", 30) + `</t><t>` + strings.Repeat("a", 30) + `</t></si></sst>`, false, "record", 0, 0, false},
	}
	for _, c := range cases {
		s := scanAll(t, c.xml, lim, c.sheet)
		switch {
		case c.what == "" && s.err != nil:
			t.Errorf("%s: %v", c.name, s.err)
		case c.what != "" && (s.err == nil || s.err.what != c.what || s.err.row != c.row):
			t.Errorf("%s: %+v, want %s at row %d", c.name, s.err, c.what, c.row)
		case c.what == "" && c.sheet && (s.rows != c.rows || s.rowsKnown != c.known):
			t.Errorf("%s: %d rows (known %v), want %d (%v)", c.name, s.rows, s.rowsKnown, c.rows, c.known)
		}
	}
}

// FuzzPartScan: however a part is cut into reads, the scan ends the same.
func FuzzPartScan(f *testing.F) {
	books, _ := filepath.Glob(workbooks + "/*.xlsx")
	for _, p := range books {
		zr, err := zip.OpenReader(p)
		if err != nil {
			continue
		}
		for _, e := range zr.File {
			if strings.HasPrefix(e.Name, "xl/worksheets/") || strings.HasSuffix(e.Name, "sharedStrings.xml") {
				rc, _ := e.Open()
				b, _ := io.ReadAll(io.LimitReader(rc, 4<<10))
				rc.Close()
				f.Add(b, uint8(7))
			}
		}
		zr.Close()
	}
	f.Add([]byte(`<sheetData><!-- > --><![CDATA[ ]] > ]]><row r='1' a=">"/><?x ? > ?></sheetData>`), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		lim := Limits{MaxRecordBytes: 256, MaxSharedStrings: 20}.withDefaults()
		for _, sheet := range []bool{true, false} {
			mk := func() *partScan {
				if sheet {
					return newSheetScan(lim)
				}
				return newStringsScan(lim)
			}
			whole, pieces := mk(), mk()
			_ = whole.feed(data)
			n := int(cut%16) + 1
			for i := 0; i < len(data) && pieces.err == nil; i += n {
				_ = pieces.feed(data[i:min(i+n, len(data))])
			}
			if !sameScan(whole, pieces) {
				t.Fatalf("pieces of %d: %+v %+v; whole: %+v %+v", n, pieces, pieces.err, whole, whole.err)
			}
		}
	})
}
