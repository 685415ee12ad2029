package tabular

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/clearhouse/clearhouse/internal/problem"
)

const bufSize = 1 << 20

// sniffBytes is how much decoded text the dialect sniffer looks at.
const sniffBytes = 64 << 10

// Encodings a reseller may declare.
const (
	UTF8        = "utf-8"
	UTF16       = "utf-16"
	Windows1252 = "windows-1252"
)

// Delimiters a file may use, in the order a tie is broken.
var Delimiters = []byte{',', ';', '\t', '|'}

// csvReader is a streaming RFC 4180 reader that also takes what spreadsheets
// and home-grown exports really write: several delimiters, UTF-16 and
// Windows-1252, LF, CRLF and bare CR line ends (kept as they are inside
// quoted values), blank lines, title lines above the header, and a stray
// quote inside an unquoted value (kept as a character).
type csvReader struct {
	name  string
	lim   Limits
	src   *bufio.Reader
	delim byte
	notes []*problem.Problem

	plain   [256]bool // bytes that end a run outside quotes
	inQuote [256]bool // bytes that end a run inside quotes

	line   int // physical line of the next byte, 1-based
	rows   int
	skip   int
	titles int // title lines skipped
	// noTitlesIf cancels skip when the first record begins with it.
	noTitlesIf []string
	header     []string // the first record returned, to name columns in problems
	rec        []byte
	ends       []int
	// plainText is set when every value of the last record is valid text.
	plainText bool
	noQuick   bool // tests: every record through the byte-by-byte path
	needEnd   bool // Options.RequireLineEnd
	fields    []string
	failed    error
}

func newCSV(r io.Reader, opts Options) (*csvReader, error) {
	c := &csvReader{name: opts.Name, lim: opts.Limits.withDefaults(), line: 1, skip: opts.SkipLines, noTitlesIf: opts.NoTitlesIf,
		needEnd: opts.RequireLineEnd}
	raw := bufio.NewReaderSize(r, bufSize)
	dec, err := c.decoder(raw, opts.Encoding)
	if err != nil {
		return nil, err
	}
	c.src = bufio.NewReaderSize(dec, bufSize)
	c.delim = opts.Delimiter
	if c.delim == 0 {
		c.delim = c.sniff()
	} else if bytes.IndexByte(Delimiters, c.delim) < 0 {
		return nil, fmt.Errorf("delimiter %q is not one of , ; tab |", c.delim)
	}
	for _, b := range []byte{c.delim, '"', '\n', '\r'} {
		c.plain[b] = true
	}
	for _, b := range []byte{'"', '\n', '\r'} {
		c.inQuote[b] = true
	}
	return c, nil
}

// decoder picks the text encoding: a byte order mark wins, then the
// declared encoding, then UTF-16 recognised by its zero bytes, then UTF-8 if
// the start of the file is valid UTF-8, else Windows-1252 (with a note).
func (c *csvReader) decoder(raw *bufio.Reader, declared string) (io.Reader, error) {
	head, _ := raw.Peek(sniffBytes)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, _ = raw.Discard(3)
		return raw, nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return transform.NewReader(raw, unicode.BOMOverride(unicode.UTF8.NewDecoder())), nil
	}
	switch strings.ToLower(declared) {
	case "", "auto":
	case UTF8, "utf8":
		return raw, nil
	case UTF16, "utf-16le":
		return transform.NewReader(raw, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder()), nil
	case "utf-16be":
		return transform.NewReader(raw, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder()), nil
	case Windows1252, "cp1252", "latin-1", "iso-8859-1":
		return newCP1252Reader(raw), nil
	default:
		return nil, fmt.Errorf("unknown encoding %q (utf-8, utf-16, windows-1252)", declared)
	}
	if e, ok := utf16WithoutBOM(head); ok {
		c.note(CodeEncodingGuessed, "the file has no byte order mark but looks like UTF-16 (%s); read as such", e)
		end := unicode.LittleEndian
		if e == "UTF-16BE" {
			end = unicode.BigEndian
		}
		return transform.NewReader(raw, unicode.UTF16(end, unicode.IgnoreBOM).NewDecoder()), nil
	}
	if validPrefix(head) || bytes.IndexByte(head, 0) >= 0 {
		return raw, nil // UTF-8; NUL bytes are reported row by row as damage
	}
	c.note(CodeEncodingGuessed, "the file is not UTF-8; it was read as Windows-1252 (declare the encoding to silence this)")
	return newCP1252Reader(raw), nil
}

