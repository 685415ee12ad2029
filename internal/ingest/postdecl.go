package ingest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/clearhouse/clearhouse/internal/declare"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/store"
)

// declColumns are the columns of COPY declarations, as declRow writes them.
const declColumns = `file_id, line, reseller_id, declaration_id, action, customer_id, customer_email, customer_name, country, language,
	sku, publisher_id, billing_model, quantity, start_date, end_date, price_valid_from, unit_price, currency, resale_price,
	subscription_ref, amount, publisher_amount, hub_amount, entry_id, unbilled_account, payable_account, revenue_account, sub_state`

const copyDeclarationsSQL = "COPY declarations (" + declColumns + ") FROM STDIN"

// declarations posts a declarations file: its rows are checked while the
// accepted ones are copied in (their customers spooled, their amounts
// totalled), then come the file's one journal entry, the subscriptions it
// terminates, its customers and its fulfillment outbox, one step each.
func (p *poster) declarations(ctx context.Context, req Request, f *os.File, catalog declare.Catalog, rep *problem.Report) (declare.Summary, bool, error) {
	accounts, err := p.accounts(ctx, catalog)
	if err != nil {
		return declare.Summary{}, false, err
	}
	entryID, err := ledger.NextID(ctx, store.New(p.tx))
	if err != nil {
		return declare.Summary{}, false, fmt.Errorf("numbering the entry of file %d: %w", p.fileID, err)
	}
	custs := newCustomerRows(p.s.tmpDir(), p.reseller.ID, p.fileID)
	defer custs.close()
	totals := newFileTotals()
	row := declRow{fileID: strconv.FormatInt(p.fileID, 10), reseller: p.reseller.ID, currency: string(p.reseller.Currency),
		entryID: entryID, accounts: accounts}
	sum, whole, err := p.copyChecked(ctx, copyDeclarationsSQL, req, f, catalog, rep, func(w *bufio.Writer) sinks {
		row.c = copyRow{w: w}
		n := 0
		return sinks{decl: func(d *declare.Decl) error {
			if n++; n == 2 {
				if err := p.s.fail("copy"); err != nil {
					return err
				}
			}
			row.write(d)
			custs.add(d)
			totals.Add(d)
			return nil
		}}
	})
	if whole || err != nil {
		return sum, whole, err
	}
	if err := p.stepDone("check+copy", "after-copy"); err != nil {
		return sum, false, err
	}
	for _, step := range []struct {
		stage, after string
		run          func(context.Context) error
	}{
		{"entry", "after-entry", func(ctx context.Context) error {
			return p.postEntry(ctx, req.Name, entryID, totals.postings(accounts, p.reseller.Currency))
		}},
		{"subscriptions", "after-subscriptions", func(ctx context.Context) error {
			return p.terminateSubscriptions(ctx, totals.terminations)
		}},
		{"customers", "after-customers", func(ctx context.Context) error { return p.writeCustomers(ctx, custs) }},
		{"outbox", "after-outbox", func(ctx context.Context) error { return p.queueFulfillment(ctx, totals.perPublisher) }},
	} {
		if err := step.run(ctx); err != nil {
			return sum, false, err
		}
		if err := p.stepDone(step.stage, step.after); err != nil {
			return sum, false, err
		}
	}
	return sum, false, nil
}

// stepDone logs the step that just ended, then runs the failure hook
// named after it.
func (p *poster) stepDone(stage, after string) error {
	p.stage(stage)
	return p.s.fail(after)
}

// fileAccounts are the ledger accounts a reseller's declarations post to.
type fileAccounts struct {
	unbilled, revenue int64
	payable           map[string]int64 // by publisher
}

