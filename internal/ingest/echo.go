package ingest

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/render"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/store"
)

// echo keeps, while a file is checked, what its rejects file may repeat
// back (declare.Echo): the header as sent and every row, in a spool (an
// unlinked temporary file: disk, not memory). When the file is finished
// its rejects file is made from the spool and the problems, put in the
// archive and recorded in the finishing transaction: the upload is read
// once, for its check and its rejects.
type echo struct {
	fileID int64
	name   string
	header *echoHeader
	skip   int // leading columns not repeated (the rejects columns of a rejects file sent back)
	tmp    string
	f      *os.File
	w      *bufio.Writer
	n      int
	err    error
	num    [binary.MaxVarintLen64]byte
}

type echoHeader struct {
	Line   int
	Fields []string
}

func newEcho(tmp string, fileID int64, name string) *echo {
	return &echo{fileID: fileID, name: name, tmp: tmp}
}

func (e *echo) Header(line int, fields []string) {
	if schema.Resends(fields) {
		// A rejects file sent back: its own rejects columns are not repeated
		// beside the new ones (nor the first round's problems).
		e.skip = len(schema.RejectsColumns)
	}
	e.header = &echoHeader{Line: line, Fields: append([]string(nil), fields[e.skip:]...)}
}

// Row spools a row: its line, its number of values (0 for none, n+1 for
// n values) and each value with its length.
func (e *echo) Row(line int, fields []string) {
	if e.err != nil {
		return
	}
	if e.f == nil {
		if e.err = os.MkdirAll(e.tmp, 0o700); e.err != nil {
			return
		}
		if e.f, e.err = os.CreateTemp(e.tmp, "echo-*"); e.err != nil {
			return
		}
		_ = os.Remove(e.f.Name()) // nothing to clean up after a crash
		e.w = bufio.NewWriterSize(e.f, 256<<10)
	}
	e.n++
	e.uint(uint64(line))
	if fields == nil {
		e.uint(0)
		return
	}
	fields = fields[min(e.skip, len(fields)):]
	e.uint(uint64(len(fields)) + 1)
	for _, f := range fields {
		e.uint(uint64(len(f)))
		e.w.WriteString(f)
	}
}

func (e *echo) uint(v uint64) { e.w.Write(e.num[:binary.PutUvarint(e.num[:], v)]) }

func (e *echo) close() {
	if e.f != nil {
		e.f.Close()
	}
}

// rows replays the spool in file order.
func (e *echo) rows(yield func(line int, fields []string) error) error {
	if e.err != nil {
		return fmt.Errorf("spooling the rows of file %d: %w", e.fileID, e.err)
	}
	if e.f == nil {
		return nil
	}
	if err := e.w.Flush(); err != nil {
		return err
	}
	if _, err := e.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(e.f, 256<<10)
	var fields []string
	for range e.n {
		line, err := binary.ReadUvarint(r)
		if err != nil {
			return err
		}
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return err
		}
		fields = fields[:0]
		for i := uint64(1); i < n; i++ {
			l, err := binary.ReadUvarint(r)
			if err != nil {
				return err
			}
			b := make([]byte, l)
			if _, err := io.ReadFull(r, b); err != nil {
				return err
			}
			fields = append(fields, string(b))
		}
		row := fields
		if n == 0 {
			row = nil
		}
		if err := yield(int(line), row); err != nil {
			return err
		}
	}
	return nil
}

// Messages of the rows a rejects file repeats without a problem of their
// own.
const (
	notPosted = "no problem in this row, but nothing of the file was posted (it was rejected whole): send it back with the others"
)

// moreProblems says that a line's further problems follow on rows of their own.
func moreProblems(line, n int) string {
	if n == 1 {
		return fmt.Sprintf("line %d: 1 more problem of this line follows on the next row", line)
	}
	return fmt.Sprintf("line %d: %d more problems of this line follow on the next rows", line, n)
}

