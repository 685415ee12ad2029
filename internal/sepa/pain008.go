package sepa

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A SEPA Core direct debit collection (ISO 20022 pain.008, the EPC SDD
// Core rulebook): the hub collects its wallet resellers' invoices on one
// collection date, one transaction per invoice. Checked before a byte is
// written: a file a bank refuses is found here, by field, not at the bank.

// Version is a pain.008 message version a bank accepts.
type Version string

const (
	// Pain00800108 is the version of the EPC rulebooks since November
	// 2023 (ISO 2019).
	Pain00800108 Version = "pain.008.001.08"
	// Pain00800102 is the 2009 version, for banks that still want it.
	Pain00800102 Version = "pain.008.001.02"
)

// Sequence is a debit's place in its mandate's use (SeqTp).
type Sequence string

const (
	// First is a mandate's first collection.
	First Sequence = "FRST"
	// Recurring is every later one (the rulebook accepts it for the
	// first too since November 2016).
	Recurring Sequence = "RCUR"
)

// Address is a structured postal address. Since November 2026 the EPC
// rulebooks accept only structured or hybrid addresses: the town and the
// country are required, and no address is a free line of text alone.
type Address struct {
	Street      string // street and building number (StrtNm)
	Additional  string // a further line (AdrLine: a hybrid address)
	PostalCode  string
	Town        string
	Subdivision string // region or state (CtrySubDvsn)
	Country     string // ISO 3166-1 alpha-2
}

// Creditor is the party collecting: the hub.
type Creditor struct {
	Name       string
	Address    Address
	IBAN, BIC  string
	CreditorID string // the SEPA creditor identifier (AT-02)
}

// Debit is one transaction: one invoice collected from one debtor.
type Debit struct {
	EndToEndID    string // the invoice number
	Amount        int64  // euro cents
	MandateID     string
	MandateSigned time.Time
	Sequence      Sequence
	DebtorName    string
	DebtorAddress Address
	IBAN          string
	BIC           string // optional: "NOTPROVIDED" is written without it
	Remittance    string // unstructured remittance text (at most 140 characters)
}

// Collection is one pain.008 message: the debits of one collection date.
type Collection struct {
	Version   Version // empty: Pain00800108
	MessageID string
	Created   time.Time
	Creditor  Creditor
	Date      time.Time // the requested collection date (its day): a TARGET2 business day
	Debits    []Debit
}

// Causes of a refused collection; each FieldError wraps one.
var (
	ErrRequired    = errors.New("is required")
	ErrTooLong     = errors.New("is too long")
	ErrCharacters  = errors.New("has characters a SEPA identifier may not have")
	ErrIBAN        = errors.New("is not a valid IBAN")
	ErrBIC         = errors.New("is not a valid BIC")
	ErrCreditorID  = errors.New("is not a valid SEPA creditor identifier")
	ErrAmount      = errors.New("is not an amount a SEPA debit may collect (0.01 to 999,999,999.99 EUR)")
	ErrBusinessDay = errors.New("is not a TARGET2 business day")
	ErrSequence    = errors.New("is not FRST or RCUR")
	ErrVersion     = errors.New("is not a pain.008 version written here (pain.008.001.08, pain.008.001.02)")
	ErrDuplicate   = errors.New("is used by another debit of the file")
	ErrCountry     = errors.New("is not a two-letter country code")
)

// FieldError is a refused value: the field, as a path into the
// collection ("debits[2].iban"), its value, and the cause.
type FieldError struct {
	Field, Value string
	Err          error
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Field + " " + e.Err.Error()
	}
	return fmt.Sprintf("%s %q %s", e.Field, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// CheckError is every problem of a collection (or of a QR code's
// transfer): What is the thing refused.
type CheckError struct {
	What     string
	Problems []*FieldError
}

func (e *CheckError) Error() string {
	msgs := make([]string, 0, min(len(e.Problems), 5))
	for _, p := range e.Problems[:min(len(e.Problems), 5)] {
		msgs = append(msgs, p.Error())
	}
	more := ""
	if len(e.Problems) > 5 {
		more = fmt.Sprintf(" (and %d more)", len(e.Problems)-5)
	}
	return e.What + " cannot be written: " + strings.Join(msgs, "; ") + more
}

func (e *CheckError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// MaxAmount is the largest amount one SEPA debit collects, in cents.
const MaxAmount = 99_999_999_999

// Lengths the EPC implementation guidelines allow.
const (
	maxID         = 35
	maxName       = 70
	maxRemittance = 140
	maxStreet     = 70
	maxPostalCode = 16
	maxTown       = 35
)

// Check tells everything that keeps the collection from being a file a
// bank takes; nil when there is nothing.
func (c Collection) Check() error {
	var ps []*FieldError
	bad := func(field, value string, err error) {
		ps = append(ps, &FieldError{Field: field, Value: value, Err: err})
	}
	switch c.Version {
	case "", Pain00800108, Pain00800102:
	default:
		bad("version", string(c.Version), ErrVersion)
	}
	checkID(bad, "message_id", c.MessageID)
	cr := c.Creditor
	checkText(bad, "creditor.name", cr.Name, maxName)
	checkAddress(bad, "creditor.address", cr.Address)
	checkIBAN(bad, "creditor.iban", cr.IBAN)
	if cr.BIC != "" && !ValidBIC(cr.BIC) {
		bad("creditor.bic", cr.BIC, ErrBIC)
	}
	if !ValidCreditorID(cr.CreditorID) {
		bad("creditor.creditor_id", cr.CreditorID, ErrCreditorID)
	}
	if !BusinessDay(c.Date) {
		bad("collection_date", dateText(c.Date), ErrBusinessDay)
	}
	if len(c.Debits) == 0 {
		bad("debits", "", ErrRequired)
	}
	seen := make(map[string]bool, len(c.Debits))
	for i, d := range c.Debits {
		f := func(name string) string { return fmt.Sprintf("debits[%d].%s", i, name) }
		checkID(bad, f("end_to_end_id"), d.EndToEndID)
		if seen[d.EndToEndID] {
			bad(f("end_to_end_id"), d.EndToEndID, ErrDuplicate)
		}
		seen[d.EndToEndID] = true
		if d.Amount < 1 || d.Amount > MaxAmount {
			bad(f("amount"), amount(d.Amount), ErrAmount)
		}
		checkID(bad, f("mandate_id"), d.MandateID)
		if d.MandateSigned.IsZero() || Day(d.MandateSigned).After(Day(c.Date)) {
			bad(f("mandate_signed"), dateText(d.MandateSigned), ErrRequired)
		}
		if d.Sequence != First && d.Sequence != Recurring {
			bad(f("sequence"), string(d.Sequence), ErrSequence)
		}
		checkText(bad, f("debtor_name"), d.DebtorName, maxName)
		checkAddress(bad, f("debtor_address"), d.DebtorAddress)
		checkIBAN(bad, f("iban"), d.IBAN)
		if d.BIC != "" && !ValidBIC(d.BIC) {
			bad(f("bic"), d.BIC, ErrBIC)
		}
		checkText(bad, f("remittance"), d.Remittance, maxRemittance)
	}
	if ps != nil {
		return &CheckError{What: "the direct debit file", Problems: ps}
	}
	return nil
}

func dateText(d time.Time) string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.DateOnly)
}

func checkIBAN(bad func(string, string, error), field, iban string) {
	if iban == "" {
		bad(field, "", ErrRequired)
	} else if !ValidIBAN(iban) {
		bad(field, iban, ErrIBAN)
	}
}

// checkID checks an identifier as the EPC guidelines restrict them: at
// most 35 characters of the SEPA Latin set (letters, digits and
// / - ? : ( ) . , ' + and space), neither starting nor ending with a
// slash or a space, nor holding two slashes together.
func checkID(bad func(string, string, error), field, id string) {
	switch {
	case id == "":
		bad(field, "", ErrRequired)
	case len(id) > maxID:
		bad(field, id, ErrTooLong)
	case !idCharacters(id):
		bad(field, id, ErrCharacters)
	}
}

func idCharacters(id string) bool {
	return !strings.HasPrefix(id, "/") && !strings.HasSuffix(id, "/") && !strings.Contains(id, "//") &&
		strings.TrimSpace(id) == id && strings.TrimLeft(id, latinSet) == ""
}

// ValidID tells whether s is an identifier a SEPA file carries (a
// mandate reference, an end-to-end id): 1 to 35 characters of the Latin
// set, no slash or space at either end, no two slashes together.
func ValidID(s string) bool { return s != "" && len(s) <= maxID && idCharacters(s) }

const latinSet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ "

// checkText checks a name or a text: present, at most max characters,
// valid UTF-8 without control characters (names are written as they are:
// the file carries them unaltered).
func checkText(bad func(string, string, error), field, s string, max int) {
	switch {
	case strings.TrimSpace(s) == "":
		bad(field, "", ErrRequired)
	case utf8.RuneCountInString(s) > max:
		bad(field, s, fmt.Errorf("%w (at most %d characters)", ErrTooLong, max))
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == 0xfffe || r == 0xffff }):
		bad(field, s, errors.New("has a control character or is not UTF-8"))
	}
}

