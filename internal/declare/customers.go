package declare

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// Customer is a checked row of a customers file. Empty optional values leave
// what is known of the customer unchanged.
type Customer struct {
	Line                                       int
	CustomerID, Email, Name, Country, Language string
	Company, VATID                             string
}

// CustomerChecker validates a customers file.
type CustomerChecker struct {
	Reseller *Reseller
	Report   *problem.Report
	Accept   func(*Customer) error
	// Echo, when set, receives the header as sent and every row, for the
	// rejects file (so the file is read once).
	Echo Echo
	// Repeats, from Prescan, say which customer ids to remember for the
	// in-file duplicate check, and until when; nil: all, to the end.
	Repeats *Repeats
}

var cc = func() (c struct{ id, email, name, country, language, company, vat int }) {
	l := schema.MustLoad("customers")
	c.id, c.email, c.name, c.country, c.language, c.company, c.vat = l.Index("customer_id"), l.Index("email"), l.Index("name"),
		l.Index("country"), l.Index("language"), l.Index("company"), l.Index("vat_id")
	return
}()

// RejectedWhole reports whether nothing of the file can be posted.
func (c *CustomerChecker) RejectedWhole() bool {
	return c.Report.FileRejected() || (c.Reseller.RejectFile() && c.Report.Errors() > 0)
}

// Run checks every row of r.
func (c *CustomerChecker) Run(ctx context.Context, r tabular.Reader, file string) (Summary, error) {
	var sum Summary
	pos := func(line int, col string) problem.Position {
		return problem.Position{File: file, Sheet: r.Sheet(), Line: line, Column: col}
	}
	stop := false
	add := func(p *problem.Problem) {
		if !c.Report.Add(p) {
			stop = true
		}
	}
	fileProblem := func(code problem.Code, line int, cause error, msg string) {
		p := problem.New(code, pos(line, ""), "", cause, "%s", msg)
		p.Scope = problem.ScopeFile
		add(p)
	}
	header, err := r.Next()
	if errors.Is(err, io.EOF) {
		fileProblem(CodeEmptyFile, 0, ErrEmpty, tabular.EmptyMessage(r))
		return sum, nil
	}
	err = headerProblem(err)
	var rp *problem.Problem
	if errors.As(err, &rp) {
		add(rp)
		return sum, nil
	} else if err != nil {
		return sum, err
	}
	if c.Echo != nil {
		c.Echo.Header(header.Line, header.Fields)
	}
	bind, probs := schema.MustLoad("customers").Bind(header.Fields, pos(header.Line, ""))
	bind.Locale = c.Reseller.Format.Locale()
	if wb, ok := r.(interface{ Date1904() bool }); ok {
		bind.Locale.Workbook, bind.Locale.Date1904 = true, wb.Date1904()
	}
	probs = append(r.Notes(), probs...)
	for _, p := range probs {
		add(p)
	}
	if c.Report.FileRejected() {
		return sum, nil
	}
	vals := bind.NewValues()
	seen := churnMap[string, int]{m: map[string]int{}}
	echo := func(line int, fields []string) { // every row, for the rejects file
		if c.Echo != nil && line > 0 {
			c.Echo.Row(line, fields)
		}
	}
	var row tabular.Row
	for !stop {
		echo(row.Line, row.Fields)
		row = tabular.Row{}
		var err error
		row, err = r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.As(err, &rp) {
			add(rp)
			if rp.Scope == problem.ScopeFile {
				break
			}
			row = tabular.Row{Line: rp.Pos.Line, Fields: row.Fields} // as the reader could show them, for the rejects file
			sum.Rows++
			sum.Rejected++
			continue
		}
		if err != nil {
			return sum, err
		}
		if bind.OnlyIgnored(row.Fields) {
			row = tabular.Row{} // a rejects file's further problems of a line: not data
			continue
		}
		sum.Rows++
		ok := bind.Check(row, vals, add)
		id := vals.Str[cc.id]
		flags := keepID
		if c.Repeats != nil {
			flags = c.Repeats.row(sum.Rows - 1)
		}
		if first, dup := seen.m[id]; dup && id != "" && flags&keepID != 0 {
			add(problem.New(CodeDuplicateInFile, pos(row.Line, "customer_id"), id, ErrDuplicate, "customer %s is already on line %d of this file", id, first))
			ok = false
		} else if id != "" && flags&keepID != 0 {
			seen.m[strings.Clone(id)] = row.Line // not a slice of the row's text, which would stay with it
		}
		if flags&lastID != 0 {
			seen.remove(id)
		}
		if !ok {
			sum.Rejected++
			continue
		}
		sum.Accepted++
		if c.Accept != nil && !c.RejectedWhole() {
			cu := &Customer{Line: row.Line, CustomerID: id, Email: vals.Str[cc.email], Name: vals.Str[cc.name], Country: vals.Str[cc.country],
				Language: vals.Str[cc.language], Company: vals.Str[cc.company], VATID: vals.Str[cc.vat]}
			if err := c.Accept(cu); err != nil {
				return sum, err
			}
		}
	}
	echo(row.Line, row.Fields)
	if sum.Rows == 0 && !c.Report.FileRejected() {
		fileProblem(CodeNoRows, header.Line, ErrEmpty, "the file has a header but no customer rows")
	}
	return sum, nil
}
