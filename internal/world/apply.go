package world

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/govalues/decimal"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/money"
)

// Change is one line of what apply did.
type Change struct {
	Op     string // "+" created, "~" changed, "-" removed
	What   string // "reseller telco-fr", "price telco-fr/SKU from 2026-01-01"
	Detail string // for "~": "credit_limit 10000.00 → 20000.00"
}

func (c Change) String() string {
	if c.Detail == "" {
		return c.Op + " " + c.What
	}
	return c.Op + " " + c.What + ": " + c.Detail
}

// Result is what Apply did.
type Result struct {
	Changes   []Change
	Unchanged int
}

// table describes how one kind of entity is stored: key columns first.
type table struct {
	name  string
	label string
	cols  []string // all columns, key first
	types []string // SQL types, for casts from text
	nkey  int
	num   map[string]bool // numeric columns compared as decimals
	// minor maps a column of minor units to the column holding its currency,
	// so changes print as amounts.
	minor map[string]int
	// secret columns are shown as "(updated)" in changes: they may hold hashes.
	secret map[string]bool
}

var tables = []table{
	{name: "partners", label: "partner", cols: []string{"id", "kind", "name", "sftp"}, types: []string{"text", "text", "text", "text"}, nkey: 1, secret: map[string]bool{"sftp": true}},
	{name: "publishers", label: "publisher", cols: []string{"partner_id"}, types: []string{"text"}, nkey: 1},
	{name: "resellers", label: "reseller", nkey: 1,
		cols:  []string{"partner_id", "oem_eligible", "currency", "vat_treatment", "vat_rate", "vat_mention", "credit_limit", "payment_method", "iban", "bic", "mandate_id", "mandate_signed_on", "file_policy", "file_format"},
		types: []string{"text", "boolean", "text", "text", "numeric", "text", "bigint", "text", "text", "text", "text", "date", "text", "text"},
		num:   map[string]bool{"vat_rate": true}, minor: map[string]int{"credit_limit": 2}},
	{name: "catalogs", label: "catalog", cols: []string{"reseller_id", "id", "name", "currency"}, types: []string{"text", "text", "text", "text"}, nkey: 2},
	{name: "catalog_items", label: "item", nkey: 2,
		cols:  []string{"reseller_id", "sku", "catalog_id", "publisher_id", "publisher_sku", "name", "billing_model", "tax_category"},
		types: []string{"text", "text", "text", "text", "text", "text", "text", "text"}},
	{name: "price_versions", label: "price", nkey: 3,
		cols:  []string{"reseller_id", "sku", "valid_from", "valid_to", "buy_price", "resale_price", "share_kind", "share_value"},
		types: []string{"text", "text", "date", "date", "numeric", "numeric", "text", "numeric"},
		num:   map[string]bool{"buy_price": true, "resale_price": true, "share_value": true}},
}

// row is an entity as column values in text form; nil is NULL.
type row []*string

func s(v string) *string { return &v }

