package bankfile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/bankfile"
	"github.com/clearhouse/clearhouse/internal/problem"
	"golang.org/x/text/encoding/charmap"
)

func read(t *testing.T, name string, data []byte, lim bankfile.Limits) (string, []bankfile.Entry, error) {
	t.Helper()
	var es []bankfile.Entry
	msg, err := bankfile.Read(bytes.NewReader(data), name, lim, func(e bankfile.Entry) error {
		es = append(es, e)
		return nil
	})
	return msg, es, err
}

func readFile(t *testing.T, name string) (string, []bankfile.Entry, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return read(t, name, data, bankfile.Limits{})
}

// genkgoDetails are the transactions genkgo/camt's parser finds in a
// sample (its JSON dump beside it): end-to-end id and amount in minor
// units, signed as it signs them.
func genkgoDetails(t *testing.T, name string) (ids []string, amounts []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if c, _ := v["__CLASS__"].(string); strings.HasSuffix(c, `\EntryTransactionDetail`) {
				ref, _ := v["getReference"].(map[string]any)
				id, _ := ref["getEndToEndId"].(string)
				a := ""
				if m, ok := v["getAmount"].(map[string]any); ok {
					a, _ = m["getAmount"].(string)
				}
				ids, amounts = append(ids, id), append(amounts, a)
			}
			for _, k := range []string{"getEntries", "getTransactionDetail", "getTransactionDetails"} {
				if c, ok := v[k]; ok {
					walk(c)
				}
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(v)
	return ids, amounts
}

// The transactions of real camt.054 files, as another parser reads them
// (genkgo/camt, 001.04 and 001.08), and a real bank's return notification
// (PostFinance, 001.04).
func TestReadsBankSamples(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ file, msg, json string }{
		{"camt054.v8.xml", "camt.054.001.08", "camt054.v8.json"},
		{"camt054.v4.xml", "camt.054.001.04", "camt054.v8.json"}, // the same notification in 001.04
	} {
		msg, es, err := readFile(t, c.file)
		if err != nil || msg != c.msg {
			t.Fatalf("%s: %s, %v", c.file, msg, err)
		}
		ids, amounts := genkgoDetails(t, c.json)
		if len(es) != 3 || len(ids) != 3 {
			t.Fatalf("%s: %d entries; genkgo finds %d", c.file, len(es), len(ids))
		}
		for i, e := range es {
			if e.EndToEndID != ids[i] || "-"+itoa(e.Amount) != amounts[i] || e.Currency != "CHF" {
				t.Errorf("%s entry %d: %s %d %s; genkgo %s %s", c.file, i+1, e.EndToEndID, e.Amount, e.Currency, ids[i], amounts[i])
			}
			// The transactions say CRDT (their entry DBIT, which genkgo
			// signs them by): a transaction's own indicator is taken.
			if e.Kind != bankfile.Credit || !e.Booked || e.BookingDate != "2007-10-18" || e.Debtor != "UNIFITS GmbH" ||
				e.DebtorIBAN != "CH2801234000123456789" || e.BankRef != "ACSR160617103200001/"+itoa(int64(i+1)) {
				t.Errorf("%s entry %d: %+v", c.file, i+1, e)
			}
		}
		if es[0].Reference != "ISR ref number V1" || es[0].Remittance != "Unstructured Remittance Information V1" || es[2].Reference != "Ref number V3 block 1" {
			t.Errorf("%s: references %q %q %q", c.file, es[0].Reference, es[0].Remittance, es[2].Reference)
		}
	}

	_, es, err := readFile(t, "postfinance_camt054-returns.xml")
	if err != nil || len(es) != 1 {
		t.Fatalf("PostFinance returns: %d entries, %v", len(es), err)
	}
	want := bankfile.Entry{Pos: problem.Position{File: "postfinance_camt054-returns.xml", Line: 56}, Message: "camt.054.001.04", Kind: bankfile.Return,
		Booked: true, BankRef: "180327CH02P92DYD", Amount: 40000, Currency: "CHF", BookingDate: "2019-05-20", EndToEndID: "EndToEndId-004-01-01",
		Remittance: "Kontouebertrag", Reason: "AC01", Debtor: "Robert Schneider SA", DebtorIBAN: "CH8709000000929471495"}
	if es[0] != want {
		t.Errorf("PostFinance return\n%+v, want\n%+v", es[0], want)
	}

	// genkgo's 001.02 sample: three transactions of one entry, none with
	// an amount (genkgo gives them none): what each paid is unknown, and
	// the file is refused where the first is.
	ids, amounts := genkgoDetails(t, "camt054.v2.json")
	if len(ids) != 3 || amounts[0] != "" {
		t.Fatalf("genkgo v2: %q %q", ids, amounts)
	}
	_, _, err = readFile(t, "camt054.v2.xml")
	wantProblem(t, err, bankfile.CodeInvalid, 79, "gives no amount of its own")

	// hbci4java's pain.002.001.10: a status report without a rejection.
	msg, es, err := readFile(t, "test-pain-parse-0020110-03.xml")
	if err != nil || msg != "pain.002.001.10" || len(es) != 0 {
		t.Errorf("pain.002.001.10 without rejects: %s %v %v", msg, es, err)
	}
	// …and the same without its namespace: not an ISO 20022 message.
	_, _, err = readFile(t, "test-pain-parse-0020110-01.xml")
	wantProblem(t, err, bankfile.CodeUnsupported, 2, "not a camt.054")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func wantProblem(t *testing.T, err error, code problem.Code, line int, says string) {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) {
		t.Fatalf("err = %v, want a %s problem", err, code)
	}
	if p.Code != code || p.Pos.Line != line || p.Scope != problem.ScopeFile || !strings.Contains(p.Message, says) {
		t.Errorf("problem %s at line %d (%s): %q; want %s at line %d saying %q", p.Code, p.Pos.Line, p.Scope, p.Message, code, line, says)
	}
}

