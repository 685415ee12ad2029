package declare

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/bits"
	"strconv"

	"github.com/govalues/decimal"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// Problem codes of declaration checks (see schemas/problems.yaml).
const (
	CodeNotEligible          problem.Code = "RESELLER_NOT_ELIGIBLE"
	CodeEmptyFile            problem.Code = "EMPTY_FILE"
	CodeNoRows               problem.Code = "NO_DATA_ROWS"
	CodeUnknownSKU           problem.Code = "UNKNOWN_SKU"
	CodeNoPrice              problem.Code = "NO_PRICE_ON_DATE"
	CodePriceMismatch        problem.Code = "PRICE_MISMATCH"
	CodeCurrencyMismatch     problem.Code = "CURRENCY_MISMATCH"
	CodeActionNotAllowed     problem.Code = "ACTION_NOT_ALLOWED"
	CodeEndBeforeStart       problem.Code = "END_BEFORE_START"
	CodeDuplicateInFile      problem.Code = "DUPLICATE_IN_FILE"
	CodeDuplicateDeclaration problem.Code = "DUPLICATE_DECLARATION"
	CodeSubscriptionNotFound problem.Code = "SUBSCRIPTION_NOT_FOUND"
	CodeSubscriptionInactive problem.Code = "SUBSCRIPTION_NOT_ACTIVE"
	CodeSubscriptionMismatch problem.Code = "SUBSCRIPTION_MISMATCH"
	CodeCustomerUnknown      problem.Code = "CUSTOMER_UNKNOWN"
	CodeCreditLimit          problem.Code = "CREDIT_LIMIT_EXCEEDED"
	CodeAmountTooLarge       problem.Code = "AMOUNT_TOO_LARGE"
)

// Sentinel causes.
var (
	ErrNotEligible   = errors.New("reseller not OEM-eligible")
	ErrUnknownSKU    = errors.New("unknown SKU")
	ErrNoPrice       = errors.New("no price on date")
	ErrMismatch      = errors.New("value differs from the catalog")
	ErrNotAllowed    = errors.New("action not allowed for this item")
	ErrDuplicate     = errors.New("duplicate declaration")
	ErrSubscription  = errors.New("subscription problem")
	ErrCustomer      = errors.New("unknown customer")
	ErrCreditLimit   = errors.New("credit limit exceeded")
	ErrEmpty         = errors.New("no data")
	ErrDateOrder     = errors.New("end before start")
	ErrAmountTooHigh = errors.New("amount too large")
)

// Decl is a checked declaration, ready to post. Strings are owned.
type Decl struct {
	Line            int
	DeclarationID   string
	Action          string
	CustomerID      string
	Email           string
	Name            string
	Country         string
	Language        string
	SKU             string
	Item            *Item
	Version         *Version // nil for TERMINATE
	Quantity        int64
	Start, End      civil.Date
	HasEnd          bool
	UnitPrice       decimal.Decimal
	ResalePrice     decimal.Decimal
	HasResale       bool
	SubscriptionRef string
	// FirstMonth is a new subscription's monthly fee: what it adds to the
	// credit exposure of the file being checked.
	FirstMonth int64
	// NewCustomer is set on the first NEW row of a customer the reseller
	// never declared before: the customer is to be created, not updated.
	NewCustomer bool
	// Amount is what the reseller owes for this row now (0 for NEW monthly,
	// whose fees accrue at billing, and for TERMINATE).
	Amount, PublisherAmount, HubAmount int64
}

// Prior is what history knows of a declaration id.
type Prior struct {
	Action       string
	SKU          string
	CustomerID   string
	BillingModel string
	SubState     string
	Start        civil.Date
}

// Range is the smallest and largest id a reseller used, in byte order; an
// id outside it was never used. Empty means no id at all.
type Range struct{ Min, Max string }

// Holds reports whether id may have been used.
func (r Range) Holds(id string) bool { return r.Min != "" && id >= r.Min && id <= r.Max }

// Echo takes what a rejects file may repeat back to the sender: the header
// as sent, then every row, in file order (fields nil for a row the reader
// could not split), so that the file is read once for its check and its
// rejects. The strings may be kept, the slice not.
type Echo interface {
	Header(line int, fields []string)
	Row(line int, fields []string)
}

