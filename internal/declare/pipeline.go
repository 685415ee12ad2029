package declare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// The stages of a declarations check (Checker.Run): rows travel in
// batches from the reader, through workers that run each row's own checks
// and the history look-ups, back into file order for the checks that
// depend on earlier rows. This file is the machinery; the rules are in
// declarations.go.

// runStages runs the three stages of Run: reading rows into numbered
// batches; the checks a row needs alone and the history look-ups of its
// batch, on several goroutines; and, in file order on the caller's
// goroutine, finishBatch. It returns a failure that is not the file's
// fault; it stops early when the report is full or the last batch is done.
func (c *Checker) runStages(ctx context.Context, r tabular.Reader) error {
	workers := c.Workers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 4)
	}
	// Batches are recycled through free; at most maxBatches exist, which
	// bounds memory however the stages' speeds differ.
	maxBatches := 2*workers + 6
	free := make(chan *batch, maxBatches)
	read := make(chan *batch, 2)
	looked := make(chan *batch, workers+1)
	done := make(chan struct{})
	var stages, workersWG sync.WaitGroup
	// Whatever ends the check, no stage outlives Run: the reader and the
	// Repeats are the caller's to close once it returns.
	defer func() { close(done); stages.Wait() }()
	stages.Go(func() { c.readStage(r, maxBatches, free, read, done) })
	for range workers {
		workersWG.Go(func() { c.lookupStage(ctx, read, looked, done) })
	}
	stages.Go(func() { workersWG.Wait(); close(looked) })
	ahead := map[int]*batch{} // batches that came back before their turn
	next, end := 0, false
	for b := range looked {
		ahead[b.seq] = b
		for !c.stopped && !end {
			b, ok := ahead[next]
			if !ok {
				break
			}
			delete(ahead, next)
			next++
			if b.err != nil {
				return b.err
			}
			c.finishBatch(b)
			end = b.last
			free <- b // never blocks: free holds every batch there is
		}
		if c.stopped || end {
			break
		}
	}
	return nil
}

// finishBatch runs the in-order checks on a batch's rows.
func (c *Checker) finishBatch(b *batch) {
	var warm uint64
	for _, pd := range b.rows {
		if pd.keepID {
			warm += c.seen.touch(pd.hDecl)
		}
		if pd.keepCust {
			warm += c.newCusts.touch(pd.hCust)
		}
	}
	c.warm += warm
	for _, pd := range b.rows {
		if c.stopped {
			break
		}
		c.finish(pd, b.prior, b.known)
		if c.Echo != nil {
			if pd.read && len(pd.row.Fields) == 0 {
				c.Echo.Row(pd.d.Line, nil)
			} else {
				c.Echo.Row(pd.row.Line, pd.row.Fields)
			}
		}
		if pd.forget != 0 {
			c.forget(pd)
		}
	}
	if b.fileProblem != nil && !c.stopped {
		c.add(b.fileProblem)
	}
}

// forget drops the ids of the row that no later row refers to (Repeats).
func (c *Checker) forget(pd *pending) {
	d := &pd.d
	if pd.forget&lastID != 0 {
		c.forgetDeclaration(d.DeclarationID)
	}
	if pd.forget&lastRef != 0 {
		c.forgetDeclaration(d.SubscriptionRef)
	}
	if pd.forget&lastCust != 0 {
		c.newCusts.remove(d.CustomerID)
	}
}

func (c *Checker) forgetDeclaration(id string) {
	if line, ok := c.seen.remove(id); ok {
		c.subs.remove(line)
	}
	c.termRefs.remove(c.key(id))
}

// batch is a run of rows travelling through the stages.
type batch struct {
	seq         int // order in the file
	rows        []*pending
	spare       []*pending // allocated rows kept for reuse
	prior       map[string]Prior
	known       map[string]bool
	fileProblem *problem.Problem // a problem that ended reading, after rows
	last        bool             // no batch follows
	err         error            // a failure that is not the file's fault
}

// pending is a row between its own checks and the checks needing history.
type pending struct {
	row     tabular.Row // as read; its Fields slice is the pending's own
	numbers uint64      // layout columns whose text came from number cells (Values.Numbers)
	d       Decl
	ok      bool
	read    bool // the reader refused the row itself (probs says why)
	probs   []*problem.Problem
	// hashes of DeclarationID in c.seen and CustomerID in c.newCusts,
	// computed in the lookup stage, off the in-order stage's core.
	hDecl, hCust uint32
	// whether the id, the subscription ref and the customer may occur
	// elsewhere in the file (always, without Repeats): only then are they
	// remembered and looked up in the in-file sets.
	keepID, keepRef, keepCust bool
	ord                       int  // the row's number in the file, the header excluded (Repeats)
	forget                    byte // the last* flags of Repeats: ids not to remember after this row
}

