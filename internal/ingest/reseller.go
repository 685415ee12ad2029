package ingest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/clearhouse/clearhouse/internal/declare"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/store"
)

// resellers reads resellers and their catalogs for declare.LoadReseller,
// on q: the pool, or a file's transaction (which holds the reseller lock, so
// the exposure read there is the one the file is checked against).
type resellers struct{ q store.Querier }

func (rs resellers) Reseller(ctx context.Context, id string) (*declare.Reseller, error) {
	rec, ok, err := store.Reseller(ctx, rs.q, id, [2]string{ledger.Unbilled(id), ledger.Receivable(id)})
	if err != nil || !ok {
		return nil, err
	}
	r := &declare.Reseller{ID: id, Name: rec.Name, OEMEligible: rec.OEMEligible, CreditLimit: rec.CreditLimit, Policy: rec.Policy,
		Exposure: rec.Exposure}
	if r.Currency, err = money.ParseCurrency(rec.Currency); err != nil {
		return nil, fmt.Errorf("reseller %s currency: %w", id, err)
	}
	if err := json.Unmarshal([]byte(rec.Format), &r.Format); err != nil {
		return nil, fmt.Errorf("reseller %s file_format: %w", id, err)
	}
	return r, nil
}

func (rs resellers) PriceVersions(ctx context.Context, id string, each func(declare.Item, declare.Version)) error {
	return store.PriceVersions(ctx, rs.q, id, func(v store.PriceVersion) {
		each(declare.Item{SKU: v.SKU, PublisherID: v.PublisherID, PublisherSKU: v.PublisherSKU, BillingModel: v.BillingModel},
			declare.Version{From: v.From, To: v.To, HasTo: v.HasTo, Buy: v.Buy, ShareKind: v.ShareKind, Share: v.Share})
	})
}
