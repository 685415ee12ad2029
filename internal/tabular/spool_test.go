package tabular

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// everything reads r to its end: each Next as (line, numbers, fields, problem).
func everything(r Reader) []string {
	var out []string
	for len(out) < 2_000_000 {
		row, err := r.Next()
		var p *problem.Problem
		switch {
		case errors.As(err, &p):
			out = append(out, fmt.Sprintf("problem %s %s %s %s %s %q %q", p.Code, p.Severity, p.Scope, p.Pos, p.Err, p.Value, p.Message))
			if p.Scope != problem.ScopeRow {
				return out
			}
		case err != nil:
			return append(out, "end: "+err.Error())
		default:
			out = append(out, fmt.Sprintf("%d %x %q", row.Line, row.Numbers, row.Fields))
		}
	}
	return out
}

// TestSpoolReplaysWhatTheReaderGave: every real workbook, and a damaged
// one, replayed from its spool gives exactly the rows, lines, number cells,
// problems, sheet, notes and date system the reader gave.
func TestSpoolReplaysWhatTheReaderGave(t *testing.T) {
	t.Parallel()
	books, _ := filepath.Glob(filepath.Join(workbooks, "*.xlsx"))
	if len(books) == 0 {
		t.Skip("../shared/external not present")
	}
	books = append(books, "testdata/does-not-exist.xlsx")
	for _, path := range books {
		open := func() Reader {
			f, err := os.Open(path)
			if err != nil {
				r, _ := Open(bytes.NewReader([]byte("PK\x03\x04 damaged")), Options{Name: "x.xlsx"})
				return r
			}
			t.Cleanup(func() { f.Close() })
			r, err := Open(f, Options{Name: filepath.Base(path)})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		direct := open()
		var spool bytes.Buffer
		if err := SpoolTo(open(), &spool); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		replayed, err := Replay(&spool)
		if err != nil {
			t.Fatal(err)
		}
		if replayed.Sheet() != direct.Sheet() || len(replayed.Notes()) != len(direct.Notes()) {
			t.Fatalf("%s: sheet %q/%q, notes %d/%d", path, replayed.Sheet(), direct.Sheet(), len(replayed.Notes()), len(direct.Notes()))
		}
		d1, _ := direct.(interface{ Date1904() bool })
		d2 := replayed.(interface{ Date1904() bool })
		if d1 != nil && d1.Date1904() != d2.Date1904() {
			t.Fatalf("%s: date system", path)
		}
		want, got := everything(direct), everything(replayed)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: replay differs:\nwant %q\ngot  %q", path, want, got)
		}
	}
}
