package store_test

import (
	"context"
	"testing"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestMigrationsApplyAndLedgerRefusesImbalance(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	if res, err := store.MigratePool(ctx, pool); err != nil || len(res) != 0 {
		t.Fatalf("migrating an up-to-date database: %v %v", res, err)
	}
	_, err := pool.Exec(ctx, `
		INSERT INTO accounts (code, currency) VALUES ('a', 'EUR'), ('b', 'EUR');
		INSERT INTO journal_entries (idempotency_key, payload_hash, kind) VALUES ('k', '\x00', 'test');
		INSERT INTO postings (entry_id, account_id, amount, currency)
		SELECT e.id, a.id, CASE a.code WHEN 'a' THEN 100 ELSE -99 END, 'EUR' FROM journal_entries e, accounts a;`)
	if store.Constraint(err) != "postings_balanced" {
		t.Fatalf("unbalanced entry committed, err=%v", err)
	}
	var n int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM journal_entries`).Scan(&n)
	if n != 0 {
		t.Fatal("unbalanced entry left rows behind")
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO accounts (code, currency) VALUES ('a', 'EUR'), ('b', 'EUR');
		INSERT INTO journal_entries (idempotency_key, payload_hash, kind) VALUES ('k', '\x00', 'test');
		INSERT INTO postings (entry_id, account_id, amount, currency)
		SELECT e.id, a.id, CASE a.code WHEN 'a' THEN 100 ELSE -100 END, 'EUR' FROM journal_entries e, accounts a;`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `UPDATE postings SET amount = amount * 2`)
	if store.Constraint(err) != "ledger_immutable" {
		t.Fatalf("postings updated: %v", err)
	}
	var bal int64
	_ = pool.QueryRow(ctx, `SELECT balance FROM accounts WHERE code = 'a'`).Scan(&bal)
	if bal != 100 {
		t.Fatalf("balance %d", bal)
	}
}
