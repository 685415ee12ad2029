package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The configured world: partners, resellers, publishers, catalogs, items,
// price versions (written as generic rows of text, which world diffs) and
// partner keys.
const (
	priceUsedSQL        = `SELECT EXISTS (SELECT 1 FROM declarations WHERE reseller_id = $1 AND sku = $2 AND price_valid_from = $3::date)`
	deletePriceSQL      = `DELETE FROM price_versions WHERE reseller_id = $1 AND sku = $2 AND valid_from = $3::date`
	partnerKeysSQL      = `SELECT partner_id, name, fingerprint FROM partner_keys WHERE partner_id = ANY($1)`
	deletePartnerKeySQL = `DELETE FROM partner_keys WHERE partner_id = $1 AND name = $2`
	insertPartnerKeySQL = `INSERT INTO partner_keys (partner_id, name, fingerprint, public_key) VALUES ($1, $2, $3, $4)`
)

// ErrDuplicateFingerprint: a public key is authorised for another partner
// already (partner_keys_fingerprint_key).
var ErrDuplicateFingerprint = errors.New("public key already authorised for another partner")

var worldConstraints = map[string]error{"partner_keys_fingerprint_key": ErrDuplicateFingerprint}

// Table is how one kind of configured entity is stored, as rows of text
// values (nil: NULL).
type Table struct {
	Name  string
	Cols  []string // all columns, key first
	Types []string // SQL types, for casts from text
	NKey  int      // how many of Cols are the key
}

// touched are the tables with an updated_at column, set on every change.
var touched = map[string]bool{"partners": true, "hub": true, "billing_profiles": true}

// TableRows reads every row of t, its values as text.
func (q *Queries) TableRows(ctx context.Context, t Table) ([][]*string, error) {
	sel := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		sel[i] = c + "::text"
	}
	rows, err := q.db.Query(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), t.Name))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		r := make([]*string, len(t.Cols))
		ptrs := make([]any, len(t.Cols))
		for i := range r {
			ptrs[i] = &r[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpsertRow writes r into t: inserted, or its columns past the key updated.
func (q *Queries) UpsertRow(ctx context.Context, t Table, r []*string) error {
	vals := make([]string, len(t.Cols))
	args := make([]any, len(t.Cols))
	for i := range t.Cols {
		vals[i] = fmt.Sprintf("$%d::text::%s", i+1, t.Types[i])
		if r[i] != nil {
			args[i] = *r[i]
		}
	}
	conflict := "DO NOTHING"
	if len(t.Cols) > t.NKey {
		sets := make([]string, 0, len(t.Cols)-t.NKey)
		for _, c := range t.Cols[t.NKey:] {
			sets = append(sets, c+" = excluded."+c)
		}
		if touched[t.Name] {
			sets = append(sets, "updated_at = now()")
		}
		conflict = "DO UPDATE SET " + strings.Join(sets, ", ")
	}
	sql := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) %s",
		t.Name, strings.Join(t.Cols, ", "), strings.Join(vals, ", "), strings.Join(t.Cols[:t.NKey], ", "), conflict)
	_, err := q.db.Exec(ctx, sql, args...)
	var pe *pgconn.PgError
	if Constraint(err) == "resellers_currency_fixed" && errors.As(err, &pe) {
		return fmt.Errorf("%w: %s", ErrCurrencyFixed, pe.Message)
	}
	return err
}

// ErrCurrencyFixed: apply changed the currency of a reseller that has
// declared in its currency (migration 00021).
var ErrCurrencyFixed = errors.New("a reseller's currency is fixed once it has declared")

// PriceUsed says whether a declaration was priced with the price version
// of reseller's sku valid from validFrom (YYYY-MM-DD).
func (q *Queries) PriceUsed(ctx context.Context, reseller, sku, validFrom string) (bool, error) {
	var used bool
	err := q.db.QueryRow(ctx, priceUsedSQL, reseller, sku, validFrom).Scan(&used)
	return used, err
}

// DeletePrice removes a price version.
func (q *Queries) DeletePrice(ctx context.Context, reseller, sku, validFrom string) error {
	_, err := q.db.Exec(ctx, deletePriceSQL, reseller, sku, validFrom)
	return err
}

// PartnerKey is an authorised public key of a partner.
type PartnerKey struct {
	Partner, Name, Fingerprint string
	PublicKey                  string // authorized_keys form; not read by PartnerKeys
}

// PartnerKeys lists the keys of the partners.
func (q *Queries) PartnerKeys(ctx context.Context, partners []string) ([]PartnerKey, error) {
	return collect(ctx, q.db, partnerKeysSQL, func(r pgx.Row, k *PartnerKey) error {
		return r.Scan(&k.Partner, &k.Name, &k.Fingerprint)
	}, partners)
}

// DeletePartnerKey revokes a partner's key by name.
func (q *Queries) DeletePartnerKey(ctx context.Context, partner, name string) error {
	_, err := q.db.Exec(ctx, deletePartnerKeySQL, partner, name)
	return err
}

// InsertPartnerKey authorises a key (ErrDuplicateFingerprint: another
// partner holds it).
func (q *Queries) InsertPartnerKey(ctx context.Context, k PartnerKey) error {
	_, err := q.db.Exec(ctx, insertPartnerKeySQL, k.Partner, k.Name, k.Fingerprint, k.PublicKey)
	return translate(err, worldConstraints)
}
