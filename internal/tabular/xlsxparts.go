package tabular

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path"
	"strings"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// Problem codes of workbooks whose bytes or XML cannot be trusted.
const (
	CodeWorkbookDamaged     problem.Code = "WORKBOOK_DAMAGED"
	CodeWorkbookRowTooLarge problem.Code = "WORKBOOK_ROW_TOO_LARGE"
	CodeWorkbookTooLarge    problem.Code = "WORKBOOK_TOO_LARGE"
)

// ErrDamaged is the cause of a workbook whose parts do not unpack to what
// the archive says (size, CRC-32), or whose sheet breaks off.
var ErrDamaged = errors.New("damaged workbook")

// bookParts are the parts excelize needs to stream one sheet, found the way
// excelize finds them (nil when absent). Nothing else of the archive is
// read: excelize holds every part of an archive in memory but the
// worksheets and the shared strings, so it is given a copy with only these.
type bookParts struct {
	types, rootRels, book, bookRels, strings, sheet *zip.File

	sheets []string // names, in the workbook's order
	name   string   // the sheet read
}

// partName is a part's name as excelize files it.
func partName(e *zip.File) string {
	n := strings.ReplaceAll(e.Name, "\\", "/")
	switch {
	case strings.EqualFold(n, "[Content_Types].xml"):
		return "[Content_Types].xml"
	case strings.EqualFold(n, "xl/sharedStrings.xml"):
		return "xl/sharedStrings.xml"
	}
	return n
}

// bookProblem is why a workbook cannot be read, before excelize opens it.
type bookProblem struct {
	code problem.Code
	err  error
	line int
	msg  string
}

func damaged(format string, args ...any) *bookProblem {
	return &bookProblem{code: CodeWorkbookDamaged, err: ErrDamaged,
		msg: "the workbook is damaged (" + fmt.Sprintf(format, args...) + "): open it in Excel and save it again, or save it as CSV UTF-8"}
}

// locateParts finds the parts of the sheet named sheet ("" is the first),
// reading the small parts that lead to it. A sheet that the workbook does
// not name is a problem; one it names but whose part is missing is left to
// excelize to report.
func locateParts(zr *zip.Reader, sheet string, lim Limits) (*bookParts, *bookProblem) {
	byName := map[string]*zip.File{}
	for _, e := range zr.File {
		byName[partName(e)] = e // the last of a name, as excelize keeps it
	}
	var bp bookParts
	bp.types, bp.rootRels, bp.strings = byName["[Content_Types].xml"], byName["_rels/.rels"], byName["xl/sharedStrings.xml"]

	var root rels
	if p := readSmall(bp.rootRels, &root, lim); p != nil {
		return nil, p
	}
	if p := readSmall(bp.types, nil, lim); p != nil {
		return nil, p
	}
	bookPath := ""
	for _, r := range root.Rels {
		if strings.HasSuffix(r.Type, "/officeDocument") {
			bookPath = strings.TrimPrefix(r.Target, "/")
			break
		}
	}
	relsPath := path.Dir(bookPath) + "/_rels/" + path.Base(bookPath) + ".rels"
	if path.Dir(bookPath) == "." {
		relsPath = "_rels/" + path.Base(bookPath) + ".rels"
	}
	bp.book, bp.bookRels = byName[bookPath], byName[strings.TrimPrefix(relsPath, "/")]
	var book struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			ID   string `xml:"id,attr"` // r:id, in whichever namespace
		} `xml:"sheets>sheet"`
	}
	var links rels
	if p := readSmall(bp.book, &book, lim); p != nil {
		return nil, p
	}
	if p := readSmall(bp.bookRels, &links, lim); p != nil {
		return nil, p
	}
	if bp.book == nil || len(book.Sheets) == 0 {
		return &bp, nil // not a workbook excelize can read: it says so
	}
	id := ""
	for _, s := range book.Sheets {
		bp.sheets = append(bp.sheets, s.Name)
		if id == "" && (s.Name == sheet || sheet == "") {
			bp.name, id = s.Name, s.ID
		}
	}
	if bp.name == "" {
		return nil, &bookProblem{code: CodeSheetNotFound, err: ErrWorkbook,
			msg: fmt.Sprintf("the workbook has no sheet %q; its sheets are: %s", sheet, strings.Join(bp.sheets, ", "))}
	}
	for _, r := range links.Rels {
		if r.ID == id {
			bp.sheet = byName[worksheetPath(bookPath, r.Target)]
			break
		}
	}
	return &bp, nil
}

