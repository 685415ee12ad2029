// Package billing turns the ledger into invoices (DESIGN §7): per reseller
// and month, the subscription-months owed and not invoiced (caught up when
// declared late), the one_time and usage declarations, and credit notes for
// months a later termination made not owed. A period is issued in one
// transaction: the items (each billed once, by a key in the database), the
// lines, the document with its gapless number, the ledger entries, the
// credit applied, the period recorded as billed, and the job that writes
// its files. A crash leaves all of it or none; a rerun is a no-op.
package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/govalues/decimal"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/render"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/sepa"
	"github.com/clearhouse/clearhouse/internal/store"
)

// Document types, as stored.
const (
	DocInvoice    = "invoice"
	DocCreditNote = "credit_note"
)

// Entry kinds of billing.
const (
	KindAccrual    = "billing_accrual" // bill:<reseller>:<period>
	KindInvoice    = "invoice"         // invoice:<number>
	KindCreditNote = "credit_note"     // credit:<number>
)

// ErrUnpriced: an item to bill has no price version valid on its date, or
// a tax category without a VAT category (the reseller is not billed).
var ErrUnpriced = errors.New("items cannot be priced")

// ErrNotBilled: a run found the reseller's previous period not billed
// (periods are billed in order).
var ErrNotBilled = errors.New("an earlier period is not billed")

// ErrNoProfile: a reseller with items to bill has no billing profile.
var ErrNoProfile = errors.New("no billing profile")

// ErrSettings: a reseller's billing settings cannot be used (its currency,
// its VAT treatment).
var ErrSettings = errors.New("billing settings")

// ResellersOwn tells whether a reseller could not be billed for a reason of
// its own, to fix in its configuration (a price or a profile missing, a
// period skipped), rather than a failure of the system (the database, the
// disk) that a rerun may clear.
func ResellersOwn(err error) bool {
	return errors.Is(err, ErrUnpriced) || errors.Is(err, ErrNoProfile) || errors.Is(err, ErrNotBilled) || errors.Is(err, ErrSettings)
}

// errDryRun rolls a preview back.
var errDryRun = errors.New("dry run: rolled back")

// Biller issues documents.
type Biller struct {
	Pool *store.Pool
	Log  *slog.Logger
	// Issued, when set, is called in the transaction that issues a
	// document: it queues the job that writes its files, so that they are
	// owed whatever becomes of this process after the commit.
	Issued func(ctx context.Context, tx store.Tx, invoiceID int64, reseller string) error
	// Write, when set, writes an issued document's files (Documents.Write)
	// at once after each commit: the command line does, serve leaves them
	// to the job. The job writes the same bytes again if it comes second,
	// and writes them if the command died before it could.
	Write func(ctx context.Context, invoiceID int64) ([]string, error)
	// Now is the clock (time.Now when nil): the issue date is today in the
	// hub's time zone.
	Now func() time.Time
	// Fail, when set, is called at each step of issuing with its name; an
	// error it returns aborts the issue there (tests inject failures).
	Fail func(step string) error
	// BatchSize is how many resellers a transaction bills (0: 100).
	BatchSize int

	accounts sync.Map // store.AccountKey → account id, of accounts known to exist
}

// Request is what to bill.
type Request struct {
	Period   civil.Date // the month P (its first day); earlier periods never billed are billed first
	Reseller string     // "" every reseller
	DryRun   bool       // preview: issue in a transaction rolled back at the end
}

// Billed is what a run did for one reseller and period.
type Billed struct {
	Reseller string
	Period   civil.Date
	Already  bool // billed before: nothing done
	// NothingYet: never billed, and its first item is dated after the
	// period (Next is its month).
	NothingYet bool
	Next       civil.Date          // the first period not billed
	BilledUpTo civil.Date          // NothingYet: the last period billed (0: none)
	Documents  []*invoice.Document // issued (or previewed), the invoice first
	IDs        []int64             // their ids (0 in a preview)
	Files      []string            // files written, when Run wrote them
	Err        error               // this reseller could not be billed
}

// Report is what a run did.
type Report struct {
	Period civil.Date
	Issue  civil.Date
	DryRun bool
	Billed []Billed
}

// Failed lists the resellers that could not be billed.
func (r *Report) Failed() []Billed {
	var out []Billed
	for _, b := range r.Billed {
		if b.Err != nil {
			out = append(out, b)
		}
	}
	return out
}

func (b *Biller) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Biller) log() *slog.Logger {
	if b.Log != nil {
		return b.Log
	}
	return slog.Default()
}

func (b *Biller) fail(step string) error {
	if b.Fail != nil {
		if err := b.Fail(step); err != nil {
			return fmt.Errorf("at %s: %w", step, err)
		}
	}
	return nil
}

// Run bills req.Period for every reseller (or one): for each reseller, the
// periods from the first never billed up to it, period by period, and
// within a period in reseller id order. A reseller that cannot be billed is
// reported (Billed.Err) and the others go on.
func (b *Biller) Run(ctx context.Context, req Request) (*Report, error) {
	hub, err := store.New(b.Pool).Hub(ctx)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(hub.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("the hub's billing time zone %q: %w", hub.TimeZone, err)
	}
	today := Today(b.now(), loc)
	if req.Period != Month(req.Period) {
		return nil, fmt.Errorf("%w: %s is not the first day of a month", ErrPeriod, req.Period)
	}
	if NextMonth(req.Period) > today {
		return nil, fmt.Errorf("%w: %s is not over yet in %s (today is %s): a month is billed from its end", ErrPeriod, PeriodText(req.Period), hub.TimeZone, today)
	}
	resellers, err := store.BillingResellers(ctx, b.Pool, req.Reseller)
	if err != nil {
		return nil, err
	}
	if req.Reseller != "" && len(resellers) == 0 {
		return nil, fmt.Errorf("%w: %q is not a reseller", ErrUnknownReseller, req.Reseller)
	}
	rep := &Report{Period: req.Period, Issue: today, DryRun: req.DryRun}
	if req.DryRun {
		// One transaction for the whole preview, rolled back: each period
		// sees what the previous ones would have billed.
		err := store.BeginFunc(ctx, b.Pool, func(tx store.Tx) error {
			b.runPeriods(ctx, tx, hub, resellers, req.Period, today, rep)
			return errDryRun
		})
		if !errors.Is(err, errDryRun) {
			return rep, err
		}
		return rep, nil
	}
	b.runPeriods(ctx, nil, hub, resellers, req.Period, today, rep)
	return rep, nil
}

// ErrUnknownReseller: --reseller names no reseller.
var ErrUnknownReseller = errors.New("unknown reseller")

// batchSize is how many resellers a transaction bills by default.
const batchSize = 100

