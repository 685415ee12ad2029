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
}

const billingResellersSQL = `
	SELECT r.partner_id, p.name, r.currency, r.vat_treatment, r.vat_rate::text, r.vat_mention, r.payment_method,
	       coalesce(r.iban, ''), coalesce(r.bic, ''), coalesce(r.mandate_id, ''),
	       coalesce(r.mandate_signed_on - DATE '1970-01-01', 0), r.mandate_signed_on IS NOT NULL,
	       coalesce((SELECT array_agg(DISTINCT tax_category ORDER BY tax_category) FROM catalog_items i WHERE i.reseller_id = r.partner_id), '{}')
	  FROM resellers r JOIN partners p ON p.id = r.partner_id
	 WHERE $1 = '' OR r.partner_id = $1
	 ORDER BY r.partner_id COLLATE "C"`

// BillingResellers lists the resellers to bill (one when only is set), in
// byte order of their ids: the order numbers are taken in.
func BillingResellers(ctx context.Context, q Querier, only string) ([]BillingReseller, error) {
	return collectAs(ctx, q, "reading the resellers to bill", billingResellersSQL, func(r pgx.Row, b *BillingReseller) error {
		var signed int32
		err := r.Scan(&b.ID, &b.Name, &b.Currency, &b.VATTreatment, &b.VATRate, &b.VATMention, &b.PaymentMethod,
			&b.IBAN, &b.BIC, &b.MandateID, &signed, &b.HasMandate, &b.TaxCategories)
		b.MandateSignedOn = civil.Date(signed)
		return err
	}, only)
}

const (
	lockBillingSQL = `SELECT pg_advisory_xact_lock(hashtextextended('clearhouse:billing', 0))`
	lastBilledSQL  = `SELECT max(period) - DATE '1970-01-01' FROM billed_periods WHERE reseller_id = $1 AND currency = $2`
	// The first month with anything to bill: a subscription's start, a
	// sale's date.
	firstItemMonthSQL = `
		SELECT (date_trunc('month', min(start_date))::date) - DATE '1970-01-01' FROM declarations
		 WHERE reseller_id = $1 AND currency = $2 AND (sub_state IS NOT NULL OR (action IN ('NEW', 'USAGE') AND billing_model IN ('one_time', 'usage')))`
	insertBilledPeriodSQL = `
		INSERT INTO billed_periods (reseller_id, currency, period, invoice_id, credit_note_id, accrual_entry)
		VALUES ($1, $2, DATE '1970-01-01' + $3::int, nullif($4, 0), nullif($5, 0), nullif($6, 0))`
)

// LockBilling serialises issuing across instances and commands for the
// rest of tx: numbers are taken in issue order and a period is billed once.
func LockBilling(ctx context.Context, tx Tx) error {
	if _, err := tx.Exec(ctx, lockBillingSQL); err != nil {
		return fmt.Errorf("taking the billing lock: %w", err)
	}
	return nil
}