type rels struct {
	Rels []struct {
		ID     string `xml:"Id,attr"`
		Type   string `xml:"Type,attr"`
		Target string `xml:"Target,attr"`
	} `xml:"Relationship"`
}

// worksheetPath is the part a workbook relationship's target names, as
// excelize resolves it.
func worksheetPath(bookPath, target string) string {
	t := strings.ReplaceAll(target, "\\", "/")
	if strings.HasPrefix(t, "/") {
		return strings.TrimPrefix(path.Clean(t), "/")
	}
	return strings.TrimPrefix(path.Clean(path.Dir(bookPath)+"/"+t), "/")
}

// readSmall reads a part excelize keeps in memory (at most MaxXMLBytes)
// and decodes it into v unless v is nil; an absent part is no problem, a
// damaged one is. A part that is not the XML expected is left to excelize
// to report.
func readSmall(e *zip.File, v any, lim Limits) *bookProblem {
	if e == nil {
		return nil
	}
	if e.UncompressedSize64 > uint64(lim.MaxXMLBytes) {
		return tooLarge(e, lim)
	}
	rc, err := openPart(e)
	if err != nil {
		return partDamaged(e, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return partDamaged(e, err)
	}
	if v != nil {
		_ = xml.NewDecoder(bytes.NewReader(data)).Decode(v)
	}
	return nil
}

// tooLarge is the problem of a part excelize would hold in memory whole
// that is larger than MaxXMLBytes.
func tooLarge(e *zip.File, lim Limits) *bookProblem {
	return &bookProblem{code: CodeWorkbookTooLarge, err: ErrWorkbook,
		msg: fmt.Sprintf("the workbook's part %s unpacks to %d MB, more than the %d MB accepted: save it again from Excel, or as CSV UTF-8", e.Name, e.UncompressedSize64>>20, lim.MaxXMLBytes>>20)}
}

// openPart opens a part for reading: archive/zip checks at its end that it
// unpacked to its declared size and CRC-32, but not the CRC when the
// directory gives it as 0; that one is checked here.
func openPart(e *zip.File) (io.ReadCloser, error) {
	rc, err := e.Open()
	if err != nil || e.CRC32 != 0 || e.UncompressedSize64 == 0 || e.Flags&0x8 != 0 {
		return rc, err
	}
	return &zeroCRC{ReadCloser: rc, h: crc32.NewIEEE()}, nil
}

type zeroCRC struct {
	io.ReadCloser
	h hash.Hash32
}

func (z *zeroCRC) Read(p []byte) (int, error) {
	n, err := z.ReadCloser.Read(p)
	z.h.Write(p[:n])
	if errors.Is(err, io.EOF) && z.h.Sum32() != 0 {
		return n, zip.ErrChecksum
	}
	return n, err
}

// partDamaged says how a part failed to unpack.
func partDamaged(e *zip.File, err error) *bookProblem {
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return damaged("its part %s does not match its checksum", e.Name)
	case errors.Is(err, zip.ErrFormat):
		return damaged("its part %s unpacks to more than the %d bytes it declares", e.Name, e.UncompressedSize64)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return damaged("its part %s unpacks to less than the %d bytes it declares", e.Name, e.UncompressedSize64)
	case errors.Is(err, zip.ErrAlgorithm):
		return damaged("its part %s is compressed in a way that cannot be read", e.Name)
	}
	return damaged("its part %s cannot be unpacked: %v", e.Name, err)
}

