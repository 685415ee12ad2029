package invoicepdf

import (
	"strings"
	"time"

	"github.com/clearhouse/clearhouse/internal/invoice"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// locale is how a document's language writes what a person reads: its
// words (the English text is the key), month names, the order of a date's
// parts and the decimal mark. Amounts keep their groups of three with a
// no-break space, which reads the same in every one of them.
type locale struct {
	tag     string
	months  [12]string
	numeric bool   // German writes a day 01.12.2026 (a month in words)
	point   string // the decimal mark
	words   map[string]string
	names   display.Namer // country names; nil: English (countries)
}

var locales = map[string]*locale{
	"en": {tag: "en", point: ".", months: invoice.Months["en"]},
	"fr": {tag: "fr", point: ",", months: invoice.Months["fr"], words: fr, names: display.Regions(language.French)},
	"de": {tag: "de", point: ",", numeric: true, months: invoice.Months["de"], words: de, names: display.Regions(language.German)},
	"nl": {tag: "nl", point: ",", months: invoice.Months["nl"], words: nl, names: display.Regions(language.Dutch)},
}

// localeOf is the locale of a document's language ("" or unknown: English).
func localeOf(lang string) *locale {
	if l, ok := locales[lang]; ok {
		return l
	}
	return locales["en"]
}

// t is s (English) in the locale's language.
func (l *locale) t(s string) string {
	if v, ok := l.words[s]; ok {
		return v
	}
	if v, ok := english[s]; ok {
		return v
	}
	return s
}

// english are the keys that are not their own English text.
var english = map[string]string{"Credit note date": "Issue date"}

// monthYear is "November 2026" ("novembre 2026").
func (l *locale) monthYear(t time.Time) string {
	return l.months[t.Month()-1] + nbsp + itoa(t.Year())
}

// dayMonth is "1 December" ("1 décembre"; German "01.12.").
func (l *locale) dayMonth(t time.Time) string {
	if l.numeric {
		return t.Format("02.01.")
	}
	return itoa(t.Day()) + nbsp + l.months[t.Month()-1]
}

// day is "1 December 2026" ("1 décembre 2026"; German "01.12.2026").
func (l *locale) day(t time.Time) string {
	if l.numeric {
		return t.Format("02.01.2006")
	}
	return l.dayMonth(t) + nbsp + itoa(t.Year())
}

// dayOnly is the day of a range within one month ("2" of "2–28 November";
// German "02." of "02.–28.11.2026").
func (l *locale) dayOnly(t time.Time) string {
	if l.numeric {
		return t.Format("02.")
	}
	return itoa(t.Day())
}

// mark writes a decimal written with a point ("1 643.88") with the
// locale's decimal mark.
func (l *locale) mark(s string) string {
	if l.point == "." {
		return s
	}
	return strings.Replace(s, ".", l.point, 1)
}

// country names a country in the locale's language.
func (l *locale) country(code string) string {
	if l.names == nil {
		return country(code)
	}
	r, err := language.ParseRegion(code)
	if err != nil {
		return code
	}
	if n := l.names.Name(r); n != "" {
		return n
	}
	return code
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// The words of each language, by their English text. A sentence with
// values is a template of the writer's (%s in order).
var fr = map[string]string{
	"Credit note date": "Date d'émission", "Invoice": "Facture", "Credit note": "Avoir", "Number": "Numéro", "Issue date": "Date d'émission", "Due date": "Échéance",
	"Buyer reference": "Réf. acheteur", "Credited period": "Période créditée", "Billing month": "Mois de facturation",
	"Billing period": "Période facturée", "Service period": "Période de service", "CUSTOMER": "CLIENT", "Amount due": "Montant dû",
	"Total credited": "Total crédité", "Credited to your account": "Porté au crédit de votre compte", "Nothing to pay": "Rien à payer",
	"Debited on %s": "Prélevé le %s", "Due by %s": "À payer au plus tard le %s", "Invoices credited": "Factures créditées",
	"Amount credited (%s)": "Montant crédité (%s)", "Reason: %s": "Motif : %s", "No.": "N°", "SKU": "Réf.", "Description": "Désignation",
	"Quantity": "Quantité", "Unit price\n(%s)": "P.U. HT\n(%s)", "Net\n(%s)": "Total HT\n(%s)", "VAT": "TVA",
	"credits invoice %s": "crédite la facture %s", "credits invoice %s line %d": "crédite la facture %s ligne %d", "Category": "Catégorie",
	"Rate": "Taux", "Taxable\n(%s)": "Base HT\n(%s)", "VAT\n(%s)": "TVA\n(%s)", "Total net": "Total HT", "Total": "Total TTC",
	"Credit applied": "Avoir imputé", "Standard rate": "Taux normal", "Reverse charge": "Autoliquidation", "Exempt": "Exonéré",
	"VAT category %s": "Catégorie de TVA %s", "Reverse charge: VAT to be paid by the customer": "Autoliquidation : TVA due par le preneur",
	"Seller's VAT ID %s, customer's VAT ID %s.": "N° de TVA du vendeur %s, n° de TVA du client %s.", "VAT ID %s": "N° TVA %s",
	"Enterprise no.": "N° d'entreprise", "Company id": "N° d'identification", "Credit": "Crédit",
	"This credit note credits %s to your account.": "Cet avoir porte %s au crédit de votre compte.", "Payment": "Paiement",
	"Nothing to pay.": "Rien à payer.", "Settled by credit note %s: nothing to pay.": "Réglée par l'avoir %s : rien à payer.",
	"Settled by credit notes %s: nothing to pay.": "Réglée par les avoirs %s : rien à payer.",
	"Payment by SEPA direct debit":                "Paiement par prélèvement SEPA", "your account": "votre compte", "account %s": "le compte %s",
	"The amount due, %s at issue, will be debited on %s from %s under mandate %s, creditor identifier %s. A credit note issued before then reduces the amount debited.": "Le montant dû, %s à l'émission, sera prélevé le %s sur %s au titre du mandat %s, identifiant créancier %s. Un avoir émis d'ici là réduit le montant prélevé.",
	"Payment by bank transfer": "Paiement par virement",
	"Please transfer %s by %s to the account below, quoting the reference %s.": "Veuillez virer %s au plus tard le %s sur le compte ci-dessous, en indiquant la référence %s.",
	"Please transfer %s to the account below, quoting the reference %s.":       "Veuillez virer %s sur le compte ci-dessous, en indiquant la référence %s.",
	"Account holder": "Titulaire", "Reference": "Référence", "Scan to pay": "Scanner pour payer", "Payment terms: %s": "Conditions de paiement : %s",
	"Notes": "Mentions", "Page %d of %d": "Page %d sur %d", "%s %s to %s": "%s %s pour %s",
}

var de = map[string]string{
	"Credit note date": "Datum", "Invoice": "Rechnung", "Credit note": "Rechnungskorrektur", "Number": "Nummer", "Issue date": "Rechnungsdatum", "Due date": "Fällig am",
	"Buyer reference": "Käuferreferenz", "Credited period": "Korrekturzeitraum", "Billing month": "Abrechnungsmonat",
	"Billing period": "Abrechnungszeitraum", "Service period": "Leistungszeitraum", "CUSTOMER": "KUNDE", "Amount due": "Zahlbetrag",
	"Total credited": "Gutgeschriebener Betrag", "Credited to your account": "Ihrem Konto gutgeschrieben", "Nothing to pay": "Nichts zu zahlen",
	"Debited on %s": "Lastschrift am %s", "Due by %s": "Zahlbar bis %s", "Invoices credited": "Gutgeschriebene Rechnungen",
	"Amount credited (%s)": "Gutgeschrieben (%s)", "Reason: %s": "Grund: %s", "No.": "Pos.", "SKU": "Art.-Nr.", "Description": "Bezeichnung",
	"Quantity": "Menge", "Unit price\n(%s)": "Preis\n(%s)", "Net\n(%s)": "Netto\n(%s)", "VAT": "USt.",
	"credits invoice %s": "korrigiert Rechnung %s", "credits invoice %s line %d": "korrigiert Rechnung %s Pos. %d", "Category": "Kategorie",
	"Rate": "Satz", "Taxable\n(%s)": "Netto\n(%s)", "VAT\n(%s)": "USt.\n(%s)", "Total net": "Summe netto", "Total": "Gesamtbetrag",
	"Credit applied": "Verrechnete Gutschrift", "Standard rate": "Regelsatz", "Reverse charge": "Steuerschuldumkehr",
	"Exempt": "Steuerfrei", "VAT category %s": "USt.-Kategorie %s",
	"Reverse charge: VAT to be paid by the customer": "Steuerschuldnerschaft des Leistungsempfängers",
	"Seller's VAT ID %s, customer's VAT ID %s.":      "USt-IdNr. des Leistenden %s, USt-IdNr. des Leistungsempfängers %s.", "VAT ID %s": "USt-IdNr. %s",
	"Enterprise no.": "Unternehmensnr.", "Company id": "Firmennr.", "Credit": "Guthaben",
	"This credit note credits %s to your account.": "Diese Rechnungskorrektur schreibt Ihrem Konto %s gut.", "Payment": "Zahlung",
	"Nothing to pay.": "Nichts zu zahlen.", "Settled by credit note %s: nothing to pay.": "Durch Rechnungskorrektur %s beglichen: nichts zu zahlen.",
	"Settled by credit notes %s: nothing to pay.": "Durch Rechnungskorrekturen %s beglichen: nichts zu zahlen.",
	"Payment by SEPA direct debit":                "Zahlung per SEPA-Lastschrift", "your account": "Ihrem Konto", "account %s": "dem Konto %s",
	"The amount due, %s at issue, will be debited on %s from %s under mandate %s, creditor identifier %s. A credit note issued before then reduces the amount debited.": "Der Zahlbetrag von %s (bei Rechnungsstellung) wird am %s von %s eingezogen, Mandatsreferenz %s, Gläubiger-ID %s. Eine bis dahin ausgestellte Rechnungskorrektur mindert den eingezogenen Betrag.",
	"Payment by bank transfer": "Zahlung per Überweisung",
	"Please transfer %s by %s to the account below, quoting the reference %s.": "Bitte überweisen Sie %s bis zum %s auf das unten genannte Konto unter Angabe der Referenz %s.",
	"Please transfer %s to the account below, quoting the reference %s.":       "Bitte überweisen Sie %s auf das unten genannte Konto unter Angabe der Referenz %s.",
	"Account holder": "Kontoinhaber", "Reference": "Referenz", "Scan to pay": "Zum Bezahlen scannen", "Payment terms: %s": "Zahlungsbedingungen: %s",
	"Notes": "Hinweise", "Page %d of %d": "Seite %d von %d", "%s %s to %s": "%s %s an %s",
}

var nl = map[string]string{
	"Credit note date": "Datum", "Invoice": "Factuur", "Credit note": "Creditnota", "Number": "Nummer", "Issue date": "Factuurdatum", "Due date": "Vervaldatum",
	"Buyer reference": "Referentie koper", "Credited period": "Gecrediteerde periode", "Billing month": "Factuurmaand",
	"Billing period": "Factuurperiode", "Service period": "Leveringsperiode", "CUSTOMER": "KLANT", "Amount due": "Te betalen",
	"Total credited": "Totaal gecrediteerd", "Credited to your account": "Bijgeschreven op uw rekening", "Nothing to pay": "Niets te betalen",
	"Debited on %s": "Geïncasseerd op %s", "Due by %s": "Te betalen uiterlijk op %s", "Invoices credited": "Gecrediteerde facturen",
	"Amount credited (%s)": "Gecrediteerd (%s)", "Reason: %s": "Reden: %s", "No.": "Nr.", "SKU": "Art.nr.", "Description": "Omschrijving",
	"Quantity": "Aantal", "Unit price\n(%s)": "Prijs\n(%s)", "Net\n(%s)": "Netto\n(%s)", "VAT": "Btw",
	"credits invoice %s": "crediteert factuur %s", "credits invoice %s line %d": "crediteert factuur %s regel %d", "Category": "Categorie",
	"Rate": "Tarief", "Taxable\n(%s)": "Grondslag\n(%s)", "VAT\n(%s)": "Btw\n(%s)", "Total net": "Totaal excl. btw", "Total": "Totaal",
	"Credit applied": "Verrekend tegoed", "Standard rate": "Normaal tarief", "Reverse charge": "Btw verlegd", "Exempt": "Vrijgesteld",
	"VAT category %s": "Btw-categorie %s", "Reverse charge: VAT to be paid by the customer": "Btw verlegd: de btw is verschuldigd door de klant",
	"Seller's VAT ID %s, customer's VAT ID %s.": "Btw-nummer verkoper %s, btw-nummer klant %s.", "VAT ID %s": "Btw-nr. %s",
	"Enterprise no.": "Ondernemingsnr.", "Company id": "Bedrijfsnr.", "Credit": "Tegoed",
	"This credit note credits %s to your account.": "Deze creditnota schrijft %s bij op uw rekening.", "Payment": "Betaling",
	"Nothing to pay.": "Niets te betalen.", "Settled by credit note %s: nothing to pay.": "Vereffend met creditnota %s: niets te betalen.",
	"Settled by credit notes %s: nothing to pay.": "Vereffend met creditnota's %s: niets te betalen.",
	"Payment by SEPA direct debit":                "Betaling via SEPA-incasso", "your account": "uw rekening", "account %s": "rekening %s",
	"The amount due, %s at issue, will be debited on %s from %s under mandate %s, creditor identifier %s. A credit note issued before then reduces the amount debited.": "Het verschuldigde bedrag, %s bij uitgifte, wordt op %s geïncasseerd van %s onder machtiging %s, incassant-ID %s. Een creditnota die vóór die datum wordt uitgegeven, verlaagt het geïncasseerde bedrag.",
	"Payment by bank transfer": "Betaling per overschrijving",
	"Please transfer %s by %s to the account below, quoting the reference %s.": "Gelieve %s uiterlijk op %s over te maken op onderstaande rekening, met vermelding van de referentie %s.",
	"Please transfer %s to the account below, quoting the reference %s.":       "Gelieve %s over te maken op onderstaande rekening, met vermelding van de referentie %s.",
	"Account holder": "Rekeninghouder", "Reference": "Referentie", "Scan to pay": "Scan om te betalen", "Payment terms: %s": "Betalingsvoorwaarden: %s",
	"Notes": "Opmerkingen", "Page %d of %d": "Pagina %d van %d", "%s %s to %s": "%s %s aan %s",
}