// LastBilledPeriod is the latest period billed for a reseller and
// currency (false: none yet).
func LastBilledPeriod(ctx context.Context, q Querier, reseller, currency string) (civil.Date, bool, error) {
	return maybeDate(ctx, q, lastBilledSQL, "the periods billed", reseller, currency)
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

// Staging. A run (or a manual credit) stages the items it bills in the
// transaction's bill_items table, groups them into lines, and writes them
// as invoice_items with their line numbers.
//
// The stage's statements run without JIT compilation (SET LOCAL, for the
// rest of the transaction): the planner cannot tell how many months a
// subscription's generate_series yields (it guesses 1,000), so a reseller's
// few thousand items look like millions of rows and PostgreSQL compiled
// the statement for about 1.4 s, each time, to run it in 0.04 s.
//
// The table lives as long as the connection and is emptied at every commit
// (and by ResetStage, with a DELETE): created and dropped in each
// transaction, it cost its catalog rows every time and, being a new table,
// made every prepared statement that reads it plan again.
const (
	createBillItemsSQL = `
	SET LOCAL jit = off;
	CREATE TEMP TABLE IF NOT EXISTS bill_items (
		kind text NOT NULL, credit boolean NOT NULL, declaration_id text NOT NULL, service_month date NOT NULL,
		quantity bigint NOT NULL, unit_price numeric(18,6), amount bigint, publisher_amount bigint,
		publisher_id text NOT NULL, sku text NOT NULL, billing_model text NOT NULL, price_valid_from date,
		period_start date NOT NULL, period_end date NOT NULL, vat_category text, vat_rate numeric(7,4),
		credited_invoice bigint, line_key text
	) ON COMMIT DELETE ROWS`
	emptyBillItemsSQL = `DELETE FROM bill_items`

	// Charges of one reseller and currency for period $3 (its first day;
	// $4 its last): every owed subscription-month up to it not charged
	// yet, priced by the version valid on the month's first day (the
	// start date in the start month), and every posted one_time or usage
	// declaration dated up to its end not charged yet. The VAT category
	// and rate of each tax category are $6, $7, $8; $5 is 10^digits of the
	// currency. The amount is computed once per item (OFFSET 0 keeps the
	// planner from pulling the subquery up, which repeats its inlined
	// rounding in every expression that names it).
	stageChargesSQL = `
	WITH vat AS (SELECT * FROM unnest($6::text[], $7::text[], $8::numeric[]) AS t(tax_category, vat_category, vat_rate))
	INSERT INTO bill_items (kind, credit, declaration_id, service_month, quantity, unit_price, amount, publisher_amount,
	                        publisher_id, sku, billing_model, price_valid_from, period_start, period_end, vat_category, vat_rate)
	SELECT 'fee', false, d.declaration_id, m.month, d.quantity, v.buy_price, a.amount,
	       least(a.amount, CASE WHEN v.share_kind = 'percent' THEN round_half_even(a.amount * v.share_value / 100)
	                            ELSE round_half_even(d.quantity * v.share_value * $5) END),
	       d.publisher_id, d.sku, 'monthly', v.valid_from, m.month, (m.month + interval '1 month' - interval '1 day')::date,
	       vat.vat_category, vat.vat_rate
	  FROM declarations d
	 CROSS JOIN LATERAL (SELECT g::date AS month FROM generate_series(date_trunc('month', d.start_date),
	                     least($3::date, date_trunc('month', coalesce(d.sub_end_date, $3::date))), interval '1 month') AS g) m
	  LEFT JOIN LATERAL (SELECT pv.valid_from, pv.buy_price, pv.share_kind, pv.share_value FROM price_versions pv
	                      WHERE pv.reseller_id = d.reseller_id AND pv.sku = d.sku
	                        AND pv.valid_from <= greatest(m.month, d.start_date)
	                        AND (pv.valid_to IS NULL OR pv.valid_to >= greatest(m.month, d.start_date))
	                      ORDER BY pv.valid_from DESC LIMIT 1) v ON true
	 CROSS JOIN LATERAL (SELECT round_half_even(d.quantity * v.buy_price * $5) AS amount OFFSET 0) a
	  LEFT JOIN catalog_items ci ON ci.reseller_id = d.reseller_id AND ci.sku = d.sku
	  LEFT JOIN vat ON vat.tax_category = ci.tax_category
	 WHERE d.reseller_id = $1 AND d.currency = $2 AND d.sub_state IS NOT NULL AND d.start_date <= $4::date
	   AND NOT EXISTS (SELECT 1 FROM invoice_items i WHERE i.reseller_id = d.reseller_id AND i.declaration_id = d.declaration_id
	                      AND i.service_month = m.month AND NOT i.credit)
	UNION ALL
	SELECT 'sale', false, d.declaration_id, date_trunc('month', d.start_date)::date, d.quantity, d.unit_price, d.amount, d.publisher_amount,
	       d.publisher_id, d.sku, d.billing_model, coalesce(d.price_valid_from, d.start_date), d.start_date,
	       CASE WHEN d.billing_model = 'usage' THEN greatest(d.start_date, coalesce(d.end_date, d.start_date)) ELSE d.start_date END,
	       vat.vat_category, vat.vat_rate
	  FROM declarations d
	  LEFT JOIN catalog_items ci ON ci.reseller_id = d.reseller_id AND ci.sku = d.sku
	  LEFT JOIN vat ON vat.tax_category = ci.tax_category
	 WHERE d.reseller_id = $1 AND d.currency = $2 AND d.action IN ('NEW', 'USAGE') AND d.billing_model IN ('one_time', 'usage')
	   AND d.start_date <= $4::date
	   AND NOT EXISTS (SELECT 1 FROM invoice_items i WHERE i.reseller_id = d.reseller_id AND i.declaration_id = d.declaration_id
	                      AND i.service_month = date_trunc('month', d.start_date)::date AND NOT i.credit)`

	// Credits of a run: subscription-months charged that a termination
	// received later made not owed (the months after the one of its end
	// date), not credited yet, at the amounts and VAT of their invoice.
	stageRunCreditsSQL = `
	INSERT INTO bill_items (kind, credit, declaration_id, service_month, quantity, unit_price, amount, publisher_amount,
	                        publisher_id, sku, billing_model, price_valid_from, period_start, period_end, vat_category, vat_rate, credited_invoice)
	SELECT 'credit', true, i.declaration_id, i.service_month, i.quantity, i.unit_price, i.amount, i.publisher_amount,
	       i.publisher_id, l.sku, l.billing_model, i.price_valid_from, i.service_month, (i.service_month + interval '1 month' - interval '1 day')::date,
	       l.vat_category, l.vat_rate, i.invoice_id
	  FROM declarations d
	  JOIN invoice_items i ON i.reseller_id = d.reseller_id AND i.declaration_id = d.declaration_id AND i.kind = 'fee'
	  JOIN invoice_lines l ON l.invoice_id = i.invoice_id AND l.line_no = i.line_no
	  JOIN invoices inv ON inv.id = i.invoice_id
	 WHERE d.reseller_id = $1 AND d.currency = $2 AND d.sub_state IS NOT NULL AND d.sub_end_date IS NOT NULL
	   AND i.service_month > date_trunc('month', d.sub_end_date)
	   AND NOT EXISTS (SELECT 1 FROM invoice_items c WHERE c.reseller_id = i.reseller_id AND c.declaration_id = i.declaration_id
	                      AND c.service_month = i.service_month AND c.credit)`

	// Credits of chosen lines of one invoice (all when $2 is empty): its
	// charged items not credited yet.
	stageLineCreditsSQL = `
	INSERT INTO bill_items (kind, credit, declaration_id, service_month, quantity, unit_price, amount, publisher_amount,
	                        publisher_id, sku, billing_model, price_valid_from, period_start, period_end, vat_category, vat_rate, credited_invoice)
	SELECT 'credit', true, i.declaration_id, i.service_month, i.quantity, i.unit_price, i.amount, i.publisher_amount,
	       i.publisher_id, l.sku, l.billing_model, i.price_valid_from, l.period_start, l.period_end, l.vat_category, l.vat_rate, i.invoice_id
	  FROM invoice_items i JOIN invoice_lines l ON l.invoice_id = i.invoice_id AND l.line_no = i.line_no
	 WHERE i.invoice_id = $1 AND NOT i.credit AND (cardinality($2::int[]) = 0 OR i.line_no = ANY($2))
	   AND NOT EXISTS (SELECT 1 FROM invoice_items c WHERE c.reseller_id = i.reseller_id AND c.declaration_id = i.declaration_id
	                      AND c.service_month = i.service_month AND c.credit)`

	unpricedSQL = `
	SELECT declaration_id, sku, service_month::text, coalesce(vat_category, '') FROM bill_items
	 WHERE unit_price IS NULL OR vat_category IS NULL ORDER BY declaration_id, service_month LIMIT 20`

	// A line groups items by everything a line shows: charge or credit
	// (and the invoice credited), SKU, billing model, publisher, unit
	// price, service month, VAT.
	keyLinesSQL = `
	UPDATE bill_items SET line_key = concat_ws('|', credit::int, coalesce(credited_invoice, 0), sku, billing_model, publisher_id,
	                                          unit_price::text, service_month::text, vat_category, vat_rate::text)`
	// The credited invoice of a line is read by its id once the items are
	// grouped (a lateral subquery kept as one): joined to every item, the
	// planner hashed the whole invoices table for each reseller, a cost
	// that grew with every month billed.
	stagedLinesSQL = `
	SELECT l.line_key, l.credit, coalesce(l.credited_invoice, 0), coalesce(inv.number, ''), l.sku, coalesce(ci.name, l.sku), l.publisher_id,
	       l.billing_model, l.unit_price::text, l.service_month - DATE '1970-01-01', l.vat_category, l.vat_rate::text,
	       l.quantity, l.amount, l.share, l.period_start - DATE '1970-01-01', l.period_end - DATE '1970-01-01', l.items,
	       coalesce(inv.issue_date - DATE '1970-01-01', 0)
	  FROM (SELECT line_key, credit, credited_invoice, sku, publisher_id, billing_model, unit_price, service_month, vat_category, vat_rate,
	               sum(quantity)::bigint AS quantity, sum(amount)::bigint AS amount, sum(publisher_amount)::bigint AS share,
	               min(period_start) AS period_start, max(period_end) AS period_end, count(*)::int AS items
	          FROM bill_items
	         GROUP BY line_key, credit, credited_invoice, sku, publisher_id, billing_model, unit_price, service_month, vat_category, vat_rate) l
	  LEFT JOIN catalog_items ci ON ci.reseller_id = $1 AND ci.sku = l.sku
	  LEFT JOIN LATERAL (SELECT number, issue_date FROM invoices WHERE id = l.credited_invoice OFFSET 0) inv ON true
	 ORDER BY l.credit, inv.number NULLS FIRST, l.service_month, l.sku COLLATE "C", l.unit_price`
	stagedPublishersSQL = `
	SELECT kind, publisher_id, sum(amount)::bigint, sum(publisher_amount)::bigint FROM bill_items
	 GROUP BY kind, publisher_id ORDER BY kind, publisher_id COLLATE "C"`
	writeItemsSQL = `
	INSERT INTO invoice_items (invoice_id, line_no, reseller_id, declaration_id, service_month, credit, kind, quantity, unit_price,
	                           amount, publisher_amount, publisher_id, price_valid_from, credited_invoice)
	SELECT $1, k.line_no, $2, b.declaration_id, b.service_month, b.credit, b.kind, b.quantity, b.unit_price,
	       b.amount, b.publisher_amount, b.publisher_id, b.price_valid_from, b.credited_invoice
	  FROM bill_items b JOIN unnest($3::text[], $4::int[]) AS k(line_key, line_no) ON k.line_key = b.line_key`
)

// StageCharges stages what a run charges a reseller for period (the
// first day of the month; last its last day). vat maps each tax category
// of the reseller's catalog to its VAT category and rate. exp10 is 10 to
// the currency's digits.
func StageCharges(ctx context.Context, tx Tx, reseller, currency string, period, last civil.Date, exp10 int64, vat map[string][2]string) (int64, error) {
	if err := createBillItems(ctx, tx); err != nil {
		return 0, err
	}
	var cats, vcats, rates []string
	for c, v := range vat {
		cats, vcats, rates = append(cats, c), append(vcats, v[0]), append(rates, v[1])
	}
	tag, err := tx.Exec(ctx, stageChargesSQL, reseller, currency, period.String(), last.String(), exp10, cats, vcats, rates)
	if err != nil {
		return 0, fmt.Errorf("staging the charges of %s for %s: %w", reseller, period, err)
	}
	return tag.RowsAffected(), nil
}

// StageRunCredits stages the credits a run issues for a reseller.
func StageRunCredits(ctx context.Context, tx Tx, reseller, currency string) (int64, error) {
	if err := createBillItems(ctx, tx); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, stageRunCreditsSQL, reseller, currency)
	if err != nil {
		return 0, fmt.Errorf("staging the credits of %s: %w", reseller, err)
	}
	return tag.RowsAffected(), nil
}