func opt(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// rows renders the world as table rows, in table order.
func (w *World) rows() map[string][]row {
	out := map[string][]row{}
	for _, p := range w.Publishers {
		out["partners"] = append(out["partners"], row{s(p.ID), s("publisher"), s(p.Name), s(p.SettingsJSON())})
		out["publishers"] = append(out["publishers"], row{s(p.ID)})
	}
	for _, r := range w.Resellers {
		out["partners"] = append(out["partners"], row{s(r.ID), s("reseller"), s(r.Name), s(r.SFTP.JSON())})
		cur := r.Currency
		limit, _ := parseMinorText(r.CreditLimit, cur)
		rate := r.VAT.Rate
		if rate == "" {
			rate = "0"
		}
		out["resellers"] = append(out["resellers"], row{s(r.ID), s(fmt.Sprint(r.OEMEligible)), s(cur), s(r.VAT.Treatment), s(rate), s(r.VAT.Mention),
			s(limit), s(r.Payment.Method), opt(strings.ReplaceAll(strings.ToUpper(r.Payment.IBAN), " ", "")), opt(r.Payment.BIC), opt(r.Payment.MandateID), opt(r.Payment.MandateSignedOn), s(r.FilePolicy), s(formatJSON(r.FileFormat))})
	}
	for _, c := range w.Catalogs {
		out["catalogs"] = append(out["catalogs"], row{s(c.Reseller), s(c.ID), s(c.Name), s(c.Currency)})
		for _, it := range c.Items {
			out["catalog_items"] = append(out["catalog_items"], row{s(c.Reseller), s(it.SKU), s(c.ID), s(it.Publisher), s(it.PublisherSKU), s(it.Name), s(it.BillingModel), s(it.TaxCategory)})
			for _, p := range it.Prices {
				pv, _ := p.Parse()
				out["price_versions"] = append(out["price_versions"], row{s(c.Reseller), s(it.SKU), s(p.ValidFrom), opt(p.ValidTo),
					s(pv.BuyPrice.String()), opt(p.ResalePrice), s(pv.ShareKind), s(pv.ShareValue.String())})
			}
		}
	}
	return out
}

// Apply upserts the world in one transaction and reports what changed.
// Nothing is deleted except price versions that the config no longer lists
// and that no declaration was priced with; a used one that disappeared from
// the config is an error, and nothing changes.
func Apply(ctx context.Context, tx pgx.Tx, w *World) (*Result, error) {
	res := &Result{}
	want := w.rows()
	for _, t := range tables {
		have, err := load(ctx, tx, t)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, r := range want[t.name] {
			k := key(r, t.nkey)
			seen[k] = true
			old, exists := have[k]
			var detail []string
			if exists {
				for i := t.nkey; i < len(t.cols); i++ {
					if !same(t, i, old[i], r[i]) {
						detail = append(detail, fmt.Sprintf("%s %s → %s", t.cols[i], t.show(i, old), t.show(i, r)))
					}
				}
				if len(detail) == 0 {
					if t.name != "publishers" {
						res.Unchanged++
					}
					continue
				}
			}
			if err := upsert(ctx, tx, t, r); err != nil {
				return nil, fmt.Errorf("%s %s: %w", t.label, k, err)
			}
			if t.name == "publishers" {
				continue // reported with its partner row
			}
			op := "+"
			if exists {
				op = "~"
			}
			res.Changes = append(res.Changes, Change{Op: op, What: t.label + " " + k, Detail: strings.Join(detail, ", ")})
		}
		if t.name == "price_versions" {
			if err := removeStalePrices(ctx, tx, have, seen, w, res); err != nil {
				return nil, err
			}
		}
	}
	if err := ensureAccounts(ctx, tx, w); err != nil {
		return nil, err
	}
	if err := syncKeys(ctx, tx, w, res); err != nil {
		return nil, err
	}
	return res, nil
}

func removeStalePrices(ctx context.Context, tx pgx.Tx, have map[string]row, seen map[string]bool, w *World, res *Result) error {
	configured := map[string]bool{}
	for _, c := range w.Catalogs {
		for _, it := range c.Items {
			configured[c.Reseller+"/"+it.SKU] = true
		}
	}
	var stale []string
	for k := range have {
		if !seen[k] && configured[strings.Join(strings.Split(k, "/")[:2], "/")] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		r := have[k]
		var used bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM declarations WHERE reseller_id = $1 AND sku = $2 AND price_valid_from = $3::date)`,
			*r[0], *r[1], *r[2]).Scan(&used); err != nil {
			return err
		}
		if used {
			return fmt.Errorf("price %s is no longer in the config but declarations were priced with it; keep it (close it with valid_to) instead of removing it", k)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM price_versions WHERE reseller_id = $1 AND sku = $2 AND valid_from = $3::date`, *r[0], *r[1], *r[2]); err != nil {
			return err
		}
		res.Changes = append(res.Changes, Change{Op: "-", What: "price " + k})
	}
	return nil
}

func key(r row, n int) string {
	parts := make([]string, n)
	for i := range n {
		parts[i] = show(r[i])
	}
	return strings.Join(parts, "/")
}

func show(v *string) string {
	if v == nil {
		return "(none)"
	}
	return *v
}

// show renders column i of r for a change line.
func (t table) show(i int, r row) string {
	if t.secret[t.cols[i]] {
		return "(updated)"
	}
	if ci, ok := t.minor[t.cols[i]]; ok && r[i] != nil && r[ci] != nil {
		if c, err := money.ParseCurrency(*r[ci]); err == nil {
			if n, err := strconv.ParseInt(*r[i], 10, 64); err == nil {
				return money.Format(n, c)
			}
		}
	}
	return show(r[i])
}

func same(t table, i int, a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if t.num[t.cols[i]] {
		da, e1 := decimal.Parse(*a)
		db, e2 := decimal.Parse(*b)
		return e1 == nil && e2 == nil && da.Cmp(db) == 0
	}
	return *a == *b
}

