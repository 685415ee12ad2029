package tabular

import (
	"archive/zip"
	"bufio"
	"bytes"
	"io"
	"math"
)

// numberCells reads a worksheet's XML a second time, alongside excelize, to
// learn which cells are number cells: excelize's row iterator gives values
// without their types, and a customer id typed as 00123 into a General cell
// reaches us as the number 123. It is a byte scanner, not an XML parser: in
// well-formed XML a '<' outside comments and CDATA always opens a tag, so the
// row and cell tags are found without decoding the text between them. It
// never fails the file: on anything unexpected it stops knowing types.
type numberCells struct {
	rc       io.Closer
	br       *bufio.Reader
	cur      int    // row whose cells are being read
	mask     uint64 // its number cells: bit i is column i (A = 0), first 64 columns
	prev     int    // last row read to its end
	prevMask uint64
	col      int  // column of the current cell
	num      bool // the current cell is typed as a number
	done     bool
	tag      []byte
}

// maxTag bounds one tag; a longer one ends the scan (types become unknown).
const maxTag = 64 << 10

// openNumberCells opens a second reader on the sheet's part. It returns
// nil (types unknown) when there is none.
func openNumberCells(part *zip.File) *numberCells {
	if part == nil {
		return nil
	}
	rc, err := part.Open()
	if err != nil {
		return nil
	}
	return &numberCells{rc: rc, br: bufio.NewReaderSize(rc, 64<<10)}
}

func (n *numberCells) close() {
	if n != nil && n.rc != nil {
		_ = n.rc.Close()
		n.rc = nil
	}
}

// numbers returns the number cells of sheet row r (1-based) as a bit mask of
// its first 64 columns. Rows are asked for in increasing order.
func (n *numberCells) numbers(r int) uint64 {
	if n == nil {
		return 0
	}
	for n.cur <= r && !n.done {
		n.advance()
	}
	if n.prev == r {
		return n.prevMask
	}
	return 0
}

// advance reads up to the next <row> tag or the end of the sheet, and makes
// the row read so far the previous one.
func (n *numberCells) advance() {
	for {
		name, attrs, ok := n.next()
		if !ok || bytes.Equal(name, []byte("/sheetData")) {
			n.prev, n.prevMask = n.cur, n.mask
			n.cur, n.done = math.MaxInt, true
			n.close()
			return
		}
		switch string(name) {
		case "row":
			r := n.cur + 1
			if v := attr(attrs, "r"); v != nil {
				r = atoi(v)
			}
			n.prev, n.prevMask = n.cur, n.mask
			n.cur, n.mask, n.col = r, 0, -1
			if r <= n.prev { // rows out of order: stop guessing
				n.cur, n.done = math.MaxInt, true
				n.close()
			}
			return
		case "c":
			n.col++
			if v := attr(attrs, "r"); v != nil {
				n.col = colIndex(v)
			}
			t := attr(attrs, "t")
			n.num = t == nil || string(t) == "n"
		case "v":
			if n.num && n.col >= 0 && n.col < 64 && !bytes.HasSuffix(attrs, []byte("/")) {
				n.mask |= 1 << n.col
			}
		}
	}
}

// next returns the local name of the next tag ("/x" for an end tag) and the
// rest of the tag, skipping text, comments, CDATA and processing instructions.
func (n *numberCells) next() (name, rest []byte, ok bool) {
	for {
		if _, err := n.br.ReadSlice('<'); err != nil {
			if err == bufio.ErrBufferFull {
				continue
			}
			return nil, nil, false
		}
		head, _ := n.br.Peek(8)
		switch {
		case bytes.HasPrefix(head, []byte("!--")):
			if !n.skipPast("-->") {
				return nil, nil, false
			}
			continue
		case bytes.HasPrefix(head, []byte("![CDATA[")):
			if !n.skipPast("]]>") {
				return nil, nil, false
			}
			continue
		}
		if !n.readTag() {
			return nil, nil, false
		}
		t := n.tag
		end := bytes.IndexAny(t, " \t\r\n/>")
		if end == 0 && t[0] == '/' { // end tag
			end = 1 + bytes.IndexAny(t[1:], " \t\r\n>")
		}
		if end <= 0 {
			continue
		}
		name, rest = t[:end], t[end:]
		if i := bytes.LastIndexByte(name, ':'); i >= 0 { // x:row, as some writers prefix
			if name[0] == '/' {
				name = append(name[:1:1], name[i+1:]...)
			} else {
				name = name[i+1:]
			}
		}
		return name, bytes.TrimSuffix(rest, []byte(">")), true
	}
}

// readTag reads the tag after a '<' up to its closing '>', quotes respected.
func (n *numberCells) readTag() bool {
	n.tag = n.tag[:0]
	var quote byte
	for {
		chunk, err := n.br.ReadSlice('>')
		if err != nil && err != bufio.ErrBufferFull {
			return false
		}
		for _, b := range chunk {
			switch {
			case quote != 0:
				if b == quote {
					quote = 0
				}
			case b == '"' || b == '\'':
				quote = b
			}
		}
		n.tag = append(n.tag, chunk...)
		if len(n.tag) > maxTag {
			return false
		}
		if err == nil && quote == 0 {
			return true
		}
	}
}

func (n *numberCells) skipPast(end string) bool {
	var last []byte
	for {
		b, err := n.br.ReadByte()
		if err != nil {
			return false
		}
		last = append(last, b)
		if len(last) > len(end) {
			last = last[1:]
		}
		if string(last) == end {
			return true
		}
	}
}

// attr returns the value of the attribute named name in the rest of a tag.
func attr(rest []byte, name string) []byte {
	for len(rest) > 0 {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		eq := bytes.IndexByte(rest, '=')
		if eq < 0 {
			return nil
		}
		key := bytes.TrimSpace(rest[:eq])
		rest = bytes.TrimLeft(rest[eq+1:], " \t\r\n")
		if len(rest) == 0 || rest[0] != '"' && rest[0] != '\'' {
			return nil
		}
		end := bytes.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return nil
		}
		if string(key) == name {
			return rest[1 : 1+end]
		}
		rest = rest[end+2:]
	}
	return nil
}

func atoi(b []byte) int {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' || v > math.MaxInt32 {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	return v
}

// colIndex is the 0-based column of a cell reference like "AB12".
func colIndex(ref []byte) int {
	c := 0
	for _, b := range ref {
		switch {
		case b >= 'A' && b <= 'Z':
			c = c*26 + int(b-'A') + 1
		case b >= 'a' && b <= 'z':
			c = c*26 + int(b-'a') + 1
		default:
			return c - 1
		}
		if c > 1<<20 {
			return -1
		}
	}
	return c - 1
}