// validPrefix reports whether b is valid UTF-8, allowing a rune cut at the end.
func validPrefix(b []byte) bool {
	for i := 0; i < 4 && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return true
		}
		if len(b) < sniffBytes-4 {
			return false // not cut by the peek: really invalid
		}
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// utf16WithoutBOM recognises UTF-16 text of mostly ASCII by its zero bytes.
func utf16WithoutBOM(b []byte) (string, bool) {
	if len(b) < 8 {
		return "", false
	}
	n := min(len(b), 4096) &^ 1
	var even, odd int
	for i := 0; i < n; i += 2 {
		if b[i] == 0 {
			even++
		}
		if b[i+1] == 0 {
			odd++
		}
	}
	switch half := n / 2; {
	case odd > half*8/10 && even < half/10:
		return "UTF-16LE", true
	case even > half*8/10 && odd < half/10:
		return "UTF-16BE", true
	}
	return "", false
}

func (c *csvReader) note(code problem.Code, format string, args ...any) {
	p := problem.New(code, problem.Position{File: c.name}, "", nil, format, args...)
	p.Severity, p.Scope = problem.Warning, problem.ScopeFile
	c.notes = append(c.notes, p)
}

// sniff chooses the delimiter whose count per line is the most consistent
// over the first lines (quotes respected). A close call is reported.
func (c *csvReader) sniff() byte {
	head, _ := c.src.Peek(sniffBytes)
	lines := sniffLines(head, c.skip, 30)
	best, second := byte(','), byte(0)
	bestScore, secondScore := -1, -1
	for _, d := range Delimiters {
		s := consistency(lines, d)
		if s > bestScore {
			second, secondScore = best, bestScore
			best, bestScore = d, s
		} else if s > secondScore {
			second, secondScore = d, s
		}
	}
	if bestScore <= 0 {
		return ','
	}
	if secondScore > 0 && secondScore*10 >= bestScore*9 {
		c.note(CodeDelimiterGuessed, "the delimiter was guessed as %s (%s was nearly as likely); declare it to be sure", delimName(best), delimName(second))
	}
	return best
}

func delimName(d byte) string {
	switch d {
	case '\t':
		return "tab"
	case ';':
		return "semicolon"
	case '|':
		return "pipe"
	}
	return "comma"
}

// sniffLines splits the start of a file into records (quotes respected),
// skipping skip title lines and blank lines, at most max of them.
func sniffLines(b []byte, skip, max int) [][]byte {
	var out [][]byte
	start, quoted := 0, false
	for i := 0; i < len(b) && len(out) < max+skip; i++ {
		switch b[i] {
		case '"':
			quoted = !quoted
		case '\n', '\r':
			if !quoted {
				if i > start {
					out = append(out, b[start:i])
				}
				start = i + 1
			}
		}
	}
	if len(out) > skip {
		return out[skip:]
	}
	return nil
}

// consistency scores a delimiter: lines agreeing with the most common
// non-zero count, weighted by that count.
func consistency(lines [][]byte, d byte) int {
	counts := map[int]int{}
	for _, l := range lines {
		n, quoted := 0, false
		for _, ch := range l {
			if ch == '"' {
				quoted = !quoted
			} else if ch == d && !quoted {
				n++
			}
		}
		counts[n]++
	}
	score := 0
	for n, agree := range counts {
		if n > 0 && agree*100+n > score {
			score = agree*100 + n
		}
	}
	return score
}