func (b *Biller) batchSize() int {
	if b.BatchSize > 0 {
		return b.BatchSize
	}
	return batchSize
}

// runPeriods bills every reseller's pending periods up to last, period
// major. tx is the preview's transaction, or nil: each batch of resellers
// then commits in its own.
func (b *Biller) runPeriods(ctx context.Context, tx store.Tx, hub store.Hub, resellers []store.BillingReseller, last, today civil.Date, rep *Report) {
	type pending struct {
		r    store.BillingReseller
		next civil.Date
		done bool
	}
	var q store.Querier = b.Pool
	if tx != nil {
		q = tx
	}
	ids, curs := make([]string, len(resellers)), make([]string, len(resellers))
	for i, r := range resellers {
		ids[i], curs[i] = r.ID, r.Currency
	}
	states, err := store.BillingStates(ctx, q, ids, curs)
	if err != nil {
		for _, r := range resellers {
			rep.Billed = append(rep.Billed, Billed{Reseller: r.ID, Period: last, Err: err})
		}
		return
	}
	var ps []*pending
	first := last
	for _, r := range resellers {
		st := states[r.ID]
		if !st.HasItems { // nothing ever declared
			continue
		}
		next := st.FirstItem
		if st.Billed {
			next = NextMonth(st.LastBilled)
		}
		if next > last {
			// Billed up to last already, or nothing dated up to it.
			b := Billed{Reseller: r.ID, Period: last, Already: st.Billed, NothingYet: !st.Billed, Next: next}
			// A month before its first one is not "billed": it had nothing.
			// Its first billed period is its first month with anything, so
			// only a month before its last one billed can be one.
			if st.Billed && last < st.LastBilled {
				if first, ok, err := store.FirstItemMonth(ctx, q, r.ID, r.Currency); err == nil && ok && first > last {
					b.Already, b.NothingYet, b.Next, b.BilledUpTo = false, true, first, st.LastBilled
				}
			}
			rep.Billed = append(rep.Billed, b)
			continue
		}
		ps = append(ps, &pending{r: r, next: next})
		first = min(first, next)
	}
	for p := first; p <= last; p = NextMonth(p) {
		var due []*pending
		for _, pr := range ps {
			if !pr.done && pr.next == p {
				due = append(due, pr)
			}
		}
		var batches [][]store.BillingReseller
		var owners [][]*pending
		for len(due) > 0 {
			n := min(len(due), b.batchSize())
			batch := make([]store.BillingReseller, n)
			for i, pr := range due[:n] {
				batch[i] = pr.r
			}
			batches, owners = append(batches, batch), append(owners, due[:n])
			due = due[n:]
		}
		done := func(k int, results []Billed) {
			for i, res := range results {
				pr := owners[k][i]
				if res.Err != nil {
					pr.done = true // its later periods wait for this one
					if tx != nil { // a preview: the report says it
						b.log().Debug("billing would fail", "reseller", pr.r.ID, "period", PeriodText(p), "err", res.Err)
					} else {
						b.log().Error("billing failed", "reseller", pr.r.ID, "period", PeriodText(p), "err", res.Err)
					}
				}
				// Billed by another run meanwhile: said for the month asked
				// (an earlier month is followed by the next one).
				if !res.Already || res.Err != nil || p == last {
					rep.Billed = append(rep.Billed, res)
				}
				pr.next = NextMonth(p)
			}
		}
		if tx == nil && len(batches) > 1 {
			b.issuePipelined(ctx, hub, batches, p, today, done)
			continue
		}
		for k, batch := range batches {
			done(k, b.issueBatchOrEach(ctx, tx, hub, batch, p, today))
		}
	}
}

// issueBatchOrEach bills period p of the resellers rs in one transaction
// (a savepoint of the preview's tx, when set) and, once it commits, writes
// their files when Run writes them. A failure that is not one reseller's
// own (a price missing, no profile, a period skipped) fails the batch: its
// resellers are then billed one by one, so that the others are billed and
// the failure is reported for the one it belongs to.
func (b *Biller) issueBatchOrEach(ctx context.Context, tx store.Tx, hub store.Hub, rs []store.BillingReseller, p, today civil.Date) []Billed {
	run := func(rs []store.BillingReseller) ([]Billed, error) {
		var out []Billed
		fn := func(tx store.Tx) error {
			var err error
			out, err = b.issueBatch(ctx, tx, hub, rs, p, today)
			return err
		}
		var err error
		if tx != nil {
			err = store.SavepointFunc(ctx, tx, fn)
		} else {
			err = store.BeginFunc(ctx, b.Pool, fn)
		}
		return out, err
	}
	out, err := run(rs)
	if err != nil && len(rs) > 1 {
		b.log().Warn("billing a batch failed: billing its resellers one by one", "resellers", len(rs), "first", rs[0].ID, "period", PeriodText(p), "err", err)
		out = make([]Billed, 0, len(rs))
		for _, r := range rs {
			one, err := run([]store.BillingReseller{r})
			if err != nil {
				one = []Billed{{Reseller: r.ID, Period: p, Err: err}}
			}
			out = append(out, b.writeFiles(ctx, tx, one)...)
		}
		return out
	}
	if err != nil {
		return []Billed{{Reseller: rs[0].ID, Period: p, Err: err}}
	}
	return b.writeFiles(ctx, tx, out)
}

// writeFiles writes the files of what was issued (committed), when Run
// writes them.
func (b *Biller) writeFiles(ctx context.Context, tx store.Tx, out []Billed) []Billed {
	if tx != nil || b.Write == nil {
		return out
	}
	for i := range out {
		for j, id := range out[i].IDs {
			files, err := b.Write(ctx, id)
			if err != nil {
				number := strconv.FormatInt(id, 10)
				if j < len(out[i].Documents) {
					number = out[i].Documents[j].Number
				}
				out[i].Err = fmt.Errorf("%s is issued, but writing its files failed: %w (serve writes them again; or run clearhouse invoice write %s)", number, err, number)
				break
			}
			out[i].Files = append(out[i].Files, files...)
		}
	}
	return out
}

// A staged batch: what stageBatch found and staged, for finishBatch.
type stagedBatch struct {
	rs         []store.BillingReseller
	out        []Billed
	curOf      []money.Currency
	states     map[string]store.BillingState
	byReseller map[string][]store.StagedLine
}

