package tabular

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/clearhouse/clearhouse/internal/problem"
)

const workbooks = "../../../shared/external/xlsx"

type sheetRead struct {
	rows  map[int][]string // by row number
	nums  map[int]uint64   // number cells, by row number
	probs []*problem.Problem
	sheet string
	r     Reader
}

func readBook(t *testing.T, path string, opts Options) sheetRead {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skip("../shared/external not present")
	}
	t.Cleanup(func() { f.Close() })
	opts.Name = filepath.Base(path)
	r, err := Open(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := sheetRead{rows: map[int][]string{}, nums: map[int]uint64{}, sheet: r.Sheet(), r: r}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		var p *problem.Problem
		if errors.As(err, &p) {
			out.probs = append(out.probs, p)
			if p.Scope == problem.ScopeFile {
				return out
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out.rows[row.Line] = append([]string(nil), row.Fields...)
		out.nums[row.Line] = row.Numbers
	}
}

func TestRealWorkbooks(t *testing.T) {
	t.Parallel()
	book := func(name string) string { return filepath.Join(workbooks, name) }

	s := readBook(t, book("csvkit_test.xlsx"), Options{})
	if s.sheet != "Sheet1" || !s.r.(interface{ Date1904() bool }).Date1904() {
		t.Errorf("csvkit_test: sheet %q, 1904 system not seen", s.sheet)
	}
	if got := strings.Join(s.rows[4], "|"); got != "Chicago Tribune|5844|164|0|41800000.009999998|5844" {
		t.Errorf("csvkit_test row 4: %s", got)
	}

	s = readBook(t, book("csvkit_sheets.xlsx"), Options{Sheet: "ʤ"})
	if strings.Join(s.rows[1], ",") != "a,b,c" || strings.Join(s.rows[2], ",") != "1,2,3" {
		t.Errorf("sheet ʤ: %v", s.rows)
	}
	s = readBook(t, book("csvkit_sheets.xlsx"), Options{Sheet: "data"})
	if len(s.rows) != 6 || s.rows[1][0] != "text" || s.rows[6][0] != "Unicode! Σ" {
		t.Errorf("sheet data: %v", s.rows)
	}
	s = readBook(t, book("csvkit_sheets.xlsx"), Options{Sheet: "Sales"})
	if len(s.probs) != 1 || s.probs[0].Code != CodeSheetNotFound || !strings.Contains(s.probs[0].Message, "not this one, data, ʤ") {
		t.Errorf("missing sheet: %v", s.probs)
	}

	if s = readBook(t, book("calamine_date.xlsx"), Options{}); s.rows[1][0] != "44197" {
		t.Errorf("calamine_date: %v", s.rows)
	}
	s = readBook(t, book("calamine_date_1904.xlsx"), Options{})
	if s.rows[1][0] != "42735" || !s.r.(interface{ Date1904() bool }).Date1904() {
		t.Errorf("calamine_date_1904: %v", s.rows)
	}
	if s = readBook(t, book("calamine_has_x000D_.xlsx"), Options{}); s.rows[1][0] != "ABC\r\nDEF" {
		t.Errorf("_x000D_: %q", s.rows[1])
	}
	s = readBook(t, book("calamine_errors.xlsx"), Options{})
	var errs []string
	for _, p := range s.probs {
		if p.Code != CodeCellError || p.Pos.Sheet != "Feuil1" || p.Pos.Line < 1 {
			t.Errorf("error cell problem %v", p)
		}
		errs = append(errs, p.Value)
	}
	if strings.Join(errs, " ") != "#DIV/0! #NAME? #VALUE! #NULL! #REF! #NUM! #N/A" {
		t.Errorf("error cells: %v", errs)
	}
	if s = readBook(t, book("tealeg_macNumbersTest.xlsx"), Options{}); s.sheet != "主动技能" || s.rows[1][0] != "编号" {
		t.Errorf("Numbers: %q %v", s.sheet, s.rows)
	}
	if s = readBook(t, book("tealeg_empty_rows.xlsx"), Options{}); s.rows[3][0] != "A3" || len(s.rows[1]) != 0 {
		t.Errorf("empty rows keep their numbers: %v", s.rows)
	}
	if s = readBook(t, book("tealeg_empty_cells.xlsx"), Options{}); strings.Join(s.rows[2], "|") != "A2||C2|D2" {
		t.Errorf("empty cells: %v", s.rows)
	}
	if s = readBook(t, book("calamine_merged_range.xlsx"), Options{}); strings.Join(s.rows[1], "|") != "A1|B1|C1||E1|F1|G1|H1" {
		t.Errorf("merged: %v", s.rows)
	}
	for _, name := range []string{"csvkit_ne_1033_data.xlsx", "excelize_Book1.xlsx", "tealeg_googleDocsTest.xlsx", "tealeg_inlineStrings.xlsx", "calamine_date_iso.xlsx"} {
		if s = readBook(t, book(name), Options{}); len(s.rows) == 0 {
			t.Errorf("%s: no rows (%v)", name, s.probs)
		}
	}
}

func writeZip(t *testing.T, files map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, _ := zw.Create(name)
		_, _ = w.Write(data)
	}
	_ = zw.Close()
	p := filepath.Join(t.TempDir(), "upload.xlsx")
	_ = os.WriteFile(p, buf.Bytes(), 0o644)
	return p
}

func TestWorkbookImpostorsAndBombs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"ods", map[string][]byte{"mimetype": []byte("application/vnd.oasis.opendocument.spreadsheet"), "content.xml": []byte("<x/>")}, ".ods workbook"},
		{"plain zip", map[string][]byte{"report.pdf": []byte("%PDF")}, "holds no Excel workbook"},
		{"zip bomb", map[string][]byte{"xl/workbook.xml": make([]byte, 40<<20)}, "unpacks to 40 MB"},
		{"broken workbook", map[string][]byte{"xl/workbook.xml": []byte("<not a workbook")}, "cannot be opened"},
	}
	for _, c := range cases {
		s := readBook(t, writeZip(t, c.files), Options{Limits: Limits{MaxUnzipBytes: 10 << 20}})
		if len(s.probs) != 1 || s.probs[0].Scope != problem.ScopeFile || !strings.Contains(s.probs[0].Message, c.want) {
			t.Errorf("%s: %v", c.name, s.probs)
		}
	}
}

func TestCSVRenamedXLSXIsReadAndFlagged(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "sales.xlsx")
	_ = os.WriteFile(p, []byte("a,b\n1,2\n"), 0o644)
	s := readBook(t, p, Options{})
	notes := s.r.Notes()
	if len(s.rows) != 2 || len(notes) != 1 || notes[0].Code != CodeNameMismatch || notes[0].Severity != problem.Warning {
		t.Fatalf("%v %v", s.rows, notes)
	}
}

// TestPasswordProtectedWorkbook: a workbook saved with a password (written
// here by excelize, with Excel's agile encryption) is an encrypted OLE
// container, not a zip: one clear file-level problem asking for it without.
func TestPasswordProtectedWorkbook(t *testing.T) {
	t.Parallel()
	book := excelize.NewFile()
	_ = book.SetCellValue("Sheet1", "A1", "declaration_id")
	p := filepath.Join(t.TempDir(), "ventes.xlsx")
	if err := book.SaveAs(p, excelize.Options{Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	s := readBook(t, p, Options{})
	if len(s.probs) != 1 || s.probs[0].Scope != problem.ScopeFile || s.probs[0].Code != CodeNotText ||
		!strings.Contains(s.probs[0].Message, "without a password") {
		t.Fatalf("%v", s.probs)
	}
}
