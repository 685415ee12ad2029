package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/civil"
)

// Billing's statements: what a run bills (staged per reseller and period in
// a temporary table, set-based), the documents, lines and items it issues,
// the number counters, the periods billed and how credit settles invoices.
// The rules (which items, how lines group, VAT, numbers) are billing's; the
// SQL is here.

// ErrBilledTwice: an item, a period or a run document is billed already
// (invoice_items_billed_once, billed_periods_pkey, invoices_run_key).
var ErrBilledTwice = errors.New("already billed")

// ErrImmutable: an issued document was to be changed (documents_immutable).
var ErrImmutable = errors.New("issued documents are immutable: issue a credit note instead")

var billingConstraints = map[string]error{
	"invoice_items_billed_once": ErrBilledTwice, "billed_periods_pkey": ErrBilledTwice, "invoices_run_key": ErrBilledTwice,
	"documents_immutable": ErrImmutable,
}

// BillingReseller is what a run needs of a reseller's settings.
type BillingReseller struct {
	ID, Name, Currency                  string
	VATTreatment, VATRate, VATMention   string
	PaymentMethod, IBAN, BIC, MandateID string
	MandateSignedOn                     civil.Date
	HasMandate                          bool
	TaxCategories                       []string // the tax categories of its catalog items
	FileFormat                          string   // its file_format (JSON of schema.Format): how it reads CSV too
	PrenotificationDays                 int      // wallet: an invoice is issued at least this long before its debit
}

const billingResellersSQL = `
	SELECT r.partner_id, p.name, r.currency, r.vat_treatment, r.vat_rate::text, r.vat_mention, r.payment_method,
	       coalesce(r.iban, ''), coalesce(r.bic, ''), coalesce(r.mandate_id, ''),
	       coalesce(r.mandate_signed_on - DATE '1970-01-01', 0), r.mandate_signed_on IS NOT NULL,
	       coalesce((SELECT array_agg(DISTINCT tax_category ORDER BY tax_category) FROM catalog_items i WHERE i.reseller_id = r.partner_id), '{}'),
	       r.file_format, r.prenotification_days
	  FROM resellers r JOIN partners p ON p.id = r.partner_id
	 WHERE $1 = '' OR r.partner_id = $1
	 ORDER BY r.partner_id COLLATE "C"`

// BillingResellers lists the resellers to bill (one when only is set), in
// byte order of their ids: the order numbers are taken in.
func BillingResellers(ctx context.Context, q Querier, only string) ([]BillingReseller, error) {
	return collectAs(ctx, q, "reading the resellers to bill", billingResellersSQL, func(r pgx.Row, b *BillingReseller) error {
		var signed int32
		err := r.Scan(&b.ID, &b.Name, &b.Currency, &b.VATTreatment, &b.VATRate, &b.VATMention, &b.PaymentMethod,
			&b.IBAN, &b.BIC, &b.MandateID, &signed, &b.HasMandate, &b.TaxCategories, &b.FileFormat, &b.PrenotificationDays)
		b.MandateSignedOn = civil.Date(signed)
		return err
	}, only)
}

const (
	lockBillingSQL = `SELECT pg_advisory_xact_lock(hashtextextended('clearhouse:billing', 0))`
	// Where each reseller stands: its last period billed and that period's
	// invoice, and (never billed) the first month it has anything to bill
	// in: a subscription's start, a sale's date.
	billingStatesSQL = `
		SELECT r.id, coalesce(b.period - DATE '1970-01-01', 0), b.period IS NOT NULL, coalesce(b.invoice_id, 0),
		       CASE WHEN b.period IS NULL THEN
		            (SELECT (date_trunc('month', min(start_date))::date) - DATE '1970-01-01' FROM declarations
		              WHERE reseller_id = r.id AND currency = r.currency
		                AND (sub_state IS NOT NULL OR (action IN ('NEW', 'USAGE') AND billing_model IN ('one_time', 'usage')))) END
		  FROM unnest($1::text[], $2::text[]) AS r(id, currency)
		  LEFT JOIN LATERAL (SELECT period, invoice_id FROM billed_periods bp WHERE bp.reseller_id = r.id AND bp.currency = r.currency
		                      ORDER BY period DESC LIMIT 1) b ON true`
	// The first month with anything to bill: a subscription's start, a
	// sale's date.
	firstItemMonthSQL = `
		SELECT (date_trunc('month', min(start_date))::date) - DATE '1970-01-01' FROM declarations
		 WHERE reseller_id = $1 AND currency = $2 AND (sub_state IS NOT NULL OR (action IN ('NEW', 'USAGE') AND billing_model IN ('one_time', 'usage')))`
	insertBilledPeriodSQL = `
		INSERT INTO billed_periods (reseller_id, currency, period, invoice_id, credit_note_id, accrual_entry)
		VALUES ($1, $2, DATE '1970-01-01' + $3::int, nullif($4, 0), nullif($5, 0), nullif($6, 0))`
)

// BillingState is where a reseller stands: the last period billed (Billed
// false: none) and the invoice that period issued (0: none); never
// billed, the first month it has anything to bill in (HasItems false:
// nothing ever declared).
type BillingState struct {
	LastBilled  civil.Date
	Billed      bool
	LastInvoice int64
	FirstItem   civil.Date
	HasItems    bool
}