// issueBatch issues period p of the resellers rs in tx: under the billing
// lock, each one's items staged and grouped into lines together, its
// documents issued in turn (in byte order of the resellers, as numbers are
// taken), and every item written at once. A reseller whose period cannot
// be billed for a reason of its own is reported in its Billed, and the
// others go on; any other failure is returned (the caller rolls back).
func (b *Biller) issueBatch(ctx context.Context, tx store.Tx, hub store.Hub, rs []store.BillingReseller, p, today civil.Date) ([]Billed, error) {
	if err := store.LockBilling(ctx, tx); err != nil {
		return nil, err
	}
	st, err := b.stageBatch(ctx, tx, rs, p)
	if err != nil {
		return nil, err
	}
	return b.finishBatch(ctx, tx, hub, st, p, today, true)
}

// stageBatch reads where the resellers rs stand, stages what period p
// bills those it is due for, and groups it into lines. Without the billing
// lock (the next batch is staged while one is issued), finishBatch checks
// again under it that nobody billed them meanwhile.
func (b *Biller) stageBatch(ctx context.Context, tx store.Tx, rs []store.BillingReseller, p civil.Date) (*stagedBatch, error) {
	ids, curs := make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		ids[i], curs[i] = r.ID, r.Currency
	}
	states, err := store.BillingStates(ctx, tx, ids, curs)
	if err != nil {
		return nil, err
	}
	sb := &stagedBatch{rs: rs, out: make([]Billed, len(rs)), curOf: make([]money.Currency, len(rs)), states: states,
		byReseller: map[string][]store.StagedLine{}}
	var stage []store.StageReseller
	for i, r := range rs {
		sb.out[i] = Billed{Reseller: r.ID, Period: p}
		st := states[r.ID]
		if st.Billed && st.LastBilled >= p {
			sb.out[i].Already, sb.out[i].Next = true, NextMonth(st.LastBilled)
			continue
		}
		if st.Billed && NextMonth(st.LastBilled) != p {
			sb.out[i].Err = fmt.Errorf("%w: %s of %s (last billed %s)", ErrNotBilled, PeriodText(p), r.ID, PeriodText(st.LastBilled))
			continue
		}
		cur, err := money.ParseCurrency(r.Currency)
		if err != nil {
			sb.out[i].Err = fmt.Errorf("%w: %s: %w", ErrSettings, r.ID, err)
			continue
		}
		vat, err := vatMap(r)
		if err != nil {
			sb.out[i].Err = fmt.Errorf("%w: %w", ErrSettings, err)
			continue
		}
		sb.curOf[i] = cur
		sr := store.StageReseller{ID: r.ID, Currency: r.Currency, Exp10: pow10(cur.Exponent()), VAT: vat}
		if st.Billed {
			sr.Billed = st.LastBilled
		}
		stage = append(stage, sr)
	}
	if len(stage) == 0 {
		return sb, nil
	}
	if err := store.StageBatch(ctx, tx, stage, p, LastDay(p)); err != nil {
		return nil, err
	}
	lines, err := store.StagedLines(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		sb.byReseller[l.Reseller] = append(sb.byReseller[l.Reseller], l)
	}
	return sb, b.fail("grouped")
}

// errStagedStale: a reseller's billing changed between the staging of its
// batch and the issuing (the batch is billed again, reseller by reseller).
var errStagedStale = errors.New("its billing changed while its batch was staged")

// finishBatch issues what sb staged, in tx (where it was staged): under the
// billing lock (locked: taken before the staging), the documents of each
// reseller in turn and then every item at once.
func (b *Biller) finishBatch(ctx context.Context, tx store.Tx, hub store.Hub, sb *stagedBatch, p, today civil.Date, locked bool) ([]Billed, error) {
	out := sb.out
	if !locked {
		if err := store.LockBilling(ctx, tx); err != nil {
			return nil, err
		}
		ids, curs := make([]string, len(sb.rs)), make([]string, len(sb.rs))
		for i, r := range sb.rs {
			ids[i], curs[i] = r.ID, r.Currency
		}
		now, err := store.BillingStates(ctx, tx, ids, curs)
		if err != nil {
			return nil, err
		}
		for i, r := range sb.rs {
			if out[i].Already || out[i].Err != nil || now[r.ID] == sb.states[r.ID] {
				continue
			}
			if st := now[r.ID]; st.Billed && st.LastBilled >= p { // another instance billed it meanwhile
				out[i] = Billed{Reseller: r.ID, Period: p, Already: true, Next: NextMonth(st.LastBilled)}
				continue
			}
			return nil, fmt.Errorf("%s: %w", r.ID, errStagedStale)
		}
	}
	if err := b.fail("staged"); err != nil {
		return nil, err
	}
	profiles, err := b.preload(ctx, tx, sb, out)
	if err != nil {
		return nil, err
	}
	items := &store.ItemLines{}
	for i, r := range sb.rs {
		if out[i].Already || out[i].Err != nil {
			continue
		}
		ls := sb.byReseller[r.ID]
		if slices.ContainsFunc(ls, func(l store.StagedLine) bool { return !l.Priced() }) {
			if out[i].Err = unpriced(ctx, tx, r.ID); out[i].Err == nil {
				return nil, fmt.Errorf("%s: an unpriced line without unpriced items", r.ID)
			}
			continue
		}
		is := &issuer{b: b, tx: tx, hub: hub, r: r, cur: sb.curOf[i], today: today, period: p, items: items, profiles: profiles}
		if err := is.issuePeriod(ctx, ls, &out[i]); err != nil {
			if errors.Is(err, ErrNoProfile) { // found before anything was written for it
				out[i] = Billed{Reseller: r.ID, Period: p, Err: err}
				continue
			}
			return nil, err
		}
	}
	if err := store.WriteItems(ctx, tx, items); err != nil {
		return nil, err
	}
	return out, nil
}

