package sepa_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/sepa"
)

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestTARGET2Calendar(t *testing.T) {
	t.Parallel()
	for y, want := range map[int]string{2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05", 2027: "2027-03-28", 2038: "2038-04-25", 2285: "2285-03-22"} {
		if got := sepa.Easter(y).Format(time.DateOnly); got != want {
			t.Errorf("Easter(%d) = %s, want %s", y, got, want)
		}
	}
	for d, open := range map[string]bool{
		"2026-12-01": true, "2026-12-05": false, "2026-12-06": false, "2026-12-24": true, "2026-12-25": false, "2026-12-28": true,
		"2027-01-01": false, "2026-04-03": false, "2026-04-06": false, "2026-04-02": true, "2026-04-07": true, "2026-05-01": false,
		"2027-05-01": false, "2027-03-26": false, "2027-03-29": false, "2026-11-11": true, "2026-08-15": false, "2027-08-16": true,
	} {
		if sepa.BusinessDay(date(d)) != open {
			t.Errorf("BusinessDay(%s) != %v", d, open)
		}
	}
	for due, want := range map[string]string{"2026-12-01": "2026-12-01", "2026-12-25": "2026-12-28", "2026-12-31": "2026-12-31", "2027-01-01": "2027-01-04", "2026-04-03": "2026-04-07"} {
		if got := sepa.OnOrAfter(date(due)).Format(time.DateOnly); got != want {
			t.Errorf("OnOrAfter(%s) = %s, want %s", due, got, want)
		}
	}
	for _, c := range []struct {
		d    string
		n    int
		want string
	}{{"2027-01-04", 1, "2026-12-31"}, {"2026-04-07", 1, "2026-04-02"}, {"2026-12-02", 1, "2026-12-01"}, {"2026-12-29", 2, "2026-12-24"}} {
		if got := sepa.BusinessDaysBefore(date(c.d), c.n).Format(time.DateOnly); got != c.want {
			t.Errorf("BusinessDaysBefore(%s, %d) = %s, want %s", c.d, c.n, got, c.want)
		}
	}
}

func TestMandateLapsed(t *testing.T) {
	t.Parallel()
	if sepa.MandateLapsed(date("2023-12-02"), date("2026-12-01")) {
		t.Error("a mandate last used 35 months ago has lapsed")
	}
	if !sepa.MandateLapsed(date("2023-12-01"), date("2026-12-01")) {
		t.Error("a mandate last used 36 months ago has not lapsed")
	}
}

func collection() sepa.Collection {
	return sepa.Collection{
		MessageID: "CH-DD-2026-12-31",
		Created:   time.Date(2026, 12, 1, 7, 0, 0, 0, time.FixedZone("CET", 3600)),
		Creditor: sepa.Creditor{
			Name:       "Clearhouse SAS",
			Address:    sepa.Address{Street: "12 rue de la Paix", PostalCode: "75002", Town: "Paris", Country: "FR"},
			IBAN:       "FR76 3000 6000 0112 3456 7890 189",
			BIC:        "AGRIFRPP",
			CreditorID: "FR72ZZZ123456",
		},
		Date: date("2026-12-31"),
		Debits: []sepa.Debit{
			{EndToEndID: "CH-2026-000017", Amount: 164388, MandateID: "MND-CABLE-001", MandateSigned: date("2026-01-15"), Sequence: sepa.Recurring,
				DebtorName: "Câble Wallonie & Fils SA", DebtorAddress: sepa.Address{Street: "Rue de l'Église 4", PostalCode: "4000", Town: "Liège", Country: "BE", Additional: "Bâtiment B"},
				IBAN: "BE68539007547034", BIC: "GEBABEBB", Remittance: "Invoice CH-2026-000017 <November 2026> & fees"},
			{EndToEndID: "CH-2026-000018", Amount: 1, MandateID: "M-2", MandateSigned: date("2026-11-30"), Sequence: sepa.First,
				DebtorName: "Søren Müller GmbH", DebtorAddress: sepa.Address{Town: "München", Country: "DE", Subdivision: "Bayern"},
				IBAN: "DE89370400440532013000", Remittance: "Invoice CH-2026-000018"},
			{EndToEndID: "CH-2026-000019", Amount: 99_999_999_999, MandateID: "M-3", MandateSigned: date("2020-02-29"), Sequence: sepa.Recurring,
				DebtorName: "Big Telco", DebtorAddress: sepa.Address{Street: "Hauptstraße 1", Town: "Berlin", Country: "DE"},
				IBAN: "DE89370400440532013000", Remittance: "Invoice CH-2026-000019"},
		},
	}
}