// BillingStates reads where each reseller (in its currency) stands.
func BillingStates(ctx context.Context, q Querier, ids, currencies []string) (map[string]BillingState, error) {
	out := make(map[string]BillingState, len(ids))
	var id string
	var last int32
	var first *int32
	var st BillingState
	err := forEachRow(ctx, q, billingStatesSQL, []any{ids, currencies}, []any{&id, &last, &st.Billed, &st.LastInvoice, &first}, func() error {
		st.LastBilled, st.FirstItem, st.HasItems = civil.Date(last), 0, st.Billed
		if first != nil {
			st.FirstItem, st.HasItems = civil.Date(*first), true
		}
		out[id] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading where the resellers stand in billing: %w", err)
	}
	return out, nil
}

// LockBilling serialises issuing across instances and commands for the
// rest of tx: numbers are taken in issue order and a period is billed once.
func LockBilling(ctx context.Context, tx Tx) error {
	if _, err := tx.Exec(ctx, lockBillingSQL); err != nil {
		return fmt.Errorf("taking the billing lock: %w", err)
	}
	return nil
}

// FirstItemMonth is the first month a reseller has anything to bill in
// (false: nothing ever declared).
func FirstItemMonth(ctx context.Context, q Querier, reseller, currency string) (civil.Date, bool, error) {
	return maybeDate(ctx, q, firstItemMonthSQL, "the first month to bill", reseller, currency)
}

// maybeDate reads a reseller's date that may be NULL (false).
func maybeDate(ctx context.Context, q Querier, sql, what, reseller, currency string) (civil.Date, bool, error) {
	var d *int32
	if err := q.QueryRow(ctx, sql, reseller, currency).Scan(&d); err != nil {
		return 0, false, fmt.Errorf("reading %s of %s: %w", what, reseller, err)
	}
	if d == nil {
		return 0, false, nil
	}
	return civil.Date(*d), true, nil
}

// InsertBilledPeriod records that period was billed (with what it issued;
// 0: nothing).
func InsertBilledPeriod(ctx context.Context, tx Tx, reseller, currency string, period civil.Date, invoice, creditNote, accrual int64) error {
	if _, err := tx.Exec(ctx, insertBilledPeriodSQL, reseller, currency, int32(period), invoice, creditNote, accrual); err != nil {
		return fmt.Errorf("recording period %s of %s as billed: %w", period, reseller, translate(err, billingConstraints))
	}
	return nil
}

// Staging. A run stages what it bills a batch of resellers for a period in
// the transaction's bill_items table (a row per item), set-based; groups
// the items into lines; and writes them as invoice_items with the line and
// document each belongs to, in one statement for the batch. A manual
// credit stages the items of the lines it credits the same way.
//
// The stage's tables live as long as the connection and are emptied at
// every commit (and by ResetStage, with a DELETE): created and dropped in
// each transaction, they cost their catalog rows every time. They are
// analysed once filled, so that the statements that read them are planned
// for what they hold (a batch's few rows, or its millions of items).
//
// The statements run without JIT compilation (SET LOCAL, for the rest of
// the transaction): the planner cannot tell how many months a
// subscription's generate_series yields, so a batch looks like billions of
// rows and PostgreSQL compiled for seconds a statement that runs in less.
// They have 64 MB of work memory (a batch's lines and hashes fit).
const (
	createStageSQL = `
	SET LOCAL jit = off; SET LOCAL work_mem = '64MB';
	CREATE TEMP TABLE IF NOT EXISTS bill_items (
		reseller_id text NOT NULL, kind text NOT NULL, credit boolean NOT NULL, declaration_id text COLLATE "C" NOT NULL,
		service_month date NOT NULL, quantity bigint NOT NULL, unit_price numeric(18,6), amount bigint, publisher_amount bigint,
		publisher_id text NOT NULL, sku text NOT NULL, billing_model text NOT NULL, price_valid_from date,
		period_start date NOT NULL, period_end date NOT NULL, vat_category text, vat_rate numeric(7,4), credited_invoice bigint,
		credited_line integer
	) ON COMMIT DELETE ROWS;
	CREATE TEMP TABLE IF NOT EXISTS bill_resellers (
		reseller_id text PRIMARY KEY, currency char(3) NOT NULL, exp10 bigint NOT NULL, billed date
	) ON COMMIT DELETE ROWS;
	CREATE TEMP TABLE IF NOT EXISTS bill_skus (
		reseller_id text NOT NULL, sku text NOT NULL, vat_category text NOT NULL, vat_rate numeric(7,4) NOT NULL,
		PRIMARY KEY (reseller_id, sku)
	) ON COMMIT DELETE ROWS`
	emptyStageSQL = `DELETE FROM bill_items; DELETE FROM bill_resellers; DELETE FROM bill_skus`

	// The batch: each reseller with its currency ($2), 10^digits of it
	// ($3), its last period billed ($4, NULL: none) and that period's
	// invoice ($5); each SKU of its catalog with the VAT category and rate
	// of its tax category (the reseller's treatment decides: $6…$9).
	stageResellersSQL = `
	INSERT INTO bill_resellers (reseller_id, currency, exp10, billed)
	SELECT * FROM unnest($1::text[], $2::char(3)[], $3::bigint[], $4::date[])`
	stageSkusSQL = `
	INSERT INTO bill_skus (reseller_id, sku, vat_category, vat_rate)
	SELECT ci.reseller_id, ci.sku, v.vat_category, v.vat_rate
	  FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[]) AS v(reseller_id, tax_category, vat_category, vat_rate)
	  JOIN catalog_items ci ON ci.reseller_id = v.reseller_id AND ci.tax_category = v.tax_category`
	analyzeStageSQL = `ANALYZE bill_resellers, bill_skus`

	// Charges of the batch for period $1 (its first day; $2 its last),
	// reseller by reseller (a lateral subquery: the items of one reseller
	// come out together, in declaration order, as they are written):
	//
	// Every owed subscription-month up to the period not charged yet,
	// priced by the version valid on the month's first day (the start
	// date in the start month). A run bills every owed month up to its
	// period of every subscription it sees, so a subscription's charged
	// months run from its start month without a gap (clearhouse ledger
	// check proves it): what is left to charge starts at its start month
	// if it was never charged, else after the reseller's last period
	// billed. Whether it was charged: when it was active in that period,
	// whether it is among the subscriptions charged for that month (one
	// range of the items' key per reseller, hashed: OFFSET 0 keeps it from
	// turning into a probe per subscription); when it had ended before,
	// whether its start month was charged (a probe; such a subscription
	// yields nothing more either way unless never charged). The months are
	// a set-returning function in the select list (no tuplestore per
	// subscription, as a function scan in FROM makes), and the day each is
	// priced on a column of its own (the price look-up is then memoized:
	// most months of a reseller's SKU are priced on the same day).
	//
	// Every posted one_time or usage declaration dated up to the period's
	// end not charged yet (looked up only when dated in a period billed).
	//
	// The amount is computed once per item (OFFSET 0 keeps the planner
	// from pulling the subquery up, which repeats its inlined rounding in
	// every expression that names it).
	stageChargesSQL = `
	INSERT INTO bill_items (reseller_id, kind, credit, declaration_id, service_month, quantity, unit_price, amount, publisher_amount,
	                        publisher_id, sku, billing_model, price_valid_from, period_start, period_end, vat_category, vat_rate)
	SELECT x.* FROM bill_resellers r CROSS JOIN LATERAL (
	SELECT m.reseller_id, 'fee', false, m.declaration_id, m.month, m.quantity, v.buy_price, a.amount,
	       least(a.amount, CASE WHEN v.share_kind = 'percent' THEN round_half_even(a.amount * v.share_value / 100)
	                            ELSE round_half_even(m.quantity * v.share_value * r.exp10) END),
	       m.publisher_id, m.sku, 'monthly', v.valid_from, m.month, (m.month + interval '1 month' - interval '1 day')::date,
	       s.vat_category, s.vat_rate
	  FROM (SELECT d.reseller_id, d.declaration_id, d.quantity, d.sku, d.publisher_id, d.start_date,
	               generate_series(CASE
	                 WHEN r.billed IS NULL OR date_trunc('month', d.start_date) > r.billed THEN date_trunc('month', d.start_date)
	                 WHEN d.sub_end_date IS NULL OR d.sub_end_date >= r.billed THEN
	                      CASE WHEN c.declaration_id IS NULL THEN date_trunc('month', d.start_date) ELSE r.billed + interval '1 month' END
	                 WHEN EXISTS (SELECT 1 FROM invoice_items i WHERE i.reseller_id = d.reseller_id
	                                 AND i.service_month = date_trunc('month', d.start_date)::date AND i.declaration_id = d.declaration_id
	                                 AND NOT i.credit OFFSET 0)
	                      THEN r.billed + interval '1 month'
	                 ELSE date_trunc('month', d.start_date) END,
	                 least($1::date, date_trunc('month', coalesce(d.sub_end_date, $1::date))), interval '1 month')::date AS month
	          FROM declarations d
	          LEFT JOIN (SELECT i.declaration_id FROM invoice_items i
	                      WHERE i.reseller_id = r.reseller_id AND i.service_month = r.billed AND NOT i.credit OFFSET 0) c
	            ON c.declaration_id = d.declaration_id
	         WHERE d.reseller_id = r.reseller_id AND d.currency = r.currency AND d.sub_state IS NOT NULL AND d.start_date <= $2::date
	        OFFSET 0) m0
	 CROSS JOIN LATERAL (SELECT m0.*, greatest(m0.month, m0.start_date) AS priced_on OFFSET 0) m
	  LEFT JOIN LATERAL (SELECT pv.valid_from, pv.buy_price, pv.share_kind, pv.share_value FROM price_versions pv
	                      WHERE pv.reseller_id = m.reseller_id AND pv.sku = m.sku
	                        AND pv.valid_from <= m.priced_on AND (pv.valid_to IS NULL OR pv.valid_to >= m.priced_on)
	                      ORDER BY pv.valid_from DESC LIMIT 1) v ON true
	 CROSS JOIN LATERAL (SELECT round_half_even(m.quantity * v.buy_price * r.exp10) AS amount OFFSET 0) a
	  LEFT JOIN bill_skus s ON s.reseller_id = m.reseller_id AND s.sku = m.sku
	UNION ALL
	SELECT d.reseller_id, 'sale', false, d.declaration_id, date_trunc('month', d.start_date)::date, d.quantity, d.unit_price, d.amount, d.publisher_amount,
	       d.publisher_id, d.sku, d.billing_model, coalesce(d.price_valid_from, d.start_date), d.start_date,
	       CASE WHEN d.billing_model = 'usage' THEN greatest(d.start_date, coalesce(d.end_date, d.start_date)) ELSE d.start_date END,
	       s.vat_category, s.vat_rate
	  FROM declarations d
	  LEFT JOIN bill_skus s ON s.reseller_id = d.reseller_id AND s.sku = d.sku
	 WHERE d.reseller_id = r.reseller_id AND d.currency = r.currency
	   AND d.action IN ('NEW', 'USAGE') AND d.billing_model IN ('one_time', 'usage') AND d.start_date <= $2::date
	   AND (r.billed IS NULL OR d.start_date >= r.billed + interval '1 month'
	        OR NOT EXISTS (SELECT 1 FROM invoice_items i WHERE i.reseller_id = d.reseller_id
	                          AND i.service_month = date_trunc('month', d.start_date)::date AND i.declaration_id = d.declaration_id
	                          AND NOT i.credit OFFSET 0))
	OFFSET 0) x`

	// Credits of a run: subscription-months charged that a termination
	// received later made not owed (the months after the one of its end
	// date), not credited yet, at the amounts and VAT of their invoice.
	// Charged months follow each other from the start month, so a month
	// after the end month was charged only if the month right after it
	// was: one probe per ended subscription, and its months are read only
	// then.
	stageRunCreditsSQL = `
	INSERT INTO bill_items (reseller_id, kind, credit, declaration_id, service_month, quantity, unit_price, amount, publisher_amount,
	                        publisher_id, sku, billing_model, price_valid_from, period_start, period_end, vat_category, vat_rate, credited_invoice,
	                        credited_line)
	SELECT x.* FROM bill_resellers r CROSS JOIN LATERAL (
	SELECT i.reseller_id, 'credit', true, i.declaration_id, i.service_month, i.quantity, i.unit_price, i.amount, i.publisher_amount,
	       i.publisher_id, l.sku, l.billing_model, i.price_valid_from, i.service_month, (i.service_month + interval '1 month' - interval '1 day')::date,
	       l.vat_category, l.vat_rate, i.invoice_id, i.line_no
	  FROM declarations d
	 CROSS JOIN LATERAL generate_series(date_trunc('month', d.sub_end_date) + interval '1 month', r.billed, interval '1 month') AS m
	 CROSS JOIN LATERAL (SELECT * FROM invoice_items i WHERE i.reseller_id = d.reseller_id AND i.service_month = m::date
	                        AND i.declaration_id = d.declaration_id AND NOT i.credit AND i.kind = 'fee' OFFSET 0) i
	  JOIN invoice_lines l ON l.invoice_id = i.invoice_id AND l.line_no = i.line_no
	 WHERE d.reseller_id = r.reseller_id AND d.currency = r.currency AND d.sub_state IS NOT NULL AND d.sub_end_date IS NOT NULL
	   AND date_trunc('month', d.sub_end_date) < r.billed
	   AND EXISTS (SELECT 1 FROM invoice_items e WHERE e.reseller_id = d.reseller_id
	                  AND e.service_month = (date_trunc('month', d.sub_end_date) + interval '1 month')::date
	                  AND e.declaration_id = d.declaration_id AND NOT e.credit OFFSET 0)
	   AND NOT EXISTS (SELECT 1 FROM invoice_items c WHERE c.reseller_id = i.reseller_id AND c.service_month = i.service_month
	                      AND c.declaration_id = i.declaration_id AND c.credit OFFSET 0)
	OFFSET 0) x WHERE r.billed IS NOT NULL`

	// Credits of chosen lines of one invoice (all when $2 is empty): its
	// charged items not credited yet.
	stageLineCreditsSQL = `
	INSERT INTO bill_items (reseller_id, kind, credit, declaration_id, service_month, quantity, unit_price, amount, publisher_amount,
	                        publisher_id, sku, billing_model, price_valid_from, period_start, period_end, vat_category, vat_rate, credited_invoice,
	                        credited_line)
	SELECT i.reseller_id, 'credit', true, i.declaration_id, i.service_month, i.quantity, i.unit_price, i.amount, i.publisher_amount,
	       i.publisher_id, l.sku, l.billing_model, i.price_valid_from, l.period_start, l.period_end, l.vat_category, l.vat_rate, i.invoice_id,
	       i.line_no
	  FROM invoice_items i JOIN invoice_lines l ON l.invoice_id = i.invoice_id AND l.line_no = i.line_no
	 WHERE i.invoice_id = $1 AND NOT i.credit AND (cardinality($2::int[]) = 0 OR i.line_no = ANY($2))
	   AND NOT EXISTS (SELECT 1 FROM invoice_items c WHERE c.reseller_id = i.reseller_id AND c.service_month = i.service_month
	                      AND c.declaration_id = i.declaration_id AND c.credit)`

	unpricedSQL = `
	SELECT declaration_id, sku, service_month::text, coalesce(vat_category, '') FROM bill_items
	 WHERE reseller_id = $1 AND (unit_price IS NULL OR vat_category IS NULL) ORDER BY declaration_id, service_month LIMIT 20`

	// A line groups a reseller's items by everything a line shows: charge
	// or credit (and the invoice credited), SKU, billing model, publisher,
	// unit price, service month, VAT. An item without a price or a VAT
	// category makes a line without them (the reseller is not billed).
	// The credited invoice of a line is read by its id once the items are
	// grouped (a lateral subquery kept as one): joined to every item, the
	// planner hashed the whole invoices table.
	stagedLinesSQL = `
	SELECT l.reseller_id, l.credit, coalesce(l.credited_invoice, 0), coalesce(inv.number, ''), l.sku, coalesce(ci.name, l.sku), l.publisher_id,
	       l.billing_model, coalesce(l.unit_price::text, ''), l.service_month - DATE '1970-01-01', coalesce(l.vat_category, ''),
	       coalesce(l.vat_rate::text, ''), l.quantity, coalesce(l.amount, 0), coalesce(l.share, 0),
	       l.period_start - DATE '1970-01-01', l.period_end - DATE '1970-01-01', l.items, coalesce(inv.issue_date - DATE '1970-01-01', 0),
	       coalesce(l.credited_line, 0)
	  FROM (SELECT reseller_id, credit, credited_invoice, sku, publisher_id, billing_model, unit_price, service_month, vat_category, vat_rate,
	               sum(quantity)::bigint AS quantity, sum(amount)::bigint AS amount, sum(publisher_amount)::bigint AS share,
	               min(period_start) AS period_start, max(period_end) AS period_end, count(*)::int AS items,
	               min(credited_line) AS credited_line
	          FROM bill_items
	         GROUP BY reseller_id, credit, credited_invoice, sku, publisher_id, billing_model, unit_price, service_month, vat_category, vat_rate) l
	  LEFT JOIN catalog_items ci ON ci.reseller_id = l.reseller_id AND ci.sku = l.sku
	  LEFT JOIN LATERAL (SELECT number, issue_date FROM invoices WHERE id = l.credited_invoice OFFSET 0) inv ON true
	 ORDER BY l.reseller_id COLLATE "C", l.credit, inv.number NULLS FIRST, l.service_month, l.sku COLLATE "C", l.unit_price,
	          l.billing_model, l.publisher_id COLLATE "C", l.vat_category, l.vat_rate`

	// The staged items of the lines given, each written with its line's
	// document and number. Matched on what groups them (a hash of the
	// few lines; the items stream past it in the order they were staged).
	writeItemsSQL = `
	INSERT INTO invoice_items (invoice_id, line_no, reseller_id, declaration_id, service_month, credit, kind, quantity, unit_price,
	                           amount, publisher_amount, publisher_id, price_valid_from, credited_invoice)
	SELECT k.invoice_id, k.line_no, b.reseller_id, b.declaration_id, b.service_month, b.credit, b.kind, b.quantity, b.unit_price,
	       b.amount, b.publisher_amount, b.publisher_id, b.price_valid_from, b.credited_invoice
	  FROM bill_items b
	  JOIN unnest($1::text[], $2::boolean[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::date[], $9::text[],
	              $10::numeric[], $11::bigint[], $12::int[])
	       AS k(reseller_id, credit, credited_invoice, sku, billing_model, publisher_id, unit_price, service_month, vat_category, vat_rate,
	            invoice_id, line_no)
	    ON k.reseller_id = b.reseller_id AND k.credit = b.credit AND k.credited_invoice = coalesce(b.credited_invoice, 0)
	   AND k.sku = b.sku AND k.billing_model = b.billing_model AND k.publisher_id = b.publisher_id AND k.unit_price = b.unit_price
	   AND k.service_month = b.service_month AND k.vat_category = b.vat_category AND k.vat_rate = b.vat_rate`
)

// StageReseller is a reseller of a batch to stage: its currency (and 10 to
// its digits), its last period billed (0: none), and the VAT category and
// rate of each tax category.
type StageReseller struct {
	ID, Currency string
	Exp10        int64
	Billed       civil.Date
	VAT          map[string][2]string
}

// StageBatch stages what a run bills the resellers for period (the first
// day of the month; last its last day): their charges, and the credits of
// months a termination made not owed.
func StageBatch(ctx context.Context, tx Tx, rs []StageReseller, period, last civil.Date) error {
	if err := ResetStage(ctx, tx); err != nil {
		return err
	}
	ids, curs, exps, billed := make([]string, len(rs)), make([]string, len(rs)), make([]int64, len(rs)), make([]*string, len(rs))
	var vr, vt, vc, vrate []string
	for i, r := range rs {
		ids[i], curs[i], exps[i] = r.ID, r.Currency, r.Exp10
		if r.Billed != 0 {
			s := r.Billed.String()
			billed[i] = &s
		}
		for t, v := range r.VAT {
			vr, vt, vc, vrate = append(vr, r.ID), append(vt, t), append(vc, v[0]), append(vrate, v[1])
		}
	}
	steps := []struct {
		what, sql string
		args      []any
	}{
		{"the resellers", stageResellersSQL, []any{ids, curs, exps, billed}},
		{"the SKUs", stageSkusSQL, []any{vr, vt, vc, vrate}},
		{"the batch", analyzeStageSQL, nil},
		{"the charges", stageChargesSQL, []any{period.String(), last.String()}},
		{"the credits", stageRunCreditsSQL, nil},
	}
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("staging %s of %d resellers for %s: %w", s.what, len(rs), period, err)
		}
	}
	return nil
}

