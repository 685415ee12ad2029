package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestPostIsIdempotentAndLoudOnConflict(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	var a, b int64
	entry := func(amount int64) *ledger.Entry {
		return &ledger.Entry{Key: "test:1", Kind: "test", Postings: []ledger.Posting{
			{AccountID: a, Amount: amount, Currency: "EUR"}, {AccountID: b, Amount: -amount, Currency: "EUR"}}}
	}
	var first int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		j := store.New(tx)
		if a, err = ledger.Account(ctx, j, "reseller:x:unbilled", "EUR", ""); err != nil {
			return err
		}
		if b, err = ledger.Account(ctx, j, "hub:revenue", "EUR", ""); err != nil {
			return err
		}
		again, _ := ledger.Account(ctx, j, "hub:revenue", "EUR", "")
		if again != b {
			t.Errorf("Account created twice: %d %d", b, again)
		}
		var posted bool
		first, posted, err = ledger.Post(ctx, j, entry(500))
		if err == nil && !posted {
			t.Error("first post not posted")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		id, posted, err := ledger.Post(ctx, store.New(tx), entry(500))
		if err != nil || posted || id != first {
			t.Errorf("same key, same content: id %d posted %v err %v; want the original %d", id, posted, err, first)
		}
		if _, _, err := ledger.Post(ctx, store.New(tx), entry(501)); !errors.Is(err, ledger.ErrConflict) {
			t.Errorf("same key, other content: %v", err)
		}
		return nil
	})
	bad := &ledger.Entry{Key: "test:2", Kind: "test", Postings: []ledger.Posting{{AccountID: a, Amount: 1, Currency: "EUR"}}}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { _, _, err := ledger.Post(ctx, store.New(tx), bad); return err })
	if !errors.Is(err, ledger.ErrUnbalanced) {
		t.Fatalf("unbalanced entry: %v", err)
	}
	bs, _ := ledger.Balances(ctx, store.New(pool), "")
	if len(bs) != 2 || bs[0].Balance+bs[1].Balance != 0 || (bs[0].Balance != 500 && bs[1].Balance != 500) {
		t.Fatalf("balances %v", bs)
	}
	if v, err := ledger.Check(ctx, store.New(pool)); err != nil || len(v) != 0 {
		t.Fatalf("check: %v %v", v, err)
	}
}

func TestCompactMergesAndDropsZero(t *testing.T) {
	t.Parallel()
	got := ledger.Compact([]ledger.Posting{{AccountID: 2, Amount: 5, Currency: "EUR"}, {AccountID: 1, Amount: 3, Currency: "EUR"},
		{AccountID: 2, Amount: -5, Currency: "EUR"}, {AccountID: 1, Amount: 4, Currency: "EUR"}})
	if len(got) != 1 || got[0].AccountID != 1 || got[0].Amount != 7 {
		t.Fatalf("%v", got)
	}
}
