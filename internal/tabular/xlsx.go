package tabular

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// Problem codes of workbooks.
const (
	CodeSheetNotFound problem.Code = "SHEET_NOT_FOUND"
	CodeCellError     problem.Code = "CELL_ERROR"
	CodeWorkbook      problem.Code = "WORKBOOK_UNREADABLE"
)

// ErrWorkbook is the cause of workbook-level problems.
var ErrWorkbook = errors.New("unreadable workbook")

// excelErrors are the values Excel writes in error cells.
var excelErrors = map[string]bool{"#N/A": true, "#DIV/0!": true, "#VALUE!": true, "#REF!": true, "#NAME?": true,
	"#NUM!": true, "#NULL!": true, "#GETTING_DATA": true, "#SPILL!": true, "#CALC!": true, "#FIELD!": true, "#BLOCKED!": true}

// xlsxReader streams one worksheet with excelize's row iterator, raw values
// (no number formats applied), limits set low for uploads.
type xlsxReader struct {
	name   string
	sheet  string
	lim    Limits
	book   *excelize.File
	rows   *excelize.Rows
	line   int
	count  int
	date   bool // 1904 date system
	skip   int  // title rows above the header
	titles int  // title rows skipped
	// noTitlesIf cancels skip when the first row begins with it.
	noTitlesIf []string
	failed     error
	kinds      *numberCells // which cells are numbers; nil if unknown
	facts      partFacts    // what the scan before excelize found
	slim       *slimBook    // the parts excelize read, for the cell-type scanner
}

// triageZip looks inside a ZIP before excelize does: an XLSX goes on; an
// ODS, another archive, or an archive that unpacks to more than the limit
// (a zip bomb) is refused with its own message.
func triageZip(f io.ReaderAt, size int64, lim Limits) (*zip.Reader, string) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, "this file starts like a ZIP archive but is damaged (a download cut short?)"
	}
	var total uint64
	hasWorkbook, ods := false, false
	for _, e := range zr.File {
		total += e.UncompressedSize64
		switch e.Name {
		case "xl/workbook.xml":
			hasWorkbook = true
		case "mimetype", "content.xml":
			ods = ods || e.Name == "content.xml"
		}
	}
	switch {
	case ods && !hasWorkbook:
		return nil, "this is a LibreOffice/OpenDocument .ods workbook: save it as .xlsx or CSV UTF-8"
	case !hasWorkbook:
		return nil, "this is a ZIP archive that holds no Excel workbook: send the .xlsx or .csv itself"
	case total > uint64(lim.MaxUnzipBytes):
		return nil, fmt.Sprintf("this workbook unpacks to %d MB, more than the %d MB accepted: split it, or send CSV", total>>20, lim.MaxUnzipBytes>>20)
	}
	return zr, ""
}

func newXLSX(f File, opts Options) (r Reader, err error) {
	defer func() {
		if v := recover(); v != nil { // excelize parsing hostile bytes: never a crash
			r, err = failed{unreadable(opts.Name, opts.Sheet, 0, v)}, nil
		}
	}()
	lim := opts.Limits.withDefaults()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	fail := func(code problem.Code, format string, args ...any) (Reader, error) {
		p := problem.New(code, problem.Position{File: opts.Name, Sheet: opts.Sheet}, "", ErrWorkbook, format, args...)
		p.Scope = problem.ScopeFile
		return failed{p}, nil
	}
	zr, why := triageZip(f, fi.Size(), lim)
	if why != "" {
		return fail(CodeNotText, "%s", why)
	}
	// What excelize will read is read first, bounded: the parts leading to
	// the sheet, then the sheet and the shared strings, each checked against
	// its size and CRC-32; excelize gets a copy of only those parts.
	bp, bpr := locateParts(zr, opts.Sheet, lim)
	var slim *slimBook
	opened := false
	defer func() {
		if slim != nil && !opened {
			slim.close()
			_ = os.Remove(slim.f.Name())
		}
	}()
	if bpr == nil {
		if slim, bpr, err = copyParts(bp, lim); err != nil {
			return nil, err
		}
	}
	if bpr != nil {
		p := problem.New(bpr.code, problem.Position{File: opts.Name, Sheet: opts.Sheet, Line: bpr.line}, "", bpr.err, "%s", bpr.msg)
		if bp != nil && bp.name != "" {
			p.Pos.Sheet = bp.name
		}
		p.Scope = problem.ScopeFile
		return failed{p}, nil
	}
	book, err := excelize.OpenFile(slim.f.Name(), excelize.Options{RawCellValue: true, UnzipSizeLimit: lim.MaxUnzipBytes, UnzipXMLSizeLimit: slim.xmlLimit(bp, lim)})
	// excelize has read the copy (the sheet is in memory or its own temporary
	// file); the cell-type scanner reads it through the open file.
	_ = os.Remove(slim.f.Name())
	if err != nil {
		return fail(CodeWorkbook, "the workbook cannot be opened (%v): save it again from Excel as .xlsx, or as CSV UTF-8", err)
	}
	sheets := book.GetSheetList()
	sheet := opts.Sheet
	if sheet == "" && len(sheets) > 0 {
		sheet = sheets[0]
	}
	found := false
	for _, s := range sheets {
		found = found || s == sheet
	}
	if !found {
		book.Close()
		return fail(CodeSheetNotFound, "the workbook has no sheet %q; its sheets are: %s", sheet, strings.Join(sheets, ", "))
	}
	rows, err := book.Rows(sheet)
	if err != nil {
		book.Close()
		return fail(CodeWorkbook, "sheet %q cannot be read: %v", sheet, err)
	}
	opened = true
	x := &xlsxReader{name: opts.Name, sheet: sheet, lim: lim, book: book, rows: rows, skip: opts.SkipLines, noTitlesIf: opts.NoTitlesIf,
		slim: slim, facts: slim.facts}
	if bp.sheet != nil {
		x.kinds = openNumberCells(slim.part(bp.sheet.Name))
	}
	if props, err := book.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		x.date = *props.Date1904
	}
	return x, nil
}