// preload reads at once, for the resellers of a batch still to issue,
// what issuing each would read on its own: their billing profiles, and the
// ids of the accounts their documents post to that exist (remembered for
// the run, as account remembers them).
func (b *Biller) preload(ctx context.Context, tx store.Tx, sb *stagedBatch, out []Billed) (map[string]store.BillingProfile, error) {
	var ids, codes, curs []string
	want := func(code, cur string) {
		if _, ok := b.accounts.Load(store.AccountKey{Code: code, Currency: cur}); !ok {
			codes, curs = append(codes, code), append(curs, cur)
		}
	}
	for i, r := range sb.rs {
		if out[i].Already || out[i].Err != nil || len(sb.byReseller[r.ID]) == 0 {
			continue
		}
		ids = append(ids, r.ID)
		cur := string(sb.curOf[i])
		want(ledger.Unbilled(r.ID), cur)
		want(ledger.Receivable(r.ID), cur)
		for _, code := range []string{ledger.HubRevenue, ledger.VATCollected, ledger.HubRounding} {
			want(code, cur)
		}
		for _, l := range sb.byReseller[r.ID] {
			want(ledger.Payable(l.Publisher), cur)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if len(codes) > 0 {
		known, err := store.CommittedAccounts(ctx, b.Pool, codes, curs)
		if err != nil {
			return nil, err
		}
		for k, id := range known {
			b.accounts.Store(k, id)
		}
	}
	return store.New(tx).BillingProfiles(ctx, ids)
}

// issuePipelined issues period p of the batches in turn, each in its own
// transaction, staging the next one (on another connection, without the
// lock) while one is issued: the database works on both at once. A batch
// that fails is billed again reseller by reseller. done gets each batch's
// results, in order.
func (b *Biller) issuePipelined(ctx context.Context, hub store.Hub, batches [][]store.BillingReseller, p, today civil.Date, done func(int, []Billed)) {
	type prepared struct {
		tx  store.Tx
		sb  *stagedBatch
		err error
	}
	stage := func(rs []store.BillingReseller) <-chan prepared {
		ch := make(chan prepared, 1)
		go func() {
			tx, err := b.Pool.Begin(ctx)
			if err != nil {
				ch <- prepared{err: err}
				return
			}
			sb, err := b.stageBatch(ctx, tx, rs, p)
			ch <- prepared{tx: tx, sb: sb, err: err}
		}()
		return ch
	}
	next := stage(batches[0])
	for k, rs := range batches {
		pr := <-next
		if k+1 < len(batches) {
			next = stage(batches[k+1])
		}
		out, err := []Billed(nil), pr.err
		if err == nil {
			if out, err = b.finishBatch(ctx, pr.tx, hub, pr.sb, p, today, false); err == nil {
				err = pr.tx.Commit(ctx)
			}
		}
		if pr.tx != nil {
			_ = pr.tx.Rollback(ctx) // a no-op once committed
		}
		if err != nil {
			// Billed again on its own, lock first, reseller by reseller
			// when the batch fails again.
			done(k, b.issueBatchOrEach(ctx, nil, hub, rs, p, today))
			continue
		}
		done(k, b.writeFiles(ctx, nil, out))
	}
}

func pow10(exp int) int64 {
	n := int64(1)
	for range exp {
		n *= 10
	}
	return n
}

// issuePeriod issues the documents of the staged lines ls of the issuer's
// reseller and period, and records the period as billed.
func (is *issuer) issuePeriod(ctx context.Context, ls []store.StagedLine, res *Billed) error {
	var charges, credits []store.StagedLine
	for _, l := range ls {
		if l.Credit {
			credits = append(credits, l)
		} else {
			charges = append(charges, l)
		}
	}
	var invoiceID, creditID, accrualID int64
	if len(ls) > 0 {
		if err := is.accounts(ctx); err != nil {
			return err
		}
	}
	if len(charges) > 0 {
		var err error
		if accrualID, err = is.accrue(ctx, charges); err != nil {
			return err
		}
		doc, id, err := is.issue(ctx, DocInvoice, charges, "run", "")
		if err != nil {
			return err
		}
		invoiceID = id
		res.Documents, res.IDs = append(res.Documents, doc), append(res.IDs, id)
	}
	if len(credits) > 0 {
		doc, id, err := is.issue(ctx, DocCreditNote, credits, "run", wordsFor(is.profile.Language).runCredit)
		if err != nil {
			return err
		}
		creditID = id
		res.Documents, res.IDs = append(res.Documents, doc), append(res.IDs, id)
	}
	if err := store.InsertBilledPeriod(ctx, is.tx, is.r.ID, is.r.Currency, is.period, invoiceID, creditID, accrualID); err != nil {
		return err
	}
	if err := is.b.fail("recorded"); err != nil {
		return err
	}
	if is.b.Issued != nil {
		for _, id := range res.IDs {
			if err := is.b.Issued(ctx, is.tx, id, is.r.ID); err != nil {
				return fmt.Errorf("queueing the files of document %d: %w", id, err)
			}
		}
	}
	return is.b.fail("queued")
}

// vatMap gives each tax category of r's catalog its VAT category and rate:
// the reseller's treatment decides (reverse charge AE, exempt E, standard S
// at its rate); an item whose tax category is "exempt" is E under standard.
func vatMap(r store.BillingReseller) (map[string][2]string, error) {
	m := map[string][2]string{}
	for _, c := range append(r.TaxCategories, "standard") {
		switch {
		case r.VATTreatment == "reverse_charge":
			m[c] = [2]string{invoice.VATReverseCharge, "0"}
		case r.VATTreatment == "exempt" || c == "exempt":
			m[c] = [2]string{invoice.VATExempt, "0"}
		case r.VATTreatment == "standard":
			m[c] = [2]string{invoice.VATStandard, r.VATRate}
		default:
			return nil, fmt.Errorf("reseller %s: VAT treatment %q", r.ID, r.VATTreatment)
		}
	}
	return m, nil
}

func unpriced(ctx context.Context, tx store.Tx, reseller string) error {
	us, err := store.UnpricedItems(ctx, tx, reseller)
	if err != nil || len(us) == 0 {
		return err
	}
	var s []string
	for _, u := range us {
		why := "no price version valid on its date"
		if u.VATCategory == "" {
			why = "no VAT category for its tax category"
		}
		s = append(s, fmt.Sprintf("%s (SKU %s, %s): %s", u.DeclarationID, u.SKU, u.Month[:7], why))
	}
	return fmt.Errorf("%w for %s: %s; fix the catalog (clearhouse apply) and bill again", ErrUnpriced, reseller, strings.Join(s, "; "))
}

// issuer issues the documents of one reseller and period.
type issuer struct {
	b      *Biller
	tx     store.Tx
	hub    store.Hub
	r      store.BillingReseller
	cur    money.Currency
	today  civil.Date
	period civil.Date

	items *store.ItemLines // the lines whose items are written with the batch

	profiles map[string]store.BillingProfile // the batch's, read at once (nil: read the reseller's)
	profile  store.BillingProfile
	acct     struct{ unbilled, receivable, revenue, vat, rounding int64 }
	payable  map[string]int64
}

func (is *issuer) account(ctx context.Context, code, partner string) (int64, error) {
	// Accounts are never removed: an id read once holds for the run (a
	// rollback of the transaction that created one is the exception, so
	// only ids of accounts that existed are kept: a second read finds them).
	k := store.AccountKey{Code: code, Currency: string(is.cur)}
	if id, ok := is.b.accounts.Load(k); ok {
		return id.(int64), nil
	}
	id, err := ledger.Account(ctx, store.New(is.tx), code, is.cur, partner)
	if err == nil && is.existed(ctx, id) {
		is.b.accounts.Store(k, id)
	}
	return id, err
}

// existed tells whether account id is visible outside this transaction
// (it was not created by it), so it may be remembered.
func (is *issuer) existed(ctx context.Context, id int64) bool {
	ok, err := store.AccountCommitted(ctx, is.b.Pool, id)
	return err == nil && ok
}

// accounts resolves the accounts the documents post to and the profile.
func (is *issuer) accounts(ctx context.Context) error {
	p, ok := is.profiles[is.r.ID]
	var err error
	if is.profiles == nil {
		if p, ok, err = store.New(is.tx).BillingProfile(ctx, is.r.ID); err != nil {
			return err
		}
	}
	if !ok {
		return fmt.Errorf("%w for %s: add billing to its entry in the world configuration and run clearhouse apply", ErrNoProfile, is.r.ID)
	}
	is.profile = p
	for _, a := range []struct {
		id            *int64
		code, partner string
	}{
		{&is.acct.unbilled, ledger.Unbilled(is.r.ID), is.r.ID}, {&is.acct.receivable, ledger.Receivable(is.r.ID), is.r.ID},
		{&is.acct.revenue, ledger.HubRevenue, ""}, {&is.acct.vat, ledger.VATCollected, ""}, {&is.acct.rounding, ledger.HubRounding, ""},
	} {
		if *a.id, err = is.account(ctx, a.code, a.partner); err != nil {
			return err
		}
	}
	is.payable = map[string]int64{}
	return nil
}

func (is *issuer) payableOf(ctx context.Context, publisher string) (int64, error) {
	if id, ok := is.payable[publisher]; ok {
		return id, nil
	}
	id, err := is.account(ctx, ledger.Payable(publisher), publisher)
	is.payable[publisher] = id
	return id, err
}

// accrue posts the period's subscription-months: reseller:unbilled →
// publisher:payable (share) + hub:revenue (margin), summed by publisher.
func (is *issuer) accrue(ctx context.Context, charges []store.StagedLine) (int64, error) {
	type sum struct{ amount, share int64 }
	sums := map[string]*sum{}
	var pubs []string
	for _, l := range charges {
		if l.Model != "monthly" { // a sale was accrued when it was posted
			continue
		}
		if sums[l.Publisher] == nil {
			sums[l.Publisher] = &sum{}
			pubs = append(pubs, l.Publisher)
		}
		sums[l.Publisher].amount += l.Amount
		sums[l.Publisher].share += l.Share
	}
	slices.Sort(pubs)
	var ps []ledger.Posting
	for _, pub := range pubs {
		s := sums[pub]
		pay, err := is.payableOf(ctx, pub)
		if err != nil {
			return 0, err
		}
		ps = append(ps, is.post(is.acct.unbilled, s.amount), is.post(pay, -s.share), is.post(is.acct.revenue, -(s.amount-s.share)))
	}
	if len(ps) == 0 {
		return 0, nil
	}
	id, _, err := ledger.Post(ctx, store.New(is.tx), &ledger.Entry{Key: fmt.Sprintf("bill:%s:%s", is.r.ID, PeriodText(is.period)), Kind: KindAccrual,
		Description: fmt.Sprintf("subscription-months of %s up to %s", is.r.ID, PeriodText(is.period)), Postings: ps})
	if err != nil {
		return 0, err
	}
	return id, is.b.fail("accrued")
}

func (is *issuer) post(account, amount int64) ledger.Posting {
	return ledger.Posting{AccountID: account, Amount: amount, Currency: is.cur}
}

// issue numbers, writes and posts one document of the staged lines.
func (is *issuer) issue(ctx context.Context, docType string, staged []store.StagedLine, origin, reason string) (*invoice.Document, int64, error) {
	doc, rows, itemsAmount, err := is.document(docType, staged, reason)
	if err != nil {
		return nil, 0, err
	}
	prefix, counter := is.hub.InvoicePrefix, DocInvoice
	if docType == DocCreditNote {
		prefix, counter = is.hub.CreditNotePrefix, DocCreditNote
	}
	year := is.today.Time().Year()
	seq, err := store.NextNumber(ctx, is.tx, counter, year)
	if err != nil {
		return nil, 0, err
	}
	if err := is.b.fail("numbered"); err != nil {
		return nil, 0, err
	}
	doc.Number = fmt.Sprintf("%s-%d-%06d", prefix, year, seq)
	// Credit applied at issue (an invoice): the reseller's credit left.
	var credit []store.OpenDoc
	var prepaid int64
	if docType == DocInvoice {
		if credit, err = store.CreditLeft(ctx, is.tx, is.r.ID, is.r.Currency); err != nil {
			return nil, 0, err
		}
		for _, c := range credit {
			prepaid += c.Left
		}
	}
	if err := doc.Finish(prepaid, is.exemption); err != nil {
		return nil, 0, err
	}
	if docType == DocCreditNote {
		if err := is.creditVAT(ctx, doc, staged); err != nil {
			return nil, 0, err
		}
	}
	is.payment(doc, credit)
	entryID, err := is.postDocument(ctx, doc, docType, staged, itemsAmount)
	if err != nil {
		return nil, 0, err
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, 0, err
	}
	rec := store.Invoice{Number: doc.Number, DocType: docType, Year: year, Seq: seq, ResellerID: is.r.ID, Currency: is.r.Currency,
		Period: is.period, IssueDate: is.today, DueDate: doc.DueDate, Net: doc.Totals.TaxExclusive, Tax: doc.Totals.Tax,
		Gross: doc.Totals.TaxInclusive, Prepaid: doc.Totals.Prepaid, Payable: doc.Totals.Payable, ItemsAmount: itemsAmount,
		EntryID: entryID, Reason: reason, Origin: origin, Document: js}
	if docType == DocCreditNote {
		rec.DueDate = 0
	}
	id, err := store.InsertInvoice(ctx, is.tx, rec)
	if err != nil {
		return nil, 0, err
	}
	if err := store.InsertLines(ctx, is.tx, id, rows); err != nil {
		return nil, 0, err
	}
	for i, l := range staged {
		is.items.Add(l, id, int32(i+1))
	}
	if err := is.b.fail("written"); err != nil {
		return nil, 0, err
	}
	if err := is.settle(ctx, doc, docType, id, credit); err != nil {
		return nil, 0, err
	}
	return doc, id, nil
}

// document builds a document (not numbered, not finished) of the staged
// lines, and the lines' rows; itemsAmount is what its items sum to.
func (is *issuer) document(docType string, staged []store.StagedLine, reason string) (*invoice.Document, []store.InvoiceLine, int64, error) {
	exp := is.cur.Exponent()
	doc := &invoice.Document{
		Type: invoice.TypeInvoice, IssueDate: is.today, Currency: is.r.Currency, BillingMonth: PeriodText(is.period),
		BuyerReference: is.profile.BuyerReference, Seller: hubParty(is.hub), Buyer: buyerParty(is.r, is.profile), Reason: reason,
		Language: is.profile.Language,
	}
	if doc.Language == "en" {
		doc.Language = "" // the default: documents issued before languages read the same
	}
	if doc.BuyerReference == "" {
		doc.BuyerReference = is.r.ID
	}
	if docType == DocCreditNote {
		doc.Type = invoice.TypeCreditNote
	} else {
		doc.DueDate = is.today + civil.Date(is.profile.PaymentTermsDays)
	}
	if is.r.VATMention != "" {
		doc.Notes = append(doc.Notes, is.r.VATMention)
	}
	// The hub's legal mentions, in the document's language (English in
	// place of one not given).
	notes, ok := is.hub.Notes[is.profile.Language]
	if !ok {
		notes = is.hub.Notes["en"]
	}
	doc.Notes = append(doc.Notes, notes...)
	var err error
	if doc.CSV, err = csvFormat(is.r); err != nil {
		return nil, nil, 0, err
	}
	var rows []store.InvoiceLine
	var itemsAmount int64
	refs := map[string]int{}
	for i, l := range staged {
		price, err := decimal.Parse(l.UnitPrice)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("line %d: unit price %q: %w", i+1, l.UnitPrice, err)
		}
		net, err := money.LineAmount(l.Quantity, price, exp)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("line %d of %s: %w", i+1, l.SKU, err)
		}
		unit := unitPrice(price, exp)
		doc.Lines = append(doc.Lines, invoice.Line{No: i + 1, SKU: l.SKU, Name: l.Name, Publisher: l.Publisher, BillingModel: l.Model,
			ServiceMonth: PeriodText(l.ServiceMonth), Quantity: l.Quantity, UnitPrice: unit, Net: net, PeriodStart: l.PeriodStart,
			PeriodEnd: l.PeriodEnd, VATCategory: l.VATCategory, VATRate: l.VATRate, PublisherAmount: l.Share,
			Credits: l.CreditedNumber, CreditsLine: int(l.CreditedLine), Items: l.Items})
		rows = append(rows, store.InvoiceLine{No: int32(i + 1), SKU: l.SKU, Name: l.Name, Publisher: l.Publisher, Model: l.Model,
			ServiceMonth: l.ServiceMonth, Quantity: l.Quantity, UnitPrice: unit, Net: net, ItemsAmount: l.Amount,
			PublisherAmount: l.Share, VATCategory: l.VATCategory, VATRate: l.VATRate, PeriodStart: l.PeriodStart,
			PeriodEnd: l.PeriodEnd, CreditsInvoice: l.CreditedInvoice, Items: l.Items})
		itemsAmount += l.Amount
		if i == 0 || l.PeriodStart < doc.PeriodStart {
			doc.PeriodStart = l.PeriodStart
		}
		if l.PeriodEnd > doc.PeriodEnd {
			doc.PeriodEnd = l.PeriodEnd
		}
		if l.CreditedNumber != "" {
			if _, ok := refs[l.CreditedNumber]; !ok {
				refs[l.CreditedNumber] = len(doc.References)
				doc.References = append(doc.References, invoice.Reference{Number: l.CreditedNumber, IssueDate: l.CreditedIssue})
			}
		}
	}
	return doc, rows, itemsAmount, nil
}

