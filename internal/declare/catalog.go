// Package declare turns rows of a declarations or customers file into
// validated records: it checks each row against the reseller's own catalog on
// the row's date, the declarations seen before (in the file and in history),
// subscriptions and the credit line, in file order. Every refusal is a coded,
// located problem; accepted records go to a sink. It never writes anything.
package declare

import (
	"context"
	"fmt"
	"sort"

	"github.com/govalues/decimal"

	"github.com/clearhouse/clearhouse/internal/civil"
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

// ResellerSource reads what LoadReseller assembles (ingest reads it from
// the database).
type ResellerSource interface {
	// Reseller reads a reseller's settings and its exposure now; nil when
	// the reseller is not configured.
	Reseller(ctx context.Context, id string) (*Reseller, error)
	// PriceVersions calls each for every price version of the reseller's
	// catalog, with its item, by SKU and then from the oldest.
	PriceVersions(ctx context.Context, id string, each func(Item, Version)) error
}

// ErrUnknownReseller is returned for a reseller id that is not configured.
var ErrUnknownReseller = fmt.Errorf("unknown reseller")

// LoadReseller reads a reseller, its exposure and its catalog.
func LoadReseller(ctx context.Context, src ResellerSource, id string) (*Reseller, Catalog, error) {
	r, err := src.Reseller(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if r == nil {
		return nil, nil, fmt.Errorf("%w %q (is it in the configuration you applied?)", ErrUnknownReseller, id)
	}
	cat := Catalog{}
	if err := src.PriceVersions(ctx, id, cat.add); err != nil {
		return nil, nil, err
	}
	return r, cat, nil
}

// add adds a price version of an item; an item's versions come in order.
func (c Catalog) add(it Item, v Version) {
	if c[it.SKU] == nil {
		c[it.SKU] = &it
	}
	c[it.SKU].Versions = append(c[it.SKU].Versions, v)
}
