package tabular

import (
	"errors"
	"io"
	"strings"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// CodeSheetChosen warns that the first sheet of a workbook was not the one
// read: it did not have the layout's header (a read-me sheet first).
const CodeSheetChosen problem.Code = "SHEET_CHOSEN"

// openWorkbook opens a workbook's sheet. When no sheet is named and the
// caller can tell a header (HeaderTest), it is the first sheet whose header
// passes, with a warning naming it when it is not the first; when none
// does, a file problem names the sheets found and how to choose one.
func openWorkbook(f File, opts Options) (Reader, error) {
	r, err := newXLSX(f, opts)
	if err != nil || opts.Sheet != "" || opts.HeaderTest == nil {
		return r, err
	}
	x, ok := r.(*xlsxReader)
	if !ok {
		return r, nil // refused already, with its own problem
	}
	sheets := x.book.GetSheetList()
	first, ferr := x.Next()
	if ferr == nil && opts.HeaderTest(first.Fields) {
		return &headed{xlsxReader: x, first: first}, nil
	}
	if ferr != nil && !errors.Is(ferr, io.EOF) {
		return &headed{xlsxReader: x, firstErr: ferr}, nil // the first sheet's own problem
	}
	x.close()
	for _, name := range sheets[min(1, len(sheets)):] {
		o := opts
		o.Sheet = name
		r, err := newXLSX(f, o)
		if err != nil {
			return nil, err
		}
		x, ok := r.(*xlsxReader)
		if !ok {
			continue
		}
		h, err := x.Next()
		if err == nil && opts.HeaderTest(h.Fields) {
			note := problem.New(CodeSheetChosen, problem.Position{File: opts.Name, Sheet: name}, name, nil,
				"the first sheet, %q, has no header of this file's columns: sheet %q was read (name the sheet in your file format to choose it)", sheets[0], name)
			note.Severity, note.Scope = problem.Warning, problem.ScopeFile
			return &headed{xlsxReader: x, first: h, notes: []*problem.Problem{note}}, nil
		}
		x.close()
	}
	p := problem.New(CodeSheetNotFound, problem.Position{File: opts.Name}, "", ErrWorkbook,
		"no sheet of the workbook has a header of this file's columns (its sheets are: %s): put the data on the first sheet, or have your file format name the sheet",
		strings.Join(sheets, ", "))
	p.Scope = problem.ScopeFile
	return failed{p}, nil
}

// headed is a reader whose first record was read ahead.
type headed struct {
	*xlsxReader
	first    Row
	firstErr error
	notes    []*problem.Problem
	started  bool
}

func (h *headed) Next() (Row, error) {
	if !h.started {
		h.started = true
		if h.firstErr != nil {
			return Row{}, h.firstErr
		}
		return h.first, nil
	}
	return h.xlsxReader.Next()
}

func (h *headed) Notes() []*problem.Problem { return append(h.xlsxReader.Notes(), h.notes...) }