// StageLineCredits stages the credit of lines of an invoice (every line
// when lines is empty).
func StageLineCredits(ctx context.Context, tx Tx, invoiceID int64, lines []int32) (int64, error) {
	if err := ResetStage(ctx, tx); err != nil {
		return 0, err
	}
	if lines == nil {
		lines = []int32{}
	}
	tag, err := tx.Exec(ctx, stageLineCreditsSQL, invoiceID, lines)
	if err != nil {
		return 0, fmt.Errorf("staging the credit of invoice %d: %w", invoiceID, err)
	}
	return tag.RowsAffected(), nil
}

// ResetStage makes the stage if this connection has none, and empties it
// (a dry run of several periods reuses it): DELETEs, as TRUNCATE would
// make new files and invalidate the plans.
func ResetStage(ctx context.Context, tx Tx) error {
	if _, err := tx.Exec(ctx, createStageSQL); err != nil {
		return fmt.Errorf("making the billing stage: %w", err)
	}
	if _, err := tx.Exec(ctx, emptyStageSQL); err != nil {
		return fmt.Errorf("emptying the billing stage: %w", err)
	}
	return nil
}

// Unpriced is a staged item without a price or a VAT category.
type Unpriced struct{ DeclarationID, SKU, Month, VATCategory string }

// UnpricedItems lists (up to 20) staged items of a reseller that have no
// price version valid on their date, or a tax category the VAT map does
// not know.
func UnpricedItems(ctx context.Context, tx Tx, reseller string) ([]Unpriced, error) {
	return collectAs(ctx, tx, "checking the staged prices", unpricedSQL, func(r pgx.Row, u *Unpriced) error {
		return r.Scan(&u.DeclarationID, &u.SKU, &u.Month, &u.VATCategory)
	}, reseller)
}