// xmllint validates file against the XSD of testdata.
func xmllint(t *testing.T, xsd, file string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Fatal("xmllint is not installed (Debian: libxml2-utils); .ci/run installs it")
	}
	out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join("testdata", xsd), file).CombinedOutput()
	if err != nil {
		t.Fatalf("%s against %s: %v\n%s", file, xsd, err, out)
	}
}

// The message as a bank reads it: the fields this test checks.
type message struct {
	XMLName xml.Name
	Hdr     struct {
		MsgID   string `xml:"MsgId"`
		Created string `xml:"CreDtTm"`
		N       int    `xml:"NbOfTxs"`
		Sum     string `xml:"CtrlSum"`
		Initg   string `xml:"InitgPty>Nm"`
	} `xml:"CstmrDrctDbtInitn>GrpHdr"`
	Blocks []struct {
		ID       string `xml:"PmtInfId"`
		N        int    `xml:"NbOfTxs"`
		Sum      string `xml:"CtrlSum"`
		Seq      string `xml:"PmtTpInf>SeqTp"`
		Scheme   string `xml:"PmtTpInf>LclInstrm>Cd"`
		Date     string `xml:"ReqdColltnDt"`
		Creditor string `xml:"Cdtr>Nm"`
		IBAN     string `xml:"CdtrAcct>Id>IBAN"`
		CI       string `xml:"CdtrSchmeId>Id>PrvtId>Othr>Id"`
		Txs      []struct {
			E2E    string `xml:"PmtId>EndToEndId"`
			Amount struct {
				Ccy   string `xml:"Ccy,attr"`
				Value string `xml:",chardata"`
			} `xml:"InstdAmt"`
			Mandate string   `xml:"DrctDbtTx>MndtRltdInf>MndtId"`
			Signed  string   `xml:"DrctDbtTx>MndtRltdInf>DtOfSgntr"`
			BIC     []string `xml:"DbtrAgt>FinInstnId>BICFI"`
			BIC02   []string `xml:"DbtrAgt>FinInstnId>BIC"`
			Other   string   `xml:"DbtrAgt>FinInstnId>Othr>Id"`
			Name    string   `xml:"Dbtr>Nm"`
			Street  string   `xml:"Dbtr>PstlAdr>StrtNm"`
			Town    string   `xml:"Dbtr>PstlAdr>TwnNm"`
			Country string   `xml:"Dbtr>PstlAdr>Ctry"`
			Lines   []string `xml:"Dbtr>PstlAdr>AdrLine"`
			IBAN    string   `xml:"DbtrAcct>Id>IBAN"`
			Text    string   `xml:"RmtInf>Ustrd"`
		} `xml:"DrctDbtTxInf"`
	} `xml:"CstmrDrctDbtInitn>PmtInf"`
}

