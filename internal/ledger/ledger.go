// Package ledger posts balanced journal entries idempotently and proves the
// ledger's invariants. Balance is enforced by the database (a deferred
// constraint trigger); this package adds idempotency keys with payload
// hashes, account lookup, balances, and the checks behind `ledger check`.
package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/money"
)

// ErrConflict is returned when an idempotency key was used for other content.
var ErrConflict = errors.New("idempotency key reused with different content")

// ErrUnbalanced is returned before writing an entry that does not balance.
var ErrUnbalanced = errors.New("entry does not balance")

// Posting moves Amount (debit positive, credit negative) on an account.
type Posting struct {
	AccountID int64
	Amount    int64
	Currency  money.Currency
}

// Entry is a journal entry. ID may be preallocated with NextID so that
// detail rows written before the entry can carry it.
type Entry struct {
	ID          int64
	Key         string
	Kind        string
	FileID      int64 // 0: none
	Description string
	Postings    []Posting
}

// Account returns the id of account code in currency, creating it.
func Account(ctx context.Context, tx pgx.Tx, code string, cur money.Currency, partner string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO accounts (code, currency, partner_id) VALUES ($1, $2, NULLIF($3, ''))
			ON CONFLICT (code, currency) DO NOTHING RETURNING id)
		SELECT id FROM ins UNION ALL SELECT id FROM accounts WHERE code = $1 AND currency = $2 LIMIT 1`,
		code, string(cur), partner).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("account %s %s: %w", code, cur, err)
	}
	return id, nil
}

// NextID reserves an entry id.
func NextID(ctx context.Context, tx pgx.Tx) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('journal_entries', 'id'))`).Scan(&id)
	return id, err
}

// Compact merges postings on the same account and drops zero ones, in
// account order.
func Compact(ps []Posting) []Posting {
	sum := map[int64]Posting{}
	for _, p := range ps {
		q := sum[p.AccountID]
		q.AccountID, q.Currency = p.AccountID, p.Currency
		q.Amount += p.Amount
		sum[p.AccountID] = q
	}
	out := make([]Posting, 0, len(sum))
	for _, p := range sum {
		if p.Amount != 0 {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AccountID < out[j].AccountID })
	return out
}

func hash(e *Entry, ps []Posting) []byte {
	h := sha256.New()
	h.Write([]byte(e.Kind + "\x00"))
	for _, p := range ps {
		_ = binary.Write(h, binary.BigEndian, p.AccountID)
		_ = binary.Write(h, binary.BigEndian, p.Amount)
		h.Write([]byte(p.Currency))
	}
	return h.Sum(nil)
}

// Post writes e in tx. If an entry with e.Key exists with the same content,
// Post returns its id and posted=false; with other content, ErrConflict.
func Post(ctx context.Context, tx pgx.Tx, e *Entry) (id int64, posted bool, err error) {
	ps := Compact(e.Postings)
	bal := map[money.Currency]int64{}
	for _, p := range ps {
		bal[p.Currency] += p.Amount
	}
	for cur, b := range bal {
		if b != 0 {
			return 0, false, fmt.Errorf("%w: %s off by %d", ErrUnbalanced, cur, b)
		}
	}
	h := hash(e, ps)
	var file any
	if e.FileID != 0 {
		file = e.FileID
	}
	var q string
	args := []any{e.Key, h, e.Kind, file, e.Description}
	if e.ID != 0 {
		q = `INSERT INTO journal_entries (id, idempotency_key, payload_hash, kind, file_id, description)
		     OVERRIDING SYSTEM VALUE VALUES ($6, $1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`
		args = append(args, e.ID)
	} else {
		q = `INSERT INTO journal_entries (idempotency_key, payload_hash, kind, file_id, description)
		     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`
	}
	err = tx.QueryRow(ctx, q, args...).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		var old []byte
		if err := tx.QueryRow(ctx, `SELECT id, payload_hash FROM journal_entries WHERE idempotency_key = $1`, e.Key).Scan(&id, &old); err != nil {
			return 0, false, err
		}
		if !bytes.Equal(old, h) {
			return id, false, fmt.Errorf("%w: %s (entry %d)", ErrConflict, e.Key, id)
		}
		return id, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("writing entry %s: %w", e.Key, err)
	}
	if len(ps) > 0 {
		rows := make([][]any, len(ps))
		for i, p := range ps {
			rows[i] = []any{id, p.AccountID, p.Amount, string(p.Currency)}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"postings"}, []string{"entry_id", "account_id", "amount", "currency"}, pgx.CopyFromRows(rows)); err != nil {
			return 0, false, fmt.Errorf("writing postings of %s: %w", e.Key, err)
		}
	}
	return id, true, nil
}

// Balance is an account's balance.
type Balance struct {
	Code     string
	Currency money.Currency
	Balance  int64
}

// Balances lists account balances; with a partner, only that partner's.
func Balances(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, partner string) ([]Balance, error) {
	rows, err := q.Query(ctx, `
		SELECT code, currency, balance FROM accounts
		 WHERE $1 = '' OR partner_id = $1 ORDER BY code, currency`, partner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Balance
	for rows.Next() {
		var b Balance
		var cur string
		if err := rows.Scan(&b.Code, &cur, &b.Balance); err != nil {
			return nil, err
		}
		b.Currency = money.Currency(cur)
		out = append(out, b)
	}
	return out, rows.Err()
}