// StagedLine is one line of the staged items.
type StagedLine struct {
	Reseller                    string
	Credit                      bool
	CreditedInvoice             int64
	CreditedNumber              string
	SKU, Name, Publisher, Model string
	UnitPrice                   string // "": an item has no price
	ServiceMonth                civil.Date
	VATCategory, VATRate        string // "": an item has no VAT category
	Quantity, Amount, Share     int64
	CreditedIssue               civil.Date // the credited invoice's issue date
	CreditedLine                int32      // the line of it credited (a credit line credits one: the same grouping)
	PeriodStart, PeriodEnd      civil.Date
	Items                       int
}

// Priced tells whether every item of the line has a price and a VAT category.
func (l StagedLine) Priced() bool { return l.UnitPrice != "" && l.VATCategory != "" }

// StagedLines groups the staged items into lines: by reseller (byte
// order), charges first, then credits by the invoice they credit; by
// service month, SKU and price.
func StagedLines(ctx context.Context, tx Tx) ([]StagedLine, error) {
	// Grouped by hashing (a batch has some thousand lines for hundreds of
	// thousands of items), never by sorting the items: estimated on ten
	// columns, the lines look like a tenth of the items, and the planner
	// sorted them all on disk (3 times slower).
	if _, err := tx.Exec(ctx, `SET LOCAL enable_sort = off`); err != nil {
		return nil, err
	}
	defer tx.Exec(ctx, `RESET enable_sort`) //nolint:errcheck // the transaction's end resets it too
	return collectAs(ctx, tx, "grouping the staged items", stagedLinesSQL, func(r pgx.Row, l *StagedLine) error {
		var month, from, to, issued int32
		err := r.Scan(&l.Reseller, &l.Credit, &l.CreditedInvoice, &l.CreditedNumber, &l.SKU, &l.Name, &l.Publisher, &l.Model, &l.UnitPrice,
			&month, &l.VATCategory, &l.VATRate, &l.Quantity, &l.Amount, &l.Share, &from, &to, &l.Items, &issued, &l.CreditedLine)
		l.CreditedIssue = civil.Date(issued)
		l.ServiceMonth, l.PeriodStart, l.PeriodEnd = civil.Date(month), civil.Date(from), civil.Date(to)
		return err
	})
}