// accounts finds (or opens) the accounts of the reseller's declarations:
// its unbilled account, the hub's revenue, and the payable account of each
// publisher in its catalog.
func (p *poster) accounts(ctx context.Context, catalog declare.Catalog) (fileAccounts, error) {
	r := p.reseller
	a := fileAccounts{payable: map[string]int64{}}
	var err error
	if a.unbilled, err = ledger.Account(ctx, store.New(p.tx), ledger.Unbilled(r.ID), r.Currency, r.ID); err != nil {
		return a, fmt.Errorf("opening the unbilled account of %s: %w", r.ID, err)
	}
	if a.revenue, err = ledger.Account(ctx, store.New(p.tx), ledger.HubRevenue, r.Currency, ""); err != nil {
		return a, fmt.Errorf("opening the hub's revenue account in %s: %w", r.Currency, err)
	}
	for _, it := range catalog {
		if _, ok := a.payable[it.PublisherID]; ok {
			continue
		}
		if a.payable[it.PublisherID], err = ledger.Account(ctx, store.New(p.tx), ledger.Payable(it.PublisherID), r.Currency, it.PublisherID); err != nil {
			return a, fmt.Errorf("opening the payable account of %s: %w", it.PublisherID, err)
		}
	}
	return a, nil
}

// declRow encodes accepted declarations as rows of COPY declarations
// (declColumns): the row's own fields, then what posting adds (the entry,
// the accounts, a new subscription's state).
type declRow struct {
	c                          copyRow
	fileID, reseller, currency string
	entryID                    int64
	accounts                   fileAccounts
}

func (e *declRow) write(d *declare.Decl) {
	c := &e.c
	c.begin()
	c.raw(e.fileID)
	c.int(int64(d.Line))
	c.text(e.reseller)
	c.text(d.DeclarationID)
	c.text(d.Action)
	c.text(d.CustomerID)
	c.textOrNull(d.Email)
	c.contact(d.Name, d.Country, d.Language)
	c.text(d.SKU)
	c.text(d.Item.PublisherID)
	c.text(d.Item.BillingModel)
	c.int(d.Quantity)
	c.date(d.Start)
	if d.HasEnd {
		c.date(d.End)
	} else {
		c.null()
	}
	if d.Version != nil {
		c.date(d.Version.From)
		c.dec(d.UnitPrice)
	} else {
		c.null()
		c.null()
	}
	c.text(e.currency)
	if d.HasResale {
		c.dec(d.ResalePrice)
	} else {
		c.null()
	}
	c.textOrNull(d.SubscriptionRef)
	c.int(d.Amount)
	c.int(d.PublisherAmount)
	c.int(d.HubAmount)
	c.int(e.entryID)
	c.int(e.accounts.unbilled)
	c.int(e.accounts.payable[d.Item.PublisherID])
	c.int(e.accounts.revenue)
	if d.Action == "NEW" && d.Item.BillingModel == "monthly" {
		c.text("active")
	} else {
		c.null()
	}
	c.end()
}

// customerRows spools the customers that a file's NEW rows name, for after
// the declarations' COPY: new customers to be copied in, known ones (and a
// customer's later rows) to be applied as updates.
type customerRows struct {
	reseller, fileID string
	inserts, updates *spool
}

func newCustomerRows(dir, reseller string, fileID int64) *customerRows {
	return &customerRows{reseller: reseller, fileID: strconv.FormatInt(fileID, 10), inserts: newSpool(dir), updates: newSpool(dir)}
}

func (c *customerRows) add(d *declare.Decl) {
	if d.Action != "NEW" {
		return
	}
	sp := c.updates
	if d.NewCustomer {
		sp = c.inserts
	}
	sp.n++
	sp.row.begin()
	sp.row.text(c.reseller)
	sp.row.text(d.CustomerID)
	sp.row.text(d.Email)
	sp.row.contact(d.Name, d.Country, d.Language)
	sp.row.raw(c.fileID)
	if d.NewCustomer {
		sp.row.raw(c.fileID)
	} else {
		sp.row.int(int64(d.Line))
	}
	sp.row.end()
}

func (c *customerRows) close() {
	c.inserts.close()
	c.updates.close()
}

// fileTotals sums a file's accepted declarations: what the reseller owes,
// and each publisher's part, activations and cancellations.
type fileTotals struct {
	amount       int64
	perPublisher map[string]*pubTotals
	terminations int
}

type pubTotals struct {
	amount                     int64
	activations, cancellations int
}

func newFileTotals() *fileTotals { return &fileTotals{perPublisher: map[string]*pubTotals{}} }

