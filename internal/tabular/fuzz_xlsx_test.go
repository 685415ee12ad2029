package tabular

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzXLSX mutates real workbooks (and their sheet XML inside a valid ZIP):
// reading must never panic or hang, and every problem must be located.
func FuzzXLSX(f *testing.F) {
	books, _ := filepath.Glob(workbooks + "/*.xlsx")
	books = append(books, "../../samples/drops/telco-fr/07_declarations_2026-10.xlsx")
	for _, p := range books {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, []byte(nil))
		}
	}
	f.Add([]byte(nil), []byte(`<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>99</v></c><c r="XFD1" t="e"><v>#N/A</v></c></row></sheetData></worksheet>`))
	f.Fuzz(func(t *testing.T, book, sheetXML []byte) {
		if len(book) == 0 { // a minimal workbook around the fuzzed sheet
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for name, body := range map[string]string{
				"[Content_Types].xml":        `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`,
				"xl/workbook.xml":            `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`,
				"xl/_rels/workbook.xml.rels": `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
				"xl/worksheets/sheet1.xml":   string(sheetXML),
			} {
				w, _ := zw.Create(name)
				_, _ = w.Write([]byte(body))
			}
			_ = zw.Close()
			book = buf.Bytes()
		}
		p := filepath.Join(t.TempDir(), "f.xlsx")
		if err := os.WriteFile(p, book, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		r, err := Open(file, Options{Name: "f.xlsx", Limits: Limits{MaxUnzipBytes: 8 << 20, MaxXMLBytes: 1 << 20, MaxRows: 500, MaxFields: 64}})
		if err != nil {
			t.Fatal(err)
		}
		readLocated(t, r, 1000, func(Row) {})
	})
}
