package invoice

import "github.com/clearhouse/clearhouse/internal/civil"

// The example documents: one of each kind the billing run issues, with the
// sample world's parties. Writers test against them (every one must be a
// valid UBL document and a readable PDF); they are data, not fixtures of
// one test.

// ExampleHub is the seller of every example (the sample world's hub).
func ExampleHub() Party {
	return Party{
		Name: "Clearhouse Services SAS", TradingName: "Clearhouse",
		Address:   Address{Street: "18 rue de la Bourse", City: "Paris", PostalCode: "75002", Country: "FR"},
		VATID:     "FR44732829320",
		CompanyID: "732829320", CompanyIDScheme: "0002",
		EndpointScheme: "0009", EndpointID: "73282932000017",
		Email: "billing@clearhouse.example",
	}
}

func d(y, m, day int) civil.Date { dt, _ := civil.Valid(y, m, day); return dt }

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

// Examples returns the example documents, finished.
func Examples() []*Document {
	docs := []*Document{exampleWallet(), exampleReverseCharge(), exampleCreditNote(), exampleSettled(), exampleExempt()}
	for _, doc := range docs {
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
		Currency: "EUR", BillingMonth: "2026-11", PeriodStart: d(2026, 10, 1), PeriodEnd: d(2026, 11, 30),
		BuyerReference: "telco-fr",
		Seller:         ExampleHub(),
		Buyer: Party{
			ID: "telco-fr", Name: "Télécom Exemple France SA",
			Address: Address{Street: "5 avenue Félix Faure", City: "Lyon", PostalCode: "69003", Country: "FR"},
			VATID:   "FR14845123785", CompanyID: "845123785", CompanyIDScheme: "0002",
			EndpointScheme: "0009", EndpointID: "84512378500014", Email: "factures@telco-fr.example",
		},
		Lines: []Line{
			{No: 1, SKU: "TFR-VPN-M", Name: "VPN mensuel", Publisher: "secureco", BillingModel: "monthly", ServiceMonth: "2026-11",
				Quantity: 412, UnitPrice: "3.99", Net: 164388, PeriodStart: d(2026, 11, 1), PeriodEnd: d(2026, 11, 30),
				VATCategory: VATStandard, VATRate: "20", PublisherAmount: 115360, Items: 400},
			{No: 2, SKU: "TFR-VPN-M", Name: "VPN mensuel", Publisher: "secureco", BillingModel: "monthly", ServiceMonth: "2026-10",
				Quantity: 3, UnitPrice: "3.99", Net: 1197, PeriodStart: d(2026, 10, 1), PeriodEnd: d(2026, 10, 31),
				VATCategory: VATStandard, VATRate: "20", PublisherAmount: 840, Items: 3},
			{No: 3, SKU: "TFR-AV-1Y", Name: "Antivirus 1 an", Publisher: "secureco", BillingModel: "one_time", ServiceMonth: "2026-11",
				Quantity: 25, UnitPrice: "26.90", Net: 67250, PeriodStart: d(2026, 11, 2), PeriodEnd: d(2026, 11, 28),
				VATCategory: VATStandard, VATRate: "20", PublisherAmount: 47075, Items: 25},
			{No: 4, SKU: "TFR-BKP-GB", Name: "Sauvegarde en ligne, par Go-mois", Publisher: "cloudvault", BillingModel: "usage", ServiceMonth: "2026-11",
				Quantity: 1234, UnitPrice: "0.0215", Net: 2653, PeriodStart: d(2026, 11, 1), PeriodEnd: d(2026, 11, 30),
				VATCategory: VATStandard, VATRate: "20", PublisherAmount: 1592, Items: 7},
		},
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
		Currency: "EUR", BillingMonth: "2026-11", PeriodStart: d(2026, 11, 1), PeriodEnd: d(2026, 11, 30),
		BuyerReference: "991-33333TEST-33",
		Seller:         ExampleHub(),
		Buyer: Party{
			ID: "isp-de", Name: "Beispiel Internet GmbH",
			Address:        Address{Street: "Müllerstraße 12", Additional: "Aufgang B", City: "Berlin", PostalCode: "13353", Country: "DE"},
			VATID:          "DE123456789",
			EndpointScheme: "9930", EndpointID: "DE123456789", Email: "rechnung@isp-de.example",
		},
		Lines: []Line{
			{No: 1, SKU: "IDE-BKP-M", Name: "Online-Backup monatlich", Publisher: "cloudvault", BillingModel: "monthly", ServiceMonth: "2026-11",
				Quantity: 18, UnitPrice: "4.90", Net: 8820, PeriodStart: d(2026, 11, 1), PeriodEnd: d(2026, 11, 30),
				VATCategory: VATReverseCharge, VATRate: "0", PublisherAmount: 5760, Items: 12},
			{No: 2, SKU: "IDE-AV-1Y", Name: "Virenschutz 1 Jahr", Publisher: "secureco", BillingModel: "one_time", ServiceMonth: "2026-11",
				Quantity: 3, UnitPrice: "22.00", Net: 6600, PeriodStart: d(2026, 11, 3), PeriodEnd: d(2026, 11, 17),
				VATCategory: VATReverseCharge, VATRate: "0", PublisherAmount: 4620, Items: 3},
		},
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
		Currency: "EUR", BillingMonth: "2026-11", PeriodStart: d(2026, 9, 1), PeriodEnd: d(2026, 10, 31),
		BuyerReference: "cable-be",
		Seller:         ExampleHub(),
		Buyer: Party{
			ID: "cable-be", Name: "Câble Exemple Belgique SA",
			Address: Address{Street: "Rue Neuve 1", City: "Bruxelles", PostalCode: "1000", Country: "BE"},
			VATID:   "BE0477472701", CompanyID: "0477472701", CompanyIDScheme: "0208",
			EndpointScheme: "0208", EndpointID: "0477472701", Email: "facturation@cable-be.example",
		},
		Lines: []Line{
			{No: 1, SKU: "CBE-VPN-M", Name: "VPN mensuel", Publisher: "secureco", BillingModel: "monthly", ServiceMonth: "2026-09",
				Quantity: 2, UnitPrice: "4.20", Net: 840, PeriodStart: d(2026, 9, 1), PeriodEnd: d(2026, 9, 30),
				VATCategory: VATStandard, VATRate: "21", PublisherAmount: 560, Credits: "CH-2026-000031", Items: 1},
			{No: 2, SKU: "CBE-VPN-M", Name: "VPN mensuel", Publisher: "secureco", BillingModel: "monthly", ServiceMonth: "2026-10",
				Quantity: 2, UnitPrice: "4.20", Net: 840, PeriodStart: d(2026, 10, 1), PeriodEnd: d(2026, 10, 31),
				VATCategory: VATStandard, VATRate: "21", PublisherAmount: 560, Credits: "CH-2026-000036", Items: 1},
		},
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
	doc.Lines = []Line{{No: 1, SKU: "CBE-AV-1Y", Name: "Antivirus 1 an", Publisher: "secureco", BillingModel: "one_time", ServiceMonth: "2026-11",
		Quantity: 1, UnitPrice: "9.90", Net: 990, PeriodStart: d(2026, 11, 20), PeriodEnd: d(2026, 11, 20),
		VATCategory: VATStandard, VATRate: "21", PublisherAmount: 693, Items: 1}}
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
	for i := range doc.Lines {
		doc.Lines[i].VATCategory = VATExempt
	}
	doc.Lines = append(doc.Lines, Line{No: 3, SKU: "EDU-FREE", Name: "Licence gratuite", Publisher: "secureco", BillingModel: "one_time", ServiceMonth: "2026-11",
		Quantity: 10, UnitPrice: "0", Net: 0, PeriodStart: d(2026, 11, 5), PeriodEnd: d(2026, 11, 5), VATCategory: VATExempt, VATRate: "0", Items: 10})
	doc.Notes = []string{"Exonération de TVA, article 261-4-4° du CGI"}
	return doc
}