// StageLineCredits stages the credit of lines of an invoice (every line
// when lines is empty).
func StageLineCredits(ctx context.Context, tx Tx, invoiceID int64, lines []int32) (int64, error) {
	if err := createBillItems(ctx, tx); err != nil {
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

func createBillItems(ctx context.Context, tx Tx) error {
	if _, err := tx.Exec(ctx, createBillItemsSQL); err != nil {
		return fmt.Errorf("making the billing stage: %w", err)
	}
	return nil
}

// ResetStage empties the stage (a dry run of several periods reuses it):
// a DELETE, as TRUNCATE would make a new file and invalidate the plans.
func ResetStage(ctx context.Context, tx Tx) error {
	if err := createBillItems(ctx, tx); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, emptyBillItemsSQL)
	return err
}

// Unpriced is a staged item without a price or a VAT category.
type Unpriced struct{ DeclarationID, SKU, Month, VATCategory string }

// UnpricedItems lists (up to 20) staged items that have no price version
// valid on their date, or a tax category the VAT map does not know.
func UnpricedItems(ctx context.Context, tx Tx) ([]Unpriced, error) {
	return collectAs(ctx, tx, "checking the staged prices", unpricedSQL, func(r pgx.Row, u *Unpriced) error {
		return r.Scan(&u.DeclarationID, &u.SKU, &u.Month, &u.VATCategory)
	})
}

// StagedLine is one line of the staged items.
type StagedLine struct {
	Key                         string
	Credit                      bool
	CreditedInvoice             int64
	CreditedNumber              string
	SKU, Name, Publisher, Model string
	UnitPrice                   string
	ServiceMonth                civil.Date
	VATCategory, VATRate        string
	Quantity, Amount, Share     int64
	CreditedIssue               civil.Date // the credited invoice's issue date
	PeriodStart, PeriodEnd      civil.Date
	Items                       int
}

// StagedLines groups the staged items into lines: charges first, then
// credits by the invoice they credit; by service month, SKU and price.
func StagedLines(ctx context.Context, tx Tx, reseller string) ([]StagedLine, error) {
	if _, err := tx.Exec(ctx, keyLinesSQL); err != nil {
		return nil, fmt.Errorf("grouping the staged items: %w", err)
	}
	return collectAs(ctx, tx, "grouping the staged items", stagedLinesSQL, func(r pgx.Row, l *StagedLine) error {
		var month, from, to, issued int32
		err := r.Scan(&l.Key, &l.Credit, &l.CreditedInvoice, &l.CreditedNumber, &l.SKU, &l.Name, &l.Publisher, &l.Model, &l.UnitPrice,
			&month, &l.VATCategory, &l.VATRate, &l.Quantity, &l.Amount, &l.Share, &from, &to, &l.Items, &issued)
		l.CreditedIssue = civil.Date(issued)
		l.ServiceMonth, l.PeriodStart, l.PeriodEnd = civil.Date(month), civil.Date(from), civil.Date(to)
		return err
	}, reseller)
}

// StagedPublisher is what the staged items of a kind owe one publisher.
type StagedPublisher struct {
	Kind, Publisher string
	Amount, Share   int64
}

// StagedPublishers sums the staged items by kind and publisher: the
// postings of the accrual and of a credit note.
func StagedPublishers(ctx context.Context, tx Tx) ([]StagedPublisher, error) {
	return collectAs(ctx, tx, "summing the staged items", stagedPublishersSQL, func(r pgx.Row, p *StagedPublisher) error {
		return r.Scan(&p.Kind, &p.Publisher, &p.Amount, &p.Share)
	})
}

// WriteItems writes the staged items of the lines keyed as keys (numbered
// lineNos) as invoice invoiceID's items.
func WriteItems(ctx context.Context, tx Tx, invoiceID int64, reseller string, keys []string, lineNos []int32) (int64, error) {
	tag, err := tx.Exec(ctx, writeItemsSQL, invoiceID, reseller, keys, lineNos)
	if err != nil {
		return 0, fmt.Errorf("writing the items of invoice %d: %w", invoiceID, translate(err, billingConstraints))
	}
	return tag.RowsAffected(), nil
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

// InsertLines writes a document's lines.
func InsertLines(ctx context.Context, tx Tx, invoiceID int64, lines []InvoiceLine) error {
	rows := make([][]any, len(lines))
	for i, l := range lines {
		var credits *int64
		if l.CreditsInvoice != 0 {
			credits = &l.CreditsInvoice
		}
		rows[i] = []any{invoiceID, l.No, l.SKU, l.Name, l.Publisher, l.Model, l.ServiceMonth.String(), l.Quantity, l.UnitPrice,
			l.Net, l.ItemsAmount, l.PublisherAmount, l.VATCategory, l.VATRate, l.PeriodStart.String(), l.PeriodEnd.String(), credits, l.Items}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"invoice_lines"}, []string{"invoice_id", "line_no", "sku", "name", "publisher_id",
		"billing_model", "service_month", "quantity", "unit_price", "net", "items_amount", "publisher_amount", "vat_category",
		"vat_rate", "period_start", "period_end", "credits_invoice", "items"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("writing the lines of invoice %d: %w", invoiceID, err)
	}
	return nil
}

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
