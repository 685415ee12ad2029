package invoice

import (
	"fmt"
	"time"

	"github.com/clearhouse/clearhouse/internal/civil"
)

// The example documents: one of each kind the billing run issues, with the
// sample world's parties. Writers test against them (every one must be a
// valid UBL document and a readable PDF); they are data, not fixtures of
// one test.

// ExampleHub is the seller of every example (the sample world's hub).
func ExampleHub() Party {
	return Party{
		Name: "Clearhouse Services SAS", TradingName: "Clearhouse",
		Address: Address{Street: "18 rue de la Bourse", City: "Paris", PostalCode: "75002", Country: "FR"},
		VATID:   "FR44732829320",
		Email:   "billing@clearhouse.example",
	}.siret("73282932000017")
}

// siret identifies a French company by its SIRET: the SIREN (its first
// nine digits, ICD 0002) is its company id, the SIRET (EAS 0009) its
// Peppol endpoint.
func (p Party) siret(siret string) Party {
	p.CompanyID, p.CompanyIDScheme = siret[:9], "0002"
	p.EndpointScheme, p.EndpointID = "0009", siret
	return p
}

// enterprise identifies a Belgian company by its enterprise number (ICD
// and EAS 0208): its company id, its Peppol endpoint and, prefixed BE, its
// VAT id.
func (p Party) enterprise(number string) Party {
	p.CompanyID, p.CompanyIDScheme = number, "0208"
	p.EndpointScheme, p.EndpointID = "0208", number
	p.VATID = "BE" + number
	return p
}

func d(y, m, day int) civil.Date { dt, _ := civil.Valid(y, m, day); return dt }

// lines numbers a document's lines from 1 and puts them all in the VAT
// category cat at rate.
func lines(cat, rate string, ls ...Line) []Line {
	for i := range ls {
		ls[i].No, ls[i].VATCategory, ls[i].VATRate = i+1, cat, rate
	}
	return ls
}

// in is l in the service month m of 2026, over the whole month (a fee,
// usage).
func (l Line) in(m int) Line {
	l.ServiceMonth = fmt.Sprintf("2026-%02d", m)
	l.PeriodStart, l.PeriodEnd = d(2026, m, 1), civil.FromYMD(2026, time.Month(m+1), 0)
	return l
}

// days narrows l's period to the days from to to of its month (a sale).
func (l Line) days(from, to int) Line {
	l.PeriodStart, l.PeriodEnd = l.PeriodStart+civil.Date(from-1), l.PeriodStart+civil.Date(to-1)
	return l
}

func exemption(cat string) (string, string) {
	switch cat {
	case VATReverseCharge:
		return "Reverse charge: VAT to be paid by the customer (Article 196, Directive 2006/112/EC)", "VATEX-EU-AE"
	case VATExempt:
		return "Exempt from VAT (Article 132, Directive 2006/112/EC)", "VATEX-EU-132"
	}
	return "", ""
}

// Exemption is the sample world's reason and VATEX code per 0 % category.
func Exemption(cat string) (string, string) { return exemption(cat) }

// Examples returns the example documents, finished. The hub issues every
// one, in euros, in the run that bills November 2026; a buyer's reference
// is its id unless the example gives another.
func Examples() []*Document {
	docs := []*Document{exampleWallet(), exampleReverseCharge(), exampleCreditNote(), exampleSettled(), exampleExempt()}
	for _, doc := range docs {
		doc.Seller, doc.Currency, doc.BillingMonth = ExampleHub(), "EUR", "2026-11"
		if doc.BuyerReference == "" {
			doc.BuyerReference = doc.Buyer.ID
		}
		prepaid := doc.Totals.Prepaid
		if err := doc.Finish(prepaid, exemption); err != nil {
			panic(err) // the examples are written to be valid
		}
		if doc.Payment.SettledBy != nil {
			if err := doc.Finish(doc.Totals.TaxInclusive, exemption); err != nil {
				panic(err)
			}
		}
	}
	return docs
}

