// Package declare turns rows of a declarations or customers file into
// validated records: it checks each row against the reseller's own catalog on
// the row's date, the declarations seen before (in the file and in history),
// subscriptions and the credit line, in file order. Every refusal is a coded,
// located problem; accepted records go to a sink. It never writes anything.
package declare

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/govalues/decimal"
	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/schema"
)

// Reseller is what validation needs to know about the declaring reseller.
type Reseller struct {
	ID          string
	Name        string
	OEMEligible bool
	Currency    money.Currency
	CreditLimit int64
	Policy      string // reject_file or accept_valid_rows
	// Exposure is receivable + unbilled when the file's check starts.
	Exposure int64
	// Format is how the reseller writes its files.
	Format schema.Format
}

// RejectFile reports whether any bad row rejects the whole file.
func (r *Reseller) RejectFile() bool { return r.Policy == "reject_file" }

// Item is a catalog item of the reseller with its price versions.
type Item struct {
	SKU          string
	PublisherID  string
	PublisherSKU string
	BillingModel string
	Versions     []Version // sorted by From
}

// Version is a price version; To is inclusive when HasTo.
type Version struct {
	From, To  civil.Date
	HasTo     bool
	Buy       decimal.Decimal
	ShareKind string
	Share     decimal.Decimal
}

// PriceOn returns the version valid on d.
func (it *Item) PriceOn(d civil.Date) (*Version, bool) {
	i := sort.Search(len(it.Versions), func(i int) bool { return it.Versions[i].From > d }) - 1
	if i < 0 {
		return nil, false
	}
	v := &it.Versions[i]
	if v.HasTo && d > v.To {
		return nil, false
	}
	return v, true
}

// Split computes a line's amount and the publisher's and hub's parts, in
// minor units: amount = round_half_even(qty × buy); publisher share is a
// percent of the amount or an amount per unit; the hub keeps the rest.
func (v *Version) Split(qty int64, exp int) (amount, publisher, hub int64, err error) {
	if amount, err = money.LineAmount(qty, v.Buy, exp); err != nil {
		return
	}
	if v.ShareKind == "percent" {
		publisher, err = money.PercentOf(amount, v.Share)
	} else {
		publisher, err = money.LineAmount(qty, v.Share, exp)
	}
	if err != nil {
		return
	}
	if publisher > amount {
		publisher = amount
	}
	return amount, publisher, amount - publisher, nil
}

// Catalog is every item of a reseller, by SKU.
type Catalog map[string]*Item

// Querier is the part of pgx that loading needs.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrUnknownReseller is returned for a reseller id that is not configured.
var ErrUnknownReseller = fmt.Errorf("unknown reseller")

// LoadReseller reads a reseller, its exposure and its catalog.
func LoadReseller(ctx context.Context, q Querier, id string) (*Reseller, Catalog, error) {
	r := &Reseller{ID: id}
	var cur, format string
	err := q.QueryRow(ctx, `
		SELECT p.name, r.oem_eligible, r.currency, r.credit_limit, r.file_policy, r.file_format,
		       coalesce((SELECT sum(a.balance) FROM accounts a
		                  WHERE a.code IN ($2, $3) AND a.currency = r.currency), 0)::bigint
		  FROM resellers r JOIN partners p ON p.id = r.partner_id WHERE r.partner_id = $1`, id, ledger.Unbilled(id), ledger.Receivable(id)).
		Scan(&r.Name, &r.OEMEligible, &cur, &r.CreditLimit, &r.Policy, &format, &r.Exposure)
	if err == pgx.ErrNoRows {
		return nil, nil, fmt.Errorf("%w %q (is it in the configuration you applied?)", ErrUnknownReseller, id)
	}
	if err != nil {
		return nil, nil, err
	}
	if r.Currency, err = money.ParseCurrency(cur); err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal([]byte(format), &r.Format); err != nil {
		return nil, nil, fmt.Errorf("reseller %s file_format: %w", id, err)
	}
	rows, err := q.Query(ctx, `
		SELECT i.sku, i.publisher_id, i.publisher_sku, i.billing_model,
		       v.valid_from::text, coalesce(v.valid_to::text, ''), v.buy_price::text, v.share_kind, v.share_value::text
		  FROM catalog_items i JOIN price_versions v USING (reseller_id, sku)
		 WHERE i.reseller_id = $1 ORDER BY i.sku, v.valid_from`, id)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cat := Catalog{}
	for rows.Next() {
		var it Item
		var from, to, buy, share string
		var v Version
		if err := rows.Scan(&it.SKU, &it.PublisherID, &it.PublisherSKU, &it.BillingModel, &from, &to, &buy, &v.ShareKind, &share); err != nil {
			return nil, nil, err
		}
		v.From, _ = civil.ParseISO(from)
		if to != "" {
			v.To, _ = civil.ParseISO(to)
			v.HasTo = true
		}
		v.Buy = decimal.MustParse(buy).Trim(0)
		v.Share = decimal.MustParse(share).Trim(0)
		if cat[it.SKU] == nil {
			cat[it.SKU] = &it
		}
		cat[it.SKU].Versions = append(cat[it.SKU].Versions, v)
	}
	return r, cat, rows.Err()
}