// csvFormat is how reseller r reads CSV, as its acks are written: its
// file_format's delimiter and encoding (UTF-8 with a byte order mark when
// none is declared) and its decimal separator.
func csvFormat(r store.BillingReseller) (*invoice.CSVFormat, error) {
	var f schema.Format
	if r.FileFormat != "" {
		if err := json.Unmarshal([]byte(r.FileFormat), &f); err != nil {
			return nil, fmt.Errorf("%w: %s: its file format: %w", ErrSettings, r.ID, err)
		}
	}
	d := f.Dialect()
	c := &invoice.CSVFormat{Delimiter: string(d.Comma), Encoding: d.Encoding}
	if f.Decimal == "," {
		c.Decimal = ","
	}
	return c, nil
}

// unitPrice writes a unit price with at least the currency's digits and
// no trailing zeros beyond them ("3.99", "0.0215").
func unitPrice(p decimal.Decimal, exp int) string {
	p = p.Trim(exp)
	if p.Scale() < exp {
		p = p.Pad(exp)
	}
	return p.String()
}

func (is *issuer) exemption(category string) (string, string) {
	reason := is.r.VATMention
	switch category {
	case invoice.VATReverseCharge:
		if reason == "" {
			reason = wordsFor(is.profile.Language).reverseCharge
		}
		return reason, "VATEX-EU-AE"
	case invoice.VATExempt:
		if reason == "" {
			reason = wordsFor(is.profile.Language).exempt
		}
		return reason, ""
	}
	return "", ""
}