func TestWriteIsValidAndSaysWhatWasAsked(t *testing.T) {
	t.Parallel()
	for _, v := range []sepa.Version{sepa.Pain00800108, sepa.Pain00800102} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			c := collection()
			c.Version = v
			var buf bytes.Buffer
			if err := sepa.Write(&buf, c); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "dd.xml")
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			xmllint(t, string(v)+".xsd", file)

			var m message
			if err := xml.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m.XMLName.Space != "urn:iso:std:iso:20022:tech:xsd:"+string(v) {
				t.Errorf("namespace %q", m.XMLName.Space)
			}
			h := m.Hdr
			if h.MsgID != "CH-DD-2026-12-31" || h.Created != "2026-12-01T07:00:00+01:00" || h.N != 3 || h.Sum != "1000001643.88" || h.Initg != "Clearhouse SAS" {
				t.Errorf("header %+v", h)
			}
			if len(m.Blocks) != 2 {
				t.Fatalf("%d payment information blocks, want FRST and RCUR", len(m.Blocks))
			}
			frst, rcur := m.Blocks[0], m.Blocks[1]
			if frst.Seq != "FRST" || frst.N != 1 || frst.Sum != "0.01" || frst.ID != "CH-DD-2026-12-31-FRST" ||
				rcur.Seq != "RCUR" || rcur.N != 2 || rcur.Sum != "1000001643.87" {
				t.Errorf("blocks: FRST %s %d %s, RCUR %s %d %s", frst.Seq, frst.N, frst.Sum, rcur.Seq, rcur.N, rcur.Sum)
			}
			for _, b := range m.Blocks {
				if b.Scheme != "CORE" || b.Date != "2026-12-31" || b.Creditor != "Clearhouse SAS" || b.IBAN != "FR7630006000011234567890189" || b.CI != "FR72ZZZ123456" {
					t.Errorf("block %s: %+v", b.Seq, b)
				}
			}
			tx := rcur.Txs[0]
			bic := tx.BIC
			if v == sepa.Pain00800102 {
				bic = tx.BIC02
			}
			if tx.E2E != "CH-2026-000017" || tx.Amount.Ccy != "EUR" || tx.Amount.Value != "1643.88" || tx.Mandate != "MND-CABLE-001" ||
				tx.Signed != "2026-01-15" || len(bic) != 1 || bic[0] != "GEBABEBB" || tx.Name != "Câble Wallonie & Fils SA" ||
				tx.Street != "Rue de l'Église 4" || tx.Town != "Liège" || tx.Country != "BE" || len(tx.Lines) != 1 || tx.Lines[0] != "Bâtiment B" ||
				tx.IBAN != "BE68539007547034" || tx.Text != "Invoice CH-2026-000017 <November 2026> & fees" {
				t.Errorf("first RCUR debit: %+v", tx)
			}
			if tx := frst.Txs[0]; tx.Other != "NOTPROVIDED" || len(tx.BIC)+len(tx.BIC02) != 0 || tx.Name != "Søren Müller GmbH" || tx.Amount.Value != "0.01" || tx.Street != "" {
				t.Errorf("the debit without a BIC: %+v", tx)
			}
			if got := rcur.Txs[1].Amount.Value; got != "999999999.99" {
				t.Errorf("largest amount written %s", got)
			}
		})
	}
}

func TestCheckRefusesWhatABankWould(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		edit  func(*sepa.Collection)
		field string
		err   error
	}{
		{"no debits", func(c *sepa.Collection) { c.Debits = nil }, "debits", sepa.ErrRequired},
		{"a Saturday", func(c *sepa.Collection) { c.Date = date("2026-12-26") }, "collection_date", sepa.ErrBusinessDay},
		{"Good Friday", func(c *sepa.Collection) { c.Date = date("2027-03-26") }, "collection_date", sepa.ErrBusinessDay},
		{"message id with a slash first", func(c *sepa.Collection) { c.MessageID = "/CH" }, "message_id", sepa.ErrCharacters},
		{"message id too long", func(c *sepa.Collection) { c.MessageID = strings.Repeat("A", 36) }, "message_id", sepa.ErrTooLong},
		{"creditor id", func(c *sepa.Collection) { c.Creditor.CreditorID = "FR73ZZZ123456" }, "creditor.creditor_id", sepa.ErrCreditorID},
		{"creditor IBAN", func(c *sepa.Collection) { c.Creditor.IBAN = "BG87200500001234567890" }, "creditor.iban", sepa.ErrIBAN},
		{"creditor without a town", func(c *sepa.Collection) { c.Creditor.Address.Town = "" }, "creditor.address.town", sepa.ErrRequired},
		{"zero amount", func(c *sepa.Collection) { c.Debits[0].Amount = 0 }, "debits[0].amount", sepa.ErrAmount},
		{"too large", func(c *sepa.Collection) { c.Debits[0].Amount = sepa.MaxAmount + 1 }, "debits[0].amount", sepa.ErrAmount},
		{"same end-to-end id", func(c *sepa.Collection) { c.Debits[1].EndToEndID = c.Debits[0].EndToEndID }, "debits[1].end_to_end_id", sepa.ErrDuplicate},
		{"mandate id with é", func(c *sepa.Collection) { c.Debits[0].MandateID = "MANDAT-É" }, "debits[0].mandate_id", sepa.ErrCharacters},
		{"mandate id with //", func(c *sepa.Collection) { c.Debits[0].MandateID = "M//1" }, "debits[0].mandate_id", sepa.ErrCharacters},
		{"mandate signed after the collection", func(c *sepa.Collection) { c.Debits[0].MandateSigned = date("2027-01-04") }, "debits[0].mandate_signed", sepa.ErrRequired},
		{"no sequence", func(c *sepa.Collection) { c.Debits[0].Sequence = "OOFF" }, "debits[0].sequence", sepa.ErrSequence},
		{"debtor IBAN", func(c *sepa.Collection) { c.Debits[0].IBAN = "DE12345678901234567890" }, "debits[0].iban", sepa.ErrIBAN},
		{"debtor BIC", func(c *sepa.Collection) { c.Debits[0].BIC = "ABCDEFGHIJ" }, "debits[0].bic", sepa.ErrBIC},
		{"debtor name too long", func(c *sepa.Collection) { c.Debits[0].DebtorName = strings.Repeat("é", 71) }, "debits[0].debtor_name", sepa.ErrTooLong},
		{"address without a country", func(c *sepa.Collection) { c.Debits[2].DebtorAddress.Country = "" }, "debits[2].debtor_address.country", sepa.ErrCountry},
		{"remittance too long", func(c *sepa.Collection) { c.Debits[0].Remittance = strings.Repeat("x", 141) }, "debits[0].remittance", sepa.ErrTooLong},
		{"unknown version", func(c *sepa.Collection) { c.Version = "pain.008.003.02" }, "version", sepa.ErrVersion},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			col := collection()
			c.edit(&col)
			var buf bytes.Buffer
			err := sepa.Write(&buf, col)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written", buf.Len())
			}
			var fe *sepa.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Errorf("field of %v, want %s", err, c.field)
			}
		})
	}
	// Every problem at once, each named.
	col := collection()
	col.Date, col.Debits[0].IBAN, col.Debits[1].Amount = date("2026-12-25"), "", -5
	var ce *sepa.CheckError
	if err := col.Check(); !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("Check: %v", err)
	}
	if msg := ce.Error(); !strings.Contains(msg, `collection_date "2026-12-25" is not a TARGET2 business day`) || !strings.Contains(msg, "debits[0].iban is required") {
		t.Errorf("message %q", msg)
	}
}