// History answers for earlier, committed files of the reseller.
type History interface {
	// Ranges returns the ranges of the reseller's declaration and customer ids.
	Ranges(ctx context.Context, reseller string) (declarations, customers Range, err error)
	// Declarations returns the known ids among ids.
	Declarations(ctx context.Context, reseller string, ids []string) (map[string]Prior, error)
	// Customers returns the known customer ids among ids.
	Customers(ctx context.Context, reseller string, ids []string) (map[string]bool, error)
}

// Summary counts what a check saw.
type Summary struct {
	Rows, Accepted, Rejected int
	Amount                   int64
}

// Checker validates a declarations file in file order.
type Checker struct {
	Reseller *Reseller
	Catalog  Catalog
	History  History
	Report   *problem.Report
	// Accept receives each accepted declaration in file order.
	Accept func(*Decl) error
	// Echo, when set, receives the header as sent and every row, in file
	// order, for the rejects file.
	Echo Echo
	// BatchSize is the number of rows that travel through the stages
	// together and are looked up in history at once (0: 512, so that a
	// batch's rows stay in a core's cache between stages).
	BatchSize int
	// ExpectedRows sizes the in-file sets up front (0: grow as needed).
	ExpectedRows int
	// Repeats, from Prescan, say which ids the checker remembers and when
	// it forgets them; nil: it remembers every id of the file to its end.
	Repeats *Repeats
	// Workers is the number of goroutines running the checks a row needs
	// alone and the history look-ups (0: one per CPU, at most 4). History
	// is called from all of them at once.
	Workers int

	layout    *schema.Layout
	bind      *schema.Binding
	file      string
	sheet     string
	seed1     maphash.Seed
	seed2     maphash.Seed
	seen      *idSet                     // declaration ids of this file -> line
	warm      uint64                     // sum of touched slots, kept so that the loads are not optimised away
	subs      churnMap[uint32, subEntry] // subscriptions this file started (accepted NEW of monthly items), by line (the value of their id in seen)
	newCusts  *idSet                     // customers created by this file
	termRefs  churnMap[key, int]         // subscriptions this file terminates (history refs) -> line
	declRange Range
	custRange Range
	exposure  int64
	sum       Summary
	stopped   bool
	acceptErr error
}

type key struct{ a, b uint64 }

type subEntry struct {
	line       int32
	start      civil.Date
	terminated bool
	subKey     uint64 // hash of sku and customer, for TERMINATE matching
}

func (c *Checker) subKey(d *Decl) uint64 {
	return maphash.String(c.seed1, d.SKU) ^ bits.RotateLeft64(maphash.String(c.seed2, d.CustomerID), 29)
}

func (c *Checker) key(s string) key {
	return key{maphash.String(c.seed1, s), maphash.String(c.seed2, s)}
}

// column indexes in the declarations layout
type cols struct {
	id, action, customer, email, name, country, language, sku, qty, start, end, price, currency, resale, ref int
}

var dc = func() cols {
	l := schema.MustLoad("declarations")
	return cols{l.Index("declaration_id"), l.Index("action"), l.Index("customer_id"), l.Index("customer_email"), l.Index("customer_name"),
		l.Index("country"), l.Index("language"), l.Index("sku"), l.Index("quantity"), l.Index("start_date"), l.Index("end_date"),
		l.Index("unit_price"), l.Index("currency"), l.Index("resale_price"), l.Index("subscription_ref")}
}()