// payment says how the document is paid: by direct debit on the due date
// under the reseller's mandate (the invoice is the pre-notification), or by
// transfer to the hub's account quoting a structured reference; nothing
// when credit covers it.
func (is *issuer) payment(doc *invoice.Document, credit []store.OpenDoc) {
	p := &doc.Payment
	p.Reference = doc.Number
	if is.r.PaymentMethod == "wallet" {
		p.Means, p.MandateID, p.CreditorID, p.DebtorIBAN = invoice.PayDirectDebit, is.r.MandateID, is.hub.CreditorID, sepa.CompactIBAN(is.r.IBAN)
	} else {
		p.Means, p.IBAN, p.BIC, p.AccountName = invoice.PayCreditTransfer, is.hub.IBAN, is.hub.BIC, is.hub.AccountName
		p.Reference = sepa.CreditorReference(doc.Number)
	}
	if doc.Type == invoice.TypeCreditNote {
		p.DebitDate = 0
		p.Terms = wordsFor(is.profile.Language).creditTerms
		return
	}
	switch {
	case doc.Totals.Payable == 0 && doc.Totals.Prepaid > 0:
		for _, c := range credit {
			p.SettledBy = append(p.SettledBy, c.Number)
		}
		// Nothing to collect: no payment means (no debit, no transfer).
		*p = invoice.Payment{Reference: p.Reference, SettledBy: p.SettledBy}
		p.Terms = fmt.Sprintf(wordsFor(is.profile.Language).settledTerms, strings.Join(p.SettledBy, ", "))
	case p.Means == invoice.PayDirectDebit:
		// The invoice is due when it is collected: its terms, at least
		// the pre-notification's days, on a TARGET2 business day (the
		// PDF, the UBL's BT-9 and the listings say the same date).
		p.DebitDate = CollectionDate(doc.IssueDate, doc.DueDate, is.r.PrenotificationDays)
		doc.DueDate = p.DebitDate
		w := wordsFor(is.profile.Language)
		p.Terms = fmt.Sprintf(w.debitTerms, w.amount(doc.Amount(doc.Totals.Payable)), doc.Currency, w.date(p.DebitDate), p.MandateID)
	default:
		w := wordsFor(is.profile.Language)
		p.Terms = fmt.Sprintf(w.transferTerms, is.profile.PaymentTermsDays, w.date(doc.DueDate), p.Reference)
	}
}

