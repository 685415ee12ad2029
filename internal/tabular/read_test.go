package tabular

// The read loops the tabular tests share: readAll collects what a reader
// gives (rows, their lines, row problems); readLocated holds what every
// problem must say, for the messy files and the fuzz targets.

import (
	"errors"
	"io"
	"testing"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// readAll reads r to its end or its first error that is not a row problem.
func readAll(t *testing.T, r Reader) (rows [][]string, lines []int, probs []*problem.Problem, err error) {
	t.Helper()
	for {
		row, e := r.Next()
		if errors.Is(e, io.EOF) {
			return rows, lines, probs, nil
		}
		var p *problem.Problem
		if errors.As(e, &p) && p.Scope == problem.ScopeRow {
			probs = append(probs, p)
			continue
		}
		if e != nil {
			return rows, lines, probs, e
		}
		rows = append(rows, append([]string(nil), row.Fields...))
		lines = append(lines, row.Line)
	}
}

// readLocated reads r to its end, or to a file-level problem, calling each
// with every record. Every problem must say where and what (a file, a row's
// line, a code, a message), nothing may be read after a file-level
// problem, and every error must be a problem. With max > 0, reading more
// than max times fails t: the limits should have stopped the reader.
func readLocated(t *testing.T, r Reader, max int, each func(Row)) {
	t.Helper()
	for n := 0; max == 0 || n < max; n++ {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		var p *problem.Problem
		if errors.As(err, &p) {
			if p.Pos.File == "" || p.Code == "" || p.Message == "" || (p.Scope == problem.ScopeRow && p.Pos.Line == 0) {
				t.Fatalf("unlocated problem %#v", p)
			}
			if p.Scope == problem.ScopeFile {
				if _, again := r.Next(); again == nil {
					t.Fatal("reading went on after a file-level problem")
				}
				return
			}
			continue
		}
		if err != nil {
			t.Fatalf("error that is not a problem: %v", err)
		}
		each(row)
	}
	t.Fatalf("read more than %d times: beyond the row limit", max)
}