// Run reads every row of r and checks it. It returns the summary; problems
// are in c.Report. An error is returned only for failures that are not the
// file's fault (reading the archive, the database).
//
// Three stages run at once: reading rows into numbered batches; the checks
// a row needs alone and the history look-ups of its batch, on several
// goroutines; and, in file order on the caller's goroutine, the checks that
// depend on earlier rows (duplicates, subscriptions, the credit line,
// number-cell warnings) and Accept.
func (c *Checker) Run(ctx context.Context, r tabular.Reader, file string) (Summary, error) {
	c.layout = schema.MustLoad("declarations")
	c.file, c.sheet = file, r.Sheet()
	c.seed1, c.seed2 = maphash.MakeSeed(), maphash.MakeSeed()
	expected := c.ExpectedRows
	if c.Repeats != nil {
		expected = 0 // the sets hold what rows still to come refer to: they grow as needed
	}
	c.seen = newIDSet(expected)
	c.newCusts = newIDSet(expected)
	c.subs = churnMap[uint32, subEntry]{m: map[uint32]subEntry{}}
	c.termRefs = churnMap[key, int]{m: map[key]int{}}
	c.exposure = c.Reseller.Exposure
	if c.BatchSize <= 0 {
		c.BatchSize = 512
	}
	if !c.Reseller.OEMEligible {
		c.fileProblem(CodeNotEligible, 0, "", ErrNotEligible, "reseller %s is not OEM-eligible: declarations are refused; contact your account manager", c.Reseller.ID)
		return c.sum, nil
	}
	header, err := r.Next()
	if errors.Is(err, io.EOF) {
		c.fileProblem(CodeEmptyFile, 0, "", ErrEmpty, "%s", tabular.EmptyMessage(r))
		return c.sum, nil
	}
	if c.readProblem(headerProblem(err)) {
		return c.sum, nil
	}
	if err != nil {
		return c.sum, err
	}
	if c.declRange, c.custRange, err = c.History.Ranges(ctx, c.Reseller.ID); err != nil {
		return c.sum, fmt.Errorf("reading the ranges of ids in use: %w", err)
	}
	if c.Echo != nil {
		c.Echo.Header(header.Line, header.Fields)
	}
	bind, probs := c.layout.Bind(header.Fields, c.pos(header.Line, ""))
	bind.Locale = c.Reseller.Format.Locale()
	if wb, ok := r.(interface{ Date1904() bool }); ok {
		bind.Locale.Workbook, bind.Locale.Date1904 = true, wb.Date1904()
	}
	c.bind = bind
	probs = append(r.Notes(), probs...)
	for _, p := range probs {
		c.add(p)
	}
	if c.Report.FileRejected() {
		return c.sum, nil
	}

	if err := c.runStages(ctx, r); err != nil {
		return c.sum, err
	}
	if c.acceptErr != nil {
		return c.sum, c.acceptErr
	}
	if c.sum.Rows == 0 && !c.Report.FileRejected() {
		c.fileProblem(CodeNoRows, header.Line, "", ErrEmpty, "the file has a header but no declaration rows")
	}
	return c.sum, nil
}

func (c *Checker) pos(line int, col string) problem.Position {
	return problem.Position{File: c.file, Sheet: c.sheet, Line: line, Column: col}
}

func (c *Checker) add(p *problem.Problem) {
	if !c.Report.Add(p) {
		c.stopped = true
	}
}

// RejectedWhole reports whether nothing of the file can be posted: a
// file-level problem, or any error under the reject_file policy.
func (c *Checker) RejectedWhole() bool {
	return c.Report.FileRejected() || (c.Reseller.RejectFile() && c.Report.Errors() > 0)
}

func (c *Checker) fileProblem(code problem.Code, line int, col string, cause error, format string, args ...any) {
	p := problem.New(code, c.pos(line, col), "", cause, format, args...)
	p.Scope = problem.ScopeFile
	c.add(p)
}

// headerProblem makes a problem reading the header line reject the file:
// without a header no row can be read.
func headerProblem(err error) error {
	var p *problem.Problem
	if errors.As(err, &p) && p.Scope == problem.ScopeRow {
		q := *p
		q.Scope = problem.ScopeFile
		q.Message = "the header line cannot be read: " + q.Message
		return &q
	}
	return err
}

func (c *Checker) readProblem(err error) bool {
	var p *problem.Problem
	if errors.As(err, &p) {
		c.add(p)
		return true
	}
	return false
}

