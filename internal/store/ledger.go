package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/money"
)

// The ledger's tables: accounts, journal_entries, postings.
const (
	ensureAccountSQL = `
		WITH ins AS (
			INSERT INTO accounts (code, currency, partner_id) VALUES ($1, $2, NULLIF($3, ''))
			ON CONFLICT (code, currency) DO NOTHING RETURNING id)
		SELECT id FROM ins UNION ALL SELECT id FROM accounts WHERE code = $1 AND currency = $2 LIMIT 1`
	nextEntryIDSQL = `SELECT nextval(pg_get_serial_sequence('journal_entries', 'id'))`
	// Both inserts take $1 key, $2 payload hash, $3 kind, $4 file, $5
	// description; the first also $6, a reserved id.
	insertEntryWithIDSQL = `INSERT INTO journal_entries (id, idempotency_key, payload_hash, kind, file_id, description)
		     OVERRIDING SYSTEM VALUE VALUES ($6, $1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`
	insertEntrySQL = `INSERT INTO journal_entries (idempotency_key, payload_hash, kind, file_id, description)
		     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`
	entryByKeySQL = `SELECT id, payload_hash FROM journal_entries WHERE idempotency_key = $1`
	balancesSQL   = `
		SELECT code, currency, balance FROM accounts
		 WHERE $1 = '' OR partner_id = $1 ORDER BY code, currency`
)

// The ledger's constraints (migrations/00001_core.sql), as errors.
var (
	// ErrCurrencyMismatch: a posting's currency is not its account's (postings_currency).
	ErrCurrencyMismatch = errors.New("posting currency is not the account's")
	// ErrEntryUnbalanced: an entry's postings do not sum to zero per currency (postings_balanced).
	ErrEntryUnbalanced = errors.New("journal entry does not balance")
	// ErrAppendOnly: entries and postings are never updated or deleted (ledger_immutable).
	ErrAppendOnly = errors.New("the ledger is append-only")
)

var ledgerConstraints = map[string]error{
	"postings_currency": ErrCurrencyMismatch,
	"postings_balanced": ErrEntryUnbalanced,
	"ledger_immutable":  ErrAppendOnly,
}

// EnsureAccount returns the id of account code in currency, creating it
// for partner ("": none) if it does not exist.
func (q *Queries) EnsureAccount(ctx context.Context, code string, cur money.Currency, partner string) (int64, error) {
	var id int64
	err := q.db.QueryRow(ctx, ensureAccountSQL, code, string(cur), partner).Scan(&id)
	return id, err
}

// AccountCommitted tells whether account id exists outside any open
// transaction (read on q, not the one that may have created it).
func AccountCommitted(ctx context.Context, q Querier, id int64) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)`, id).Scan(&ok)
	return ok, err
}

// AccountKey names an account: its code and currency.
type AccountKey struct{ Code, Currency string }

// CommittedAccounts reads the ids of the accounts of codes[i] in
// currencies[i] that exist (q: outside any transaction that creates
// accounts, so that every id read is of one committed).
func CommittedAccounts(ctx context.Context, q Querier, codes, currencies []string) (map[AccountKey]int64, error) {
	out := make(map[AccountKey]int64, len(codes))
	var k AccountKey
	var id int64
	err := forEachRow(ctx, q, `SELECT a.code, a.currency, a.id FROM accounts a JOIN unnest($1::text[], $2::text[]) AS k(code, currency)
		ON a.code = k.code AND a.currency = k.currency`, []any{codes, currencies}, []any{&k.Code, &k.Currency, &id}, func() error {
		out[k] = id
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %d accounts: %w", len(codes), err)
	}
	return out, nil
}

// NextEntryID reserves a journal entry id.
func (q *Queries) NextEntryID(ctx context.Context) (int64, error) {
	var id int64
	err := q.db.QueryRow(ctx, nextEntryIDSQL).Scan(&id)
	return id, err
}

// JournalEntry is the head of a journal entry as stored.
type JournalEntry struct {
	ID          int64 // 0: the next id
	Key         string
	Hash        []byte
	Kind        string
	FileID      int64 // 0: none
	Description string
}

// InsertEntry writes e unless an entry holds its key; then inserted is
// false and id 0 (EntryByKey reads that entry).
func (q *Queries) InsertEntry(ctx context.Context, e JournalEntry) (id int64, inserted bool, err error) {
	var file any
	if e.FileID != 0 {
		file = e.FileID
	}
	sql, args := insertEntrySQL, []any{e.Key, e.Hash, e.Kind, file, e.Description}
	if e.ID != 0 {
		sql, args = insertEntryWithIDSQL, append(args, e.ID)
	}
	err = q.db.QueryRow(ctx, sql, args...).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, translate(err, ledgerConstraints)
	}
	return id, true, nil
}

// EntryByKey reads the id and payload hash of the entry holding key.
func (q *Queries) EntryByKey(ctx context.Context, key string) (id int64, hash []byte, err error) {
	err = q.db.QueryRow(ctx, entryByKeySQL, key).Scan(&id, &hash)
	return id, hash, err
}

// Posting is one row of postings.
type Posting struct {
	AccountID int64
	Amount    int64
	Currency  money.Currency
}

// InsertPostings writes the postings of entry, in one statement (one round
// trip: a COPY takes three, its column types described first).
func (q *Queries) InsertPostings(ctx context.Context, entry int64, ps []Posting) error {
	accounts, amounts, currencies := make([]int64, len(ps)), make([]int64, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		accounts[i], amounts[i], currencies[i] = p.AccountID, p.Amount, string(p.Currency)
	}
	_, err := q.db.Exec(ctx, insertPostingsSQL, entry, accounts, amounts, currencies)
	return translate(err, ledgerConstraints)
}

const insertPostingsSQL = `
	INSERT INTO postings (entry_id, account_id, amount, currency)
	SELECT $1, a, m, c FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS p(a, m, c)`

// AccountBalance is an account's code, currency and balance.
type AccountBalance struct {
	Code     string
	Currency money.Currency
	Balance  int64
}

// AccountBalances lists the balances of every account, by code and
// currency; with a partner, only that partner's.
func (q *Queries) AccountBalances(ctx context.Context, partner string) ([]AccountBalance, error) {
	return queryRows(ctx, q.db, pgx.RowToStructByPos[AccountBalance], balancesSQL, partner)
}

// Violations runs an invariant: a query returning one text row per
// violation, of which it reads at most limit.
func (q *Queries) Violations(ctx context.Context, invariant string, limit int) ([]string, error) {
	return queryRows(ctx, q.db, pgx.RowTo[string], fmt.Sprintf("%s LIMIT %d", invariant, limit))
}