// ItemLines collects the lines whose staged items are to be written, each
// with its document and number, so that they are written at once.
type ItemLines struct {
	resellers, skus, models, publishers, prices, months, vatCats, vatRates []string
	credits                                                                []bool
	credited, invoices                                                     []int64
	nos                                                                    []int32
	Items                                                                  int64 // what the lines sum to
}

// Add adds line l of document invoiceID, numbered no.
func (w *ItemLines) Add(l StagedLine, invoiceID int64, no int32) {
	w.resellers, w.skus, w.models, w.publishers = append(w.resellers, l.Reseller), append(w.skus, l.SKU), append(w.models, l.Model), append(w.publishers, l.Publisher)
	w.prices, w.months, w.vatCats, w.vatRates = append(w.prices, l.UnitPrice), append(w.months, l.ServiceMonth.String()), append(w.vatCats, l.VATCategory), append(w.vatRates, l.VATRate)
	w.credits, w.credited, w.invoices, w.nos = append(w.credits, l.Credit), append(w.credited, l.CreditedInvoice), append(w.invoices, invoiceID), append(w.nos, no)
	w.Items += int64(l.Items)
}

// Len is the number of lines added.
func (w *ItemLines) Len() int { return len(w.nos) }

// WriteItems writes the staged items of the lines added as their
// documents' items, and checks that each was written.
func WriteItems(ctx context.Context, tx Tx, w *ItemLines) error {
	if w.Len() == 0 {
		return nil
	}
	// The planner takes the ten equalities of the match for one that
	// keeps a row in millions and would sort the items to merge them: a
	// hash of the lines, which keeps them in the order they were staged
	// (a document's items together, in declaration order), is what is
	// wanted whatever the estimates.
	if _, err := tx.Exec(ctx, `SET LOCAL enable_mergejoin = off; SET LOCAL enable_nestloop = off`); err != nil {
		return err
	}
	defer tx.Exec(ctx, `RESET enable_mergejoin; RESET enable_nestloop`) //nolint:errcheck // the transaction's end resets them too
	tag, err := tx.Exec(ctx, writeItemsSQL, w.resellers, w.credits, w.credited, w.skus, w.models, w.publishers, w.prices, w.months,
		w.vatCats, w.vatRates, w.invoices, w.nos)
	if err != nil {
		return fmt.Errorf("writing the items of %d lines: %w", w.Len(), translate(err, billingConstraints))
	}
	if n := tag.RowsAffected(); n != w.Items {
		return fmt.Errorf("writing the items of %d lines: %d written for %d staged", w.Len(), n, w.Items)
	}
	return nil
}