func TestEPCQRPayload(t *testing.T) {
	t.Parallel()
	ref := sepa.CreditorReference("CH-2026-000017")
	got, err := sepa.EPCTransfer{Name: "Clearhouse SAS", IBAN: "FR76 3000 6000 0112 3456 7890 189", BIC: "AGRIFRPP", Amount: 164388, Reference: ref}.Payload()
	want := "BCD\n002\n1\nSCT\nAGRIFRPP\nClearhouse SAS\nFR7630006000011234567890189\nEUR1643.88\n\n" + ref
	if err != nil || got != want {
		t.Fatalf("Payload = %q, %v; want %q", got, err, want)
	}
	got, err = sepa.EPCTransfer{Name: "Søren Ålesund", IBAN: "DE89370400440532013000", Amount: 1, Text: "Invoice 17"}.Payload()
	if want := "BCD\n002\n1\nSCT\n\nSøren Ålesund\nDE89370400440532013000\nEUR0.01\n\n\nInvoice 17"; err != nil || got != want {
		t.Fatalf("Payload = %q, %v; want %q", got, err, want)
	}
	for _, c := range []struct {
		t   sepa.EPCTransfer
		err error
	}{
		{sepa.EPCTransfer{Name: "X", IBAN: "DE89370400440532013000", Amount: 0}, sepa.ErrAmount},
		{sepa.EPCTransfer{Name: "X", IBAN: "DE89370400440532013001", Amount: 5}, sepa.ErrIBAN},
		{sepa.EPCTransfer{Name: "X", IBAN: "DE89370400440532013000", Amount: 5, Reference: "RF00CH2026"}, sepa.ErrReference},
		{sepa.EPCTransfer{Name: "X", IBAN: "DE89370400440532013000", Amount: 5, Reference: ref, Text: "also"}, sepa.ErrTwoReferences},
		{sepa.EPCTransfer{Name: "", IBAN: "DE89370400440532013000", Amount: 5}, sepa.ErrRequired},
	} {
		if _, err := c.t.Payload(); !errors.Is(err, c.err) {
			t.Errorf("%+v: %v, want %v", c.t, err, c.err)
		}
	}
}
