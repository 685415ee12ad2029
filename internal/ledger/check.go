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