func (c *csvReader) Sheet() string                 { return "" }
func (c *csvReader) TitleLines() int               { return c.titles }
func (c *csvReader) Notes() []*problem.Problem     { return c.notes }
func (c *csvReader) pos(line int) problem.Position { return problem.Position{File: c.name, Line: line} }

func (c *csvReader) fileProblem(code problem.Code, line int, cause error, format string, args ...any) *problem.Problem {
	p := problem.New(code, c.pos(line), "", cause, format, args...)
	p.Scope = problem.ScopeFile
	c.failed = p
	return p
}

// Next returns the next non-blank record.
func (c *csvReader) Next() (Row, error) {
	for {
		if c.failed != nil {
			return Row{}, c.failed
		}
		row, blank, err := c.record()
		if err != nil {
			return row, err
		}
		if c.skip > 0 && !(c.rows == 0 && beginsWith(row.Fields, c.noTitlesIf)) {
			c.skip--
			c.titles++
			continue
		}
		c.skip = 0
		if blank {
			continue
		}
		c.rows++
		if c.rows > c.lim.MaxRows {
			return Row{}, c.fileProblem(CodeTooManyRows, row.Line, ErrTooManyRows, "the file has more than %d rows; split it into smaller files", c.lim.MaxRows)
		}
		err = c.check(row)
		if c.header == nil && err == nil {
			c.header = append([]string(nil), row.Fields...)
		}
		return row, err
	}
}

// check applies the per-value rules to a parsed row.
func (c *csvReader) check(row Row) error {
	if c.plainText && len(c.rec) <= c.lim.MaxFieldBytes {
		return nil // no value can be too long or hold other than text
	}
	var first *problem.Problem
	for i, f := range row.Fields {
		if len(f) > c.lim.MaxFieldBytes {
			return c.columnProblem(row.Line, i, CodeFieldTooLong, strings.ToValidUTF8(f[:min(len(f), 64)], "")+"…", ErrFieldTooLong,
				"is %d bytes long; at most %d are accepted", len(f), c.lim.MaxFieldBytes)
		}
		if !validText(f) {
			// Shown, and echoed in the rejects file, with the bad bytes
			// written out (HX\x00…), never silently dropped.
			row.Fields[i] = visible(f)
			if first == nil {
				first = c.columnProblem(row.Line, i, CodeEncoding, row.Fields[i], ErrEncoding,
					"is not valid text (a NUL byte or invalid UTF-8): save the file as CSV UTF-8 or declare its encoding")
			}
		}
	}
	if first != nil {
		return first
	}
	return nil
}

// columnProblem is a row problem located at a column, named by the header
// when the header has been read.
func (c *csvReader) columnProblem(line, i int, code problem.Code, value string, cause error, format string, args ...any) *problem.Problem {
	pos := c.pos(line)
	name := fmt.Sprintf("column %d", i+1)
	if i < len(c.header) && strings.TrimSpace(c.header[i]) != "" {
		pos.Column = strings.TrimSpace(c.header[i])
		name = pos.Column
	}
	return problem.New(code, pos, value, cause, "%s %s", name, fmt.Sprintf(format, args...))
}

