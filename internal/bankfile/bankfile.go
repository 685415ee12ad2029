// Package bankfile reads the bank's files about payments into entries:
// camt.054 debit/credit notifications (and camt.053 statements, whose
// entries are the same), and pain.002 payment status reports (the rejects
// of direct debits before settlement). It streams: memory is bounded by
// the largest piece of XML accepted and one transaction, never by the
// file. What it cannot read is a coded, located problem for the file as a
// whole: a bank file is taken whole or not at all. It knows nothing of
// invoices; matching entries to them is the caller's.
package bankfile

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/problem"
	"golang.org/x/text/encoding/charmap"
)

// Kind is what an entry did to the hub's account.
type Kind string

const (
	// Credit is money received: a transfer, or a batch of collected debits.
	Credit Kind = "credit"
	// Debit is money that left the account for another reason (fees, a
	// transfer sent): reported, matched to nothing.
	Debit Kind = "debit"
	// Return is a transaction sent back after settlement, with its reason
	// (camt RtrInf): a returned or refunded direct debit.
	Return Kind = "return"
	// Reject is a direct debit refused before settlement (pain.002 RJCT),
	// with its reason.
	Reject Kind = "reject"
)

// Entry is one transaction of a bank file.
type Entry struct {
	Pos     problem.Position // the file and the line where the transaction starts
	Message string           // the message and version: camt.054.001.08, pain.002.001.03, …
	Kind    Kind
	Booked  bool // camt: the entry's status is BOOK (not pending or information)
	// BankRef is the bank's reference of the transaction (camt: its
	// AcctSvcrRef, else the entry's with the transaction's index; pain.002:
	// the status id, else the original message and end-to-end ids).
	BankRef  string
	Amount   int64 // minor units of Currency, positive; 0 when the file gives none
	Currency string
	// BookingDate is the camt entry's booking date (YYYY-MM-DD), or the
	// pain.002 report's creation date.
	BookingDate string
	EndToEndID  string // of the original transaction: the invoice number of a debit the hub sent
	MandateID   string
	Reference   string // the structured creditor reference (RF…)
	Remittance  string // the unstructured remittance text
	Reason      string // the return or reject reason code (AC04, AM04, MD06, MS02, …)
	Debtor      string
	DebtorIBAN  string
	Reversal    bool // camt: the entry reverses an earlier one (RvslInd)
	// OriginalMessage and OriginalPaymentInfo are what a pain.002 rejects
	// when it rejects a whole message or payment information block
	// (EndToEndID empty).
	OriginalMessage, OriginalPaymentInfo string
}

// Limits bound what reading holds in memory.
type Limits struct {
	// MaxPiece is the largest run of text or markup between two angle
	// brackets (--max-record-kb); default 1 MiB.
	MaxPiece int
}

const maxDepth = 48 // deeper than any ISO 20022 message

// Problem codes (schemas/problems.yaml).
const (
	CodeUnreadable  problem.Code = "BANK_FILE_UNREADABLE"
	CodeUnsupported problem.Code = "BANK_FILE_UNSUPPORTED"
	CodeInvalid     problem.Code = "BANK_FILE_INVALID"
)

// Causes.
var (
	ErrNotXML      = errors.New("not well-formed XML")
	ErrUnsupported = errors.New("not a bank message read here")
	ErrInvalid     = errors.New("a transaction the file gives incompletely")
)

// Read reads the bank file r (its name for positions), calling fn with
// each entry in the order of the file, and returns the message it was
// (camt.054.001.08, …). The first error stops it: fn's, or a problem of
// the file (CodeUnreadable, CodeUnsupported, CodeInvalid), which may come
// after entries were handed to fn (a file cut short is found at its
// end): a caller applies the entries only once Read returned nil, all in
// one transaction.
func Read(r io.Reader, name string, lim Limits, fn func(Entry) error) (string, error) {
	if lim.MaxPiece <= 0 {
		lim.MaxPiece = 1 << 20
	}
	g := &guard{r: bufio.NewReaderSize(r, 64<<10), max: lim.MaxPiece}
	x := &reader{d: xml.NewDecoder(g), g: g, name: name, fn: fn}
	x.d.Strict = true
	x.d.CharsetReader = charsetReader
	return x.read()
}

