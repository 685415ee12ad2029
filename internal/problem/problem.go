// Package problem describes what is wrong with an input file, where, and why:
// positions (file, sheet, line, column), coded problems that wrap sentinel
// causes, and capped reports that keep collecting instead of stopping at the
// first problem. It knows nothing about the domain.
package problem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Code is a stable, documented problem code (see schemas/problems.yaml).
type Code string

// Severity tells whether a problem rejects its row or file, or only warns.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Scope tells whether a problem rejects one row or the whole file.
type Scope string

const (
	ScopeRow  Scope = "row"
	ScopeFile Scope = "file"
)

// Position locates a value in an input file. Line is 1-based (the physical
// line where the record starts); 0 means the file as a whole.
type Position struct {
	File   string
	Sheet  string
	Line   int
	Column string
}

func (p Position) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Sheet != "" {
		b.WriteString("[" + p.Sheet + "]")
	}
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	if p.Column != "" {
		b.WriteString(" column " + p.Column)
	}
	return b.String()
}

// Problem is one coded, located problem. It wraps a sentinel cause so callers
// can use errors.Is; the message is written for the person who sent the file.
type Problem struct {
	Code     Code
	Severity Severity
	Scope    Scope
	Pos      Position
	Value    string
	Message  string
	Err      error
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("%s: %s: %s", p.Pos, p.Code, p.Message)
	if p.Value != "" {
		s += fmt.Sprintf(" (value %q)", p.Value)
	}
	return s
}

func (p *Problem) Unwrap() error { return p.Err }

// New makes a row-scoped error problem.
func New(code Code, pos Position, value string, cause error, format string, args ...any) *Problem {
	return &Problem{Code: code, Severity: Error, Scope: ScopeRow, Pos: pos, Value: clip(value), Message: fmt.Sprintf(format, args...), Err: cause}
}

// maxValue bounds how much of an offending value a report repeats.
const maxValue = 200

func clip(v string) string {
	if len(v) <= maxValue {
		return v
	}
	cut := maxValue
	for cut > 0 && !isRuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ErrTooMany is the cause of the problem added when a report reaches its cap.
var ErrTooMany = errors.New("too many problems")

// CodeTooMany is the code of the file-level problem that closes a full report.
const CodeTooMany Code = "TOO_MANY_PROBLEMS"

// Report collects problems up to a cap. When the cap is reached it records one
// file-level TOO_MANY_PROBLEMS problem and reports Full; the caller stops.
type Report struct {
	Max      int
	Problems []*Problem
	full     bool
	fileErrs int
	warnings int
}

// NewReport returns a report capped at max problems (at least 1).
func NewReport(max int) *Report {
	if max < 1 {
		max = 1
	}
	return &Report{Max: max}
}

// Add records p unless the report is full. It returns false once full.
func (r *Report) Add(p *Problem) bool {
	if r.full {
		return false
	}
	if len(r.Problems) >= r.Max {
		r.full = true
		r.Problems = append(r.Problems, &Problem{
			Code: CodeTooMany, Severity: Error, Scope: ScopeFile, Pos: Position{File: p.Pos.File},
			Message: fmt.Sprintf("more than %d problems: checking stopped here and the whole file is rejected; fix the problems listed and send the file again", r.Max),
			Err:     ErrTooMany,
		})
		r.fileErrs++
		return false
	}
	r.Problems = append(r.Problems, p)
	switch {
	case p.Severity == Warning:
		r.warnings++
	case p.Scope == ScopeFile:
		r.fileErrs++
	}
	return true
}

// Full reports whether the cap was reached.
func (r *Report) Full() bool { return r.full }

// FileRejected reports whether a file-level error was recorded.
func (r *Report) FileRejected() bool { return r.fileErrs > 0 }

// Errors is the number of error (non-warning) problems.
func (r *Report) Errors() int { return len(r.Problems) - r.warnings }

// Warnings is the number of warnings.
func (r *Report) Warnings() int { return r.warnings }

// Unwrap lets errors.Is and errors.As look through every problem.
func (r *Report) Unwrap() []error {
	errs := make([]error, len(r.Problems))
	for i, p := range r.Problems {
		errs[i] = p
	}
	return errs
}

func (r *Report) Error() string {
	switch len(r.Problems) {
	case 0:
		return "no problems"
	case 1:
		return r.Problems[0].Error()
	}
	return fmt.Sprintf("%s (and %d more problems)", r.Problems[0].Error(), len(r.Problems)-1)
}