// finish makes the file's rejects file, when it has errors, and records
// it (and the count of warnings) on the file in tx. A file with warnings
// only has none: its warnings are listed in <file>.warnings.csv, from the
// problems.
func (e *echo) finish(ctx context.Context, tx store.Tx, made *archive.Store, probs []*problem.Problem, whole bool, d render.Dialect) error {
	errs, warns := 0, 0
	for _, p := range probs {
		if p.Severity == problem.Warning {
			warns++
		} else {
			errs++
		}
	}
	var sum []byte
	if errs > 0 {
		if err := os.MkdirAll(e.tmp, 0o700); err != nil {
			return err
		}
		out, err := os.CreateTemp(e.tmp, "rejects-*")
		if err != nil {
			return err
		}
		defer out.Close()
		_ = os.Remove(out.Name())
		if err := writeRejects(out, e.header, probs, whole, d, e.rows); err != nil {
			return fmt.Errorf("making the rejects file of file %d: %w", e.fileID, err)
		}
		if _, err := out.Seek(0, io.SeekStart); err != nil {
			return err
		}
		blob, err := made.Put(out)
		if err != nil {
			return fmt.Errorf("archiving the rejects file of file %d: %w", e.fileID, err)
		}
		sum = blob.SHA256[:]
	}
	if err := store.MarkRendered(ctx, tx, e.fileID, sum, warns); err != nil {
		return fmt.Errorf("recording the rejects file of file %d: %w", e.fileID, err)
	}
	return nil
}

// rowSource yields the rows a rejects file may repeat, in line order.
type rowSource func(yield func(line int, fields []string) error) error

// writeRejects writes the rejects file: under the rejects columns and the
// header as sent, first the file-level problems and those of the header,
// then each row with an error, as sent, with its first problem (its other
// problems on the rows after it, with no values, which an upload skips),
// then the problems of rows the reader could not split. When the file was
// rejected whole, every row is repeated, those without an error marked so,
// so that sending the file back fixed posts everything.
func writeRejects(w io.Writer, header *echoHeader, probs []*problem.Problem, whole bool, d render.Dialect, rows rowSource) error {
	byLine := map[int][]*problem.Problem{}
	hasError := map[int]bool{}
	var fileLevel []*problem.Problem
	for _, p := range probs {
		if p.Scope == problem.ScopeFile {
			// File-level problems come first, whatever their line (a file cut
			// short is told at its last line). When the file itself is at
			// fault (cut short, a checksum that does not match, malformed past
			// some line), its rows are not repeated: the answer is to send the
			// file again, not to send back what arrived.
			if p.Severity != problem.Warning {
				fileLevel = append(fileLevel, p)
				whole = false
			}
			continue
		}
		byLine[p.Pos.Line] = append(byLine[p.Pos.Line], p)
		if p.Severity != problem.Warning {
			hasError[p.Pos.Line] = true
		}
	}
	lines := make([]int, 0, len(byLine))
	for l := range byLine {
		if hasError[l] {
			lines = append(lines, l)
		}
	}
	sort.Ints(lines)
	c := render.NewCSVIn(w, d)
	cols := append([]string(nil), schema.RejectsColumns...)
	headerLine := 1
	if header != nil {
		cols = append(cols, header.Fields...)
		headerLine = header.Line
	}
	if err := c.Write(cols...); err != nil {
		return err
	}
	for _, p := range fileLevel {
		if err := c.Write(strconv.Itoa(p.Pos.Line), string(p.Code), p.Pos.Column, shown(p.Value), shown(p.Message)); err != nil {
			return err
		}
	}
	done := map[int]bool{}
	emit := func(line int, fields []string) error {
		done[line] = true
		ps := byLine[line]
		if !hasError[line] {
			return c.Write(append([]string{strconv.Itoa(line), "", "", "", notPosted}, fields...)...)
		}
		// Errors first, then warnings; each problem on its own row.
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Severity != problem.Warning && ps[j].Severity == problem.Warning })
		for i, p := range ps {
			msg := p.Message
			if p.Severity == problem.Warning {
				msg = "warning: " + msg
			}
			rec := []string{strconv.Itoa(line), string(p.Code), p.Pos.Column, shown(p.Value), shown(msg)}
			if i == 0 {
				if len(ps) > 1 {
					rec[4] += " (" + moreProblems(line, len(ps)-1) + ")"
				}
				rec = append(rec, fields...)
			}
			if err := c.Write(rec...); err != nil {
				return err
			}
		}
		return nil
	}
	for _, l := range lines {
		if l <= headerLine {
			if err := emit(l, nil); err != nil {
				return err
			}
		}
	}
	if header != nil {
		err := rows(func(line int, fields []string) error {
			if done[line] || (!hasError[line] && !whole) {
				return nil
			}
			return emit(line, fields)
		})
		if err != nil {
			return err
		}
	}
	for _, l := range lines { // rows the reader could not return as values
		if !done[l] {
			if err := emit(l, nil); err != nil {
				return err
			}
		}
	}
	return c.Close()
}

// shown writes control characters of Clearhouse's own columns (a value
// quoted in a problem, a message) as escapes, so that a rejects file shown
// on a terminal never runs them; the rows as sent stay as they were.
func shown(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) }