// visible writes the bytes of s that are not text (NUL, invalid UTF-8) as
// \xNN escapes.
func visible(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r == 0:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// record parses one physical record. blank reports an empty line.
func (c *csvReader) record() (row Row, blank bool, err error) {
	c.rec = c.rec[:0]
	c.ends = c.ends[:0]
	start := c.line
	if !c.noQuick && c.quick() {
		if len(c.rec) == 0 {
			return Row{Line: start}, true, nil
		}
		return c.finish(start, false)
	}
	quoted, afterQuote, fieldStart := false, false, true
	var stray bool
	for {
		// Fast path: runs of ordinary bytes and the delimiters between them,
		// and an unquoted line end, straight from the buffer; one Discard for
		// all of it. Everything else goes byte by byte below.
		if n := c.src.Buffered(); n > 0 {
			buf, _ := c.src.Peek(n)
			tbl := &c.plain
			if quoted {
				tbl = &c.inQuote
			}
			i, end := 0, false
			for {
				j := i
				for j < len(buf) && !tbl[buf[j]] {
					j++
				}
				if j > i {
					if !quoted {
						stray = stray || afterQuote
						fieldStart = false
					}
					c.rec = append(c.rec, buf[i:j]...)
				}
				i = j
				if i == len(buf) || quoted {
					break
				}
				if b := buf[i]; b == c.delim {
					i++
					c.ends = append(c.ends, len(c.rec))
					if len(c.ends) > c.lim.MaxFields {
						_, _ = c.src.Discard(i)
						return Row{}, false, c.fileProblem(CodeTooManyFields, start, ErrTooManyFields, "line %d has more than %d columns", start, c.lim.MaxFields)
					}
					fieldStart, afterQuote = true, false
					continue
				} else if b == '\n' {
					i, end = i+1, true
				} else if b == '\r' && i+1 < len(buf) && buf[i+1] == '\n' {
					i, end = i+2, true
				}
				break
			}
			_, _ = c.src.Discard(i)
			if len(c.rec) > c.lim.MaxRecordBytes {
				return Row{}, false, c.fileProblem(CodeLineTooLong, start, ErrRecordTooBig,
					"the record starting on line %d is longer than %d bytes; this is not a declarations file, or a quote is not closed", start, c.lim.MaxRecordBytes)
			}
			if end {
				c.line++
				if len(c.rec) == 0 && len(c.ends) == 0 && !afterQuote {
					return Row{Line: start}, true, nil
				}
				c.ends = append(c.ends, len(c.rec))
				return c.finish(start, stray)
			}
			if i == len(buf) {
				continue
			}
		}
		b, rerr := c.src.ReadByte()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				c.failed = fmt.Errorf("reading %s: %w", c.name, rerr)
				return Row{}, false, c.failed
			}
			if quoted {
				return Row{}, false, c.fileProblem(CodeSyntax, start, ErrSyntax, "a quoted value opened on line %d is never closed", start)
			}
			if len(c.rec) == 0 && len(c.ends) == 0 && fieldStart && !afterQuote {
				return Row{}, false, io.EOF
			}
			if c.needEnd {
				return Row{}, false, c.fileProblem(CodeTruncated, start, ErrTruncated,
					"the file ends in the middle of line %d: the upload was cut short; send it again", start)
			}
			c.ends = append(c.ends, len(c.rec))
			return c.finish(start, stray)
		}
		if len(c.rec) > c.lim.MaxRecordBytes {
			return Row{}, false, c.fileProblem(CodeLineTooLong, start, ErrRecordTooBig,
				"the record starting on line %d is longer than %d bytes; this is not a declarations file, or a quote is not closed", start, c.lim.MaxRecordBytes)
		}
		if quoted {
			switch b {
			case '"':
				if next, _ := c.src.Peek(1); len(next) == 1 && next[0] == '"' {
					_, _ = c.src.ReadByte()
					c.rec = append(c.rec, '"')
					continue
				}
				quoted, afterQuote = false, true
				continue
			case '\n':
				c.line++
			case '\r':
				if next, _ := c.src.Peek(1); len(next) == 0 || next[0] != '\n' {
					c.line++
				}
			}
			c.rec = append(c.rec, b)
			continue
		}
		switch {
		case b == c.delim:
			c.ends = append(c.ends, len(c.rec))
			if len(c.ends) > c.lim.MaxFields {
				return Row{}, false, c.fileProblem(CodeTooManyFields, start, ErrTooManyFields, "line %d has more than %d columns", start, c.lim.MaxFields)
			}
			fieldStart, afterQuote = true, false
		case b == '\n' || b == '\r':
			if b == '\r' {
				if next, _ := c.src.Peek(1); len(next) == 1 && next[0] == '\n' {
					_, _ = c.src.ReadByte()
				}
			}
			c.line++
			if len(c.rec) == 0 && len(c.ends) == 0 && !afterQuote {
				return Row{Line: start}, true, nil
			}
			c.ends = append(c.ends, len(c.rec))
			return c.finish(start, stray)
		case b == '"' && fieldStart:
			quoted, fieldStart = true, false
		default:
			if afterQuote {
				stray = true // "abc"def: keep the characters, report the row
			}
			fieldStart = false
			c.rec = append(c.rec, b)
		}
	}
}