// Add counts an accepted declaration.
func (t *fileTotals) Add(d *declare.Decl) {
	t.amount += d.Amount
	pt := t.perPublisher[d.Item.PublisherID]
	if pt == nil {
		pt = &pubTotals{}
		t.perPublisher[d.Item.PublisherID] = pt
	}
	pt.amount += d.PublisherAmount
	switch d.Action {
	case "NEW":
		pt.activations++
	case "TERMINATE":
		pt.cancellations++
		t.terminations++
	}
}

// postings are the file's entry: a posting per account touched, summed over
// its rows; the hub's revenue is what the publishers do not get.
func (t *fileTotals) postings(a fileAccounts, cur money.Currency) []ledger.Posting {
	postings := []ledger.Posting{{AccountID: a.unbilled, Amount: t.amount, Currency: cur}}
	hub := t.amount
	for pub, pt := range t.perPublisher {
		postings = append(postings, ledger.Posting{AccountID: a.payable[pub], Amount: -pt.amount, Currency: cur})
		hub -= pt.amount
	}
	return append(postings, ledger.Posting{AccountID: a.revenue, Amount: -hub, Currency: cur})
}

// postEntry posts the file's one journal entry, numbered before the COPY
// so that every declaration row carries it.
func (p *poster) postEntry(ctx context.Context, name string, entryID int64, postings []ledger.Posting) error {
	e := &ledger.Entry{ID: entryID, Key: "declarations:file:" + strconv.FormatInt(p.fileID, 10), Kind: "declarations", FileID: p.fileID,
		Description: fmt.Sprintf("%s: %s", p.reseller.ID, name), Postings: postings}
	if _, _, err := ledger.Post(ctx, store.New(p.tx), e); err != nil {
		return fmt.Errorf("posting the entry of file %d: %w", p.fileID, err)
	}
	return nil
}

// terminateSubscriptions ends the subscriptions that the file's want
// TERMINATE rows refer to; every one must still be active.
func (p *poster) terminateSubscriptions(ctx context.Context, want int) error {
	if want == 0 {
		return nil
	}
	n, err := store.TerminateSubscriptions(ctx, p.tx, p.fileID)
	if err != nil {
		return err
	}
	if int(n) != want {
		return fmt.Errorf("terminating subscriptions: %d of %d found active", n, want)
	}
	return nil
}

const (
	copyNewCustomersSQL    = `COPY customers (reseller_id, customer_id, email, name, country, language, created_file_id, updated_file_id) FROM STDIN`
	copyCustomerUpdatesSQL = `COPY stage_customer_updates FROM STDIN`
)

// writeCustomers creates the file's new customers with one COPY and applies
// the rows of known customers as updates, the file's last row for a
// customer winning. The reseller lock keeps other writers of them out.
func (p *poster) writeCustomers(ctx context.Context, c *customerRows) error {
	if err := p.copyNewCustomers(ctx, c.inserts); err != nil {
		return fmt.Errorf("writing customers: %w", err)
	}
	if err := p.updateCustomers(ctx, c.updates); err != nil {
		return fmt.Errorf("writing customers: %w", err)
	}
	return nil
}

func (p *poster) copyNewCustomers(ctx context.Context, inserts *spool) error {
	if inserts.n == 0 {
		return nil
	}
	r, err := inserts.reader()
	if err != nil {
		return err
	}
	_, err = p.tx.Conn().PgConn().CopyFrom(ctx, r, copyNewCustomersSQL)
	return err
}

func (p *poster) updateCustomers(ctx context.Context, updates *spool) error {
	if updates.n == 0 {
		return nil
	}
	if err := store.CreateCustomerUpdates(ctx, p.tx); err != nil {
		return err
	}
	r, err := updates.reader()
	if err != nil {
		return err
	}
	if _, err := p.tx.Conn().PgConn().CopyFrom(ctx, r, copyCustomerUpdatesSQL); err != nil {
		return err
	}
	return store.ApplyCustomerUpdates(ctx, p.tx)
}

// queueFulfillment tells each publisher with activations or cancellations
// in the file, through the fulfillment outbox.
func (p *poster) queueFulfillment(ctx context.Context, perPublisher map[string]*pubTotals) error {
	for pub, pt := range perPublisher {
		if pt.activations+pt.cancellations == 0 {
			continue
		}
		if err := store.QueueFulfillment(ctx, p.tx, p.fileID, pub, pt.activations, pt.cancellations); err != nil {
			return err
		}
	}
	return nil
}
