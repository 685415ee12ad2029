// Package tabular turns an input file into a stream of rows with positions.
// It knows formats, encodings and limits, never the domain: a Reader yields
// records (the header is the first one) with the physical line each starts
// on, and reports anything unreadable as a located problem.
package tabular

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// Sentinel causes for file-level reading problems.
var (
	ErrLineTooLong   = errors.New("line too long")
	ErrRecordTooBig  = errors.New("record too big")
	ErrTooManyFields = errors.New("too many columns")
	ErrTooManyRows   = errors.New("too many rows")
	ErrEncoding      = errors.New("invalid text encoding")
	ErrSyntax        = errors.New("malformed CSV")
	ErrFieldTooLong  = errors.New("field too long")
	ErrNotText       = errors.New("not a text file")
	// ErrTruncated: the last record ends without a line end, where a
	// transfer that was cut short ends (RequireLineEnd).
	ErrTruncated = errors.New("file cut short")
)

// Problem codes raised by readers.
const (
	CodeLineTooLong   problem.Code = "LINE_TOO_LONG"
	CodeTooManyFields problem.Code = "TOO_MANY_COLUMNS"
	CodeTooManyRows   problem.Code = "TOO_MANY_ROWS"
	CodeEncoding      problem.Code = "INVALID_ENCODING"
	CodeSyntax        problem.Code = "CSV_SYNTAX"
	CodeFieldTooLong  problem.Code = "FIELD_TOO_LONG"
	CodeNotText       problem.Code = "UNSUPPORTED_FORMAT"
	CodeTruncated     problem.Code = "TRUNCATED_FILE"
	// Warnings about how the file was read.
	CodeEncodingGuessed  problem.Code = "ENCODING_GUESSED"
	CodeDelimiterGuessed problem.Code = "DELIMITER_GUESSED"
	CodeNameMismatch     problem.Code = "NAME_MISMATCH"
)

// Limits bound what a reader accepts, so that hostile input cannot exhaust
// memory. Zero values take the defaults.
type Limits struct {
	MaxRecordBytes int   // one record (a line, or several when a quoted value holds line breaks)
	MaxFields      int   // columns per record
	MaxFieldBytes  int   // one value
	MaxRows        int   // records in the file, header included
	MaxUnzipBytes  int64 // a workbook, unpacked (zip bombs)
	MaxXMLBytes    int64 // one workbook part held in memory; larger ones go to temporary files
	// MaxSharedStrings bounds the different texts of a workbook (its shared
	// strings): excelize keeps an index of them in memory, about 110 bytes each.
	MaxSharedStrings int
}

// DefaultLimits are generous for real declarations files and small enough
// that a single hostile line cannot hurt.
var DefaultLimits = Limits{
	MaxRecordBytes:   1 << 20,
	MaxFields:        256,
	MaxFieldBytes:    64 << 10,
	MaxRows:          20_000_000,
	MaxUnzipBytes:    2 << 30,
	MaxXMLBytes:      16 << 20,
	MaxSharedStrings: 2_000_000,
}

// withDefaults is l with the default of every limit it does not set (zero
// or less); a part held in memory is never larger than a whole workbook.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	d.MaxRecordBytes = setOr(l.MaxRecordBytes, d.MaxRecordBytes)
	d.MaxFields = setOr(l.MaxFields, d.MaxFields)
	d.MaxFieldBytes = setOr(l.MaxFieldBytes, d.MaxFieldBytes)
	d.MaxRows = setOr(l.MaxRows, d.MaxRows)
	d.MaxUnzipBytes = setOr(l.MaxUnzipBytes, d.MaxUnzipBytes)
	d.MaxSharedStrings = setOr(l.MaxSharedStrings, d.MaxSharedStrings)
	if l.MaxXMLBytes > 0 {
		d.MaxXMLBytes = min(l.MaxXMLBytes, d.MaxUnzipBytes)
	}
	return d
}

// setOr is limit when it is set (above zero), else def.
func setOr[T int | int64](limit, def T) T {
	if limit > 0 {
		return limit
	}
	return def
}

// Row is one record. Fields are valid UTF-8; the next call to Next reuses
// the Fields slice, never the strings in it, which callers may keep.
type Row struct {
	Line   int
	Fields []string
	// Numbers marks the cells of a workbook row that are number cells: bit i
	// is column i, for the first 64 columns. Zero for CSV.
	Numbers uint64
}

// Reader streams records. Next returns io.EOF after the last record. A
// *problem.Problem error with ScopeRow concerns that record only and reading
// may go on; any other error ends the file.
type Reader interface {
	Next() (Row, error)
	// Sheet names the worksheet for positions ("" for CSV).
	Sheet() string
	// Notes are warnings about how the file was read (an encoding or a
	// delimiter guessed), known once the reader is open.
	Notes() []*problem.Problem
}

