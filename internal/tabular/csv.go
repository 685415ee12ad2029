package tabular

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/clearhouse/clearhouse/internal/problem"
)

const bufSize = 1 << 20

type csvReader struct {
	name   string
	lim    Limits
	guard  *guard
	cr     *csv.Reader
	rows   int
	first  bool
	failed error
}

func newCSV(r io.Reader, opts Options) *csvReader {
	lim := opts.Limits.withDefaults()
	g := &guard{r: r, maxLine: lim.MaxLineBytes, maxRecord: lim.MaxRecordBytes + bufSize}
	cr := csv.NewReader(bufio.NewReaderSize(g, bufSize))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return &csvReader{name: opts.Name, lim: lim, guard: g, cr: cr, first: true}
}

func (c *csvReader) Sheet() string { return "" }

func (c *csvReader) pos(line int) problem.Position {
	return problem.Position{File: c.name, Line: line}
}

func (c *csvReader) fileProblem(code problem.Code, line int, cause error, format string, args ...any) *problem.Problem {
	p := problem.New(code, c.pos(line), "", cause, format, args...)
	p.Scope = problem.ScopeFile
	return p
}

func (c *csvReader) Next() (Row, error) {
	if c.failed != nil {
		return Row{}, c.failed
	}
	c.guard.startRecord()
	rec, err := c.cr.Read()
	if err != nil {
		return Row{}, c.readError(err)
	}
	line, _ := c.cr.FieldPos(0)
	c.rows++
	if c.rows > c.lim.MaxRows {
		c.failed = c.fileProblem(CodeTooManyRows, line, ErrTooManyRows, "the file has more than %d rows; split it into smaller files", c.lim.MaxRows)
		return Row{}, c.failed
	}
	if c.first {
		c.first = false
		if len(rec) > 0 {
			rec[0] = strings.TrimPrefix(rec[0], "\uFEFF")
		}
	}
	if len(rec) > c.lim.MaxFields {
		c.failed = c.fileProblem(CodeTooManyFields, line, ErrTooManyFields, "line has %d columns; at most %d are accepted", len(rec), c.lim.MaxFields)
		return Row{}, c.failed
	}
	for i, f := range rec {
		if len(f) > c.lim.MaxFieldBytes {
			return Row{Line: line}, problem.New(CodeFieldTooLong, c.pos(line), f, ErrFieldTooLong,
				"value in column %d is %d bytes long; at most %d are accepted", i+1, len(f), c.lim.MaxFieldBytes)
		}
		if !validText(f) {
			fl, _ := c.cr.FieldPos(i)
			return Row{Line: line}, problem.New(CodeEncoding, c.pos(fl), strings.ToValidUTF8(strings.ReplaceAll(f, "\x00", ""), "\uFFFD"), ErrEncoding,
				"value in column %d is not valid UTF-8 text (or contains a NUL byte); save the file as CSV UTF-8", i+1)
		}
	}
	return Row{Line: line, Fields: rec}, nil
}

func (c *csvReader) readError(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	var ge *guardError
	if errors.As(err, &ge) {
		if ge.cause == ErrLineTooLong {
			c.failed = c.fileProblem(CodeLineTooLong, ge.line, ErrLineTooLong, "line %d is longer than %d bytes; this is not a declarations file or it is damaged", ge.line, c.lim.MaxLineBytes)
		} else {
			c.failed = c.fileProblem(CodeLineTooLong, ge.line, ErrRecordTooBig, "the record starting near line %d is larger than %d bytes (an unclosed quote?)", ge.line, c.lim.MaxRecordBytes)
		}
		return c.failed
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrQuote) && pe.StartLine != pe.Line {
			// An unterminated quote swallows the rest of the file: nothing after it can be trusted.
			c.failed = c.fileProblem(CodeSyntax, pe.StartLine, ErrSyntax, "a quoted value opened on line %d is never closed", pe.StartLine)
			return c.failed
		}
		return problem.New(CodeSyntax, c.pos(pe.Line), "", ErrSyntax, "malformed CSV at line %d, character %d: %v", pe.Line, pe.Column, pe.Err)
	}
	c.failed = fmt.Errorf("reading %s: %w", c.name, err)
	return c.failed
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

// guard sits under the CSV reader's buffer and refuses physical lines and
// records beyond the limits, so a hostile file cannot make the reader grow
// without bound.
type guard struct {
	r         io.Reader
	maxLine   int
	maxRecord int
	lineLen   int
	recLen    int
	line      int
}

type guardError struct {
	cause error
	line  int
}

func (e *guardError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.cause) }

func (g *guard) startRecord() { g.recLen = 0 }

func (g *guard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	chunk := p[:n]
	g.recLen += n
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			g.lineLen += len(chunk)
			break
		}
		g.lineLen += i
		if g.lineLen > g.maxLine {
			return 0, &guardError{ErrLineTooLong, g.line + 1}
		}
		g.lineLen = 0
		g.line++
		chunk = chunk[i+1:]
	}
	if g.lineLen > g.maxLine {
		return 0, &guardError{ErrLineTooLong, g.line + 1}
	}
	if g.recLen > g.maxRecord {
		return 0, &guardError{ErrRecordTooBig, g.line + 1}
	}
	return n, err
}