// CollectionDate is when a wallet invoice issued on issue and due on due
// is debited: its due date, or notice days after its issue if that is
// later (the invoice is the SEPA pre-notification: the rulebook's 14
// days, fewer where the reseller's contract says so; 0: 14), moved to the
// next TARGET2 business day.
func CollectionDate(issue, due civil.Date, notice int) civil.Date {
	if notice <= 0 {
		notice = 14
	}
	d := max(due, issue+civil.Date(notice))
	t := sepa.OnOrAfter(d.Time())
	return civil.FromYMD(t.Year(), t.Month(), t.Day())
}

// postDocument posts the document's entry. An invoice: reseller:receivable
// (gross) → reseller:unbilled (its items) + tax:vat_collected (VAT) ±
// hub:rounding (lines vs items). A credit note reverses that and the
// accrual of what it credits: publisher:payable and hub:revenue back.
func (is *issuer) postDocument(ctx context.Context, doc *invoice.Document, docType string, staged []store.StagedLine, itemsAmount int64) (int64, error) {
	t := doc.Totals
	rounding := t.TaxExclusive - itemsAmount
	ps := []ledger.Posting{is.post(is.acct.receivable, t.TaxInclusive), is.post(is.acct.unbilled, -itemsAmount),
		is.post(is.acct.vat, -t.Tax), is.post(is.acct.rounding, -rounding)}
	key, kind := "invoice:"+doc.Number, KindInvoice
	if docType == DocCreditNote {
		key, kind = "credit:"+doc.Number, KindCreditNote
		for i := range ps {
			ps[i].Amount = -ps[i].Amount
		}
		// …and the accrual of the credited items: unbilled restored by
		// the reversal above is taken back from payable and revenue.
		byPub := map[string][2]int64{}
		for _, l := range staged {
			v := byPub[l.Publisher]
			v[0], v[1] = v[0]+l.Amount, v[1]+l.Share
			byPub[l.Publisher] = v
		}
		for pub, v := range byPub {
			pay, err := is.payableOf(ctx, pub)
			if err != nil {
				return 0, err
			}
			ps = append(ps, is.post(is.acct.unbilled, -v[0]), is.post(pay, v[1]), is.post(is.acct.revenue, v[0]-v[1]))
		}
	}
	id, _, err := ledger.Post(ctx, store.New(is.tx), &ledger.Entry{Key: key, Kind: kind,
		Description: fmt.Sprintf("%s %s of %s for %s", docType, doc.Number, is.r.ID, doc.BillingMonth), Postings: ps})
	if err != nil {
		return 0, err
	}
	return id, is.b.fail("posted")
}

// settle applies credit. An invoice takes the credit left at issue (its
// prepaid amount), oldest credit note first. A credit note settles what
// it credits of each invoice, then the oldest open invoices; what is left
// waits for the next invoices.
func (is *issuer) settle(ctx context.Context, doc *invoice.Document, docType string, id int64, credit []store.OpenDoc) error {
	if docType == DocInvoice {
		left := doc.Totals.Prepaid
		for _, c := range credit {
			a := min(left, c.Left)
			if a <= 0 {
				break
			}
			if err := store.Settle(ctx, is.tx, id, c.ID, a); err != nil {
				return err
			}
			left -= a
		}
		return nil
	}
	open, err := store.OpenInvoices(ctx, is.tx, is.r.ID, is.r.Currency)
	if err != nil {
		return err
	}
	left := doc.Totals.TaxInclusive
	apply := func(inv store.OpenDoc, want int64) error {
		a := min(left, want, inv.Left)
		if a <= 0 {
			return nil
		}
		left -= a
		for i := range open {
			if open[i].ID == inv.ID {
				open[i].Left -= a
			}
		}
		return store.Settle(ctx, is.tx, inv.ID, id, a)
	}
	// First what it credits of each invoice it credits…
	for _, ref := range doc.References {
		for _, o := range open {
			if o.Number == ref.Number {
				if err := apply(o, ref.Amount); err != nil {
					return err
				}
			}
		}
	}
	// …then the oldest open invoices.
	for _, o := range open {
		if err := apply(o, o.Left); err != nil {
			return err
		}
	}
	return nil
}

// creditVAT sets the VAT of a credit note, and how much of each invoice it
// credits (VAT included; they sum to its total), so that what the notes of an
// invoice credit adds up to the invoice once all of it is credited: the
// VAT a note credits of an invoice, in a category and rate, is the VAT of
// all that is credited of it there so far, this note included, less the VAT
// of what earlier notes credited (each rounded once, as the invoice's VAT
// was). A note's VAT of a category is the sum over the invoices it credits,
// within a cent per invoice of its own taxable amount × rate (EN 16931
// BR-CO-17 allows one unit). Crediting an invoice line by line used to
// leave a cent open on it that nothing could credit.
func (is *issuer) creditVAT(ctx context.Context, doc *invoice.Document, staged []store.StagedLine) error {
	type key struct {
		inv       int64
		cat, rate string
	}
	var ids []int64
	nets, numbers := map[key]int64{}, map[int64]string{}
	var order []key
	for i, l := range doc.Lines {
		inv := staged[i].CreditedInvoice
		if inv == 0 {
			return fmt.Errorf("credit note line %d credits no invoice", l.No)
		}
		if _, ok := numbers[inv]; !ok {
			numbers[inv] = l.Credits
			ids = append(ids, inv)
		}
		k := key{inv, l.VATCategory, l.VATRate}
		if _, ok := nets[k]; !ok {
			order = append(order, k)
		}
		nets[k] += l.Net
	}
	before, err := store.CreditedNets(ctx, is.tx, ids)
	if err != nil {
		return err
	}
	prev := map[key]int64{}
	for _, c := range before {
		prev[key{c.Invoice, c.Category, c.Rate}] += c.Net
	}
	taxOf, credits := map[[2]string]int64{}, map[string]int64{}
	for _, k := range order {
		rate, err := decimal.Parse(k.rate)
		if err != nil {
			return fmt.Errorf("VAT rate %q: %w", k.rate, err)
		}
		all, err := money.PercentOf(prev[k]+nets[k], rate)
		if err != nil {
			return err
		}
		was, err := money.PercentOf(prev[k], rate)
		if err != nil {
			return err
		}
		taxOf[[2]string{k.cat, k.rate}] += all - was
		credits[numbers[k.inv]] += nets[k] + all - was
	}
	for i := range doc.References {
		doc.References[i].Amount = credits[doc.References[i].Number]
	}
	var tax int64
	for i := range doc.VAT {
		st := &doc.VAT[i]
		st.Tax = taxOf[[2]string{st.Category, st.Rate}]
		tax += st.Tax
	}
	t := &doc.Totals
	t.Tax, t.TaxInclusive = tax, t.TaxExclusive+tax
	t.Prepaid = min(t.Prepaid, t.TaxInclusive)
	t.Payable = t.TaxInclusive - t.Prepaid
	return nil
}

