package ledger

import (
	"context"
	"fmt"
)

// Violation is one broken invariant.
type Violation struct {
	Check  string
	Detail string
}

func (v Violation) String() string { return v.Check + ": " + v.Detail }

// invariant is a query that returns one text row per violation: the
// sentence it proves, and the SQL that store runs for it.
type invariant struct {
	name, sql string
}

var invariants = []invariant{
	{"entry balanced per currency", `
		SELECT format('entry %s is off by %s %s', entry_id, sum(amount), currency)
		  FROM postings GROUP BY entry_id, currency HAVING sum(amount) <> 0`},
	{"account balance equals its postings", `
		SELECT format('account %s %s: balance %s, postings sum to %s', a.code, a.currency, a.balance, coalesce(p.total, 0))
		  FROM accounts a LEFT JOIN (SELECT account_id, sum(amount) AS total FROM postings GROUP BY account_id) p ON p.account_id = a.id
		 WHERE a.balance <> coalesce(p.total, 0)`},
	{"posting currency is the account's", `
		SELECT format('entry %s posts %s to account %s kept in %s', p.entry_id, p.currency, a.code, a.currency)
		  FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.currency <> a.currency`},
	{"declaration detail sums to its entry's postings", `
		WITH detail AS (
			SELECT entry_id, unbilled_account AS account_id, sum(amount) AS amount FROM declarations WHERE amount <> 0 GROUP BY 1, 2
			UNION ALL
			SELECT entry_id, payable_account, -sum(publisher_amount) FROM declarations WHERE publisher_amount <> 0 GROUP BY 1, 2
			UNION ALL
			SELECT entry_id, revenue_account, -sum(hub_amount) FROM declarations WHERE hub_amount <> 0 GROUP BY 1, 2
		), d AS (SELECT entry_id, account_id, sum(amount) AS amount FROM detail GROUP BY 1, 2),
		p AS (SELECT p.entry_id, p.account_id, p.amount FROM postings p JOIN journal_entries e ON e.id = p.entry_id WHERE e.kind = 'declarations')
		SELECT format('entry %s account %s: detail %s, posting %s', entry_id, account_id, coalesce(d.amount::text, 'none'), coalesce(p.amount::text, 'none'))
		  FROM d FULL JOIN p USING (entry_id, account_id) WHERE d.amount IS DISTINCT FROM p.amount`},
	{"declaration belongs to a posted file and its entry", `
		SELECT format('declaration %s (file %s line %s): entry %s, file state %s', d.declaration_id, d.file_id, d.line, d.entry_id, coalesce(f.state, 'missing'))
		  FROM declarations d LEFT JOIN files f ON f.id = d.file_id LEFT JOIN journal_entries e ON e.id = d.entry_id
		 WHERE f.state IS DISTINCT FROM 'posted' OR e.file_id IS DISTINCT FROM d.file_id`},
	{"declaration lines are unique per file", `
		SELECT format('file %s line %s holds %s declarations', file_id, line, count(*))
		  FROM declarations GROUP BY file_id, line HAVING count(*) > 1`},
	{"customer belongs to a configured reseller", `
		SELECT format('customer %s of unknown reseller %s', c.customer_id, c.reseller_id)
		  FROM customers c LEFT JOIN resellers r ON r.partner_id = c.reseller_id WHERE r.partner_id IS NULL`},
	{"file totals equal its declarations", `
		SELECT format('file %s: amount_total %s, declarations sum to %s; rows_accepted %s, declarations %s', f.id, f.amount_total, coalesce(d.total, 0), f.rows_accepted, coalesce(d.n, 0))
		  FROM files f LEFT JOIN (SELECT file_id, sum(amount) AS total, count(*) AS n FROM declarations GROUP BY file_id) d ON d.file_id = f.id
		 WHERE f.kind = 'declarations' AND f.state = 'posted' AND (f.amount_total <> coalesce(d.total, 0) OR f.rows_accepted <> coalesce(d.n, 0))`},
	// Billing (DESIGN §7): documents, their lines, items and entries.
	{"document totals are its lines' sums", `
		SELECT format('%s %s: net %s, tax %s, items %s; its lines sum to net %s, items %s; its document says net %s, payable %s',
		              i.doc_type, i.number, i.net, i.tax, i.items_amount, coalesce(l.net, 0), coalesce(l.items, 0),
		              i.document->'totals'->>'tax_exclusive', i.document->'totals'->>'payable')
		  FROM invoices i LEFT JOIN (SELECT invoice_id, sum(net) AS net, sum(items_amount) AS items FROM invoice_lines GROUP BY 1) l ON l.invoice_id = i.id
		 WHERE i.net <> coalesce(l.net, 0) OR i.items_amount <> coalesce(l.items, 0)
		    OR (i.document->'totals'->>'tax_exclusive')::bigint <> i.net OR (i.document->'totals'->>'payable')::bigint <> i.payable
		    OR (i.document->>'number') <> i.number`},
	{"every invoiced item belongs to one line, which sums its items", `
		SELECT format('document %s line %s: quantity %s, items amount %s, share %s, %s items; its items sum to %s, %s, %s, %s',
		              invoice_id, line_no, coalesce(l.quantity::text, 'none (no such line)'), l.items_amount, l.publisher_amount, l.items,
		              coalesce(it.q, 0), coalesce(it.a, 0), coalesce(it.p, 0), coalesce(it.n, 0))
		  FROM invoice_lines l FULL JOIN (SELECT invoice_id, line_no, sum(quantity) AS q, sum(amount) AS a, sum(publisher_amount) AS p, count(*) AS n
		                                   FROM invoice_items GROUP BY 1, 2) it USING (invoice_id, line_no)
		 WHERE (l.quantity, l.items_amount, l.publisher_amount, l.items::bigint) IS DISTINCT FROM (it.q, it.a, it.p, it.n)`},
	// A run bills every owed month of every subscription it sees, up to its
	// period: a subscription's charged months follow each other from its
	// start month (what the next run bills is worked out from it).
	{"a subscription's charged months follow each other from its start month", `
		SELECT format('subscription %s of %s started in %s; %s months are charged, from %s to %s', f.declaration_id, f.reseller_id,
		              to_char(d.start_date, 'YYYY-MM'), f.n, to_char(f.first, 'YYYY-MM'), to_char(f.last, 'YYYY-MM'))
		  FROM (SELECT reseller_id, declaration_id, count(*) AS n, min(service_month) AS first, max(service_month) AS last
		          FROM invoice_items WHERE kind = 'fee' GROUP BY 1, 2) f
		  JOIN declarations d ON d.reseller_id = f.reseller_id AND d.declaration_id = f.declaration_id
		 WHERE f.first <> date_trunc('month', d.start_date)
		    OR f.n <> (extract(year FROM f.last) * 12 + extract(month FROM f.last)) - (extract(year FROM f.first) * 12 + extract(month FROM f.first)) + 1`},
	{"an invoiced item is a declaration of its reseller", `
		SELECT format('document %s line %s bills %s of %s, which is not a declaration of that reseller', i.invoice_id, i.line_no, i.declaration_id, i.reseller_id)
		  FROM invoice_items i JOIN invoices v ON v.id = i.invoice_id
		  LEFT JOIN declarations d ON d.reseller_id = i.reseller_id AND d.declaration_id = i.declaration_id
		 WHERE d.declaration_id IS NULL OR v.reseller_id <> i.reseller_id`},
	{"a document's entry posts its totals", `
		SELECT format('%s %s: entry %s posts %s to receivable and %s to VAT; the document is %s with VAT %s',
		              i.doc_type, i.number, i.entry_id, coalesce(r.amount, 0), coalesce(v.amount, 0), i.gross, i.tax)
		  FROM invoices i
		  JOIN accounts ra ON ra.code = 'reseller:' || i.reseller_id || ':receivable' AND ra.currency = i.currency
		  JOIN accounts va ON va.code = 'tax:vat_collected' AND va.currency = i.currency
		  LEFT JOIN postings r ON r.entry_id = i.entry_id AND r.account_id = ra.id
		  LEFT JOIN postings v ON v.entry_id = i.entry_id AND v.account_id = va.id
		 WHERE coalesce(r.amount, 0) <> CASE WHEN i.doc_type = 'invoice' THEN i.gross ELSE -i.gross END
		    OR coalesce(v.amount, 0) <> CASE WHEN i.doc_type = 'invoice' THEN -i.tax ELSE i.tax END`},
	{"unbilled is what is posted and not invoiced", `
		WITH pending AS (
			SELECT d.reseller_id, d.currency, sum(d.amount) AS amount FROM declarations d
			 WHERE d.amount <> 0 AND NOT EXISTS (SELECT 1 FROM invoice_items i WHERE i.reseller_id = d.reseller_id
			                                       AND i.service_month = date_trunc('month', d.start_date)::date
			                                       AND i.declaration_id = d.declaration_id AND i.kind = 'sale')
			 GROUP BY 1, 2)
		SELECT format('%s %s: unbilled balance %s, declarations posted and not invoiced %s', a.code, a.currency, a.balance, coalesce(p.amount, 0))
		  FROM accounts a LEFT JOIN pending p ON p.reseller_id = a.partner_id AND p.currency = a.currency
		 WHERE a.code = 'reseller:' || a.partner_id || ':unbilled' AND a.balance <> coalesce(p.amount, 0)`},
	{"credit applied never exceeds a document", `
		SELECT format('%s %s: %s applied of %s', i.doc_type, i.number, s.total, i.gross)
		  FROM invoices i JOIN (SELECT invoice_id AS id, sum(amount) AS total FROM settlements GROUP BY 1
		                        UNION ALL SELECT credit_id, sum(amount) FROM settlements GROUP BY 1) s ON s.id = i.id
		 WHERE s.total > i.gross`},
	{"a run's document belongs to its billed period, and periods follow each other", `
		SELECT format('%s %s of %s for %s: its billed period is %s', i.doc_type, i.number, i.reseller_id, to_char(i.period, 'YYYY-MM'),
		              coalesce('linked to ' || coalesce(b.invoice_id, 0) || '/' || coalesce(b.credit_note_id, 0), 'missing'))
		  FROM invoices i LEFT JOIN billed_periods b ON b.reseller_id = i.reseller_id AND b.currency = i.currency AND b.period = i.period
		 WHERE i.origin = 'run' AND (b.period IS NULL OR i.id NOT IN (coalesce(b.invoice_id, 0), coalesce(b.credit_note_id, 0)))
		UNION ALL
		SELECT format('%s %s: billed %s but not the month before', reseller_id, currency, to_char(period, 'YYYY-MM'))
		  FROM (SELECT reseller_id, currency, period, lag(period) OVER (PARTITION BY reseller_id, currency ORDER BY period) AS prev
		          FROM billed_periods) p
		 WHERE prev IS NOT NULL AND prev <> (period - interval '1 month')::date`},
	{"numbers are gapless per type and year", `
		SELECT format('%s %s: %s documents numbered up to %s (counter at %s)', doc_type, year, count(*), max(seq),
		              (SELECT last FROM document_counters c WHERE c.doc_type = i.doc_type AND c.year = i.year))
		  FROM invoices i GROUP BY doc_type, year
		HAVING count(*) <> max(seq) OR max(seq) <> (SELECT last FROM document_counters c WHERE c.doc_type = i.doc_type AND c.year = i.year)`},
}

// Invariants is what Check needs from the database.
type Invariants interface {
	// Violations runs one invariant's query and returns at most limit of
	// its rows.
	Violations(ctx context.Context, invariant string, limit int) ([]string, error)
}

// Check verifies every invariant and returns the violations (at most 100 per check).
func Check(ctx context.Context, db Invariants) ([]Violation, error) {
	var out []Violation
	for _, inv := range invariants {
		details, err := db.Violations(ctx, inv.sql, 100)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", inv.name, err)
		}
		for _, d := range details {
			out = append(out, Violation{inv.name, d})
		}
	}
	return out, nil
}