// historyIDs appends to ids and custs what history is to be asked about
// d: only ids inside the range already used can be in history.
func (c *Checker) historyIDs(d *Decl, ids, custs []string) ([]string, []string) {
	if d.DeclarationID != "" && c.declRange.Holds(d.DeclarationID) {
		ids = append(ids, d.DeclarationID)
	}
	if d.Action == "TERMINATE" && d.SubscriptionRef != "" && c.declRange.Holds(d.SubscriptionRef) {
		ids = append(ids, d.SubscriptionRef)
	}
	// USAGE needs a known customer; NEW only needs to know whether the
	// customer is to be created, which matters when posting.
	if d.CustomerID != "" && c.custRange.Holds(d.CustomerID) && (d.Action == "USAGE" || (d.Action == "NEW" && c.Accept != nil)) {
		custs = append(custs, d.CustomerID)
	}
	return ids, custs
}

// prepare runs the checks a row needs no history for.
func (c *Checker) prepare(w *worker, row tabular.Row, pd *pending) {
	v := w.vals
	pd.read = false
	pd.probs = pd.probs[:0]
	pd.ok = w.bind.CheckValues(row, v, pd.add)
	pd.numbers = v.Numbers
	d := &pd.d
	*d = Decl{Line: row.Line}
	d.DeclarationID = v.Str[dc.id]
	d.Action = v.Str[dc.action]
	d.CustomerID = v.Str[dc.customer]
	d.Email, d.Name, d.Country, d.Language = v.Str[dc.email], v.Str[dc.name], v.Str[dc.country], v.Str[dc.language]
	d.SKU = v.Str[dc.sku]
	d.Quantity = v.Int[dc.qty]
	d.Start = v.Date[dc.start]
	d.End, d.HasEnd = v.Date[dc.end], v.Present[dc.end]
	d.SubscriptionRef = v.Str[dc.ref]
	d.ResalePrice, d.HasResale = v.Dec[dc.resale], v.Present[dc.resale]
	if !v.Present[dc.action] || !v.Present[dc.sku] {
		return
	}
	bad := func(code problem.Code, col, value string, cause error, format string, args ...any) {
		pd.add(problem.New(code, c.pos(row.Line, col), value, cause, format, args...))
		pd.ok = false
	}
	it, found := c.Catalog[d.SKU]
	if !found {
		bad(CodeUnknownSKU, "sku", d.SKU, ErrUnknownSKU, "SKU %s is not in your catalog", d.SKU)
		return
	}
	d.Item = it
	switch {
	case d.Action == "NEW" && it.BillingModel == "usage":
		bad(CodeActionNotAllowed, "action", d.Action, ErrNotAllowed, "SKU %s is billed by usage: declare it with USAGE rows, not NEW", d.SKU)
	case d.Action == "USAGE" && it.BillingModel != "usage":
		bad(CodeActionNotAllowed, "action", d.Action, ErrNotAllowed, "SKU %s is billed %s, not by usage: declare it with NEW", d.SKU, modelText(it.BillingModel))
	case d.Action == "TERMINATE" && it.BillingModel != "monthly":
		bad(CodeActionNotAllowed, "action", d.Action, ErrNotAllowed, "SKU %s is not a monthly subscription: only subscriptions can be terminated", d.SKU)
	}
	if v.Present[dc.currency] && v.Str[dc.currency] != string(c.Reseller.Currency) {
		bad(CodeCurrencyMismatch, "currency", v.Str[dc.currency], ErrMismatch, "your catalog is priced in %s", c.Reseller.Currency)
	}
	if d.Action == "USAGE" && d.HasEnd && v.Present[dc.start] && d.End < d.Start {
		bad(CodeEndBeforeStart, "end_date", d.End.String(), ErrDateOrder, "end_date %s is before start_date %s", d.End, d.Start)
	}
	if d.Action == "TERMINATE" || !v.Present[dc.start] {
		return
	}
	ver, ok := it.PriceOn(d.Start)
	if !ok {
		bad(CodeNoPrice, "start_date", d.Start.String(), ErrNoPrice, "SKU %s has no price valid on %s in your catalog", d.SKU, d.Start)
		return
	}
	d.Version = ver
	d.UnitPrice = ver.Buy
	if v.Present[dc.price] && v.Dec[dc.price].Cmp(ver.Buy) != 0 {
		bad(CodePriceMismatch, "unit_price", v.Str[dc.price], ErrMismatch, "the catalog price of %s on %s is %s", d.SKU, d.Start, ver.Buy.Pad(c.Reseller.Currency.Exponent()))
	}
	if !v.Present[dc.qty] {
		return
	}
	amount, pub, hub, err := c.split(w, ver, d.Quantity)
	if err != nil {
		bad(CodeAmountTooLarge, "quantity", v.Str[dc.qty], ErrAmountTooHigh, "quantity × price is too large to bill")
		return
	}
	if d.Action == "NEW" && it.BillingModel == "monthly" {
		// Fees accrue monthly at billing; the first month counts for credit.
		d.Amount, d.PublisherAmount, d.HubAmount, d.FirstMonth = 0, 0, 0, amount
		return
	}
	d.Amount, d.PublisherAmount, d.HubAmount = amount, pub, hub
}

