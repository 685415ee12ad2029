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

func (h history) Declarations(ctx context.Context, reseller string, ids []string) (map[string]declare.Prior, error) {
	rows, err := h.pool.Query(ctx, `
		SELECT declaration_id, action, sku, customer_id, billing_model, coalesce(sub_state, ''), start_date - DATE '1970-01-01'
		  FROM declarations WHERE reseller_id = $1 AND declaration_id = ANY($2)`, reseller, ids)
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
	rows, err := h.pool.Query(ctx, `SELECT customer_id FROM customers WHERE reseller_id = $1 AND customer_id = ANY($2)`, reseller, ids)
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