type reader struct {
	d     *xml.Decoder
	g     *guard
	name  string
	fn    func(Entry) error
	msg   string // camt.054.001.08
	depth int
	// created is the report's creation date (pain.002 entries' date);
	// origMsg the message a pain.002 reports on.
	created, origMsg string
}

func (x *reader) pos() problem.Position {
	line, _ := x.d.InputPos()
	return problem.Position{File: x.name, Line: line}
}

func (x *reader) fail(code problem.Code, cause error, format string, args ...any) error {
	return x.failAt(x.pos(), code, cause, format, args...)
}

// failAt is a problem of the file as a whole, located at pos.
func (x *reader) failAt(pos problem.Position, code problem.Code, cause error, format string, args ...any) error {
	p := problem.New(code, pos, "", cause, format, args...)
	p.Scope = problem.ScopeFile
	return p
}

// eof turns the end of the input inside the Document into the problem of
// a file cut short.
func (x *reader) eof(err error) error {
	if err == io.EOF {
		return x.fail(CodeUnreadable, ErrNotXML, "the file ends before its Document does: it was cut short; ask the bank for it again")
	}
	return err
}

// token is the next token, its depth tracked and bounded.
func (x *reader) token() (xml.Token, error) {
	t, err := x.d.Token()
	if err != nil {
		if errors.Is(err, errPiece) {
			return nil, x.fail(CodeUnreadable, ErrNotXML, "a piece of the file is larger than %d KB: not a bank message", x.g.max>>10)
		}
		if err == io.EOF {
			return nil, err
		}
		return nil, x.fail(CodeUnreadable, ErrNotXML, "the file is not well-formed XML (%v): it may have been cut short; ask the bank for it again", err)
	}
	switch t.(type) {
	case xml.StartElement:
		if x.depth++; x.depth > maxDepth {
			return nil, x.fail(CodeUnreadable, ErrNotXML, "elements nested deeper than %d: not a bank message", maxDepth)
		}
	case xml.EndElement:
		x.depth--
	}
	return t, nil
}

// fields reads the element just opened to its end and returns the text
// of each path in want below it ("Refs/EndToEndId"; "Amt@Ccy" for an
// attribute), the first occurrence of each: a transaction's few values,
// whatever else it holds.
func (x *reader) fields(want map[string]bool) (map[string]string, error) {
	got, done := map[string]string{}, map[string]bool{}
	var path []string
	base := x.depth
	for {
		t, err := x.token()
		if err == io.EOF {
			return nil, x.fail(CodeUnreadable, ErrNotXML, "the file ends before its Document does: it was cut short; ask the bank for it again")
		}
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			p := strings.Join(path, "/")
			for _, a := range t.Attr {
				if k := p + "@" + a.Name.Local; want[k] && !done[k] {
					got[k], done[k] = strings.TrimSpace(a.Value), true
				}
			}
		case xml.CharData:
			if p := strings.Join(path, "/"); want[p] && !done[p] {
				got[p] += string(t)
			}
		case xml.EndElement:
			if x.depth < base {
				return got, nil
			}
			if p := strings.Join(path, "/"); want[p] && !done[p] {
				got[p], done[p] = strings.TrimSpace(got[p]), true
			}
			path = path[:len(path)-1]
		}
	}
}

const nsPrefix = "urn:iso:std:iso:20022:tech:xsd:"

// The messages read, by their namespace's last part.
var supported = map[string]bool{
	"camt.054.001.02": true, "camt.054.001.04": true, "camt.054.001.08": true,
	"camt.053.001.02": true, "camt.053.001.04": true, "camt.053.001.08": true,
	"pain.002.001.03": true, "pain.002.001.10": true,
}

func (x *reader) read() (string, error) {
	var root xml.StartElement
	for {
		t, err := x.token()
		if err == io.EOF {
			return "", x.fail(CodeUnreadable, ErrNotXML, "the file holds no XML element: it is empty or not a bank message")
		}
		if err != nil {
			return "", err
		}
		if s, ok := t.(xml.StartElement); ok {
			root = s
			break
		}
	}
	ns := root.Name.Space
	msg, ok := strings.CutPrefix(ns, nsPrefix)
	if root.Name.Local != "Document" || !ok || !supported[msg] {
		what := root.Name.Local
		if ns != "" {
			what += " in namespace " + ns
		}
		return "", x.fail(CodeUnsupported, ErrUnsupported,
			"the file is a %s, not a camt.054 or camt.053 (001.02, .04, .08) or pain.002 (001.03, .10) ISO 20022 Document", what)
	}
	x.msg = msg
	if err := x.walk(); err != nil {
		return msg, err
	}
	// Nothing may follow the root but space and comments.
	for {
		t, err := x.token()
		if err == io.EOF {
			return msg, nil
		}
		if err != nil {
			return msg, err
		}
		if _, ok := t.(xml.StartElement); ok {
			return msg, x.fail(CodeUnreadable, ErrNotXML, "an element follows the Document: not one bank message")
		}
	}
}