// partFacts is what the scans learnt about the sheet.
type partFacts struct {
	rows      int  // rows excelize's iterator should give
	rowsKnown bool // rows is known
	cut       bool // the sheet has rows but ends before </sheetData>
}

// slimBook is the copy of a workbook's parts that excelize reads: the small
// parts as they were compressed, the sheet and the shared strings
// uncompressed as they were scanned (so excelize does not inflate them a
// second time, nor does the cell-type scanner a third).
type slimBook struct {
	f       *os.File
	size    int64
	facts   partFacts
	strings int // shared strings
}

// copyParts writes the parts of bp to a temporary workbook. The sheet and
// the shared strings go through their scans on the way, before excelize
// reads a byte of them: both must unpack to what the archive declares, with
// no row, text or tag over the record limit, no deeper than maxXMLDepth, and
// no more shared strings than the limit. A problem of the workbook is
// returned as such; err is a failure to write the copy.
func copyParts(bp *bookParts, lim Limits) (sb *slimBook, bpr *bookProblem, err error) {
	f, err := os.CreateTemp("", "clearhouse-xlsx-*.xlsx")
	if err != nil {
		return nil, nil, fmt.Errorf("copying the workbook's parts: %w", err)
	}
	defer func() {
		if sb == nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	zw := zip.NewWriter(f)
	for _, e := range []*zip.File{bp.types, bp.rootRels, bp.book, bp.bookRels} {
		if e == nil {
			continue
		}
		if err := zw.Copy(e); err != nil { // already read whole by locateParts
			return nil, nil, fmt.Errorf("copying the workbook's parts: %w", err)
		}
	}
	var facts partFacts
	texts := 0
	if bp.sheet != nil {
		// excelize sends a sheet to a temporary file only if it is named
		// like xl/worksheets/sheet1.xml; it holds any other in memory.
		if n := strings.ToLower(partName(bp.sheet)); !strings.HasPrefix(n, "xl/worksheets/sheet") && bp.sheet.UncompressedSize64 > uint64(lim.MaxXMLBytes) {
			return nil, tooLarge(bp.sheet, lim), nil
		}
		s := newSheetScan(lim)
		if bpr, err := scanPart(zw, bp.sheet, s); bpr != nil || err != nil {
			return nil, bpr, err
		}
		if s.err != nil {
			return nil, sheetProblem(bp.name, s.err, lim), nil
		}
		facts = partFacts{rows: s.rows, rowsKnown: s.rowsKnown, cut: s.records > 0 && !s.stopped}
	}
	if bp.strings != nil {
		s := newStringsScan(lim)
		if bpr, err := scanPart(zw, bp.strings, s); bpr != nil || err != nil {
			return nil, bpr, err
		}
		if s.err != nil {
			return nil, stringsProblem(s.err, lim), nil
		}
		texts = s.records
	}
	if err := zw.Close(); err != nil {
		return nil, nil, fmt.Errorf("copying the workbook's parts: %w", err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, nil, fmt.Errorf("copying the workbook's parts: %w", err)
	}
	return &slimBook{f: f, size: size, facts: facts, strings: texts}, nil, nil
}

// scanPart unpacks e through s into zw, uncompressed: a problem if e is
// damaged; s.err is set if it goes over a limit.
func scanPart(zw *zip.Writer, e *zip.File, s *partScan) (*bookProblem, error) {
	rc, err := openPart(e)
	if err != nil {
		return partDamaged(e, err), nil
	}
	defer rc.Close()
	w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: zip.Store, Modified: e.Modified})
	if err != nil {
		return nil, fmt.Errorf("copying the workbook's parts: %w", err)
	}
	var werr error
	if err := s.scan(rc, func(b []byte) {
		if werr == nil {
			_, werr = w.Write(b)
		}
	}); err != nil && s.err == nil {
		return partDamaged(e, err), nil
	}
	if werr != nil {
		return nil, fmt.Errorf("copying the workbook's parts: %w", werr)
	}
	return nil, nil
}