// Documents.
const (
	nextNumberSQL = `
	INSERT INTO document_counters AS c (doc_type, year, last) VALUES ($1, $2, 1)
	ON CONFLICT (doc_type, year) DO UPDATE SET last = c.last + 1 RETURNING last`
	insertInvoiceSQL = `
	INSERT INTO invoices (number, doc_type, year, seq, reseller_id, period, currency, issue_date, due_date, net, tax, gross,
	                      prepaid, payable, items_amount, entry_id, reason, origin, document)
	VALUES ($1, $2, $3, $4, $5, DATE '1970-01-01' + $6::int, $7, DATE '1970-01-01' + $8::int, DATE '1970-01-01' + nullif($9, 0),
	        $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
	RETURNING id`
)

// NextNumber takes the next number of a document type and year, in tx:
// given back if tx rolls back.
func NextNumber(ctx context.Context, tx Tx, docType string, year int) (int, error) {
	var n int
	if err := tx.QueryRow(ctx, nextNumberSQL, docType, year).Scan(&n); err != nil {
		return 0, fmt.Errorf("taking the next %s number of %d: %w", docType, year, err)
	}
	return n, nil
}

// Invoice is an issued document's record.
type Invoice struct {
	ID                                int64
	Number, DocType                   string
	Year, Seq                         int
	ResellerID, Currency              string
	Period, IssueDate, DueDate        civil.Date // DueDate 0: none (credit note)
	Net, Tax, Gross, Prepaid, Payable int64
	ItemsAmount                       int64
	EntryID                           int64
	Reason, Origin                    string
	Document                          []byte // JSON of the invoice.Document
}

// InsertInvoice writes an issued document and returns its id.
func InsertInvoice(ctx context.Context, tx Tx, in Invoice) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, insertInvoiceSQL, in.Number, in.DocType, in.Year, in.Seq, in.ResellerID, int32(in.Period), in.Currency,
		int32(in.IssueDate), int32(in.DueDate), in.Net, in.Tax, in.Gross, in.Prepaid, in.Payable, in.ItemsAmount, in.EntryID,
		in.Reason, in.Origin, in.Document).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("writing %s %s: %w", in.DocType, in.Number, translate(err, billingConstraints))
	}
	return id, nil
}

// InvoiceLine is a written line.
type InvoiceLine struct {
	No                                int32
	SKU, Name, Publisher, Model       string
	ServiceMonth                      civil.Date
	Quantity                          int64
	UnitPrice                         string
	Net, ItemsAmount, PublisherAmount int64
	VATCategory, VATRate              string
	PeriodStart, PeriodEnd            civil.Date
	CreditsInvoice                    int64
	Items                             int
}

// InsertLines writes a document's lines, in one statement (one round trip).
func InsertLines(ctx context.Context, tx Tx, invoiceID int64, lines []InvoiceLine) error {
	n := len(lines)
	nos, items := make([]int32, n), make([]int32, n)
	skus, names, pubs, models, months, prices, cats, rates, froms, tos := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	qty, net, itemsAmount, share := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	credits := make([]*int64, n)
	for i, l := range lines {
		nos[i], items[i], skus[i], names[i], pubs[i], models[i] = l.No, int32(l.Items), l.SKU, l.Name, l.Publisher, l.Model
		months[i], prices[i], cats[i], rates[i], froms[i], tos[i] = l.ServiceMonth.String(), l.UnitPrice, l.VATCategory, l.VATRate,
			l.PeriodStart.String(), l.PeriodEnd.String()
		qty[i], net[i], itemsAmount[i], share[i] = l.Quantity, l.Net, l.ItemsAmount, l.PublisherAmount
		if l.CreditsInvoice != 0 {
			credits[i] = &lines[i].CreditsInvoice
		}
	}
	if _, err := tx.Exec(ctx, insertLinesSQL, invoiceID, nos, skus, names, pubs, models, months, qty, prices, net, itemsAmount, share,
		cats, rates, froms, tos, credits, items); err != nil {
		return fmt.Errorf("writing the lines of invoice %d: %w", invoiceID, err)
	}
	return nil
}

const insertLinesSQL = `
	INSERT INTO invoice_lines (invoice_id, line_no, sku, name, publisher_id, billing_model, service_month, quantity, unit_price, net,
	                           items_amount, publisher_amount, vat_category, vat_rate, period_start, period_end, credits_invoice, items)
	SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::date[], $8::bigint[], $9::numeric[],
	                         $10::bigint[], $11::bigint[], $12::bigint[], $13::text[], $14::numeric[], $15::date[], $16::date[],
	                         $17::bigint[], $18::int[])`

// Credit and settlement.
const (
	// A reseller's credit notes with credit left (oldest first).
	creditLeftSQL = `
	SELECT c.id, c.number, c.gross - coalesce((SELECT sum(s.amount) FROM settlements s WHERE s.credit_id = c.id), 0)
	  FROM invoices c WHERE c.reseller_id = $1 AND c.currency = $2 AND c.doc_type = 'credit_note'
	   AND c.gross > coalesce((SELECT sum(s.amount) FROM settlements s WHERE s.credit_id = c.id), 0)
	 ORDER BY c.issue_date, c.id`
	// A reseller's invoices with an amount open (oldest first).
	openInvoicesSQL = `
	SELECT i.id, i.number, i.gross - coalesce((SELECT sum(s.amount) FROM settlements s WHERE s.invoice_id = i.id), 0)
	  FROM invoices i WHERE i.reseller_id = $1 AND i.currency = $2 AND i.doc_type = 'invoice'
	   AND i.gross > coalesce((SELECT sum(s.amount) FROM settlements s WHERE s.invoice_id = i.id), 0)
	 ORDER BY i.issue_date, i.id`
	insertSettlementSQL = `INSERT INTO settlements (invoice_id, credit_id, amount) VALUES ($1, $2, $3)`
)

