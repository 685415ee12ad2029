package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/govalues/decimal"
	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/civil"
)

const (
	resellerSQL = `
		SELECT p.name, r.oem_eligible, r.currency, r.credit_limit, r.file_policy, r.file_format,
		       coalesce((SELECT sum(a.balance) FROM accounts a
		                  WHERE a.code IN ($2, $3)
		                    AND a.currency = r.currency), 0)::bigint
		  FROM resellers r JOIN partners p ON p.id = r.partner_id WHERE r.partner_id = $1`
	priceVersionsSQL = `
		SELECT i.sku, i.publisher_id, i.publisher_sku, i.billing_model,
		       v.valid_from::text, coalesce(v.valid_to::text, ''), v.buy_price::text, v.share_kind, v.share_value::text
		  FROM catalog_items i JOIN price_versions v USING (reseller_id, sku)
		 WHERE i.reseller_id = $1 ORDER BY i.sku, v.valid_from`
)

// ResellerRecord is a reseller's settings, and its exposure (receivable +
// unbilled) now.
type ResellerRecord struct {
	Name        string
	OEMEligible bool
	Currency    string
	CreditLimit int64
	Policy      string
	Format      string // JSON
	Exposure    int64
}

// Reseller reads a reseller's record; false when it is not configured. Its
// exposure is the balance of the accounts named (the chart of accounts is
// the ledger's: its unbilled and receivable).
func Reseller(ctx context.Context, q Querier, id string, exposure [2]string) (ResellerRecord, bool, error) {
	var r ResellerRecord
	err := q.QueryRow(ctx, resellerSQL, id, exposure[0], exposure[1]).Scan(&r.Name, &r.OEMEligible, &r.Currency, &r.CreditLimit, &r.Policy, &r.Format, &r.Exposure)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("reading reseller %s: %w", id, err)
	}
	return r, true, nil
}

// PriceVersion is a price version of an item of a reseller's catalog.
type PriceVersion struct {
	SKU, PublisherID, PublisherSKU, BillingModel string
	From, To                                     civil.Date
	HasTo                                        bool
	Buy                                          decimal.Decimal
	ShareKind                                    string
	Share                                        decimal.Decimal
}

// PriceVersions calls each for every price version of the reseller's
// catalog, by SKU, then from the oldest.
func PriceVersions(ctx context.Context, q Querier, reseller string, each func(PriceVersion)) error {
	rows, err := q.Query(ctx, priceVersionsSQL, reseller)
	if err != nil {
		return fmt.Errorf("reading the catalog of %s: %w", reseller, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v PriceVersion
		var from, to, buy, share string
		if err := rows.Scan(&v.SKU, &v.PublisherID, &v.PublisherSKU, &v.BillingModel, &from, &to, &buy, &v.ShareKind, &share); err != nil {
			return fmt.Errorf("reading the catalog of %s: %w", reseller, err)
		}
		v.From, _ = civil.ParseISO(from)
		if to != "" {
			v.To, _ = civil.ParseISO(to)
			v.HasTo = true
		}
		v.Buy = decimal.MustParse(buy).Trim(0)
		v.Share = decimal.MustParse(share).Trim(0)
		each(v)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the catalog of %s: %w", reseller, err)
	}
	return nil
}
