package tabular

import (
	"bufio"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestNumberCellsMatchExcelize checks the cell-type scanner against
// excelize's own GetCellType on every cell of the real workbooks and of one
// made the way a clerk makes it (ids typed as numbers, some as text).
func TestNumberCellsMatchExcelize(t *testing.T) {
	t.Parallel()
	made := excelize.NewFile()
	rows := [][]any{{"customer_id", "qty", "note"}, {123, 2, "x"}, {"00123", "3", 4.5}, {nil, 7, nil}, {98765432109876, "", true}}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := made.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	_ = made.SetCellFormula("Sheet1", "D2", "B2*2")
	mine := filepath.Join(t.TempDir(), "made.xlsx")
	if err := made.SaveAs(mine); err != nil {
		t.Fatal(err)
	}
	books, _ := filepath.Glob(filepath.Join(workbooks, "*.xlsx"))
	books = append(books, mine, "../../samples/drops/telco-fr/07_declarations_2026-10.xlsx", "../../samples/drops/cable-be/02_ventes_2026-10.xlsx")
	for _, path := range books {
		book, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, sheet := range book.GetSheetList() {
			got := readBook(t, path, Options{Sheet: sheet})
			seen := 0
			for line, cells := range got.rows {
				for col, v := range cells {
					if v == "" || col >= 64 {
						continue
					}
					ref, _ := excelize.CoordinatesToCellName(col+1, line)
					typ, err := book.GetCellType(sheet, ref)
					if err != nil {
						t.Fatal(err)
					}
					want := typ == excelize.CellTypeUnset || typ == excelize.CellTypeNumber
					if bit := got.nums[line]&(1<<col) != 0; bit != want {
						t.Errorf("%s %s!%s (%q): number cell %v, excelize says type %v", filepath.Base(path), sheet, ref, v, bit, typ)
					}
					if want {
						seen++
					}
				}
			}
			t.Logf("%s %s: %d number cells", filepath.Base(path), sheet, seen)
		}
		book.Close()
	}
	got := readBook(t, mine, Options{})
	if got.nums[2] != 0b11 || got.nums[3] != 0b100 || got.nums[4] != 0b10 || got.nums[5] != 0b1 { // D2 is a formula with no cached value yet
		t.Errorf("made workbook: number masks %b %b %b %b", got.nums[2], got.nums[3], got.nums[4], got.nums[5])
	}
}

// TestNumberCellsScannerSyntax feeds the scanner the XML that other writers
// produce: prefixed elements, no r attributes, comments, CDATA, self-closing
// cells and rows, quotes holding '>'.
func TestNumberCellsScannerSyntax(t *testing.T) {
	t.Parallel()
	xml := `<?xml version="1.0"?><x:worksheet xmlns:x="urn"><x:sheetData>` +
		`<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="C1"><x:v>12</x:v></x:c></x:row>` +
		`<!-- <row r="2"><c r="A2"><v>1</v></c></row> -->` +
		`<row><c><v>1</v></c><c t="inlineStr"><is><t><![CDATA[<c r="Z9"><v>1</v></c>]]></t></is></c><c t='n' s=">"><v>2</v></c></row>` +
		`<row r="4"/>` +
		`<row r="5" spans="1:2"><c r="A5" s="1"/><c r="B5" t="str"><f>A1</f><v>x</v></c><c r="BL5"><v>3</v></c><c r="BM5"><v>4</v></c></row>` +
		`<row r="7"><c r="AA7" t="e"><v>#N/A</v></c><c r="AB7" t="b"><v>1</v></c><c r="AC7"><v/></c></row>` +
		`</x:sheetData><x:row r="99"><x:c r="A99"><x:v>1</x:v></x:c></x:row></x:worksheet>`
	n := &numberCells{br: bufio.NewReader(strings.NewReader(xml)), rc: io.NopCloser(nil)}
	want := map[int]uint64{1: 1 << 2, 2: 1<<0 | 1<<2, 3: 0, 4: 0, 5: 1 << 63, 6: 0, 7: 0, 99: 0}
	for _, r := range []int{1, 2, 3, 4, 5, 6, 7, 99} {
		if got := n.numbers(r); got != want[r] {
			t.Errorf("row %d: %b, want %b", r, got, want[r])
		}
	}
}

// TestNumberCellsUnknownPart: a sheet whose part the workbook does not have
// is read as before, types unknown.
func TestNumberCellsUnknownPart(t *testing.T) {
	t.Parallel()
	if n := openNumberCells(nil); n != nil {
		t.Fatal("a missing sheet has a scanner")
	}
	var none *numberCells
	if none.numbers(3) != 0 {
		t.Fatal("a nil scanner knows types")
	}
}