// TitleLines is how many title lines (skip_lines) r skipped so far: a
// file that ends there had nothing but them.
func TitleLines(r Reader) int {
	if t, ok := r.(interface{ TitleLines() int }); ok {
		return t.TitleLines()
	}
	return 0
}

// EmptyMessage says why a file that ended before its header is empty.
func EmptyMessage(r Reader) string {
	if n := TitleLines(r); n > 0 {
		return fmt.Sprintf("the file holds only %d line(s), which your file format skips as title lines (skip_lines: %d): no header and no rows are left; send the export with its title lines", n, n)
	}
	return "the file is empty"
}

// Options choose how a file is read. Zero values detect or default.
type Options struct {
	Name      string // file name, for positions
	Limits    Limits
	Delimiter byte   // , ; \t or |; 0 sniffs it
	Encoding  string // utf-8, utf-16, windows-1252; "" detects it
	SkipLines int    // title lines above the header
	// NoTitlesIf: a file whose first record begins with these fields has
	// no title lines, whatever SkipLines says (a rejects file Clearhouse
	// wrote, sent back as it is). Compared case-insensitively.
	NoTitlesIf []string
	Sheet      string // the worksheet of a workbook; "" is the first
	// RequireLineEnd rejects a CSV whose last record ends without a line
	// end (LF, CRLF or CR) as cut short (TRUNCATED_FILE), whatever the
	// policy. A transfer interrupted at a line boundary leaves a file that
	// reads well otherwise; on for uploads, off for files read locally
	// (many exports lack the last line end).
	RequireLineEnd bool
	// HeaderTest, when set, tells a header of the expected columns: with no
	// Sheet named, a workbook is read from its first sheet that has one (a
	// read-me sheet first is passed over, with a SHEET_CHOSEN warning).
	HeaderTest func(fields []string) bool
}

// Open returns a reader for r. A file that is recognisably not text (a
// workbook, an archive, a PDF) gets a reader that reports so.
func Open(r io.Reader, opts Options) (Reader, error) {
	br := bufio.NewReaderSize(r, bufSize)
	head, _ := br.Peek(8)
	if f, ok := r.(File); ok && bytes.HasPrefix(head, []byte("PK\x03\x04")) {
		return openWorkbook(f, opts) // a workbook on disk: read by its central directory, not streamed
	}
	if what := binaryKind(head); what != "" {
		p := problem.New(CodeNotText, problem.Position{File: opts.Name}, "", ErrNotText, "%s", what)
		p.Scope = problem.ScopeFile
		return failed{p}, nil
	}
	c, err := newCSV(br, opts)
	if err == nil && workbookName(opts.Name) {
		c.note(CodeNameMismatch, "the file is named like a workbook but holds text; it was read as CSV")
	}
	return c, err
}

func workbookName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".xlsx") || strings.HasSuffix(n, ".xls") || strings.HasSuffix(n, ".ods")
}

// File is a file on disk: what a workbook is read from (by its central
// directory and path), where CSV only needs an io.Reader.
type File interface {
	io.Reader
	io.ReaderAt
	Name() string
	Stat() (os.FileInfo, error)
}

// binaryKind names the kinds of non-text files people send instead of CSV.
func binaryKind(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "this is a ZIP archive (an Excel .xlsx or LibreOffice .ods workbook?), not CSV: save the sheet as CSV UTF-8"
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		return "this is an old Excel .xls workbook (or a password-protected one): open it in Excel and save it as an Excel Workbook (.xlsx) or as CSV UTF-8, without a password"
	case bytes.HasPrefix(head, []byte("%PDF")):
		return "this is a PDF document, not CSV: send the data export, not a report"
	case bytes.HasPrefix(head, []byte{0x1F, 0x8B}):
		return "this is a gzip-compressed file: send it uncompressed"
	}
	return ""
}

// failed is a reader of a file that cannot be read at all.
type failed struct{ p *problem.Problem }

func (f failed) Next() (Row, error)        { return Row{}, f.p }
func (f failed) Sheet() string             { return "" }
func (f failed) Notes() []*problem.Problem { return nil }

// beginsWith tells whether fields start with prefix (case-insensitive,
// spaces trimmed); false for an empty prefix.
func beginsWith(fields, prefix []string) bool {
	if len(prefix) == 0 || len(fields) < len(prefix) {
		return false
	}
	for i, p := range prefix {
		if !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(fields[i], "\uFEFF")), p) {
			return false
		}
	}
	return true
}
