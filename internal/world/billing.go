package world

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/sepa"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/taxid"
)

// maxPayeeName is the longest name of a SEPA party (EPC implementation
// guidelines: 70 characters).
const maxPayeeName = 70

// The billing defaults, when the hub says nothing.
const (
	DefaultTimezone         = "Europe/Paris"
	DefaultSchedule         = "0 6 1 * *" // the 1st of the month at 06:00, for the month just ended
	DefaultPaymentTermsDays = 30
	DefaultInvoicePrefix    = "CH"
	DefaultCreditNotePrefix = "CN"
)

// Party is what the hub and a reseller's billing profile both say of
// themselves on an invoice (the seller, the buyer).
type Party struct {
	LegalName string   `yaml:"legal_name"`
	Address   *Address `yaml:"address"`
	// VATID starts with its country's prefix (EL for Greece); it may be
	// written with spaces, dots or dashes.
	VATID string `yaml:"vat_id"`
	// CompanyID is the legal registration (a SIREN, a Belgian enterprise
	// number), CompanyIDScheme its ISO 6523 ICD ("0002", "0208").
	CompanyID       string `yaml:"company_id"`
	CompanyIDScheme string `yaml:"company_id_scheme"`
	// Endpoint is the Peppol participant id, "<EAS scheme>:<id>"; default:
	// the VAT id under its country's EAS VAT scheme (9957 FR, 9930 DE…).
	Endpoint string `yaml:"endpoint"`
}

// Address is a structured postal address.
type Address struct {
	Where       `yaml:"-"`
	Street      string `yaml:"street"`
	Additional  string `yaml:"additional"`
	City        string `yaml:"city"`
	PostalCode  string `yaml:"postal_code"`
	Subdivision string `yaml:"subdivision"`
	Country     string `yaml:"country"` // ISO 3166-1 alpha-2
}

// Hub is the identity of the operator of Clearhouse: the seller on every
// invoice and the creditor of every direct debit. It is declared once
// across a configuration folder.
type Hub struct {
	Where             `yaml:"-"`
	Party             `yaml:",inline"`
	TradingName       string     `yaml:"trading_name"`
	Email             string     `yaml:"email"`
	SEPACreditorID    string     `yaml:"sepa_creditor_id"`
	CollectionAccount *Account   `yaml:"collection_account"`
	Documents         Documents  `yaml:"documents"`
	Billing           HubBilling `yaml:"billing"`
}

// Account is the hub's collection account: debits are collected to it and
// pay-now invoices are paid to it.
type Account struct {
	Where `yaml:"-"`
	IBAN  string `yaml:"iban"`
	BIC   string `yaml:"bic"`
	Name  string `yaml:"name"` // default: the hub's legal name
}

// Documents are the prefixes of the documents' numbers (CH-2026-000042)
// and the hub's legal mentions.
type Documents struct {
	Where            `yaml:"-"`
	InvoicePrefix    string `yaml:"invoice_prefix"`
	CreditNotePrefix string `yaml:"credit_note_prefix"`
	// Notes are printed on every invoice and credit note (BT-22), by the
	// document's language (en, fr, de, nl); English stands in for one not
	// given. A French seller's: the late-payment penalties and the EUR 40
	// recovery fee (Code de commerce L441-10), its share capital and RCS.
	Notes map[string][]string `yaml:"notes"`
}

// HubBilling is when billing runs and its default terms.
type HubBilling struct {
	Where `yaml:"-"`
	// Timezone is the time zone of billing periods (default Europe/Paris).
	Timezone string `yaml:"timezone"`
	// Schedule is when the monthly run starts, a 5-field cron expression in
	// Timezone (default "0 6 1 * *").
	Schedule string `yaml:"schedule"`
	// PaymentTermsDays is the resellers' default (1 to 120, default 30).
	PaymentTermsDays *int `yaml:"payment_terms_days"`
}

// Billing is a reseller's billing profile: the buyer on its invoices.
type Billing struct {
	Where  `yaml:"-"`
	Party  `yaml:",inline"` // legal_name defaults to the reseller's name
	Emails []string         `yaml:"emails"`
	// PaymentTermsDays defaults to the hub's.
	PaymentTermsDays *int `yaml:"payment_terms_days"`
	// BuyerReference is EN 16931 BT-10 (a Leitweg-ID for German public
	// buyers); default: the reseller's id.
	BuyerReference string `yaml:"buyer_reference"`
	// Language is the language of its documents: en (default), fr, de or
	// nl.
	Language string `yaml:"language"`
}