// quick reads a record that is a whole line in the buffer without quotes or
// bare CRs, which is nearly every record, with a few vectorised scans. It
// returns false, consuming nothing, for anything else.
func (c *csvReader) quick() bool {
	buf, _ := c.src.Peek(c.src.Buffered())
	k := bytes.IndexByte(buf, '\n')
	if k < 0 || k > c.lim.MaxRecordBytes {
		return false
	}
	line := buf[:k]
	if k > 0 && line[k-1] == '\r' {
		line = line[:k-1]
	}
	if bytes.IndexByte(line, '"') >= 0 || bytes.IndexByte(line, '\r') >= 0 {
		return false
	}
	c.rec, c.ends = c.rec[:0], c.ends[:0]
	d := c.delim
	for j := 0; j < len(line); j++ { // values are short: a loop beats IndexByte's set-up
		if line[j] == d {
			c.rec = append(c.rec, line[:j]...)
			c.ends = append(c.ends, len(c.rec))
			line, j = line[j+1:], -1
		}
	}
	if len(c.ends) >= c.lim.MaxFields {
		c.rec, c.ends = c.rec[:0], c.ends[:0]
		return false // the slow path reports it
	}
	c.rec = append(c.rec, line...)
	c.ends = append(c.ends, len(c.rec))
	_, _ = c.src.Discard(k + 1)
	c.line++
	return true
}

func (c *csvReader) finish(start int, stray bool) (Row, bool, error) {
	blank := !stray && c.blank()
	c.plainText = c.validText()
	s := string(c.rec)
	c.fields = c.fields[:0]
	prev := 0
	for _, e := range c.ends {
		c.fields = append(c.fields, s[prev:e])
		prev = e
	}
	row := Row{Line: start, Fields: c.fields}
	if blank {
		return row, true, nil // a blank line, or only delimiters (a spreadsheet's empty row)
	}
	if stray {
		return row, false, problem.New(CodeSyntax, c.pos(start), "", ErrSyntax, "malformed CSV on line %d: characters after a closing quote", start)
	}
	return row, false, nil
}

// blank reports whether the record holds only white space and delimiters.
func (c *csvReader) blank() bool {
	for _, b := range c.rec {
		switch {
		case b == c.delim || b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f':
		case b >= utf8.RuneSelf:
			return strings.TrimSpace(strings.ReplaceAll(string(c.rec), string(c.delim), "")) == "" // Unicode spaces
		default:
			return false
		}
	}
	return true
}

// validText reports whether every value of the record is text: valid UTF-8
// without NUL bytes, checked once for the record rather than per value. A
// value boundary inside a character would make its values invalid alone.
func (c *csvReader) validText() bool {
	if asciiText(c.rec) {
		return true
	}
	if !utf8.Valid(c.rec) || bytes.IndexByte(c.rec, 0) >= 0 {
		return false
	}
	for _, e := range c.ends {
		if e < len(c.rec) && !utf8.RuneStart(c.rec[e]) {
			return false
		}
	}
	return true
}

// asciiText reports whether b is ASCII without NUL bytes, eight bytes at a
// time: such a record needs no further encoding check.
func asciiText(b []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		if w&hi != 0 || (w-lo)&^w&hi != 0 { // a high bit, or a zero byte
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c == 0 || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func validText(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b == 0 {
			return false
		}
		if b >= utf8.RuneSelf {
			return utf8.ValidString(s[i:]) && !strings.Contains(s[i:], "\x00")
		}
	}
	return true
}