// A standard-rated wallet invoice: monthly fees, a one-off sale, usage
// whose line amount rounds.
func exampleWallet() *Document {
	return &Document{
		Type: TypeInvoice, Number: "CH-2026-000041", IssueDate: d(2026, 12, 1), DueDate: d(2026, 12, 31),
		PeriodStart: d(2026, 10, 1), PeriodEnd: d(2026, 11, 30),
		Buyer: Party{
			ID: "telco-fr", Name: "Télécom Exemple France SA",
			Address: Address{Street: "5 avenue Félix Faure", City: "Lyon", PostalCode: "69003", Country: "FR"},
			VATID:   "FR14845123785", Email: "factures@telco-fr.example",
		}.siret("84512378500014"),
		Lines: lines(VATStandard, "20",
			Line{SKU: "TFR-VPN-M", Name: "VPN mensuel", Publisher: "secureco", BillingModel: "monthly",
				Quantity: 412, UnitPrice: "3.99", Net: 164388, PublisherAmount: 115360, Items: 400}.in(11),
			Line{SKU: "TFR-VPN-M", Name: "VPN mensuel", Publisher: "secureco", BillingModel: "monthly",
				Quantity: 3, UnitPrice: "3.99", Net: 1197, PublisherAmount: 840, Items: 3}.in(10),
			Line{SKU: "TFR-AV-1Y", Name: "Antivirus 1 an", Publisher: "secureco", BillingModel: "one_time",
				Quantity: 25, UnitPrice: "26.90", Net: 67250, PublisherAmount: 47075, Items: 25}.in(11).days(2, 28),
			Line{SKU: "TFR-BKP-GB", Name: "Sauvegarde en ligne, par Go-mois", Publisher: "cloudvault", BillingModel: "usage",
				Quantity: 1234, UnitPrice: "0.0215", Net: 2653, PublisherAmount: 1592, Items: 7}.in(11),
		),
		Payment: Payment{Means: PayDirectDebit, MandateID: "TFR-SDD-0001", CreditorID: "FR18ZZZ8A4B2C",
			DebtorIBAN: "FR7630006000011234567890189", DebitDate: d(2026, 12, 31),
			Reference: "CH-2026-000041", Terms: "Direct debit on 31 December 2026 (30 days)"},
		Notes: []string{"TVA 20 %"},
	}
}

// A reverse-charge pay-now invoice to Germany, with a structured creditor
// reference and a Leitweg-ID as buyer reference.
func exampleReverseCharge() *Document {
	return &Document{
		Type: TypeInvoice, Number: "CH-2026-000042", IssueDate: d(2026, 12, 1), DueDate: d(2026, 12, 15),
		PeriodStart: d(2026, 11, 1), PeriodEnd: d(2026, 11, 30),
		BuyerReference: "991-33333TEST-33",
		Buyer: Party{
			ID: "isp-de", Name: "Beispiel Internet GmbH",
			Address:        Address{Street: "Müllerstraße 12", Additional: "Aufgang B", City: "Berlin", PostalCode: "13353", Country: "DE"},
			VATID:          "DE123456789",
			EndpointScheme: "9930", EndpointID: "DE123456789", Email: "rechnung@isp-de.example",
		},
		Lines: lines(VATReverseCharge, "0",
			Line{SKU: "IDE-BKP-M", Name: "Online-Backup monatlich", Publisher: "cloudvault", BillingModel: "monthly",
				Quantity: 18, UnitPrice: "4.90", Net: 8820, PublisherAmount: 5760, Items: 12}.in(11),
			Line{SKU: "IDE-AV-1Y", Name: "Virenschutz 1 Jahr", Publisher: "secureco", BillingModel: "one_time",
				Quantity: 3, UnitPrice: "22.00", Net: 6600, PublisherAmount: 4620, Items: 3}.in(11).days(3, 17),
		),
		Payment: Payment{Means: PayCreditTransfer, IBAN: "FR7630004000031234567890143", BIC: "BNPAFRPP",
			AccountName: "Clearhouse Services SAS", Reference: "RF18539007547034", Terms: "Payable within 14 days"},
		Notes: []string{"Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge)"},
	}
}

