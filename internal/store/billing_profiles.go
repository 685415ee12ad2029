package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The billing identities: the hub (one row) and the resellers' billing
// profiles, written by world's apply as generic rows (world.go) and read
// here, typed, by billing.
const (
	hubSQL = `
		SELECT legal_name, coalesce(trading_name, ''),
		       street, coalesce(additional, ''), city, postal_code, coalesce(subdivision, ''), country,
		       vat_id, coalesce(company_id, ''), coalesce(company_id_scheme, ''), endpoint_scheme, endpoint_id, coalesce(email, ''),
		       coalesce(creditor_id, ''), iban, coalesce(bic, ''), account_name,
		       invoice_prefix, credit_note_prefix, time_zone, schedule, payment_terms_days, notes
		  FROM hub`
	billingProfileSQL = `
		SELECT reseller_id, legal_name,
		       street, coalesce(additional, ''), city, postal_code, coalesce(subdivision, ''), country,
		       coalesce(vat_id, ''), coalesce(company_id, ''), coalesce(company_id_scheme, ''), endpoint_scheme, endpoint_id, buyer_reference,
		       emails, payment_terms_days, language
		  FROM billing_profiles WHERE reseller_id = $1`
	billingProfilesSQL = `
		SELECT reseller_id, legal_name,
		       street, coalesce(additional, ''), city, postal_code, coalesce(subdivision, ''), country,
		       coalesce(vat_id, ''), coalesce(company_id, ''), coalesce(company_id_scheme, ''), endpoint_scheme, endpoint_id, buyer_reference,
		       emails, payment_terms_days, language
		  FROM billing_profiles WHERE reseller_id = ANY($1)`
)

// Address is a structured postal address (EN 16931 BG-5, BG-8).
type Address struct{ Street, Additional, City, PostalCode, Subdivision, Country string }

// Hub is the identity of the operator of Clearhouse: the seller on every
// invoice and the creditor of every direct debit.
type Hub struct {
	LegalName, TradingName                                               string
	Address                                                              Address
	VATID, CompanyID, CompanyIDScheme, EndpointScheme, EndpointID, Email string
	CreditorID, IBAN, BIC, AccountName                                   string // IBAN compact, no spaces
	InvoicePrefix, CreditNotePrefix                                      string
	TimeZone, Schedule                                                   string
	PaymentTermsDays                                                     int
	// Notes are its legal mentions by language (en, fr, de, nl).
	Notes map[string][]string
}

// BillingProfile is a reseller as the buyer of its invoices.
type BillingProfile struct {
	ResellerID, LegalName                                                         string
	Address                                                                       Address
	VATID, CompanyID, CompanyIDScheme, EndpointScheme, EndpointID, BuyerReference string
	Emails                                                                        []string
	PaymentTermsDays                                                              int    // resolved: the hub's default when the profile says nothing
	Language                                                                      string // of its documents: en, fr, de or nl
}

// ErrNoHub: no hub identity has been applied.
var ErrNoHub = errors.New("no hub identity configured: add hub to the world configuration (samples/config/hub.yaml) and run clearhouse apply")

// Hub reads the hub's identity (ErrNoHub when none has been applied).
func (q *Queries) Hub(ctx context.Context) (Hub, error) {
	var h Hub
	var notes string
	a := &h.Address
	err := q.db.QueryRow(ctx, hubSQL).Scan(&h.LegalName, &h.TradingName,
		&a.Street, &a.Additional, &a.City, &a.PostalCode, &a.Subdivision, &a.Country,
		&h.VATID, &h.CompanyID, &h.CompanyIDScheme, &h.EndpointScheme, &h.EndpointID, &h.Email,
		&h.CreditorID, &h.IBAN, &h.BIC, &h.AccountName,
		&h.InvoicePrefix, &h.CreditNotePrefix, &h.TimeZone, &h.Schedule, &h.PaymentTermsDays, &notes)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, ErrNoHub
	}
	if err == nil {
		err = json.Unmarshal([]byte(notes), &h.Notes)
	}
	if err != nil {
		return h, fmt.Errorf("reading the hub: %w", err)
	}
	return h, nil
}

// BillingProfile reads a reseller's billing profile; false when it has
// none.
func (q *Queries) BillingProfile(ctx context.Context, reseller string) (BillingProfile, bool, error) {
	var p BillingProfile
	a := &p.Address
	err := q.db.QueryRow(ctx, billingProfileSQL, reseller).Scan(&p.ResellerID, &p.LegalName,
		&a.Street, &a.Additional, &a.City, &a.PostalCode, &a.Subdivision, &a.Country,
		&p.VATID, &p.CompanyID, &p.CompanyIDScheme, &p.EndpointScheme, &p.EndpointID, &p.BuyerReference,
		&p.Emails, &p.PaymentTermsDays, &p.Language)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("reading the billing profile of %s: %w", reseller, err)
	}
	return p, true, nil
}

// BillingProfiles reads the billing profiles of resellers (a reseller
// without one is not in the map).
func (q *Queries) BillingProfiles(ctx context.Context, resellers []string) (map[string]BillingProfile, error) {
	out := make(map[string]BillingProfile, len(resellers))
	var p BillingProfile
	a := &p.Address
	err := forEachRow(ctx, q.db, billingProfilesSQL, []any{resellers}, []any{&p.ResellerID, &p.LegalName,
		&a.Street, &a.Additional, &a.City, &a.PostalCode, &a.Subdivision, &a.Country,
		&p.VATID, &p.CompanyID, &p.CompanyIDScheme, &p.EndpointScheme, &p.EndpointID, &p.BuyerReference,
		&p.Emails, &p.PaymentTermsDays, &p.Language}, func() error {
		out[p.ResellerID] = p
		p = BillingProfile{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the billing profiles of %d resellers: %w", len(resellers), err)
	}
	return out, nil
}

// TextArray is the text form PostgreSQL gives a text[] value ({a,b}, an
// element quoted only where it must be), so that a row written from it
// reads back the same and apply sees no change.
func TextArray(elems []string) string {
	quoted := make([]string, len(elems))
	for i, e := range elems {
		if e != "" && !strings.EqualFold(e, "NULL") && !strings.ContainsAny(e, "{}\",\\ \t\n\r\v\f") {
			quoted[i] = e
			continue
		}
		quoted[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(e) + `"`
	}
	return "{" + strings.Join(quoted, ",") + "}"
}