func hubParty(h store.Hub) invoice.Party {
	return invoice.Party{Name: h.LegalName, TradingName: h.TradingName, Address: address(h.Address), VATID: h.VATID,
		CompanyID: h.CompanyID, CompanyIDScheme: h.CompanyIDScheme, EndpointScheme: h.EndpointScheme, EndpointID: h.EndpointID, Email: h.Email}
}

func buyerParty(r store.BillingReseller, p store.BillingProfile) invoice.Party {
	name := p.LegalName
	if name == "" {
		name = r.Name
	}
	email := ""
	if len(p.Emails) > 0 {
		email = p.Emails[0]
	}
	return invoice.Party{ID: r.ID, Name: name, Address: address(p.Address), VATID: p.VATID, CompanyID: p.CompanyID,
		CompanyIDScheme: p.CompanyIDScheme, EndpointScheme: p.EndpointScheme, EndpointID: p.EndpointID, Email: email}
}

func address(a store.Address) invoice.Address {
	return invoice.Address{Street: a.Street, Additional: a.Additional, City: a.City, PostalCode: a.PostalCode, Subdivision: a.Subdivision, Country: a.Country}
}

// invalidAt is the position (from 1, in characters) of the first byte of s
// that is not UTF-8, or of its first U+FFFD; 0 when there is none.
func invalidAt(s string) int {
	n := 1
	for _, r := range s {
		if r == utf8.RuneError {
			return n
		}
		n++
	}
	return 0
}

// ErrNoReason: a credit note without a reason.
var ErrNoReason = errors.New("a credit note needs a reason (--reason) of printable text: it is printed on the document")

// ErrNothingToCredit: the lines named are credited already, or do not exist.
var ErrNothingToCredit = errors.New("nothing left to credit")

// ErrNoSuchLine: a line number the invoice does not have.
var ErrNoSuchLine = errors.New("no such line")

// ErrNotAnInvoice: the number is a credit note's.
var ErrNotAnInvoice = errors.New("not an invoice")

// ErrNoDocument: no document has the number.
var ErrNoDocument = errors.New("no such document")

// Credit issues a credit note for lines of an invoice (every line when
// lines is empty) that reverses what they billed, for reason. An item
// credited once is never credited again.
func (b *Biller) Credit(ctx context.Context, number string, lines []int, reason string) (*invoice.Document, int64, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, 0, ErrNoReason
	}
	// A byte that is not UTF-8 (the command line hands it on as U+FFFD)
	// would be printed as a replacement character on an immutable document.
	if at := invalidAt(reason); at > 0 {
		return nil, 0, fmt.Errorf("%w: the reason is not UTF-8 text (the byte at character %d is not, or is U+FFFD): write plain text", ErrNoReason, at)
	}
	if r, at, ok := render.Unprintable(reason); ok {
		return nil, 0, fmt.Errorf("%w: the reason has the character U+%04X at character %d, which a document cannot show: write plain text", ErrNoReason, r, at)
	}
	if n := utf8.RuneCountInString(reason); n > 500 {
		return nil, 0, fmt.Errorf("%w: the reason has %d characters; it may have at most 500", ErrNoReason, n)
	}
	hub, err := store.New(b.Pool).Hub(ctx)
	if err != nil {
		return nil, 0, err
	}
	loc, err := time.LoadLocation(hub.TimeZone)
	if err != nil {
		return nil, 0, fmt.Errorf("the hub's billing time zone %q: %w", hub.TimeZone, err)
	}
	var doc *invoice.Document
	var id int64
	err = store.BeginFunc(ctx, b.Pool, func(tx store.Tx) error {
		if err := store.LockBilling(ctx, tx); err != nil {
			return err
		}
		inv, ok, err := store.InvoiceByNumber(ctx, tx, number)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s (clearhouse invoices lists them)", ErrNoDocument, number)
		}
		if inv.DocType != DocInvoice {
			return fmt.Errorf("%w: %s is a credit note; only invoices are credited", ErrNotAnInvoice, number)
		}
		rs, err := store.BillingResellers(ctx, tx, inv.ResellerID)
		if err != nil {
			return err
		}
		if len(rs) != 1 {
			return fmt.Errorf("%w: %s", ErrUnknownReseller, inv.ResellerID)
		}
		have, err := store.LineNumbers(ctx, tx, inv.ID)
		if err != nil {
			return err
		}
		nos := make([]int32, len(lines))
		for i, l := range lines {
			if l < 1 || l > math.MaxInt32 {
				return fmt.Errorf("%w: %s has lines 1 to %d, not %d", ErrNoSuchLine, number, len(have), l)
			}
			nos[i] = int32(l)
			if !slices.Contains(have, nos[i]) {
				return fmt.Errorf("%w: %s has lines 1 to %d, not %d", ErrNoSuchLine, number, len(have), l)
			}
		}
		n, err := store.StageLineCredits(ctx, tx, inv.ID, nos) // on an emptied stage
		if err != nil {
			return err
		}
		if n == 0 {
			which := "its lines"
			if len(lines) > 0 {
				which = "lines " + strings.Trim(fmt.Sprint(lines), "[]")
			}
			return fmt.Errorf("%w on %s (%s): credited already", ErrNothingToCredit, number, which)
		}
		staged, err := store.StagedLines(ctx, tx)
		if err != nil {
			return err
		}
		is := &issuer{b: b, tx: tx, hub: hub, r: rs[0], cur: money.Currency(inv.Currency), today: Today(b.now(), loc), period: inv.Period,
			items: &store.ItemLines{}}
		if err := is.accounts(ctx); err != nil {
			return err
		}
		if doc, id, err = is.issue(ctx, DocCreditNote, staged, "manual", reason); err != nil {
			return err
		}
		if err := store.WriteItems(ctx, tx, is.items); err != nil {
			return err
		}
		if b.Issued != nil {
			return b.Issued(ctx, tx, id, inv.ResellerID)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return doc, id, nil
}
