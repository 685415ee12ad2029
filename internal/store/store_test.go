package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/exchange"
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

// TestQueriesTranslateConstraints: a violated constraint comes back as its
// sentinel, still reading as the database's error and naming its constraint.
func TestQueriesTranslateConstraints(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	q := store.New(pool)
	if _, err := pool.Exec(ctx, `INSERT INTO partners (id, kind, name) VALUES ('pa', 'reseller', 'A'), ('pb', 'reseller', 'B')`); err != nil {
		t.Fatal(err)
	}
	k := store.PartnerKey{Partner: "pa", Name: "k", Fingerprint: "SHA256:x", PublicKey: "ssh-ed25519 AAAA"}
	if err := q.InsertPartnerKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	k.Partner = "pb"
	err := q.InsertPartnerKey(ctx, k)
	if !errors.Is(err, store.ErrDuplicateFingerprint) || store.Constraint(err) != "partner_keys_fingerprint_key" {
		t.Fatalf("the same key for two partners: %v", err)
	}
	eur, err := q.EnsureAccount(ctx, "a", "EUR", "")
	if err != nil {
		t.Fatal(err)
	}
	id, inserted, err := q.InsertEntry(ctx, store.JournalEntry{Key: "k", Hash: []byte{0}, Kind: "test"})
	if err != nil || !inserted {
		t.Fatalf("entry: %v %v", inserted, err)
	}
	err = q.InsertPostings(ctx, id, []store.Posting{{AccountID: eur, Amount: 1, Currency: "USD"}})
	if !errors.Is(err, store.ErrCurrencyMismatch) {
		t.Fatalf("a posting in another currency than its account's: %v", err)
	}
}

// TestTransferRecordsOfUnknownPartner: a pull's or a push's record of a
// partner the database does not have reads as exchange.ErrUnknownPartner,
// and still names its constraint.
func TestTransferRecordsOfUnknownPartner(t *testing.T) {
	t.Parallel()
	q := store.New(pgtest.New(t))
	ctx := context.Background()
	f := exchange.RemoteFile{Partner: "nobody", Path: "/out/a.csv", Size: 1, MTime: time.Unix(0, 0).UTC()}
	_, err := q.AddDelivery(ctx, "nobody", "/data/a.csv", "a.csv", 1, []byte{0})
	_, cerr := q.ClaimRemoteFile(ctx, f, time.Minute)
	_, oerr := q.ObserveRemoteFile(ctx, f, time.Minute)
	for name, tc := range map[string]struct {
		err        error
		constraint string
	}{
		"delivery":    {err, "deliveries_partner_id_fkey"},
		"claim":       {cerr, "remote_files_partner_id_fkey"},
		"observation": {oerr, "remote_observations_partner_id_fkey"},
	} {
		if !errors.Is(tc.err, exchange.ErrUnknownPartner) || store.Constraint(tc.err) != tc.constraint {
			t.Errorf("%s: %v (constraint %q), want exchange.ErrUnknownPartner on %s", name, tc.err, store.Constraint(tc.err), tc.constraint)
		}
	}
}