// part is the copy's part named name (nil if absent).
func (sb *slimBook) part(name string) *zip.File {
	zr, err := zip.NewReader(sb.f, sb.size)
	if err != nil {
		return nil
	}
	for _, e := range zr.File {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// stringsInMemory is the most shared strings excelize is let decode in
// memory, where each costs about 500 bytes; more are read from its
// temporary file, at about 110 bytes each, as fast.
const stringsInMemory = 50_000

// xmlLimit is the size above which excelize reads the sheet or the shared
// strings from a temporary file: MaxXMLBytes, or less when the shared
// strings are too many to decode in memory.
func (sb *slimBook) xmlLimit(bp *bookParts, lim Limits) int64 {
	if sb.strings > stringsInMemory && bp.strings != nil {
		return max(1, min(lim.MaxXMLBytes, int64(bp.strings.UncompressedSize64)-1))
	}
	return lim.MaxXMLBytes
}

func (sb *slimBook) close() {
	_ = sb.f.Close()
}

func sheetProblem(sheet string, e *scanError, lim Limits) *bookProblem {
	kb := lim.MaxRecordBytes >> 10
	switch e.what {
	case "record":
		return &bookProblem{code: CodeWorkbookRowTooLarge, err: ErrRecordTooBig, line: e.row,
			msg: fmt.Sprintf("row %d of sheet %s holds more than %d KB: the workbook is damaged or not a spreadsheet export; save it again from Excel, or as CSV UTF-8", e.row, sheet, kb)}
	case "depth":
		return &bookProblem{code: CodeWorkbookDamaged, err: ErrDamaged, line: e.row,
			msg: fmt.Sprintf("sheet %s nests its XML more than %d levels deep (%s): the workbook is damaged or not a spreadsheet export; save it again from Excel, or as CSV UTF-8", sheet, maxXMLDepth, where(e.row))}
	}
	return &bookProblem{code: CodeWorkbookRowTooLarge, err: ErrRecordTooBig, line: e.row,
		msg: fmt.Sprintf("sheet %s holds more than %d KB of text or markup in one piece (%s): the workbook is damaged or not a spreadsheet export; save it again from Excel, or as CSV UTF-8", sheet, kb, where(e.row))}
}

func where(row int) string {
	if row == 0 {
		return "before its first row"
	}
	return fmt.Sprintf("after row %d", row)
}

func stringsProblem(e *scanError, lim Limits) *bookProblem {
	switch e.what {
	case "records":
		return &bookProblem{code: CodeWorkbookTooLarge, err: ErrWorkbook,
			msg: fmt.Sprintf("the workbook holds more than %d different texts (its shared strings), the most accepted: split it, or send CSV UTF-8", lim.MaxSharedStrings)}
	case "depth":
		return damaged("its shared strings nest their XML more than %d levels deep", maxXMLDepth)
	case "record":
		return &bookProblem{code: CodeWorkbookRowTooLarge, err: ErrRecordTooBig,
			msg: fmt.Sprintf("text %d of the workbook's shared strings holds more than %d KB: the workbook is damaged or not a spreadsheet export; save it again from Excel, or as CSV UTF-8", e.record, lim.MaxRecordBytes>>10)}
	}
	return &bookProblem{code: CodeWorkbookRowTooLarge, err: ErrRecordTooBig,
		msg: fmt.Sprintf("the workbook's shared strings hold more than %d KB of text or markup in one piece: the workbook is damaged or not a spreadsheet export; save it again from Excel, or as CSV UTF-8", lim.MaxRecordBytes>>10)}
}