func (x *xlsxReader) Sheet() string             { return x.sheet }
func (x *xlsxReader) Notes() []*problem.Problem { return nil }

// Date1904 reports the workbook's date system, for serial dates.
func (x *xlsxReader) Date1904() bool { return x.date }

func (x *xlsxReader) pos() problem.Position {
	return problem.Position{File: x.name, Sheet: x.sheet, Line: x.line}
}

// unreadable is the problem for a workbook that made excelize panic.
func unreadable(name, sheet string, line int, v any) *problem.Problem {
	p := problem.New(CodeWorkbook, problem.Position{File: name, Sheet: sheet, Line: line}, "", ErrWorkbook,
		"the workbook is damaged and cannot be read (%v): save it again from Excel, or as CSV UTF-8", v)
	p.Scope = problem.ScopeFile
	return p
}

func (x *xlsxReader) Next() (row Row, err error) {
	defer func() {
		if v := recover(); v != nil {
			x.failed = unreadable(x.name, x.sheet, x.line, v)
			row, err = Row{}, x.failed
		}
	}()
	for {
		if x.failed != nil {
			return Row{}, x.failed
		}
		if !x.rows.Next() {
			err := x.rows.Error()
			x.close()
			if err != nil {
				return Row{}, x.fail(problem.New(CodeWorkbook, x.pos(), "", ErrWorkbook, "the sheet cannot be read past row %d: %v", x.line, err))
			}
			// excelize ends a sheet at an XML error silently, as if at its end
			if x.facts.rowsKnown && x.line < x.facts.rows {
				return Row{}, x.fail(problem.New(CodeWorkbookDamaged, x.pos(), "", ErrDamaged,
					"the workbook is damaged (sheet %s cannot be read past row %d of its %d): open it in Excel and save it again, or save it as CSV UTF-8", x.sheet, x.line, x.facts.rows))
			}
			if x.facts.cut {
				return Row{}, x.fail(problem.New(CodeWorkbookDamaged, x.pos(), "", ErrDamaged,
					"the workbook is damaged (sheet %s stops in the middle of row %d, cut short): open it in Excel and save it again, or save it as CSV UTF-8", x.sheet, x.line))
			}
			x.failed = io.EOF
			return Row{}, io.EOF
		}
		x.line++
		cells, err := x.rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return Row{}, x.fail(problem.New(CodeWorkbook, x.pos(), "", ErrWorkbook, "row %d cannot be read: %v", x.line, err))
		}
		blank := true
		for _, c := range cells {
			blank = blank && strings.TrimSpace(c) == ""
		}
		if blank {
			continue // empty rows, as spreadsheets leave them
		}
		if x.count == 0 && x.skip > 0 && beginsWith(cells, x.noTitlesIf) {
			x.skip = 0
		}
		if x.line <= x.skip {
			x.titles++
			continue // title rows
		}
		x.count++
		if x.count > x.lim.MaxRows {
			return Row{}, x.fail(problem.New(CodeTooManyRows, x.pos(), "", ErrTooManyRows, "the sheet has more than %d rows; split it", x.lim.MaxRows))
		}
		if len(cells) > x.lim.MaxFields {
			return Row{}, x.fail(problem.New(CodeTooManyFields, x.pos(), "", ErrTooManyFields, "row %d has %d columns; at most %d are accepted", x.line, len(cells), x.lim.MaxFields))
		}
		row := Row{Line: x.line, Fields: cells, Numbers: x.kinds.numbers(x.line)}
		for i, c := range cells {
			if excelErrors[c] {
				return row, problem.New(CodeCellError, x.pos(), c, ErrSyntax, "the cell in column %s is an Excel error (%s): fix the formula or type the value", colName(i), c)
			}
			if len(c) > x.lim.MaxFieldBytes {
				return row, problem.New(CodeFieldTooLong, x.pos(), c, ErrFieldTooLong, "the cell in column %s is %d bytes long; at most %d are accepted", colName(i), len(c), x.lim.MaxFieldBytes)
			}
		}
		return row, nil
	}
}

// fail ends the sheet with the file-level problem p.
func (x *xlsxReader) fail(p *problem.Problem) error {
	p.Scope = problem.ScopeFile
	x.failed = p
	x.close()
	return p
}

func (x *xlsxReader) close() {
	if x.rows != nil {
		x.kinds.close()
		x.slim.close()
		_ = x.rows.Close()
		_ = x.book.Close()
		x.rows = nil
	}
}

// colName is the spreadsheet name of column i (0 → A).
func colName(i int) string {
	s, _ := excelize.ColumnNumberToName(i + 1)
	return s
}
