package tabular

import (
	"bytes"
	"errors"
	"io"
)

// partScan bounds one workbook part's XML before excelize decodes it.
// excelize's decoder keeps in memory one token at a time (a text, a tag)
// and, while it reads a row, the row's cells; a text of 2 GiB is a token
// of 2 GiB. The scan is a byte scanner like numberCells, not a parser: it
// measures each text, tag, comment and record (a sheet's rows, the shared
// strings' items) and the nesting depth, and refuses the part at the first
// one over its limit, before excelize has read any of it. It also counts
// what excelize should find, so that a reader that stops early (excelize
// ends a sheet silently at an XML error) can be told apart from the end.
type partScan struct {
	record []byte // local name of a record element: "row" or "si"
	stop   []byte // local name of the end tag after which records are no longer counted: "sheetData"
	// span: a record runs to the next record's start tag or the stop tag,
	// not to its own end tag (excelize reads a row's cells up to the next
	// row: cells after a </row> are the row's too).
	span     bool
	maxRun   int64 // longest text, tag, comment or record
	maxDepth int
	maxRecs  int // most records; 0 is any number

	pos       int64 // bytes scanned
	state     scanState
	runStart  int64   // where the current text, tag or comment began
	quote     byte    // in a tag: the quote of the attribute value being read
	head      []byte  // the start of a tag cut across reads, up to maxHead
	prev      byte    // the last byte of the current tag before its '>'
	last2     [2]byte // the two bytes before a '>' that may close a comment, CDATA or PI
	depth     int
	recStart  int64 // start of the open record, -1 if none
	stopped   bool  // the stop tag was seen
	records   int   // records seen (before the stop tag)
	row       int   // excelize's number of the last row: its r, or the one before plus one
	rows      int   // the largest such number: how many rows excelize's iterator gives
	rowsKnown bool  // false once a row number is one excelize reads otherwise than the scan
	err       *scanError
}

type scanState uint8

const (
	inText scanState = iota
	inTag
	inComment
	inCDATA
	inPI
)

// maxHead is how much of a tag is kept: its name and, for a row, its r.
const maxHead = 256

// scanError says which limit a part went over.
type scanError struct {
	what   string // "record", "run", "depth" or "records"
	record int    // records seen, the one it is in included
	row    int    // sheets: excelize's number of the row being read, or the last one
}

func (e *scanError) Error() string { return "workbook part over its limit: " + e.what }

// newSheetScan scans a worksheet: its records are rows.
func newSheetScan(lim Limits) *partScan {
	return &partScan{record: []byte("row"), stop: []byte("sheetData"), span: true, maxRun: int64(lim.MaxRecordBytes), maxDepth: maxXMLDepth,
		recStart: -1, rowsKnown: true, head: make([]byte, 0, maxHead)}
}

// newStringsScan scans the shared strings: its records are their items.
func newStringsScan(lim Limits) *partScan {
	return &partScan{record: []byte("si"), maxRun: int64(lim.MaxRecordBytes), maxDepth: maxXMLDepth, maxRecs: lim.MaxSharedStrings,
		recStart: -1, head: make([]byte, 0, maxHead)}
}

// maxXMLDepth bounds the nesting of elements: a worksheet nests about ten
// deep; excelize's decoder keeps every open element.
const maxXMLDepth = 100

// scan reads r to its end through the scanner, and gives each piece
// scanned to then: a read error (archive/zip's checksum and size checks) is
// returned as it is, a limit as a *scanError.
func (s *partScan) scan(r io.Reader, then func([]byte)) error {
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if e := s.feed(buf[:n]); e != nil {
				return e
			}
			then(buf[:n])
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *partScan) fail(what string) error {
	s.err = &scanError{what: what, record: s.records, row: s.row}
	return s.err
}

// feed scans the next bytes of the part.
func (s *partScan) feed(b []byte) error {
	base := s.pos // offset of b[0] in the part
	s.pos += int64(len(b))
	i := 0
	for i < len(b) {
		switch s.state {
		case inText:
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				i = len(b)
				continue
			}
			i += j
			if err := s.over(base + int64(i)); err != nil {
				return err
			}
			s.runStart = base + int64(i)
			if i+1 < len(b) && b[i+1] != '!' && b[i+1] != '?' {
				if k := tagEnd(b, i+1); k > 0 { // the common case: an element's tag, whole in b
					if err := s.tag(b[i+1:k], b[k-1], false, base+int64(k+1)); err != nil {
						return err
					}
					i = k + 1
					s.runStart = base + int64(i)
					continue
				}
			}
			s.state, s.quote, s.head, s.prev = inTag, 0, s.head[:0], 0
			i++
		case inTag:
			if s.quote != 0 { // inside an attribute value: only its quote ends it
				j := bytes.IndexByte(b[i:], s.quote)
				if j < 0 {
					s.keep(b[i:])
					i = len(b)
					continue
				}
				s.keep(b[i : i+j+1])
				i += j + 1
				s.quote, s.prev = 0, s.quote
				continue
			}
			if len(s.head) < 8 && (len(s.head) == 0 || s.head[0] == '!' || s.head[0] == '?') {
				// The first bytes tell a comment, CDATA or a processing
				// instruction from an element: read them one by one.
				c := b[i]
				i++
				if c == '>' {
					if err := s.tag(s.head, s.prev, len(s.head) == maxHead, base+int64(i)); err != nil {
						return err
					}
					s.state, s.runStart = inText, base+int64(i)
					continue
				}
				s.keep(b[i-1 : i])
				s.prev = c
				switch {
				case len(s.head) == 1 && c == '?':
					s.state = inPI
				case len(s.head) == 3 && string(s.head) == "!--":
					s.state = inComment
				case len(s.head) == 8 && string(s.head) == "![CDATA[":
					s.state = inCDATA
				case c == '"' || c == '\'':
					s.quote = c
				}
				s.last2 = [2]byte{}
				continue
			}
			j := i
			for j < len(b) && b[j] != '>' && b[j] != '"' && b[j] != '\'' {
				j++
			}
			if j > i {
				s.keep(b[i:j])
				s.prev = b[j-1]
			}
			if i = j; i == len(b) {
				continue
			}
			c := b[i]
			i++
			if c != '>' {
				s.keep(b[i-1 : i])
				s.quote, s.prev = c, c
				continue
			}
			if err := s.tag(s.head, s.prev, len(s.head) == maxHead, base+int64(i)); err != nil {
				return err
			}
			s.state, s.runStart = inText, base+int64(i)
		default: // comment, CDATA or processing instruction: up to "-->", "]]>" or "?>"
			j := bytes.IndexByte(b[i:], '>')
			if j < 0 {
				s.carry(b[i:])
				i = len(b)
				continue
			}
			s.carry(b[i : i+j])
			i += j + 1
			ends := (s.state == inComment && s.last2 == [2]byte{'-', '-'}) ||
				(s.state == inCDATA && s.last2 == [2]byte{']', ']'}) ||
				(s.state == inPI && s.last2[1] == '?')
			s.last2 = [2]byte{s.last2[1], '>'}
			if ends {
				if err := s.over(base + int64(i)); err != nil {
					return err
				}
				s.state, s.runStart = inText, base+int64(i)
			}
		}
	}
	// What is still open at the end of b is measured now, not when it ends:
	// a text of 2 GiB never ends before the part does.
	return s.over(s.pos)
}