// pain002 is a status report on the hub's direct debits, as a bank
// writes one (checked against the ISO schema below): a block partly
// rejected, one transaction refused for insufficient funds, one
// accepted; a second block rejected whole.
const pain002 = `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <CstmrPmtStsRpt>
    <GrpHdr>
      <MsgId>STS-20261229-0001</MsgId>
      <CreDtTm>2026-12-29T08:10:00+01:00</CreDtTm>
    </GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>CH-DD-2026-12-31</OrgnlMsgId>
      <OrgnlMsgNmId>pain.008.001.02</OrgnlMsgNmId>
      <GrpSts>PART</GrpSts>
    </OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>CH-DD-2026-12-31-RCUR</OrgnlPmtInfId>
      <PmtInfSts>PART</PmtInfSts>
      <TxInfAndSts>
        <StsId>RJ-000417</StsId>
        <OrgnlEndToEndId>CH-2026-000017</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf>
          <Rsn><Cd>AM04</Cd></Rsn>
          <AddtlInf>Insufficient funds</AddtlInf>
        </StsRsnInf>
        <OrgnlTxRef>
          <Amt><InstdAmt Ccy="EUR">1643.88</InstdAmt></Amt>
          <ReqdColltnDt>2026-12-31</ReqdColltnDt>
          <MndtRltdInf><MndtId>MND-CABLE-001</MndtId></MndtRltdInf>
          <Dbtr><Nm>Câble Wallonie SA</Nm></Dbtr>
          <DbtrAcct><Id><IBAN>BE68539007547034</IBAN></Id></DbtrAcct>
        </OrgnlTxRef>
      </TxInfAndSts>
      <TxInfAndSts>
        <OrgnlEndToEndId>CH-2026-000019</OrgnlEndToEndId>
        <TxSts>ACSC</TxSts>
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>CH-DD-2026-12-31-FRST</OrgnlPmtInfId>
      <PmtInfSts>RJCT</PmtInfSts>
      <StsRsnInf><Rsn><Cd>MS02</Cd></Rsn></StsRsnInf>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
`

func xmllint(t *testing.T, xsd string, doc []byte) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Fatal("xmllint is not installed (Debian: libxml2-utils); .ci/run installs it")
	}
	f := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join("testdata", xsd), f).CombinedOutput(); err != nil {
		t.Fatalf("the test's own file is not valid against %s: %v\n%s", xsd, err, out)
	}
}

func TestPain002Rejects(t *testing.T) {
	t.Parallel()
	xmllint(t, "pain.002.001.03.xsd", []byte(pain002))
	msg, es, err := read(t, "sts.xml", []byte(pain002), bankfile.Limits{})
	if err != nil || msg != "pain.002.001.03" || len(es) != 2 {
		t.Fatalf("%s, %d entries, %v", msg, len(es), err)
	}
	want := []bankfile.Entry{
		{Pos: problem.Position{File: "sts.xml", Line: 16}, Message: "pain.002.001.03", Kind: bankfile.Reject, BankRef: "RJ-000417", Amount: 164388,
			Currency: "EUR", BookingDate: "2026-12-29", EndToEndID: "CH-2026-000017", MandateID: "MND-CABLE-001", Reason: "AM04",
			Debtor: "Câble Wallonie SA", DebtorIBAN: "BE68539007547034", OriginalMessage: "CH-DD-2026-12-31", OriginalPaymentInfo: "CH-DD-2026-12-31-RCUR"},
		{Pos: problem.Position{File: "sts.xml", Line: 37}, Message: "pain.002.001.03", Kind: bankfile.Reject, BankRef: "RJCT/CH-DD-2026-12-31/CH-DD-2026-12-31-FRST",
			BookingDate: "2026-12-29", Reason: "MS02", OriginalMessage: "CH-DD-2026-12-31", OriginalPaymentInfo: "CH-DD-2026-12-31-FRST"},
	}
	for i := range want {
		if es[i] != want[i] {
			t.Errorf("entry %d\n%+v, want\n%+v", i+1, es[i], want[i])
		}
	}

	// 001.10, a whole message rejected.
	v10 := strings.NewReplacer("pain.002.001.03", "pain.002.001.10", "<GrpSts>PART</GrpSts>", "<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Cd>FF01</Cd></Rsn></StsRsnInf>",
		"<Dbtr><Nm>Câble Wallonie SA</Nm></Dbtr>", "<Dbtr><Pty><Nm>Câble Wallonie SA</Nm></Pty></Dbtr>").Replace(pain002)
	xmllint(t, "pain.002.001.10.xsd", []byte(v10))
	msg, es, err = read(t, "sts10.xml", []byte(v10), bankfile.Limits{})
	if err != nil || msg != "pain.002.001.10" || len(es) != 3 {
		t.Fatalf("001.10: %s, %d entries, %v", msg, len(es), err)
	}
	if e := es[0]; e.Kind != bankfile.Reject || e.Reason != "FF01" || e.OriginalMessage != "CH-DD-2026-12-31" || e.EndToEndID != "" || e.BankRef != "RJCT/CH-DD-2026-12-31" {
		t.Errorf("the message rejected: %+v", e)
	}
	if es[1].Debtor != "Câble Wallonie SA" {
		t.Errorf("001.10 debtor %q", es[1].Debtor)
	}
}