func (pd *pending) add(p *problem.Problem) { pd.probs = append(pd.probs, p) }

// readStage reads rows and sends them in numbered batches on out; the last
// batch has last set. The checks each row needs alone run in the next
// stage, so that reading (decoding, splitting) and checking share the cores.
func (c *Checker) readStage(r tabular.Reader, maxBatches int, free <-chan *batch, out chan<- *batch, done <-chan struct{}) {
	defer close(out)
	made, seq, ord := 0, 0, 0
	next := func() *batch {
		var b *batch
		select {
		case b = <-free:
		default:
			if made < maxBatches {
				made++
				b = &batch{rows: make([]*pending, 0, c.BatchSize)}
			} else {
				select {
				case b = <-free:
				case <-done:
					return nil
				}
			}
		}
		b.spare = append(b.spare, b.rows...)
		b.rows, b.prior, b.known, b.fileProblem, b.last, b.err = b.rows[:0], nil, nil, nil, false, nil
		b.seq, seq = seq, seq+1
		return b
	}
	b := next()
	for b != nil {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			b.last = true
		} else if err != nil {
			var p *problem.Problem
			if errors.As(err, &p) && p.Scope == problem.ScopeRow {
				pd := b.take(c)
				pd.ord, ord = ord, ord+1
				pd.read, pd.ok = true, false
				pd.probs = append(pd.probs[:0], p)
				pd.d = Decl{Line: p.Pos.Line}
				pd.row.Line, pd.row.Numbers = p.Pos.Line, 0
				pd.row.Fields = append(pd.row.Fields[:0], row.Fields...) // as the reader could show them (or none), for the rejects file
			} else if errors.As(err, &p) {
				b.fileProblem, b.last = p, true
			} else {
				b.err, b.last = err, true
			}
		} else if c.bind.OnlyIgnored(row.Fields) {
			continue // a rejects file's further problems of a line: not data
		} else {
			pd := b.take(c)
			pd.ord, ord = ord, ord+1
			pd.read = false
			pd.row.Line, pd.row.Numbers = row.Line, row.Numbers
			pd.row.Fields = append(pd.row.Fields[:0], row.Fields...) // the reader reuses its slice, not the strings
		}
		if b.last || len(b.rows) == c.BatchSize {
			select {
			case out <- b:
			case <-done:
				return
			}
			if b.last {
				return
			}
			b = next()
		}
	}
}

// take returns the next row slot of the batch, reusing an old one if any.
func (b *batch) take(c *Checker) *pending {
	var pd *pending
	if n := len(b.spare); n > 0 {
		pd, b.spare = b.spare[n-1], b.spare[:n-1]
	} else {
		pd = &pending{}
	}
	b.rows = append(b.rows, pd)
	return pd
}

// lookupStage runs the checks each row needs alone, then asks history about
// the batch's ids, one batch at a time. Several run at once; batches leave
// in any order and the in-order stage puts them back in file order.
func (c *Checker) lookupStage(ctx context.Context, in <-chan *batch, out chan<- *batch, done <-chan struct{}) {
	w := &worker{bind: c.bind.Clone(), vals: c.bind.NewValues()}
	var ids, custs []string
	for b := range in {
		ids, custs = ids[:0], custs[:0]
		for _, pd := range b.rows {
			if !pd.read {
				c.prepare(w, pd.row, pd)
			}
			d := &pd.d
			pd.hDecl, pd.hCust = c.seen.hash(d.DeclarationID), c.newCusts.hash(d.CustomerID)
			pd.keepID, pd.keepRef, pd.keepCust, pd.forget = true, true, true, 0
			if c.Repeats != nil {
				f := c.Repeats.row(pd.ord)
				pd.keepID, pd.keepRef, pd.keepCust = f&keepID != 0, f&keepRef != 0, f&keepCust != 0
				pd.forget = f & (lastID | lastRef | lastCust)
			}
			ids, custs = c.historyIDs(d, ids, custs)
		}
		if b.err == nil && len(ids) > 0 {
			if b.prior, b.err = c.History.Declarations(ctx, c.Reseller.ID, ids); b.err != nil {
				b.err = fmt.Errorf("looking up earlier declarations: %w", b.err)
			}
		}
		if b.err == nil && len(custs) > 0 {
			if b.known, b.err = c.History.Customers(ctx, c.Reseller.ID, custs); b.err != nil {
				b.err = fmt.Errorf("looking up customers: %w", b.err)
			}
		}
		select {
		case out <- b:
		case <-done:
			return
		}
	}
}

// worker is what one goroutine of the lookup stage keeps for itself.
type worker struct {
	bind   *schema.Binding // a clone: its caches are the worker's
	vals   *schema.Values  // of the row being prepared
	splits map[splitKey][3]int64
}