// split is Version.Split, remembered per price version and quantity in the
// worker: a file repeats a few quantities of a few SKUs.
func (c *Checker) split(w *worker, v *Version, qty int64) (amount, publisher, hub int64, err error) {
	k := splitKey{v, qty}
	if r, ok := w.splits[k]; ok {
		return r[0], r[1], r[2], nil
	}
	if amount, publisher, hub, err = v.Split(qty, c.Reseller.Currency.Exponent()); err != nil {
		return
	}
	if w.splits == nil || len(w.splits) >= 4096 {
		w.splits = map[splitKey][3]int64{}
	}
	w.splits[k] = [3]int64{amount, publisher, hub}
	return
}

type splitKey struct {
	v   *Version
	qty int64
}

func modelText(m string) string {
	switch m {
	case "one_time":
		return "once"
	case "monthly":
		return "monthly"
	}
	return "by usage"
}

// finish runs, in file order, the checks that depend on earlier rows and
// on history, then the credit line, and hands an accepted row to Accept.
func (c *Checker) finish(pd *pending, prior map[string]Prior, known map[string]bool) {
	d := &pd.d
	c.sum.Rows++
	for _, p := range pd.probs {
		c.add(p)
	}
	if pd.numbers != 0 && !pd.read {
		c.bind.NumberCells(pd.row, pd.numbers, c.add)
	}
	if pd.read {
		c.sum.Rejected++
		return
	}
	bad := func(code problem.Code, col, value string, cause error, format string, args ...any) {
		c.add(problem.New(code, c.pos(d.Line, col), value, cause, format, args...))
		pd.ok = false
	}
	firstUse := false
	if d.DeclarationID != "" {
		var line uint32
		dup := false
		if pd.keepID {
			line, dup = c.seen.putHashed(d.DeclarationID, pd.hDecl, uint32(d.Line))
		}
		if dup {
			bad(CodeDuplicateInFile, "declaration_id", d.DeclarationID, ErrDuplicate, "declaration_id %s is already used on line %d of this file", d.DeclarationID, line)
		} else {
			firstUse = true
			if _, dup := prior[d.DeclarationID]; dup {
				bad(CodeDuplicateDeclaration, "declaration_id", d.DeclarationID, ErrDuplicate, "declaration_id %s was already declared in an earlier file; it is never accepted twice", d.DeclarationID)
			}
		}
	}
	switch {
	case d.Action == "TERMINATE" && d.SubscriptionRef != "":
		c.checkTerminate(pd, prior, bad)
	case d.Action == "USAGE" && d.CustomerID != "":
		inFile := false
		if pd.keepCust {
			_, inFile = c.newCusts.getHashed(d.CustomerID, pd.hCust)
		}
		if !inFile && !known[d.CustomerID] {
			bad(CodeCustomerUnknown, "customer_id", d.CustomerID, ErrCustomer, "customer %s is unknown: declare a NEW for them or send them in a customers file first", d.CustomerID)
		}
	}
	monthlyNew := pd.ok && d.Action == "NEW" && d.Item.BillingModel == "monthly"
	if pd.ok {
		add := d.Amount
		if monthlyNew {
			add = d.FirstMonth
		}
		if add > 0 && c.exposure+add > c.Reseller.CreditLimit {
			cur := c.Reseller.Currency
			bad(CodeCreditLimit, "quantity", strconv.FormatInt(d.Quantity, 10), ErrCreditLimit,
				"this row adds %s and would bring your exposure to %s, above your credit limit of %s (open invoices and unbilled declarations count)",
				money.Format(add, cur), money.Format(c.exposure+add, cur), money.Format(c.Reseller.CreditLimit, cur))
		} else if pd.ok {
			c.exposure += add
		}
	}
	if !pd.ok {
		c.sum.Rejected++
		return
	}
	if monthlyNew && firstUse && pd.keepID { // an id used once is never terminated in this file
		c.subs.m[uint32(d.Line)] = subEntry{line: int32(d.Line), start: d.Start, subKey: c.subKey(d)}
	}
	if d.Action == "NEW" {
		first := true // a customer named once is new to the file
		if pd.keepCust {
			first = c.newCusts.addHashed(d.CustomerID, pd.hCust, 0)
		}
		d.NewCustomer = first && !known[d.CustomerID]
	}
	c.sum.Accepted++
	c.sum.Amount += d.Amount
	if c.Accept != nil && !c.stopped && !c.RejectedWhole() {
		if err := c.Accept(d); err != nil {
			c.acceptErr = err
			c.stopped = true
		}
	}
}