// OpenDoc is a document with an amount left: an invoice's open amount, or a
// credit note's credit not applied yet.
type OpenDoc struct {
	ID     int64
	Number string
	Left   int64
}

func opens(ctx context.Context, tx Tx, sql, reseller, currency string) ([]OpenDoc, error) {
	return collectAs(ctx, tx, fmt.Sprintf("reading the open documents of %s", reseller), sql, func(r pgx.Row, o *OpenDoc) error { return r.Scan(&o.ID, &o.Number, &o.Left) }, reseller, currency)
}

// CreditLeft lists a reseller's credit notes with credit not applied yet.
func CreditLeft(ctx context.Context, tx Tx, reseller, currency string) ([]OpenDoc, error) {
	return opens(ctx, tx, creditLeftSQL, reseller, currency)
}

// OpenInvoices lists a reseller's invoices with an amount open.
func OpenInvoices(ctx context.Context, tx Tx, reseller, currency string) ([]OpenDoc, error) {
	return opens(ctx, tx, openInvoicesSQL, reseller, currency)
}

// Settle applies amount of credit note credit to invoice.
func Settle(ctx context.Context, tx Tx, invoice, credit, amount int64) error {
	if _, err := tx.Exec(ctx, insertSettlementSQL, invoice, credit, amount); err != nil {
		return fmt.Errorf("applying credit note %d to invoice %d: %w", credit, invoice, err)
	}
	return nil
}

// Reading documents.
const (
	invoiceColumns = `i.id, i.number, i.doc_type, i.year, i.seq, i.reseller_id, i.currency, i.period - DATE '1970-01-01',
		i.issue_date - DATE '1970-01-01', coalesce(i.due_date - DATE '1970-01-01', 0), i.net, i.tax, i.gross, i.prepaid, i.payable,
		i.items_amount, i.entry_id, i.reason, i.origin, i.document`
	invoiceByNumberSQL = `SELECT ` + invoiceColumns + ` FROM invoices i WHERE i.number = $1`
	invoiceByIDSQL     = `SELECT ` + invoiceColumns + ` FROM invoices i WHERE i.id = $1`
	listInvoicesSQL    = `SELECT ` + invoiceColumns + `,
		i.gross - coalesce((SELECT sum(s.amount) FROM settlements s WHERE s.invoice_id = i.id OR s.credit_id = i.id), 0)
		FROM invoices i WHERE ($1 = '' OR i.reseller_id = $1) AND ($2 = 0 OR i.period = DATE '1970-01-01' + $2::int)
		ORDER BY i.id`
	invoiceDetailSQL = `
	SELECT it.line_no, it.declaration_id, coalesce(d.customer_id, ''), l.sku, it.service_month::text, it.quantity, it.unit_price::text,
	       it.amount, it.publisher_amount, CASE WHEN it.kind = 'sale' AND l.billing_model = 'usage' THEN 'usage' ELSE it.kind END, coalesce(d.file_id, 0), coalesce(f.name, ''), coalesce(d.line, 0)
	  FROM invoice_items it
	  JOIN invoice_lines l ON l.invoice_id = it.invoice_id AND l.line_no = it.line_no
	  LEFT JOIN declarations d ON d.reseller_id = it.reseller_id AND d.declaration_id = it.declaration_id
	  LEFT JOIN files f ON f.id = d.file_id
	 WHERE it.invoice_id = $1
	 ORDER BY it.line_no, it.declaration_id COLLATE "C", it.service_month`
)

func scanInvoice(row pgx.Row, in *Invoice, extra ...any) error {
	var period, issue, due int32
	err := row.Scan(append([]any{&in.ID, &in.Number, &in.DocType, &in.Year, &in.Seq, &in.ResellerID, &in.Currency, &period, &issue, &due,
		&in.Net, &in.Tax, &in.Gross, &in.Prepaid, &in.Payable, &in.ItemsAmount, &in.EntryID, &in.Reason, &in.Origin, &in.Document}, extra...)...)
	in.Period, in.IssueDate, in.DueDate = civil.Date(period), civil.Date(issue), civil.Date(due)
	return err
}

// InvoiceByNumber reads an issued document by its number.
func InvoiceByNumber(ctx context.Context, q Querier, number string) (Invoice, bool, error) {
	return findInvoice(q.QueryRow(ctx, invoiceByNumberSQL, number), number)
}

// InvoiceByID reads an issued document by its id.
func InvoiceByID(ctx context.Context, q Querier, id int64) (Invoice, bool, error) {
	return findInvoice(q.QueryRow(ctx, invoiceByIDSQL, id), strconv.FormatInt(id, 10))
}

func findInvoice(row pgx.Row, what string) (Invoice, bool, error) {
	var in Invoice
	err := scanInvoice(row, &in)
	if errors.Is(err, pgx.ErrNoRows) {
		return in, false, nil
	}
	if err != nil {
		return in, false, fmt.Errorf("reading document %s: %w", what, err)
	}
	return in, true, nil
}

// ListedInvoice is an issued document with what is left of it: an
// invoice's open amount, a credit note's credit not applied.
type ListedInvoice struct {
	Invoice
	Left int64
}

// Invoices lists issued documents, of one reseller and period when set
// (period 0: every period).
func Invoices(ctx context.Context, q Querier, reseller string, period civil.Date) ([]ListedInvoice, error) {
	return collectAs(ctx, q, "listing the documents", listInvoicesSQL, func(r pgx.Row, li *ListedInvoice) error { return scanInvoice(r, &li.Invoice, &li.Left) },
		reseller, int32(period))
}

// DetailRow is one billed item of a document, with where it came from.
type DetailRow struct {
	Line                           int
	DeclarationID, CustomerID, SKU string
	ServiceMonth                   string
	Quantity                       int64
	UnitPrice                      string
	Amount, PublisherAmount        int64
	Kind                           string
	FileID                         int64
	FileName                       string
	FileLine                       int
}