// Languages are the languages documents are written in.
var Languages = []string{"en", "fr", "de", "nl"}

func (h *Hub) UnmarshalYAML(n *yaml.Node) error { return strict(n, h, &h.Where) }

// eachWhere calls fn with the position of the hub and its sections.
func (h *Hub) eachWhere(fn func(*Where)) {
	fn(&h.Where)
	h.Party.eachWhere(fn)
	if h.CollectionAccount != nil {
		fn(&h.CollectionAccount.Where)
	}
	fn(&h.Documents.Where)
	fn(&h.Billing.Where)
}

func (p *Party) eachWhere(fn func(*Where)) {
	if p.Address != nil {
		fn(&p.Address.Where)
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (h *Hub) invoicePrefix() string {
	return orDefault(h.Documents.InvoicePrefix, DefaultInvoicePrefix)
}
func (h *Hub) creditNotePrefix() string {
	return orDefault(h.Documents.CreditNotePrefix, DefaultCreditNotePrefix)
}
func (h *Hub) timezone() string { return orDefault(h.Billing.Timezone, DefaultTimezone) }

// notesJSON is the hub's notes as stored: a JSON object, its keys sorted.
func (h *Hub) notesJSON() string {
	if len(h.Documents.Notes) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(h.Documents.Notes) // maps marshal with sorted keys
	return string(b)
}
func (h *Hub) schedule() string { return orDefault(h.Billing.Schedule, DefaultSchedule) }

// paymentTerms are the resellers' default terms: the hub's, or
// DefaultPaymentTermsDays without a hub.
func (h *Hub) paymentTerms() int {
	if h == nil || h.Billing.PaymentTermsDays == nil {
		return DefaultPaymentTermsDays
	}
	return *h.Billing.PaymentTermsDays
}

// vat is the VAT id in its compact form.
func (p *Party) vat() string { return taxid.CompactVAT(p.VATID) }

// endpoint is the party's Peppol participant id: the one written, or the
// one its VAT id gives.
func (p *Party) endpoint() (taxid.Endpoint, error) {
	if p.Endpoint != "" {
		return taxid.ParseEndpoint(p.Endpoint)
	}
	if e, ok := taxid.VATEndpoint(p.vat()); ok && p.VATID != "" {
		return e, nil
	}
	return taxid.Endpoint{}, fmt.Errorf("%w: none is written and none derives from the VAT id", taxid.ErrEndpoint)
}

var (
	icd            = regexp.MustCompile(`^\d{4}$`)
	documentPrefix = regexp.MustCompile(`^[A-Z0-9]{1,8}$`)
)

// badFunc reports a problem of a field at a position.
type badFunc func(Where, string, string, ...any)

// check reports the problems of what the hub and a billing profile share,
// each field named under prefix ("hub.", "billing.") at the party's
// position at.
func (p *Party) check(bad badFunc, at Where, prefix, who string) {
	checkName(bad, at, prefix+"legal_name", p.LegalName, 200)
	if a := p.Address; a != nil {
		for _, f := range []struct {
			name, v string
			max     int
		}{{"street", a.Street, 140}, {"additional", a.Additional, 140}, {"city", a.City, 100}, {"subdivision", a.Subdivision, 100}} {
			checkName(bad, a.Where, prefix+"address."+f.name, f.v, f.max)
		}
	}
	if a := p.Address; a == nil {
		bad(at, prefix+"address", "is required: street, city, postal_code and country of %s, printed on every invoice", who)
	} else {
		for _, f := range []struct{ name, v string }{{"street", a.Street}, {"city", a.City}, {"postal_code", a.PostalCode}, {"country", a.Country}} {
			if f.v == "" {
				bad(a.Where, prefix+"address."+f.name, "is required")
			}
		}
		if err := taxid.CheckCountry(a.Country); a.Country != "" && err != nil {
			bad(a.Where, prefix+"address.country", "%q: %v", a.Country, err)
		} else if err := taxid.CheckPostalCode(a.Country, a.PostalCode); a.PostalCode != "" && err != nil {
			bad(a.Where, prefix+"address.postal_code", "%q: %v", a.PostalCode, err)
		}
	}
	if vat := p.vat(); p.VATID != "" {
		if err := taxid.CheckVAT(vat); err != nil {
			bad(at, prefix+"vat_id", "%q: %v", p.VATID, err)
		} else if a := p.Address; a != nil && a.Country != "" && taxid.VATCountry(vat) != a.Country {
			bad(at, prefix+"vat_id", "%s is a VAT id of %s, but the address is in %s (whose VAT ids start with %s)",
				vat, taxid.VATCountry(vat), a.Country, orDefault(taxid.VATPrefix(a.Country), a.Country))
		}
	}
	switch {
	case p.CompanyIDScheme != "" && p.CompanyID == "":
		bad(at, prefix+"company_id_scheme", "goes with company_id, which is missing")
	case p.CompanyIDScheme != "" && !icd.MatchString(p.CompanyIDScheme):
		bad(at, prefix+"company_id_scheme", "%q must be an ISO 6523 ICD, 4 digits (\"0002\" SIREN, \"0208\" Belgian enterprise number)", p.CompanyIDScheme)
	case p.CompanyIDScheme != "":
		if err := taxid.CheckID(p.CompanyIDScheme, p.CompanyID); err != nil {
			bad(at, prefix+"company_id", "%q: %v", p.CompanyID, err)
		}
	}
	if _, err := p.endpoint(); err != nil {
		if p.Endpoint == "" {
			bad(at, prefix+"endpoint", "is required (the Peppol participant id, <EAS scheme>:<id>, of %s): "+
				"it derives from vat_id only under the EAS VAT schemes (FR, DE, BE, NL, AT, ES…)", who)
		} else {
			bad(at, prefix+"endpoint", "%q: %v", p.Endpoint, err)
		}
	}
}

// check reports the problems of the hub's identity; wallet says whether a
// reseller pays by direct debit (the hub is then its creditor).
func (h *Hub) check(bad badFunc, wallet bool) {
	if h.LegalName == "" {
		bad(h.Where, "hub.legal_name", "is required: the seller's name on every invoice")
	}
	if h.VATID == "" {
		bad(h.Where, "hub.vat_id", "is required: the seller's VAT id is on every invoice")
	}
	h.Party.check(bad, h.Where, "hub.", "the hub")
	checkName(bad, h.Where, "hub.trading_name", h.TradingName, 200)
	if h.Email != "" && !plausibleEmail(h.Email) {
		bad(h.Where, "hub.email", "%q is not an email address (billing@example.com)", h.Email)
	}
	switch {
	case h.SEPACreditorID == "" && wallet:
		bad(h.Where, "hub.sepa_creditor_id", "is required: a reseller pays by SEPA direct debit (payment method wallet) and the hub is its creditor")
	case h.SEPACreditorID != "" && !sepa.ValidCreditorID(h.SEPACreditorID):
		bad(h.Where, "hub.sepa_creditor_id", "%q is not a SEPA creditor identifier (country, 2 check digits mod 97, business code, national id: FR18ZZZ8A4B2C)", h.SEPACreditorID)
	}
	if a := h.CollectionAccount; a == nil {
		bad(h.Where, "hub.collection_account", "is required: the iban (and bic) that debits are collected to and pay-now invoices are paid to")
	} else {
		switch {
		case !sepa.ValidIBAN(a.IBAN):
			bad(a.Where, "hub.collection_account.iban", "%q is not a valid IBAN (checksum mod 97)", a.IBAN)
		case !sepa.InSEPA(a.IBAN):
			bad(a.Where, "hub.collection_account.iban", "%q is not an account in the SEPA area: direct debits are collected to it and pay-now invoices' QR codes pay it by SEPA credit transfer", a.IBAN)
		}
		if a.BIC != "" && !sepa.ValidBIC(a.BIC) {
			bad(a.Where, "hub.collection_account.bic", "%q is not a valid BIC (8 or 11 characters)", a.BIC)
		}
		// The payee's name in a direct debit file and a QR code: at most
		// 70 characters (EPC), and never blank.
		name, field := a.Name, "hub.collection_account.name"
		if name == "" {
			name = h.LegalName
		}
		switch n := utf8.RuneCountInString(name); {
		case strings.TrimSpace(name) == "" && a.Name != "":
			bad(a.Where, field, "is blank: write the account holder's name or leave the field out (the legal name is then used)")
		case n > maxPayeeName && a.Name == "":
			bad(a.Where, field, "is required: the legal name has %d characters and a SEPA payee name (direct debit files, QR codes) at most %d; write the account holder's name", n, maxPayeeName)
		case n > maxPayeeName:
			bad(a.Where, field, "has %d characters; a SEPA payee name (direct debit files, QR codes) has at most %d", n, maxPayeeName)
		}
	}
	d := h.Documents
	for _, f := range []struct{ name, v string }{{"invoice_prefix", d.InvoicePrefix}, {"credit_note_prefix", d.CreditNotePrefix}} {
		if f.v != "" && !documentPrefix.MatchString(f.v) {
			bad(d.Where, "hub.documents."+f.name, "%q must be 1 to 8 upper-case letters or digits (numbers read <prefix>-2026-000042)", f.v)
		}
	}
	for lang, notes := range h.Documents.Notes {
		if !slices.Contains(Languages, lang) {
			bad(d.Where, "hub.documents.notes", "%q is not a language documents are written in: en, fr, de or nl", lang)
		}
		for _, n := range notes {
			if strings.TrimSpace(n) == "" {
				bad(d.Where, "hub.documents.notes."+lang, "has a blank note")
			}
			checkName(bad, d.Where, "hub.documents.notes."+lang, n, 1000)
		}
	}
	if h.invoicePrefix() == h.creditNotePrefix() {
		bad(d.Where, "hub.documents.credit_note_prefix", "%q is the invoice prefix too: invoices and credit notes are numbered apart, so their prefixes differ", h.creditNotePrefix())
	}
	b := h.Billing
	if _, err := time.LoadLocation(h.timezone()); err != nil {
		bad(b.Where, "hub.billing.timezone", "%q is not an IANA time zone (Europe/Paris)", h.timezone())
	}
	if sched, _, err := (exchange.Timing{Schedule: h.schedule()}).Spec(0); err != nil {
		bad(b.Where, "hub.billing.schedule", "%v (minute hour day-of-month month day-of-week, in the billing timezone: \"0 6 1 * *\")", err)
	} else if !monthly(sched) {
		bad(b.Where, "hub.billing.schedule", "%q would not run every month (a month is billed from its end): \"0 6 1 * *\" runs on the 1st at 06:00", h.schedule())
	}
	checkTerms(bad, b.Where, "hub.billing.payment_terms_days", b.PaymentTermsDays)
}

// monthly tells whether a schedule runs at least once in every month of the
// year ahead (a month is billed when it is over: one that never comes is a
// month never billed).
func monthly(sched interface{ Next(time.Time) time.Time }) bool {
	now := time.Now()
	for i := range 13 { // from each of 13 moments a month apart, a run within 32 days
		from := now.AddDate(0, i, 0)
		if next := sched.Next(from); next.IsZero() || next.Sub(from) > 32*24*time.Hour {
			return false
		}
	}
	return true
}

func checkTerms(bad badFunc, at Where, field string, days *int) {
	if days != nil && (*days < 1 || *days > 120) {
		bad(at, field, "%d must be 1 to 120 days", *days)
	}
}

// checkBilling reports the problems of a reseller's billing profile, and
// of its absence: an OEM-eligible reseller is invoiced, and reverse
// charge needs the buyer's address and VAT id. hub is nil when the
// configuration has none.
func (r *Reseller) checkBilling(bad badFunc, hub *Hub) {
	reverse := r.VAT.Treatment == "reverse_charge"
	b := r.Billing
	if b == nil {
		switch {
		case reverse:
			bad(r.Where, "billing", "is required: reverse charge needs the reseller's billing address and VAT id (add billing with address and vat_id)")
		case r.OEMEligible:
			bad(r.Where, "billing", "is required for an OEM-eligible reseller: the buyer on its invoices (address, vat_id, emails; see samples/config/resellers.yaml)")
		}
		return
	}
	b.Party.check(bad, b.Where, "billing.", r.ID)
	checkName(bad, b.Where, "billing.buyer_reference", b.BuyerReference, 100)
	if reverse && b.VATID == "" {
		bad(b.Where, "billing.vat_id", "is required: reverse charge prints the buyer's VAT id beside the seller's on every invoice")
	}
	if reverse && hub != nil && b.VATID != "" && hub.VATID != "" {
		if c := taxid.VATCountry(b.vat()); c != "" && c == taxid.VATCountry(hub.vat()) {
			bad(b.Where, "billing.vat_id", "%s is a VAT id of %s, the hub's own country: reverse charge applies to a buyer in another country; "+
				"within %s the treatment is standard", b.vat(), c, c)
		}
	}
	if len(b.Emails) == 0 {
		bad(b.Where, "billing.emails", "at least one address is required: where invoices are sent")
	}
	for _, e := range b.Emails {
		if !plausibleEmail(e) {
			bad(b.Where, "billing.emails", "%q is not an email address (factures@example.fr)", e)
		}
	}
	checkTerms(bad, b.Where, "billing.payment_terms_days", b.PaymentTermsDays)
	if b.Language != "" && !slices.Contains(Languages, b.Language) {
		bad(b.Where, "billing.language", "%q is not a language documents are written in: en (the default), fr, de or nl", b.Language)
	}
}

// plausibleEmail: a bare address (no display name) whose domain has a dot.
func plausibleEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	domain := s[strings.LastIndex(s, "@")+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// The billing tables: the columns of a party, then each table's own.
var partyCols = []string{"legal_name", "street", "additional", "city", "postal_code", "subdivision", "country",
	"vat_id", "company_id", "company_id_scheme", "endpoint_scheme", "endpoint_id"}

var (
	hubCols = append(append([]string{"id"}, partyCols...), "trading_name", "email", "creditor_id", "iban", "bic", "account_name",
		"invoice_prefix", "credit_note_prefix", "time_zone", "schedule", "payment_terms_days", "notes")
	hubTable = table{Table: store.Table{Name: "hub", Cols: hubCols, NKey: 1,
		Types: append(append([]string{"boolean"}, texts(len(hubCols)-3)...), "integer", "text")}, label: "hub", one: true}

	profileCols          = append(append([]string{"reseller_id"}, partyCols...), "buyer_reference", "emails", "payment_terms_days", "language")
	billingProfilesTable = table{Table: store.Table{Name: "billing_profiles", Cols: profileCols, NKey: 1,
		Types: append(texts(len(profileCols)-3), "text[]", "integer", "text")}, label: "billing profile"}
)

// texts is n text columns' types.
func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "text"
	}
	return out
}

// row is the party's columns (partyCols), legalName being its resolved
// legal name. The party has been checked.
func (p *Party) row(legalName string) row {
	a := p.Address
	e, _ := p.endpoint()
	return row{s(legalName), s(a.Street), opt(a.Additional), s(a.City), s(a.PostalCode), opt(a.Subdivision), s(a.Country),
		opt(p.vat()), opt(p.CompanyID), opt(p.CompanyIDScheme), s(e.Scheme), s(e.ID)}
}

// row is the hub's row, its defaults resolved.
func (h *Hub) row() row {
	a := h.CollectionAccount
	r := append(row{s("true")}, h.Party.row(h.LegalName)...)
	return append(r, opt(h.TradingName), opt(h.Email), opt(sepa.CompactIBAN(h.SEPACreditorID)), s(sepa.CompactIBAN(a.IBAN)), opt(a.BIC),
		s(orDefault(a.Name, h.LegalName)), s(h.invoicePrefix()), s(h.creditNotePrefix()), s(h.timezone()), s(h.schedule()),
		s(strconv.Itoa(h.paymentTerms())), s(h.notesJSON()))
}

// billingRow is the reseller's billing profile row, its defaults resolved
// (the legal name, the buyer reference, the hub's payment terms).
func (r *Reseller) billingRow(hub *Hub) row {
	b := r.Billing
	terms := hub.paymentTerms()
	if b.PaymentTermsDays != nil {
		terms = *b.PaymentTermsDays
	}
	out := append(row{s(r.ID)}, b.Party.row(orDefault(b.LegalName, r.Name))...)
	return append(out, s(orDefault(b.BuyerReference, r.ID)), s(store.TextArray(b.Emails)), s(strconv.Itoa(terms)), s(orDefault(b.Language, "en")))
}