// walk reads the root's content until its end, handing the transactions
// to their readers.
func (x *reader) walk() error {
	var block pmtInfo
	for {
		t, err := x.token()
		if err == io.EOF {
			return x.fail(CodeUnreadable, ErrNotXML, "the file ends before its Document does: it was cut short; ask the bank for it again")
		}
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.EndElement:
			if x.depth == 0 {
				return nil
			}
			if t.Name.Local == "OrgnlPmtInfAndSts" {
				if err := block.flush(x); err != nil {
					return err
				}
				block = pmtInfo{}
			}
		case xml.StartElement:
			var err error
			switch {
			case t.Name.Space != nsPrefix+x.msg:
				err = x.skip()
			case t.Name.Local == "Ntry":
				err = x.entry()
			case t.Name.Local == "GrpHdr":
				var f map[string]string
				if f, err = x.fields(map[string]bool{"CreDtTm": true}); err == nil {
					x.created, _, _ = strings.Cut(f["CreDtTm"], "T")
				}
			case t.Name.Local == "OrgnlGrpInfAndSts":
				err = x.groupStatus()
			case t.Name.Local == "OrgnlPmtInfAndSts":
				block = pmtInfo{pos: x.pos()}
			case t.Name.Local == "TxInfAndSts":
				block.txs++
				err = x.txStatus(block.id)
			case x.depth == 4 && strings.HasPrefix(x.msg, "pain.002") && block.pos.Line > 0:
				err = block.field(x, t.Name.Local)
			case strings.HasPrefix(x.msg, "pain.002") && x.depth > 2:
				err = x.skip()
			}
			if err != nil {
				return err
			}
		}
	}
}

// skip skips the element just opened.
func (x *reader) skip() error {
	for d := x.depth; x.depth >= d; {
		if _, err := x.token(); err != nil {
			if err == io.EOF {
				return x.fail(CodeUnreadable, ErrNotXML, "the file ends before its Document does: it was cut short; ask the bank for it again")
			}
			return err
		}
	}
	return nil
}

// emit checks an entry and hands it on.
func (x *reader) emit(e Entry) error {
	e.Message = x.msg
	if e.Pos.File == "" {
		e.Pos = x.pos()
	}
	return x.fn(e)
}

// amount parses an ISO 20022 amount in its currency's minor units.
func amount(a amt) (int64, string, error) {
	v, cur := strings.TrimSpace(a.Value), strings.TrimSpace(a.Ccy)
	c, err := money.ParseCurrency(cur)
	if err != nil {
		return 0, cur, fmt.Errorf("currency %q: %w", cur, err)
	}
	n, err := money.ParseMinor(v, c)
	if err != nil || n < 0 {
		return 0, cur, fmt.Errorf("amount %q %s is not an amount of that currency", v, cur)
	}
	return n, string(c), nil
}

// charsetReader reads the only encoding ISO 20022 files use besides
// UTF-8: ISO-8859-1 (some banks still write it).
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "latin-1", "iso8859-1":
		return charmap.ISO8859_1.NewDecoder().Reader(r), nil
	}
	return nil, fmt.Errorf("encoding %q is not read here (UTF-8 or ISO-8859-1)", charset)
}

var errPiece = errors.New("piece too large")

// guard fails a read once a run of bytes without an angle bracket (a text,
// or a tag with its attributes) grows past max: what xml.Decoder would
// otherwise hold whole.
type guard struct {
	r   *bufio.Reader
	max int
	run int
}

func (g *guard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for _, b := range p[:n] {
		if b == '<' || b == '>' {
			g.run = 0
		} else if g.run++; g.run > g.max {
			return 0, errPiece
		}
	}
	return n, err
}
