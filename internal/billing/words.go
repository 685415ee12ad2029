package billing

import (
	"strings"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/invoice"
)

// The words billing writes into a document, in the document's language
// (its reseller's billing profile: en, fr, de or nl): the payment terms
// (EN 16931 BT-20, printed on the PDF and carried by the UBL), the reason
// of a run's credit note, and the default VAT reasons (BT-120).
type words struct {
	// creditTerms is a credit note's terms.
	creditTerms string
	// settledTerms (%s: the credit notes) is an invoice's covered by
	// credit; debitTerms (amount, currency, date, mandate) one's paid by
	// direct debit; transferTerms (days, due date, reference) one's paid
	// by transfer.
	settledTerms, debitTerms, transferTerms string
	runCredit                               string
	reverseCharge, exempt                   string
	// How the terms write a date and an amount for a reader of the
	// language lang: with the month's name (else an ISO date, English's),
	// German's numeric date, the decimal comma.
	lang    string
	months  bool // days written with the month's name (invoice.Months)
	numeric bool
	comma   bool
}

// date writes d in the terms' language: 2026-12-31 (English: ISO, as the
// PDF spells it out), 31 décembre 2026, 31.12.2026, 31 december 2026.
func (w words) date(d civil.Date) string {
	t := d.Time()
	switch {
	case w.numeric:
		return t.Format("02.01.2006")
	case w.months:
		return t.Format("2") + " " + invoice.Months[w.lang][t.Month()-1] + " " + t.Format("2006")
	}
	return d.String()
}

// amount writes a plain decimal amount ("93.26") with the language's mark.
func (w words) amount(s string) string {
	if w.comma {
		return strings.Replace(s, ".", ",", 1)
	}
	return s
}

var wordsOf = map[string]words{
	"en": {
		creditTerms:   "Credit note: credited to your account and applied to the invoices it credits, then to open and next invoices",
		settledTerms:  "Settled by credit note %s: nothing to pay",
		debitTerms:    "Direct debit of %s %s on %s (SEPA Core, mandate %s)",
		transferTerms: "Payable within %d days, by %s, quoting %s",
		runCredit:     "Subscription-months invoiced that a termination declared later made not owed",
		reverseCharge: "Reverse charge",
		exempt:        "Exempt from VAT",
	},
	"fr": {
		creditTerms:   "Avoir : porté au crédit de votre compte et imputé d'abord sur les factures qu'il crédite, puis sur vos factures ouvertes et à venir",
		settledTerms:  "Réglée par l'avoir %s : rien à payer",
		debitTerms:    "Prélèvement SEPA de %s %s le %s (SEPA Core, mandat %s)",
		transferTerms: "Payable sous %d jours, au plus tard le %s, en indiquant la référence %s",
		runCredit:     "Mois d'abonnement facturés qu'une résiliation déclarée ensuite a rendus non dus",
		reverseCharge: "Autoliquidation",
		exempt:        "Exonération de TVA",
		lang:          "fr", months: true, comma: true,
	},
	"de": {
		creditTerms:   "Rechnungskorrektur: Ihrem Konto gutgeschrieben und zuerst mit den korrigierten Rechnungen, dann mit offenen und künftigen Rechnungen verrechnet",
		settledTerms:  "Durch Rechnungskorrektur %s beglichen: nichts zu zahlen",
		debitTerms:    "SEPA-Lastschrift über %s %s am %s (SEPA Core, Mandat %s)",
		transferTerms: "Zahlbar innerhalb von %d Tagen, bis zum %s, unter Angabe der Referenz %s",
		runCredit:     "Abonnementmonate, die in Rechnung gestellt wurden und durch eine später gemeldete Kündigung nicht geschuldet sind",
		reverseCharge: "Steuerschuldnerschaft des Leistungsempfängers",
		exempt:        "Steuerfrei",
		lang:          "de",
		numeric:       true,
		comma:         true,
	},
	"nl": {
		creditTerms:   "Creditnota: bijgeschreven op uw rekening en verrekend met de facturen die zij crediteert, daarna met openstaande en volgende facturen",
		settledTerms:  "Vereffend met creditnota %s: niets te betalen",
		debitTerms:    "SEPA-incasso van %s %s op %s (SEPA Core, machtiging %s)",
		transferTerms: "Te betalen binnen %d dagen, uiterlijk op %s, met vermelding van de referentie %s",
		runCredit:     "Gefactureerde abonnementsmaanden die door een later gemelde opzegging niet verschuldigd zijn",
		reverseCharge: "Btw verlegd",
		exempt:        "Vrijgesteld van btw",
		lang:          "nl", months: true, comma: true,
	},
}

// wordsFor is the words of language lang (English when it is none of them).
func wordsFor(lang string) words {
	if w, ok := wordsOf[lang]; ok {
		return w
	}
	return wordsOf["en"]
}
