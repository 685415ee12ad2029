package ingest

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/declare"
)

// history answers the checker from committed rows. The reseller lock held by
// the posting transaction guarantees no other file of the reseller commits
// while a file is checked.
type history struct{ pool *pgxpool.Pool }

// The look-ups probe the primary keys once per id (see lookupPool).
const (
	priorDeclarationsSQL = `
		SELECT d.declaration_id, d.action, d.sku, d.customer_id, d.billing_model, coalesce(d.sub_state, ''), d.start_date - DATE '1970-01-01'
		  FROM unnest($2::text[]) AS k(id)
		 CROSS JOIN LATERAL (SELECT * FROM declarations d WHERE d.reseller_id = $1 AND d.declaration_id = k.id LIMIT 1) d`
	knownCustomersSQL = `
		SELECT c.customer_id FROM unnest($2::text[]) AS k(id)
		 CROSS JOIN LATERAL (SELECT customer_id FROM customers c WHERE c.reseller_id = $1 AND c.customer_id = k.id LIMIT 1) c`
)

// Ranges reads the first and last ids in index order (COLLATE "C", as Go
// compares): two index probes.
func (h history) Ranges(ctx context.Context, reseller string) (decl, cust declare.Range, err error) {
	err = h.pool.QueryRow(ctx, `
		SELECT coalesce((SELECT declaration_id FROM declarations WHERE reseller_id = $1 ORDER BY declaration_id LIMIT 1), ''),
		       coalesce((SELECT declaration_id FROM declarations WHERE reseller_id = $1 ORDER BY declaration_id DESC LIMIT 1), ''),
		       coalesce((SELECT customer_id FROM customers WHERE reseller_id = $1 ORDER BY customer_id LIMIT 1), ''),
		       coalesce((SELECT customer_id FROM customers WHERE reseller_id = $1 ORDER BY customer_id DESC LIMIT 1), '')`,
		reseller).Scan(&decl.Min, &decl.Max, &cust.Min, &cust.Max)
	return decl, cust, err
}

func (h history) Declarations(ctx context.Context, reseller string, ids []string) (map[string]declare.Prior, error) {
	rows, err := h.pool.Query(ctx, priorDeclarationsSQL, reseller, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]declare.Prior{}
	for rows.Next() {
		var id string
		var p declare.Prior
		var days int32
		if err := rows.Scan(&id, &p.Action, &p.SKU, &p.CustomerID, &p.BillingModel, &p.SubState, &days); err != nil {
			return nil, err
		}
		p.Start = civil.Date(days)
		out[id] = p
	}
	return out, rows.Err()
}

func (h history) Customers(ctx context.Context, reseller string, ids []string) (map[string]bool, error) {
	rows, err := h.pool.Query(ctx, knownCustomersSQL, reseller, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
