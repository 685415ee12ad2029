package tabular

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// A spool is a reader's output decoded once and kept in a temporary file:
// a workbook (slow to decode) is read into one before the reseller's lock
// is taken, and its check under the lock replays the spool. Memory stays
// that of one row.

// spoolHead is the first record of a spool.
type spoolHead struct {
	Sheet    string
	Date1904 bool
	Notes    []spoolProblem
}

// spoolRecord is one result of Next: a row, a problem, or the end.
type spoolRecord struct {
	Line    int
	Numbers uint64
	Fields  []string
	Problem *spoolProblem
	EOF     bool
}

type spoolProblem struct {
	Code                  string
	Severity, Scope       string
	File, Sheet, Column   string
	Line                  int
	Value, Message, Cause string
}

func toSpool(p *problem.Problem) *spoolProblem {
	sp := &spoolProblem{Code: string(p.Code), Severity: string(p.Severity), Scope: string(p.Scope), File: p.Pos.File, Sheet: p.Pos.Sheet,
		Column: p.Pos.Column, Line: p.Pos.Line, Value: p.Value, Message: p.Message}
	if p.Err != nil {
		sp.Cause = p.Err.Error()
	}
	return sp
}

func (sp *spoolProblem) problem() *problem.Problem {
	p := &problem.Problem{Code: problem.Code(sp.Code), Severity: problem.Severity(sp.Severity), Scope: problem.Scope(sp.Scope),
		Pos: problem.Position{File: sp.File, Sheet: sp.Sheet, Column: sp.Column, Line: sp.Line}, Value: sp.Value, Message: sp.Message}
	if sp.Cause != "" {
		p.Err = errors.New(sp.Cause)
	}
	return p
}

// SpoolTo reads r to its end (a file-level problem or the last row) into w.
// An error is a failure of the system (writing w, or reading r's input).
func SpoolTo(r Reader, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := gob.NewEncoder(bw)
	head := spoolHead{Sheet: r.Sheet()}
	if wb, ok := r.(interface{ Date1904() bool }); ok {
		head.Date1904 = wb.Date1904()
	}
	for _, n := range r.Notes() {
		head.Notes = append(head.Notes, *toSpool(n))
	}
	if err := enc.Encode(head); err != nil {
		return fmt.Errorf("spooling: %w", err)
	}
	for {
		row, err := r.Next()
		var rec spoolRecord
		var p *problem.Problem
		switch {
		case errors.Is(err, io.EOF):
			rec.EOF = true
		case errors.As(err, &p):
			rec.Problem = toSpool(p)
		case err != nil:
			return err
		default:
			rec.Line, rec.Numbers, rec.Fields = row.Line, row.Numbers, row.Fields
		}
		if err := enc.Encode(&rec); err != nil {
			return fmt.Errorf("spooling: %w", err)
		}
		if rec.EOF || (rec.Problem != nil && rec.Problem.Scope != string(problem.ScopeRow)) {
			break
		}
	}
	return bw.Flush()
}

// Replay reads a spool written by SpoolTo as the reader it came from.
func Replay(r io.Reader) (Reader, error) {
	dec := gob.NewDecoder(bufio.NewReaderSize(r, 256<<10))
	var head spoolHead
	if err := dec.Decode(&head); err != nil {
		return nil, fmt.Errorf("reading a spool: %w", err)
	}
	rp := &replay{dec: dec, head: head}
	for i := range head.Notes {
		rp.notes = append(rp.notes, head.Notes[i].problem())
	}
	return rp, nil
}

type replay struct {
	dec   *gob.Decoder
	head  spoolHead
	notes []*problem.Problem
	rec   spoolRecord
	done  error
}

func (r *replay) Sheet() string             { return r.head.Sheet }
func (r *replay) Notes() []*problem.Problem { return r.notes }
func (r *replay) Date1904() bool            { return r.head.Date1904 }

func (r *replay) Next() (Row, error) {
	if r.done != nil {
		return Row{}, r.done
	}
	r.rec = spoolRecord{Fields: r.rec.Fields[:0]}
	if err := r.dec.Decode(&r.rec); err != nil {
		r.done = fmt.Errorf("reading a spool: %w", err)
		return Row{}, r.done
	}
	switch {
	case r.rec.EOF:
		r.done = io.EOF
		return Row{}, io.EOF
	case r.rec.Problem != nil:
		p := r.rec.Problem.problem()
		if p.Scope != problem.ScopeRow {
			r.done = p
		}
		return Row{}, p
	}
	return Row{Line: r.rec.Line, Numbers: r.rec.Numbers, Fields: r.rec.Fields}, nil
}

// IsWorkbook tells whether f starts like a ZIP archive (a workbook), which
// is worth spooling before a lock.
func IsWorkbook(f *os.File) bool {
	head := make([]byte, 4)
	n, _ := f.ReadAt(head, 0)
	return n == 4 && string(head) == "PK\x03\x04"
}
