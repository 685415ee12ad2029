package bankfile

import (
	"github.com/clearhouse/clearhouse/internal/problem"
)

// pain.002: a status report on a message the hub sent (a pain.008). Only
// rejections are entries: of the whole message (GrpSts RJCT), of a
// payment information block (PmtInfSts RJCT, with no transaction listed),
// or of a transaction (TxSts RJCT).

var (
	groupFields = set("OrgnlMsgId", "GrpSts", "StsRsnInf/Rsn/Cd", "StsRsnInf/Rsn/Prtry")
	txStsFields = set("StsId", "OrgnlEndToEndId", "TxSts", "StsRsnInf/Rsn/Cd", "StsRsnInf/Rsn/Prtry", "OrgnlTxRef/Amt/InstdAmt",
		"OrgnlTxRef/Amt/InstdAmt@Ccy", "OrgnlTxRef/MndtRltdInf/MndtId", "OrgnlTxRef/Dbtr/Nm", "OrgnlTxRef/Dbtr/Pty/Nm",
		"OrgnlTxRef/DbtrAcct/Id/IBAN", "OrgnlTxRef/RmtInf/Ustrd")
)

func reason(f map[string]string) string {
	if r := trim(f["StsRsnInf/Rsn/Cd"]); r != "" {
		return r
	}
	return trim(f["StsRsnInf/Rsn/Prtry"])
}

// groupStatus reads OrgnlGrpInfAndSts: a rejected message is one entry.
func (x *reader) groupStatus() error {
	pos := x.pos()
	f, err := x.fields(groupFields)
	if err != nil {
		return err
	}
	x.origMsg = trim(f["OrgnlMsgId"])
	if trim(f["GrpSts"]) != "RJCT" {
		return nil
	}
	return x.emit(Entry{Pos: pos, Kind: Reject, BankRef: "RJCT/" + x.origMsg, BookingDate: x.created, Reason: reason(f), OriginalMessage: x.origMsg})
}

// pmtInfo is an OrgnlPmtInfAndSts block being read.
type pmtInfo struct {
	pos            problem.Position
	id, status, rs string
	txs            int
}

// field reads one of the block's own elements (before its transactions).
func (b *pmtInfo) field(x *reader, name string) error {
	switch name {
	case "OrgnlPmtInfId", "PmtInfSts":
		f, err := x.fields(set(""))
		if name == "OrgnlPmtInfId" {
			b.id = f[""]
		} else {
			b.status = f[""]
		}
		return err
	case "StsRsnInf":
		f, err := x.fields(set("Rsn/Cd", "Rsn/Prtry"))
		if b.rs = trim(f["Rsn/Cd"]); b.rs == "" {
			b.rs = trim(f["Rsn/Prtry"])
		}
		return err
	}
	return x.skip()
}

// flush: a rejected block that lists no transaction is one entry.
func (b *pmtInfo) flush(x *reader) error {
	if b.status != "RJCT" || b.txs > 0 {
		return nil
	}
	return x.emit(Entry{Pos: b.pos, Kind: Reject, BankRef: "RJCT/" + x.origMsg + "/" + b.id, BookingDate: x.created, Reason: b.rs,
		OriginalMessage: x.origMsg, OriginalPaymentInfo: b.id})
}

// txStatus reads one TxInfAndSts; a rejected transaction is an entry.
func (x *reader) txStatus(block string) error {
	pos := x.pos()
	f, err := x.fields(txStsFields)
	if err != nil {
		return err
	}
	if trim(f["TxSts"]) != "RJCT" {
		return nil
	}
	e := Entry{Pos: pos, Kind: Reject, BookingDate: x.created, EndToEndID: trim(f["OrgnlEndToEndId"]), Reason: reason(f),
		MandateID: trim(f["OrgnlTxRef/MndtRltdInf/MndtId"]), Debtor: trim(f["OrgnlTxRef/Dbtr/Nm"]),
		DebtorIBAN: trim(f["OrgnlTxRef/DbtrAcct/Id/IBAN"]), Remittance: trim(f["OrgnlTxRef/RmtInf/Ustrd"]),
		OriginalMessage: x.origMsg, OriginalPaymentInfo: block}
	if e.Debtor == "" {
		e.Debtor = trim(f["OrgnlTxRef/Dbtr/Pty/Nm"])
	}
	if e.EndToEndID == "" {
		return x.failAt(pos, CodeInvalid, ErrInvalid, "a rejected transaction gives no original end-to-end id (OrgnlEndToEndId): what it rejects is unknown")
	}
	if e.BankRef = trim(f["StsId"]); e.BankRef == "" {
		e.BankRef = "RJCT/" + x.origMsg + "/" + e.EndToEndID
	}
	if v := trim(f["OrgnlTxRef/Amt/InstdAmt"]); v != "" {
		if e.Amount, e.Currency, err = amount(amt{v, f["OrgnlTxRef/Amt/InstdAmt@Ccy"]}); err != nil {
			return x.failAt(pos, CodeInvalid, ErrInvalid, "the rejected transaction %s: %v", e.EndToEndID, err)
		}
	}
	return x.emit(e)
}