// over fails if the record or the text, tag or comment open at offset at is
// longer than the limit. The record is checked first: it holds the rest, so
// that the outcome does not depend on where reads end.
func (s *partScan) over(at int64) error {
	if s.recStart >= 0 && at-s.recStart > s.maxRun {
		return s.fail("record")
	}
	if at-s.runStart > s.maxRun {
		return s.fail("run")
	}
	return nil
}

// keep adds bytes of the current tag to its head, up to maxHead.
func (s *partScan) keep(b []byte) {
	if room := maxHead - len(s.head); room > 0 {
		s.head = append(s.head, b[:min(room, len(b))]...)
	}
}

// carry remembers the last two bytes before a possible end of a comment,
// CDATA or processing instruction.
func (s *partScan) carry(b []byte) {
	switch len(b) {
	case 0:
	case 1:
		s.last2 = [2]byte{s.last2[1], b[0]}
	default:
		s.last2 = [2]byte{b[len(b)-2], b[len(b)-1]}
	}
}

// tagEnd is the index of the '>' that ends the tag b[k:] starts inside, or
// -1 if it ends past b; a '>' in an attribute value does not end it.
func tagEnd(b []byte, k int) int {
	for k < len(b) {
		c := b[k]
		if c == '>' {
			return k
		}
		if c == '"' || c == '\'' {
			k++
			for k < len(b) && b[k] != c {
				k++
			}
		}
		k++
	}
	return -1
}

// tag handles the tag h (what is between '<' and '>', or its first maxHead
// bytes if cut), whose last byte before '>' is prev and which ends just
// before end (the offset after its '>').
func (s *partScan) tag(h []byte, prev byte, cut bool, end int64) error {
	if err := s.over(end); err != nil {
		return err
	}
	if len(h) == 0 || h[0] == '!' { // a declaration such as DOCTYPE: no element
		return nil
	}
	closing := h[0] == '/'
	if closing {
		h = h[1:]
	}
	n := 0
	for n < len(h) && h[n] != ' ' && h[n] != '/' && h[n] != '\t' && h[n] != '\r' && h[n] != '\n' {
		n++
	}
	name := h[:n]
	if k := bytes.LastIndexByte(name, ':'); k >= 0 {
		name = name[k+1:] // x:row, as some writers prefix
	}
	if closing {
		s.depth = max(0, s.depth-1)
		switch {
		case s.stopped:
		case len(s.stop) > 0 && bytes.Equal(name, s.stop):
			s.stopped = true
			fallthrough
		case bytes.Equal(name, s.record) && !s.span:
			return s.endRecord(end)
		}
		return nil
	}
	selfClosing := prev == '/'
	if !selfClosing {
		if s.depth++; s.depth > s.maxDepth {
			return s.fail("depth")
		}
	}
	if !bytes.Equal(name, s.record) || s.stopped {
		return nil
	}
	if err := s.endRecord(s.runStart); err != nil { // a row ends where the next begins
		return err
	}
	if s.records++; s.maxRecs > 0 && s.records > s.maxRecs {
		return s.fail("records")
	}
	s.recStart = s.runStart
	if selfClosing && !s.span {
		s.recStart = -1
	}
	if s.span { // a row: its number as excelize reads it
		s.row++
		switch v := attr(h[n:], "r"); {
		case cut:
			s.rowsKnown = false // the row number may be past what was kept
		case v == nil:
		case len(v) == 0 || atoi(v) < 0:
			s.rowsKnown = false // excelize reads this otherwise, or refuses it
		case atoi(v) > 0:
			s.row = atoi(v)
		}
		s.rows = max(s.rows, s.row)
	}
	return nil
}

// endRecord ends the open record, if any, at offset end.
func (s *partScan) endRecord(end int64) error {
	if s.recStart >= 0 && end-s.recStart > s.maxRun {
		return s.fail("record")
	}
	s.recStart = -1
	return nil
}
