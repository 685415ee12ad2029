package bankfile

import (
	"encoding/xml"
	"strconv"
	"strings"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// What an entry (Ntry) and each of its transactions (TxDtls) give, in
// every version read: 001.08 nests a party's name one level deeper
// (Dbtr/Pty/Nm) and gives a transaction its own amount and indicator.
var (
	entryFields = set("Amt", "Amt@Ccy", "CdtDbtInd", "RvslInd", "Sts", "Sts/Cd", "BookgDt/Dt", "BookgDt/DtTm", "AcctSvcrRef")
	txFields    = set("Refs/AcctSvcrRef", "Refs/EndToEndId", "Refs/MndtId", "Amt", "Amt@Ccy", "AmtDtls/TxAmt/Amt", "AmtDtls/TxAmt/Amt@Ccy",
		"CdtDbtInd", "RltdPties/Dbtr/Nm", "RltdPties/Dbtr/Pty/Nm", "RltdPties/DbtrAcct/Id/IBAN", "RmtInf/Ustrd",
		"RmtInf/Strd/CdtrRefInf/Ref", "RtrInf/Rsn/Cd", "RtrInf/Rsn/Prtry")
)

func set(paths ...string) map[string]bool {
	m := make(map[string]bool, len(paths))
	for _, p := range paths {
		m[p] = true
	}
	return m
}

type amt struct{ Value, Ccy string }

// entry reads one Ntry: its own fields (which precede its details), then
// each transaction of its details as an Entry; an entry without details
// is one Entry itself.
func (x *reader) entry() error {
	pos := x.pos()
	head := map[string]string{}
	var path []string
	base, txs := x.depth, 0
	var pending map[string]string
	var pendingPos problem.Position
	for {
		t, err := x.token()
		if err != nil {
			return x.eof(err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			p := joined(path)
			if p == "NtryDtls/TxDtls" {
				path = path[:len(path)-1]
				txPos := x.pos()
				f, err := x.fields(txFields)
				if err != nil {
					return err
				}
				// A transaction without an amount of its own is the
				// entry's amount when it is the entry's only one: it
				// waits for the next transaction or the entry's end.
				if pending != nil {
					if err := x.emitTx(head, pending, pendingPos, 0, false); err != nil {
						return err
					}
					pending = nil
				}
				if txs == 0 && f["AmtDtls/TxAmt/Amt"] == "" && f["Amt"] == "" {
					pending, pendingPos = f, txPos
				} else if err := x.emitTx(head, f, txPos, txs, false); err != nil {
					return err
				}
				txs++
				continue
			}
			for _, a := range t.Attr {
				if k := p + "@" + a.Name.Local; entryFields[k] {
					head[k] = a.Value
				}
			}
		case xml.CharData:
			if p := joined(path); entryFields[p] {
				head[p] += string(t)
			}
		case xml.EndElement:
			if x.depth < base {
				switch {
				case txs == 0:
					return x.emitTx(head, nil, pos, -1, true)
				case pending != nil:
					return x.emitTx(head, pending, pendingPos, 0, txs == 1)
				}
				return nil
			}
			path = path[:len(path)-1]
		}
	}
}

// emitTx makes the Entry of transaction f (index i; -1: the entry has
// none, f nil) of the entry whose fields are head; only says whether it
// is the entry's only transaction (it may then take the entry's amount).
func (x *reader) emitTx(head, f map[string]string, pos problem.Position, i int, only bool) error {
	h := func(k string) string { return trim(head[k]) }
	g := func(k string) string { return trim(f[k]) }
	e := Entry{Pos: pos, BookingDate: h("BookgDt/Dt"), Reversal: h("RvslInd") == "true"}
	if e.BookingDate == "" {
		e.BookingDate = datePart(h("BookgDt/DtTm"))
	}
	sts := h("Sts/Cd")
	if sts == "" {
		sts = h("Sts")
	}
	e.Booked = sts == "BOOK"
	a, ind := amt{h("Amt"), h("Amt@Ccy")}, h("CdtDbtInd")
	e.BankRef = h("AcctSvcrRef")
	if f != nil {
		switch {
		case g("AmtDtls/TxAmt/Amt") != "":
			a = amt{g("AmtDtls/TxAmt/Amt"), g("AmtDtls/TxAmt/Amt@Ccy")}
		case g("Amt") != "":
			a = amt{g("Amt"), g("Amt@Ccy")}
		case !only:
			return x.failAt(pos, CodeInvalid, ErrInvalid,
				"transaction %d of the entry %s gives no amount of its own (AmtDtls/TxAmt or Amt), and the entry has several: what each paid is unknown; ask the bank for the file with transaction amounts", i+1, e.BankRef)
		}
		if g("CdtDbtInd") != "" {
			ind = g("CdtDbtInd")
		}
		switch {
		case g("Refs/AcctSvcrRef") != "":
			e.BankRef = g("Refs/AcctSvcrRef")
		case e.BankRef != "":
			e.BankRef += "/" + strconv.Itoa(i+1)
		}
		e.EndToEndID, e.MandateID = g("Refs/EndToEndId"), g("Refs/MndtId")
		if e.EndToEndID == "NOTPROVIDED" {
			e.EndToEndID = ""
		}
		e.Reference, e.Remittance = g("RmtInf/Strd/CdtrRefInf/Ref"), g("RmtInf/Ustrd")
		e.Debtor, e.DebtorIBAN = g("RltdPties/Dbtr/Nm"), g("RltdPties/DbtrAcct/Id/IBAN")
		if e.Debtor == "" {
			e.Debtor = g("RltdPties/Dbtr/Pty/Nm")
		}
		e.Reason = g("RtrInf/Rsn/Cd")
		if e.Reason == "" {
			e.Reason = g("RtrInf/Rsn/Prtry")
		}
	}
	if e.BankRef == "" {
		return x.failAt(pos, CodeInvalid, ErrInvalid, "an entry has no bank reference (AcctSvcrRef): its payment could not be told from a second notice of it")
	}
	var err error
	if e.Amount, e.Currency, err = amount(a); err != nil {
		return x.failAt(pos, CodeInvalid, ErrInvalid, "the entry %s: %v", e.BankRef, err)
	}
	switch {
	case e.Reason != "":
		e.Kind = Return
	case ind == "CRDT":
		e.Kind = Credit
	case ind == "DBIT":
		e.Kind = Debit
	default:
		return x.failAt(pos, CodeInvalid, ErrInvalid, "the entry %s is neither a credit nor a debit (CdtDbtInd %q)", e.BankRef, ind)
	}
	return x.emit(e)
}

func joined(path []string) string { return strings.Join(path, "/") }

func trim(s string) string { return strings.TrimSpace(s) }

// datePart is the date of an ISO date-time (2026-12-03T10:00:00+01:00).
func datePart(s string) string {
	d, _, _ := strings.Cut(s, "T")
	return d
}