func (c *Checker) checkTerminate(pd *pending, prior map[string]Prior, bad func(problem.Code, string, string, error, string, ...any)) {
	d := &pd.d
	ref := d.SubscriptionRef
	rk := c.key(ref)
	var line uint32
	inFile := false
	if pd.keepRef {
		line, inFile = c.seen.get(ref)
	}
	if inFile && line != uint32(d.Line) {
		e, isSub := c.subs.m[line]
		switch {
		case !isSub:
			bad(CodeSubscriptionNotFound, "subscription_ref", ref, ErrSubscription, "%s (line %d) is not an accepted subscription", ref, line)
		case e.terminated:
			bad(CodeSubscriptionInactive, "subscription_ref", ref, ErrSubscription, "subscription %s is already terminated in this file", ref)
		case e.subKey != c.subKey(d):
			bad(CodeSubscriptionMismatch, "sku", d.SKU, ErrSubscription, "subscription %s (line %d) is for another SKU or customer", ref, e.line)
		case d.Start < e.start:
			bad(CodeEndBeforeStart, "start_date", d.Start.String(), ErrDateOrder, "termination date %s is before the subscription start %s", d.Start, e.start)
		}
		if pd.ok {
			e.terminated = true
			c.subs.m[line] = e
		}
		return
	}
	p, found := prior[ref]
	switch {
	case !found:
		bad(CodeSubscriptionNotFound, "subscription_ref", ref, ErrSubscription, "no subscription %s is known: it must be the declaration_id of a NEW", ref)
	case p.Action != "NEW" || p.BillingModel != "monthly":
		bad(CodeSubscriptionNotFound, "subscription_ref", ref, ErrSubscription, "%s is not a subscription (it is a %s of %s)", ref, p.Action, p.SKU)
	case p.SubState != "active":
		bad(CodeSubscriptionInactive, "subscription_ref", ref, ErrSubscription, "subscription %s is already %s", ref, p.SubState)
	case p.SKU != d.SKU || p.CustomerID != d.CustomerID:
		bad(CodeSubscriptionMismatch, "sku", d.SKU, ErrSubscription, "subscription %s is for SKU %s and customer %s", ref, p.SKU, p.CustomerID)
	case d.Start < p.Start:
		bad(CodeEndBeforeStart, "start_date", d.Start.String(), ErrDateOrder, "termination date %s is before the subscription start %s", d.Start, p.Start)
	default:
		if line, twice := c.termRefs.m[rk]; twice {
			bad(CodeSubscriptionInactive, "subscription_ref", ref, ErrSubscription, "subscription %s is already terminated on line %d of this file", ref, line)
		}
	}
	if pd.ok && pd.keepRef {
		c.termRefs.m[rk] = d.Line
	}
}