// InvoiceDetail streams a document's items to each, by line.
func InvoiceDetail(ctx context.Context, q Querier, invoiceID int64, each func(DetailRow) error) error {
	var d DetailRow
	err := forEachRow(ctx, q, invoiceDetailSQL, []any{invoiceID}, []any{&d.Line, &d.DeclarationID, &d.CustomerID, &d.SKU, &d.ServiceMonth,
		&d.Quantity, &d.UnitPrice, &d.Amount, &d.PublisherAmount, &d.Kind, &d.FileID, &d.FileName, &d.FileLine}, func() error { return each(d) })
	if err != nil {
		return fmt.Errorf("reading the items of document %d: %w", invoiceID, err)
	}
	return nil
}

// Documents owed: the files jobs of issued documents that no instance has
// done yet (queued in the issuing transaction; a command killed before it
// wrote them leaves them there for serve, or for the next command).
const (
	owedDocumentsSQL = `
	SELECT id, (args->>'invoice_id')::bigint FROM river_job
	 WHERE kind = 'invoice_documents' AND state IN ('available', 'retryable', 'scheduled')
	 ORDER BY id LIMIT $1`
	completeOwedSQL = `
	UPDATE river_job SET state = 'completed', finalized_at = now()
	 WHERE kind = 'invoice_documents' AND (args->>'invoice_id')::bigint = $1 AND state IN ('available', 'retryable', 'scheduled')`
)

// ServeRunning tells whether a serve instance has beaten its heart within
// the last 15 s: it works the documents jobs, so a command leaves them to it.
func ServeRunning(ctx context.Context, q Querier) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM instances WHERE heartbeat_at > now() - interval '15 seconds')`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("looking for a running serve: %w", err)
	}
	return ok, nil
}

// OwedDocument is the job of an issued document whose files are not written.
type OwedDocument struct{ JobID, InvoiceID int64 }

// OwedDocuments lists up to limit documents whose files are owed.
func OwedDocuments(ctx context.Context, q Querier, limit int) ([]OwedDocument, error) {
	return collectAs(ctx, q, "reading the documents whose files are owed", owedDocumentsSQL, func(r pgx.Row, o *OwedDocument) error { return r.Scan(&o.JobID, &o.InvoiceID) }, limit)
}

// CompleteOwed marks the waiting files job of a document done (its files
// were written); a job an instance has taken meanwhile is left to it.
func CompleteOwed(ctx context.Context, q Querier, invoiceID int64) error {
	if _, err := q.Exec(ctx, completeOwedSQL, invoiceID); err != nil {
		return fmt.Errorf("completing the files job of document %d: %w", invoiceID, err)
	}
	return nil
}

// LineNumbers lists a document's line numbers.
func LineNumbers(ctx context.Context, q Querier, invoiceID int64) ([]int32, error) {
	return collectAs(ctx, q, fmt.Sprintf("reading the lines of document %d", invoiceID), `SELECT line_no FROM invoice_lines WHERE invoice_id = $1 ORDER BY line_no`,
		func(r pgx.Row, n *int32) error { return r.Scan(n) }, invoiceID)
}

// CreditedNet is the net of an invoice's lines of one VAT category and
// rate that credit notes have credited.
type CreditedNet struct {
	Invoice        int64
	Category, Rate string // the rate without trailing zeros ("20", "5.5")
	Net            int64
}

// CreditedNets sums, for each invoice given, what the credit notes issued
// so far credit of it, by VAT category and rate.
func CreditedNets(ctx context.Context, q Querier, invoiceIDs []int64) ([]CreditedNet, error) {
	return collectAs(ctx, q, "reading what was credited of the invoices", `
		SELECT l.credits_invoice, l.vat_category, trim_scale(l.vat_rate)::text, sum(l.net)::bigint
		  FROM invoice_lines l
		 WHERE l.credits_invoice = ANY($1)
		 GROUP BY 1, 2, 3`,
		func(r pgx.Row, c *CreditedNet) error { return r.Scan(&c.Invoice, &c.Category, &c.Rate, &c.Net) }, invoiceIDs)
}

// Settlement is credit applied to an invoice: by the credit note Credit
// (numbers), on a day.
type Settlement struct {
	Invoice, Credit string
	Amount          int64
	On              civil.Date
}

// LineCredit is how many of the items of an invoice's line a credit note
// credits.
type LineCredit struct {
	Line         int32
	CreditNote   string
	Items, OfAll int64
}

// DocumentSince is what happened to an issued document since: the credit
// applied to it or by it (settlements, oldest first) and, for an
// invoice, which credit notes credit its lines.
func DocumentSince(ctx context.Context, q Querier, id int64) ([]Settlement, []LineCredit, error) {
	settled, err := collectAs(ctx, q, fmt.Sprintf("reading the settlements of document %d", id), `
		SELECT i.number, c.number, s.amount, s.settled_at::date - DATE '1970-01-01'
		  FROM settlements s JOIN invoices i ON i.id = s.invoice_id JOIN invoices c ON c.id = s.credit_id
		 WHERE s.invoice_id = $1 OR s.credit_id = $1 ORDER BY s.id`,
		func(r pgx.Row, s *Settlement) error {
			var days int32
			if err := r.Scan(&s.Invoice, &s.Credit, &s.Amount, &days); err != nil {
				return err
			}
			s.On = civil.Date(days)
			return nil
		}, id)
	if err != nil {
		return nil, nil, err
	}
	credits, err := collectAs(ctx, q, fmt.Sprintf("reading the credits of document %d's lines", id), `
		SELECT i.line_no, c.number, count(*), (SELECT count(*) FROM invoice_items a WHERE a.invoice_id = $1 AND a.line_no = i.line_no)
		  FROM invoice_items i
		  JOIN invoice_items x ON x.reseller_id = i.reseller_id AND x.service_month = i.service_month
		                      AND x.declaration_id = i.declaration_id AND x.credit
		  JOIN invoices c ON c.id = x.invoice_id
		 WHERE i.invoice_id = $1 AND NOT i.credit
		 GROUP BY i.line_no, c.number ORDER BY i.line_no, c.number`,
		func(r pgx.Row, l *LineCredit) error { return r.Scan(&l.Line, &l.CreditNote, &l.Items, &l.OfAll) }, id)
	return settled, credits, err
}