func checkAddress(bad func(string, string, error), field string, a Address) {
	checkText(bad, field+".town", a.Town, maxTown)
	if len(a.Country) != 2 || strings.TrimLeft(a.Country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		bad(field+".country", a.Country, ErrCountry)
	}
	for _, p := range []struct {
		name, value string
		max         int
	}{{"street", a.Street, maxStreet}, {"additional", a.Additional, maxStreet}, {"postal_code", a.PostalCode, maxPostalCode}, {"subdivision", a.Subdivision, maxTown}} {
		if p.value != "" {
			checkText(bad, field+"."+p.name, p.value, p.max)
		}
	}
}

// Write checks c and writes it as a pain.008 message: a payment
// information block per sequence type (FRST before RCUR), the debits in
// the order given, control sums in each block and in the header.
func Write(w io.Writer, c Collection) error {
	if err := c.Check(); err != nil {
		return err
	}
	v := c.Version
	if v == "" {
		v = Pain00800108
	}
	x := &writer{w: bufio.NewWriter(w), v: v}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.raw(`<Document xmlns="urn:iso:std:iso:20022:tech:xsd:` + string(v) + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`)
	x.open("CstmrDrctDbtInitn")
	x.open("GrpHdr")
	x.text("MsgId", c.MessageID)
	x.text("CreDtTm", c.Created.Format("2006-01-02T15:04:05-07:00"))
	x.text("NbOfTxs", strconv.Itoa(len(c.Debits)))
	x.text("CtrlSum", amount(sum(c.Debits)))
	x.open("InitgPty")
	x.text("Nm", c.Creditor.Name)
	x.close("InitgPty")
	x.close("GrpHdr")
	for _, seq := range []Sequence{First, Recurring} {
		var ds []Debit
		for _, d := range c.Debits {
			if d.Sequence == seq {
				ds = append(ds, d)
			}
		}
		if len(ds) > 0 {
			x.paymentInfo(c, seq, ds)
		}
	}
	x.close("CstmrDrctDbtInitn")
	x.raw("</Document>\n")
	return x.flush()
}

func (x *writer) paymentInfo(c Collection, seq Sequence, ds []Debit) {
	cr := c.Creditor
	x.open("PmtInf")
	x.text("PmtInfId", c.MessageID+"-"+string(seq))
	x.text("PmtMtd", "DD")
	x.text("NbOfTxs", strconv.Itoa(len(ds)))
	x.text("CtrlSum", amount(sum(ds)))
	x.open("PmtTpInf")
	x.open("SvcLvl")
	x.text("Cd", "SEPA")
	x.close("SvcLvl")
	x.open("LclInstrm")
	x.text("Cd", "CORE")
	x.close("LclInstrm")
	x.text("SeqTp", string(seq))
	x.close("PmtTpInf")
	x.text("ReqdColltnDt", dateText(c.Date))
	x.party("Cdtr", cr.Name, cr.Address)
	x.account("CdtrAcct", cr.IBAN)
	x.agent("CdtrAgt", cr.BIC)
	x.text("ChrgBr", "SLEV")
	x.open("CdtrSchmeId")
	x.open("Id")
	x.open("PrvtId")
	x.open("Othr")
	x.text("Id", CompactCreditorID(cr.CreditorID))
	x.open("SchmeNm")
	x.text("Prtry", "SEPA")
	x.close("SchmeNm")
	x.close("Othr")
	x.close("PrvtId")
	x.close("Id")
	x.close("CdtrSchmeId")
	for _, d := range ds {
		x.open("DrctDbtTxInf")
		x.open("PmtId")
		x.text("EndToEndId", d.EndToEndID)
		x.close("PmtId")
		x.raw(`<InstdAmt Ccy="EUR">` + amount(d.Amount) + `</InstdAmt>`)
		x.open("DrctDbtTx")
		x.open("MndtRltdInf")
		x.text("MndtId", d.MandateID)
		x.text("DtOfSgntr", dateText(d.MandateSigned))
		x.close("MndtRltdInf")
		x.close("DrctDbtTx")
		x.agent("DbtrAgt", d.BIC)
		x.party("Dbtr", d.DebtorName, d.DebtorAddress)
		x.account("DbtrAcct", d.IBAN)
		x.open("RmtInf")
		x.text("Ustrd", d.Remittance)
		x.close("RmtInf")
		x.close("DrctDbtTxInf")
	}
	x.close("PmtInf")
}

// CompactCreditorID is a creditor identifier as it is written: upper
// case, without spaces.
func CompactCreditorID(s string) string { return CompactIBAN(s) }

func sum(ds []Debit) int64 {
	var n int64
	for _, d := range ds {
		n += d.Amount
	}
	return n
}

// amount writes cents as the XML decimal of euros ("1643.88").
func amount(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// writer writes the message's elements in order; the first error sticks.
type writer struct {
	w   *bufio.Writer
	v   Version
	err error
}

func (x *writer) raw(s string) {
	if x.err == nil {
		_, x.err = x.w.WriteString(s)
	}
}

func (x *writer) open(name string)  { x.raw("<" + name + ">") }
func (x *writer) close(name string) { x.raw("</" + name + ">") }

// text writes <name>s</name>, escaped; nothing when s is empty (the
// schemas' texts are at least one character).
func (x *writer) text(name, s string) {
	if s == "" {
		return
	}
	x.open(name)
	if x.err == nil {
		x.err = xml.EscapeText(x.w, []byte(s))
	}
	x.close(name)
}

func (x *writer) party(tag, name string, a Address) {
	x.open(tag)
	x.text("Nm", name)
	x.open("PstlAdr")
	x.text("StrtNm", a.Street)
	x.text("PstCd", a.PostalCode)
	x.text("TwnNm", a.Town)
	x.text("CtrySubDvsn", a.Subdivision)
	x.text("Ctry", a.Country)
	x.text("AdrLine", a.Additional)
	x.close("PstlAdr")
	x.close(tag)
}

func (x *writer) account(tag, iban string) {
	x.open(tag)
	x.open("Id")
	x.text("IBAN", CompactIBAN(iban))
	x.close("Id")
	x.close(tag)
}

// agent writes a bank by its BIC (BICFI in 001.08, BIC in 001.02), or
// "NOTPROVIDED" as the guidelines ask when the BIC is not known.
func (x *writer) agent(tag, bic string) {
	x.open(tag)
	x.open("FinInstnId")
	switch {
	case bic == "":
		x.open("Othr")
		x.text("Id", "NOTPROVIDED")
		x.close("Othr")
	case x.v == Pain00800102:
		x.text("BIC", bic)
	default:
		x.text("BICFI", bic)
	}
	x.close("FinInstnId")
	x.close(tag)
}

func (x *writer) flush() error {
	if x.err != nil {
		return fmt.Errorf("writing the direct debit file: %w", x.err)
	}
	if err := x.w.Flush(); err != nil {
		return fmt.Errorf("writing the direct debit file: %w", err)
	}
	return nil
}

// MandateLapsed tells whether a mandate last used (or, never used,
// signed) on last has lapsed by on: the rulebook ends a mandate unused for
// 36 months.
func MandateLapsed(last, on time.Time) bool {
	return !Day(on).Before(Day(last).AddDate(3, 0, 0))
}