// A credit note for months invoiced before a late termination, crediting
// two invoices.
func exampleCreditNote() *Document {
	return &Document{
		Type: TypeCreditNote, Number: "CN-2026-000007", IssueDate: d(2026, 12, 1),
		PeriodStart: d(2026, 9, 1), PeriodEnd: d(2026, 10, 31),
		Buyer: Party{
			ID: "cable-be", Name: "Câble Exemple Belgique SA",
			Address: Address{Street: "Rue Neuve 1", City: "Bruxelles", PostalCode: "1000", Country: "BE"},
			Email:   "facturation@cable-be.example",
		}.enterprise("0477472701"),
		Lines: lines(VATStandard, "21",
			Line{SKU: "CBE-VPN-M", Name: "VPN mensuel", Publisher: "secureco", BillingModel: "monthly",
				Quantity: 2, UnitPrice: "4.20", Net: 840, PublisherAmount: 560, Credits: "CH-2026-000031", CreditsLine: 2, Items: 1}.in(9),
			Line{SKU: "CBE-VPN-M", Name: "VPN mensuel", Publisher: "secureco", BillingModel: "monthly",
				Quantity: 2, UnitPrice: "4.20", Net: 840, PublisherAmount: 560, Credits: "CH-2026-000036", CreditsLine: 1, Items: 1}.in(10),
		),
		References: []Reference{
			{Number: "CH-2026-000031", IssueDate: d(2026, 10, 1), Amount: 1016},
			{Number: "CH-2026-000036", IssueDate: d(2026, 11, 1), Amount: 1016},
		},
		Reason: "Subscription CBE-2026-0193 terminated on 2026-08-31, declared on 2026-11-12",
		Payment: Payment{Means: PayDirectDebit, MandateID: "CBE-SDD-0007", CreditorID: "FR18ZZZ8A4B2C", Reference: "CN-2026-000007",
			Terms: "Credited to your account: applied to the invoices credited"},
		Notes: []string{"TVA 21 %"},
	}
}

// An invoice fully covered at issue by an earlier credit note.
func exampleSettled() *Document {
	doc := exampleCreditNote()
	doc.Type, doc.Number, doc.References, doc.Reason = TypeInvoice, "CH-2026-000043", nil, ""
	doc.DueDate = d(2026, 12, 31)
	doc.PeriodStart, doc.PeriodEnd = d(2026, 11, 1), d(2026, 11, 30)
	doc.Lines = lines(VATStandard, "21", Line{SKU: "CBE-AV-1Y", Name: "Antivirus 1 an", Publisher: "secureco", BillingModel: "one_time",
		Quantity: 1, UnitPrice: "9.90", Net: 990, PublisherAmount: 693, Items: 1}.in(11).days(20, 20))
	doc.Payment = Payment{Means: PayDirectDebit, MandateID: "CBE-SDD-0007", CreditorID: "FR18ZZZ8A4B2C",
		DebtorIBAN: "BE68539007547034", Reference: "CH-2026-000043", Terms: "Settled by credit note CN-2026-000007: nothing to pay",
		SettledBy: []string{"CN-2026-000007"}}
	return doc
}

// An exempt invoice (category E) with a zero total line.
func exampleExempt() *Document {
	doc := exampleReverseCharge()
	doc.Number = "CH-2026-000044"
	doc.Buyer = Party{ID: "edu-fr", Name: "Réseau Éducatif Ørsted", Address: Address{Street: "2 place de l'École", City: "Nantes", PostalCode: "44000", Country: "FR"},
		VATID: "FR06910345677", EndpointScheme: "0009", EndpointID: "91034567700017"}
	doc.BuyerReference = "edu-fr"
	doc.Lines = lines(VATExempt, "0", append(doc.Lines, Line{SKU: "EDU-FREE", Name: "Licence gratuite", Publisher: "secureco", BillingModel: "one_time",
		Quantity: 10, UnitPrice: "0", Net: 0, Items: 10}.in(11).days(5, 5))...)
	doc.Notes = []string{"Exonération de TVA, article 261-4-4° du CGI"}
	return doc
}
