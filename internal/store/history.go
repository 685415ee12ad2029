package store

import (
	"context"
	"fmt"

	"github.com/clearhouse/clearhouse/internal/civil"
)

// The look-ups of a reseller's history probe the primary keys once per id:
// the sessions they run in must forbid the planner anything else (see
// ingest's lookup pool, whose test explains these plans).
const (
	idRangesSQL = `
		SELECT coalesce((SELECT declaration_id FROM declarations WHERE reseller_id = $1 ORDER BY declaration_id LIMIT 1), ''),
		       coalesce((SELECT declaration_id FROM declarations WHERE reseller_id = $1 ORDER BY declaration_id DESC LIMIT 1), ''),
		       coalesce((SELECT customer_id FROM customers WHERE reseller_id = $1 ORDER BY customer_id LIMIT 1), ''),
		       coalesce((SELECT customer_id FROM customers WHERE reseller_id = $1 ORDER BY customer_id DESC LIMIT 1), '')`
	PriorDeclarationsSQL = `
		SELECT d.declaration_id, d.action, d.sku, d.customer_id, d.billing_model, coalesce(d.sub_state, ''), d.start_date - DATE '1970-01-01'
		  FROM unnest($2::text[]) AS k(id)
		 CROSS JOIN LATERAL (SELECT * FROM declarations d WHERE d.reseller_id = $1 AND d.declaration_id = k.id LIMIT 1) d`
	KnownCustomersSQL = `
		SELECT c.customer_id FROM unnest($2::text[]) AS k(id)
		 CROSS JOIN LATERAL (SELECT customer_id FROM customers c WHERE c.reseller_id = $1 AND c.customer_id = k.id LIMIT 1) c`
)

// IDRanges are the first and last ids a reseller used, in index order
// (COLLATE "C", as Go compares); "" when it used none.
type IDRanges struct {
	DeclarationMin, DeclarationMax string
	CustomerMin, CustomerMax       string
}

// ReadIDRanges reads a reseller's id ranges: two index probes each.
func ReadIDRanges(ctx context.Context, q Querier, reseller string) (IDRanges, error) {
	var r IDRanges
	err := q.QueryRow(ctx, idRangesSQL, reseller).Scan(&r.DeclarationMin, &r.DeclarationMax, &r.CustomerMin, &r.CustomerMax)
	if err != nil {
		return r, fmt.Errorf("reading the id ranges of %s: %w", reseller, err)
	}
	return r, nil
}

// PriorDeclaration is what a reseller's history knows of a declaration id
// (the same fields as declare.Prior, which converts from it).
type PriorDeclaration struct {
	Action       string
	SKU          string
	CustomerID   string
	BillingModel string
	SubState     string
	Start        civil.Date
}

// PriorDeclarations calls each for every id among ids that the reseller
// declared before.
func PriorDeclarations(ctx context.Context, q Querier, reseller string, ids []string, each func(id string, p PriorDeclaration)) error {
	var id string
	var p PriorDeclaration
	var days int32
	return forEachRow(ctx, q, PriorDeclarationsSQL, []any{reseller, ids}, []any{&id, &p.Action, &p.SKU, &p.CustomerID, &p.BillingModel, &p.SubState, &days}, func() error {
		p.Start = civil.Date(days)
		each(id, p)
		return nil
	})
}

// KnownCustomers calls each for every id among ids that is a customer of
// the reseller.
func KnownCustomers(ctx context.Context, q Querier, reseller string, ids []string, each func(id string)) error {
	var id string
	return forEachRow(ctx, q, KnownCustomersSQL, []any{reseller, ids}, []any{&id}, func() error { each(id); return nil })
}
