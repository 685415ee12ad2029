package world

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/govalues/decimal"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/sepa"
	"github.com/clearhouse/clearhouse/internal/store"
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

// table describes how one kind of entity is stored (key columns first) and
// how its changes are compared and shown.
type table struct {
	store.Table
	label string
	num   map[string]bool // numeric columns compared as decimals
	// minor maps a column of minor units to the column holding its currency,
	// so changes print as amounts.
	minor map[string]int
	// secret columns are shown as "(updated)" in changes: they may hold hashes.
	secret map[string]bool
	// one: the table has one row, its changes named by the label alone.
	one bool
}

var tables = []table{
	{Table: store.Table{Name: "partners", Cols: []string{"id", "kind", "name", "sftp"}, Types: []string{"text", "text", "text", "text"}, NKey: 1},
		label: "partner", secret: map[string]bool{"sftp": true}},
	{Table: store.Table{Name: "publishers", Cols: []string{"partner_id"}, Types: []string{"text"}, NKey: 1}, label: "publisher"},
	{Table: store.Table{Name: "resellers", NKey: 1,
		Cols:  []string{"partner_id", "oem_eligible", "currency", "vat_treatment", "vat_rate", "vat_mention", "credit_limit", "payment_method", "iban", "bic", "mandate_id", "mandate_signed_on", "file_policy", "file_format", "prenotification_days"},
		Types: []string{"text", "boolean", "text", "text", "numeric", "text", "bigint", "text", "text", "text", "text", "date", "text", "text", "integer"}},
		label: "reseller", num: map[string]bool{"vat_rate": true}, minor: map[string]int{"credit_limit": 2}},
	{Table: store.Table{Name: "catalogs", Cols: []string{"reseller_id", "id", "name", "currency"}, Types: []string{"text", "text", "text", "text"}, NKey: 2}, label: "catalog"},
	{Table: store.Table{Name: "catalog_items", NKey: 2,
		Cols:  []string{"reseller_id", "sku", "catalog_id", "publisher_id", "publisher_sku", "name", "billing_model", "tax_category"},
		Types: []string{"text", "text", "text", "text", "text", "text", "text", "text"}},
		label: "item"},
	{Table: store.Table{Name: "price_versions", NKey: 3,
		Cols:  []string{"reseller_id", "sku", "valid_from", "valid_to", "buy_price", "resale_price", "share_kind", "share_value"},
		Types: []string{"text", "text", "date", "date", "numeric", "numeric", "text", "numeric"}},
		label: "price", num: map[string]bool{"buy_price": true, "resale_price": true, "share_value": true}},
	hubTable,
	billingProfilesTable,
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
			s(limit), s(r.Payment.Method), opt(sepa.CompactIBAN(r.Payment.IBAN)), opt(r.Payment.BIC), opt(r.Payment.MandateID), opt(r.Payment.MandateSignedOn), s(r.FilePolicy), s(formatJSON(r.FileFormat)),
			s(strconv.Itoa(r.Payment.prenotification()))})
	}
	if w.Hub != nil {
		out["hub"] = []row{w.Hub.row()}
	}
	for _, r := range w.Resellers {
		if r.Billing != nil {
			out["billing_profiles"] = append(out["billing_profiles"], r.billingRow(w.Hub))
		}
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

// DB is what Apply needs from the database, inside the caller's
// transaction (store.New(tx) implements it).
type DB interface {
	// TableRows reads every row of a table, as text.
	TableRows(ctx context.Context, t store.Table) ([][]*string, error)
	// UpsertRow inserts a row, or updates its columns past the key.
	UpsertRow(ctx context.Context, t store.Table, r []*string) error
	// PriceUsed says whether a declaration was priced with a price version.
	PriceUsed(ctx context.Context, reseller, sku, validFrom string) (bool, error)
	// DeletePrice removes a price version.
	DeletePrice(ctx context.Context, reseller, sku, validFrom string) error
	// EnsureAccount creates a ledger account unless it exists.
	EnsureAccount(ctx context.Context, code string, cur money.Currency, partner string) (int64, error)
	// PartnerKeys lists the keys of the partners.
	PartnerKeys(ctx context.Context, partners []string) ([]store.PartnerKey, error)
	// DeletePartnerKey revokes a key.
	DeletePartnerKey(ctx context.Context, partner, name string) error
	// InsertPartnerKey authorises a key.
	InsertPartnerKey(ctx context.Context, k store.PartnerKey) error
}

// Apply upserts the world in one transaction and reports what changed.
// Nothing is deleted except price versions that the config no longer lists
// and that no declaration was priced with; a used one that disappeared from
// the config is an error, and nothing changes.
func Apply(ctx context.Context, db DB, w *World) (*Result, error) {
	res := &Result{}
	want := w.rows()
	for _, t := range tables {
		have, err := load(ctx, db, t)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, r := range want[t.Name] {
			k := key(r, t.NKey)
			seen[k] = true
			old, exists := have[k]
			var detail []string
			if exists {
				for i := t.NKey; i < len(t.Cols); i++ {
					if !same(t, i, old[i], r[i]) {
						if t.secret[t.Cols[i]] {
							detail = append(detail, settingsDiff(t.Cols[i], old[i], r[i])...)
							continue
						}
						detail = append(detail, fmt.Sprintf("%s %s → %s", t.Cols[i], t.show(i, old), t.show(i, r)))
					}
				}
				if len(detail) == 0 {
					if t.Name != "publishers" {
						res.Unchanged++
					}
					continue
				}
			}
			if err := db.UpsertRow(ctx, t.Table, r); err != nil {
				return nil, fmt.Errorf("%s %s: %w", t.label, k, err)
			}
			if t.Name == "publishers" {
				continue // reported with its partner row
			}
			op := "+"
			if exists {
				op = "~"
			}
			what := t.label + " " + k
			if t.one {
				what = t.label
			}
			res.Changes = append(res.Changes, Change{Op: op, What: what, Detail: strings.Join(detail, ", ")})
		}
		if t.Name == "price_versions" {
			if err := removeStalePrices(ctx, db, have, seen, w, res); err != nil {
				return nil, err
			}
		}
	}
	if err := ensureAccounts(ctx, db, w); err != nil {
		return nil, err
	}
	if err := syncKeys(ctx, db, w, res); err != nil {
		return nil, err
	}
	return res, nil
}

func removeStalePrices(ctx context.Context, db DB, have map[string]row, seen map[string]bool, w *World, res *Result) error {
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
		used, err := db.PriceUsed(ctx, *r[0], *r[1], *r[2])
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("price %s is no longer in the config but declarations were priced with it; keep it (close it with valid_to) instead of removing it", k)
		}
		if err := db.DeletePrice(ctx, *r[0], *r[1], *r[2]); err != nil {
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
	if t.secret[t.Cols[i]] {
		return "(updated)"
	}
	if ci, ok := t.minor[t.Cols[i]]; ok && r[i] != nil && r[ci] != nil {
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
	if t.num[t.Cols[i]] {
		da, e1 := decimal.Parse(*a)
		db, e2 := decimal.Parse(*b)
		return e1 == nil && e2 == nil && da.Cmp(db) == 0
	}
	return *a == *b
}

func load(ctx context.Context, db DB, t table) (map[string]row, error) {
	rows, err := db.TableRows(ctx, t.Table)
	if err != nil {
		return nil, err
	}
	out := make(map[string]row, len(rows))
	for _, r := range rows {
		for i := range r { // char(n) pads; config values do not
			if r[i] != nil {
				r[i] = s(strings.TrimRight(*r[i], " "))
			}
		}
		out[key(r, t.NKey)] = r
	}
	return out, nil
}

// ensureAccounts creates the ledger accounts the world needs.
func ensureAccounts(ctx context.Context, db DB, w *World) error {
	type acct struct{ code, cur, partner string }
	var want []acct
	for _, r := range w.Resellers {
		want = append(want, acct{ledger.Unbilled(r.ID), r.Currency, r.ID}, acct{ledger.Receivable(r.ID), r.Currency, r.ID},
			acct{ledger.HubRevenue, r.Currency, ""}, acct{ledger.VATCollected, r.Currency, ""}, acct{ledger.BankClearing, r.Currency, ""},
			acct{ledger.HubRounding, r.Currency, ""})
	}
	for _, c := range w.Catalogs {
		for _, it := range c.Items {
			want = append(want, acct{ledger.Payable(it.Publisher), c.Currency, it.Publisher})
		}
	}
	for _, a := range want {
		if _, err := db.EnsureAccount(ctx, a.code, money.Currency(a.cur), a.partner); err != nil {
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
func syncKeys(ctx context.Context, db DB, w *World, res *Result) error {
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
	keys, err := db.PartnerKeys(ctx, named)
	if err != nil {
		return err
	}
	have := map[string]string{}
	for _, k := range keys {
		have[k.Partner+"/"+k.Name] = k.Fingerprint
	}
	for _, k := range keys {
		id := k.Partner + "/" + k.Name
		if w, ok := want[id]; !ok || w.fp != k.Fingerprint {
			if err := db.DeletePartnerKey(ctx, k.Partner, k.Name); err != nil {
				return err
			}
			if !ok {
				res.Changes = append(res.Changes, Change{Op: "-", What: "sftp key " + id, Detail: k.Fingerprint})
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
		if err := db.InsertPartnerKey(ctx, store.PartnerKey{Partner: w.partner, Name: w.name, Fingerprint: w.fp, PublicKey: w.key}); err != nil {
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

// settingsDiff says which fields of a JSON settings column changed
// ("sftp.fulfillment.every 1m → 2m"), never showing a secret's value (a
// password hash, a key's material): those are "(updated)".
func settingsDiff(col string, a, b *string) []string {
	flat := func(v *string) map[string]string {
		out := map[string]string{}
		if v == nil {
			return out
		}
		var doc any
		if json.Unmarshal([]byte(*v), &doc) != nil {
			return out
		}
		var walk func(prefix string, x any)
		walk = func(prefix string, x any) {
			switch t := x.(type) {
			case map[string]any:
				for k, v := range t {
					walk(prefix+"."+k, v)
				}
			case nil:
				// unset
			default:
				if t == "" {
					return // unset
				}
				b, _ := json.Marshal(t)
				out[prefix] = string(b)
			}
		}
		walk(col, doc)
		return out
	}
	before, after := flat(a), flat(b)
	var paths []string
	for p := range before {
		if before[p] != after[p] {
			paths = append(paths, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	var out []string
	for _, p := range paths {
		if secretPath(p) {
			out = append(out, p+" (updated)")
			continue
		}
		bv, av := before[p], after[p]
		if bv == "" {
			bv = "(none)"
		}
		if av == "" {
			av = "(none)"
		}
		out = append(out, fmt.Sprintf("%s %s → %s", p, bv, av))
	}
	if len(out) == 0 {
		out = append(out, col+" (updated)")
	}
	return out
}

// secretPath: settings whose values are never printed.
func secretPath(p string) bool {
	p = strings.ToLower(p)
	return strings.Contains(p, "password") || strings.Contains(p, "hash") || strings.Contains(p, "secret")
}