func load(ctx context.Context, tx pgx.Tx, t table) (map[string]row, error) {
	sel := make([]string, len(t.cols))
	for i, c := range t.cols {
		sel[i] = c + "::text"
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), t.name))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]row{}
	for rows.Next() {
		r := make(row, len(t.cols))
		ptrs := make([]any, len(t.cols))
		for i := range r {
			ptrs[i] = &r[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i := range r { // char(n) pads; config values do not
			if r[i] != nil {
				r[i] = s(strings.TrimRight(*r[i], " "))
			}
		}
		out[key(r, t.nkey)] = r
	}
	return out, rows.Err()
}

func upsert(ctx context.Context, tx pgx.Tx, t table, r row) error {
	vals := make([]string, len(t.cols))
	args := make([]any, len(t.cols))
	for i := range t.cols {
		vals[i] = fmt.Sprintf("$%d::text::%s", i+1, t.types[i])
		if r[i] != nil {
			args[i] = *r[i]
		}
	}
	conflict := "DO NOTHING"
	if len(t.cols) > t.nkey {
		sets := make([]string, 0, len(t.cols)-t.nkey)
		for _, c := range t.cols[t.nkey:] {
			sets = append(sets, c+" = excluded."+c)
		}
		if t.name == "partners" {
			sets = append(sets, "updated_at = now()")
		}
		conflict = "DO UPDATE SET " + strings.Join(sets, ", ")
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) %s",
		t.name, strings.Join(t.cols, ", "), strings.Join(vals, ", "), strings.Join(t.cols[:t.nkey], ", "), conflict)
	_, err := tx.Exec(ctx, q, args...)
	return err
}

// ensureAccounts creates the ledger accounts the world needs.
func ensureAccounts(ctx context.Context, tx pgx.Tx, w *World) error {
	type acct struct{ code, cur, partner string }
	var want []acct
	for _, r := range w.Resellers {
		want = append(want, acct{ledger.Unbilled(r.ID), r.Currency, r.ID}, acct{ledger.Receivable(r.ID), r.Currency, r.ID},
			acct{ledger.HubRevenue, r.Currency, ""}, acct{ledger.VATCollected, r.Currency, ""}, acct{ledger.BankClearing, r.Currency, ""})
	}
	for _, c := range w.Catalogs {
		for _, it := range c.Items {
			want = append(want, acct{ledger.Payable(it.Publisher), c.Currency, it.Publisher})
		}
	}
	for _, a := range want {
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (code, currency, partner_id) VALUES ($1, $2, NULLIF($3, '')) ON CONFLICT (code, currency) DO NOTHING`, a.code, a.cur, a.partner); err != nil {
			return err
		}
	}
	return nil
}

// formatJSON is the canonical JSON of a file format (fields in a fixed order).
func formatJSON(f FileFormat) string {
	b, _ := json.Marshal(f.Format())
	return string(b)
}

func parseMinorText(amount, cur string) (string, error) {
	c, err := money.ParseCurrency(cur)
	if err != nil {
		return "", err
	}
	m, err := money.ParseMinor(amount, c)
	return strconv.FormatInt(m, 10), err
}

// syncKeys makes partner_keys what the config says: keys are authorisations,
// so one removed from the config is revoked (deleted), unlike other entities.
func syncKeys(ctx context.Context, tx pgx.Tx, w *World, res *Result) error {
	type k struct{ partner, name, fp, key string }
	want := map[string]k{}
	add := func(partner string, s SFTP) {
		for _, key := range s.Keys {
			pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key.Key))
			if err != nil {
				continue // Check reported it
			}
			want[partner+"/"+key.Name] = k{partner, key.Name, ssh.FingerprintSHA256(pk), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))}
		}
	}
	// Only the partners this configuration names are synced: applying
	// another world (samples/bench/config beside samples/config) leaves the
	// keys of partners it does not mention alone, as it leaves the partners.
	var named []string
	for _, p := range w.Publishers {
		add(p.ID, p.SFTP)
		named = append(named, p.ID)
	}
	for _, r := range w.Resellers {
		add(r.ID, r.SFTP)
		named = append(named, r.ID)
	}
	rows, err := tx.Query(ctx, `SELECT partner_id, name, fingerprint FROM partner_keys WHERE partner_id = ANY($1)`, named)
	if err != nil {
		return err
	}
	have := map[string]string{}
	for rows.Next() {
		var p, n, fp string
		if err := rows.Scan(&p, &n, &fp); err != nil {
			return err
		}
		have[p+"/"+n] = fp
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for id, fp := range have {
		if w, ok := want[id]; !ok || w.fp != fp {
			if _, err := tx.Exec(ctx, `DELETE FROM partner_keys WHERE partner_id || '/' || name = $1`, id); err != nil {
				return err
			}
			if !ok {
				res.Changes = append(res.Changes, Change{Op: "-", What: "sftp key " + id, Detail: fp})
			}
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		w := want[id]
		old, ok := have[id]
		if ok && old == w.fp {
			res.Unchanged++
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO partner_keys (partner_id, name, fingerprint, public_key) VALUES ($1, $2, $3, $4)`, w.partner, w.name, w.fp, w.key); err != nil {
			return fmt.Errorf("sftp key %s: %w", id, err)
		}
		op, detail := "+", w.fp
		if ok {
			op, detail = "~", old+" → "+w.fp
		}
		res.Changes = append(res.Changes, Change{Op: op, What: "sftp key " + id, Detail: detail})
	}
	return nil
}
