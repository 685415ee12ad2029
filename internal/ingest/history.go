package ingest

import (
	"context"

	"github.com/clearhouse/clearhouse/internal/declare"
	"github.com/clearhouse/clearhouse/internal/store"
)

// history answers the checker from committed rows. The reseller lock held by
// the posting transaction guarantees no other file of the reseller commits
// while a file is checked. Its pool forbids the planner anything but the
// primary keys' probes (see lookupPool).
type history struct{ pool *store.Pool }

// Ranges reads the first and last ids in index order: two index probes.
func (h history) Ranges(ctx context.Context, reseller string) (decl, cust declare.Range, err error) {
	r, err := store.ReadIDRanges(ctx, h.pool, reseller)
	return declare.Range{Min: r.DeclarationMin, Max: r.DeclarationMax}, declare.Range{Min: r.CustomerMin, Max: r.CustomerMax}, err
}

func (h history) Declarations(ctx context.Context, reseller string, ids []string) (map[string]declare.Prior, error) {
	out := map[string]declare.Prior{}
	err := store.PriorDeclarations(ctx, h.pool, reseller, ids, func(id string, p store.PriorDeclaration) {
		out[id] = declare.Prior(p)
	})
	return out, err
}

func (h history) Customers(ctx context.Context, reseller string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := store.KnownCustomers(ctx, h.pool, reseller, ids, func(id string) { out[id] = true })
	return out, err
}