// What a bank file cannot be: each refused whole, with a located problem.
func TestRefusesBrokenFiles(t *testing.T) {
	t.Parallel()
	ret, err := os.ReadFile("testdata/postfinance_camt054-returns.xml")
	if err != nil {
		t.Fatal(err)
	}
	deep := "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\">" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</Document>"
	huge := strings.Replace(string(ret), "Kontouebertrag", strings.Repeat("x", 5000), 1)
	for _, c := range []struct {
		name, data string
		lim        bankfile.Limits
		code       problem.Code
		line       int
		says       string
	}{
		{"empty", "", bankfile.Limits{}, bankfile.CodeUnreadable, 1, "holds no XML element"},
		{"csv", "date;amount\n2026-12-01;12.00\n", bankfile.Limits{}, bankfile.CodeUnreadable, 3, "holds no XML element"},
		{"cut short", string(ret[:len(ret)/2]), bankfile.Limits{}, bankfile.CodeUnreadable, 0, "cut short"},
		{"a pain.008", `<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"><CstmrDrctDbtInitn/></Document>`,
			bankfile.Limits{}, bankfile.CodeUnsupported, 1, "not a camt.054"},
		{"camt.054.001.01", strings.ReplaceAll(string(ret), "camt.054.001.04", "camt.054.001.01"), bankfile.Limits{}, bankfile.CodeUnsupported, 2, "camt.054.001.01"},
		{"a piece larger than the limit", huge, bankfile.Limits{MaxPiece: 4096}, bankfile.CodeUnreadable, 0, "larger than 4 KB"},
		{"nested too deep", deep, bankfile.Limits{}, bankfile.CodeUnreadable, 1, "nested deeper"},
		{"two documents", string(ret) + "<Document/>", bankfile.Limits{}, bankfile.CodeUnreadable, 0, "follows the Document"},
		{"no bank reference", strings.ReplaceAll(string(ret), "AcctSvcrRef", "NtryRef"), bankfile.Limits{}, bankfile.CodeInvalid, 56, "no bank reference"},
		{"three decimals", strings.Replace(string(ret), `<Amt Ccy="CHF">400.00</Amt>`, `<Amt Ccy="CHF">400.001</Amt>`, 2), bankfile.Limits{}, bankfile.CodeInvalid, 56, `"400.001"`},
		{"unknown currency", strings.ReplaceAll(string(ret), `Ccy="CHF"`, `Ccy="XYZ"`), bankfile.Limits{}, bankfile.CodeInvalid, 56, "XYZ"},
		{"UTF-16", string(ret[:20]) + ` encoding="UTF-16"?>` + string(ret[38:]), bankfile.Limits{}, bankfile.CodeUnreadable, 1, "UTF-16"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := read(t, "bank.xml", []byte(c.data), c.lim)
			var p *problem.Problem
			if !errors.As(err, &p) {
				t.Fatalf("err = %v", err)
			}
			if c.line == 0 {
				c.line = p.Pos.Line // anywhere, as long as it is located
				if c.line < 1 {
					t.Errorf("no line: %v", p)
				}
			}
			wantProblem(t, err, c.code, c.line, c.says)
		})
	}

	// ISO-8859-1, as some banks still write: read as the text it is.
	latin, err := charmap.ISO8859_1.NewEncoder().String(strings.Replace(strings.Replace(string(ret), "UTF-8", "ISO-8859-1", 1), "Robert Schneider SA", "Müller &amp; Söhne", -1))
	if err != nil {
		t.Fatal(err)
	}
	_, es, err := read(t, "latin1.xml", []byte(latin), bankfile.Limits{})
	if err != nil || len(es) != 1 || es[0].Debtor != "Müller & Söhne" {
		t.Errorf("ISO-8859-1: %v %+v", err, es)
	}

	// An error of the caller's stops the reading and is returned.
	stop := errors.New("stop")
	if _, err := bankfile.Read(bytes.NewReader([]byte(pain002)), "sts.xml", bankfile.Limits{}, func(bankfile.Entry) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("the callback's error: %v", err)
	}
}
