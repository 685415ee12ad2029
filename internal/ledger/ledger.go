// Package ledger posts balanced journal entries idempotently and proves the
// ledger's invariants. Balance is enforced by the database (a deferred
// constraint trigger); this package adds the chart of accounts, idempotency
// keys with payload hashes, account lookup, balances, and the checks behind
// `ledger check`. Its statements run in store, through the small interfaces
// it declares (Journal, Accounts, Invariants).
package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/store"
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

// Journal is what posting needs from the database: the statements on
// accounts, journal_entries and postings, inside the caller's transaction
// (store.New(tx) implements it).
type Journal interface {
	// EnsureAccount returns the id of account code in currency, creating
	// it for partner ("": none).
	EnsureAccount(ctx context.Context, code string, cur money.Currency, partner string) (int64, error)
	// NextEntryID reserves an entry id.
	NextEntryID(ctx context.Context) (int64, error)
	// InsertEntry writes an entry's head unless its key is taken
	// (inserted false).
	InsertEntry(ctx context.Context, e store.JournalEntry) (id int64, inserted bool, err error)
	// EntryByKey reads the entry that holds key.
	EntryByKey(ctx context.Context, key string) (id int64, hash []byte, err error)
	// InsertPostings writes an entry's postings.
	InsertPostings(ctx context.Context, entry int64, ps []store.Posting) error
}

// Account returns the id of account code in currency, creating it.
func Account(ctx context.Context, j Journal, code string, cur money.Currency, partner string) (int64, error) {
	id, err := j.EnsureAccount(ctx, code, cur, partner)
	if err != nil {
		return 0, fmt.Errorf("account %s %s: %w", code, cur, err)
	}
	return id, nil
}

// NextID reserves an entry id.
func NextID(ctx context.Context, j Journal) (int64, error) {
	return j.NextEntryID(ctx)
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

// Post writes e through j. If an entry with e.Key exists with the same
// content, Post returns its id and posted=false; with other content,
// ErrConflict.
func Post(ctx context.Context, j Journal, e *Entry) (id int64, posted bool, err error) {
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
	id, inserted, err := j.InsertEntry(ctx, store.JournalEntry{ID: e.ID, Key: e.Key, Hash: h, Kind: e.Kind, FileID: e.FileID, Description: e.Description})
	if err != nil {
		return 0, false, fmt.Errorf("writing entry %s: %w", e.Key, err)
	}
	if !inserted {
		id, old, err := j.EntryByKey(ctx, e.Key)
		if err != nil {
			return 0, false, err
		}
		if !bytes.Equal(old, h) {
			return id, false, fmt.Errorf("%w: %s (entry %d)", ErrConflict, e.Key, id)
		}
		return id, false, nil
	}
	if len(ps) > 0 {
		rows := make([]store.Posting, len(ps))
		for i, p := range ps {
			rows[i] = store.Posting(p)
		}
		if err := j.InsertPostings(ctx, id, rows); err != nil {
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

// Accounts is what Balances needs from the database.
type Accounts interface {
	// AccountBalances lists the balances by code and currency; with a
	// partner, only that partner's.
	AccountBalances(ctx context.Context, partner string) ([]store.AccountBalance, error)
}

// Balances lists account balances; with a partner, only that partner's.
func Balances(ctx context.Context, a Accounts, partner string) ([]Balance, error) {
	bs, err := a.AccountBalances(ctx, partner)
	if err != nil {
		return nil, err
	}
	var out []Balance
	for _, b := range bs {
		out = append(out, Balance(b))
	}
	return out, nil
}
