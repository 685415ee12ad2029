package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/declare"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// errAbort cancels a COPY whose file turned out to be rejected whole.
var errAbort = errors.New("file rejected: posting abandoned")

// ErrAlreadyDeclared is returned when the database refuses a declaration id
// that the checks let through (two writers without the reseller lock).
var ErrAlreadyDeclared = store.ErrAlreadyDeclared

// process checks and posts a registered file in one transaction, under a
// lock on the reseller so its files are checked and posted one at a time,
// in order, against committed history.
func (s *Service) process(ctx context.Context, req Request, blob archive.Blob, fileID int64) error {
	// A workbook is slow to decode: it is read into a spool first, so that
	// the reseller's other files do not wait while it is only being read.
	spooled, err := s.spoolWorkbook(ctx, req, blob)
	if err != nil {
		return err
	}
	if spooled != nil {
		defer spooled.Close()
		if req.spooled, err = tabular.Replay(spooled); err != nil {
			return err
		}
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := store.LockReseller(ctx, tx, req.Partner); err != nil {
		return err
	}
	state, err := store.LockFile(ctx, tx, fileID)
	if err != nil {
		return err
	}
	if (store.FileRecord{State: state}).Finished() {
		return nil // another process finished it while we waited for the lock
	}
	// Another upload of the same bytes may have been posted since this one
	// was registered (both processed at once): this one is its duplicate.
	posted, err := store.PostedFile(ctx, tx, req.Partner, blob.SHA256[:])
	if err != nil {
		return err
	}
	if posted != 0 {
		if err := store.MarkDuplicate(ctx, tx, fileID, posted); err != nil {
			return err
		}
		if err := s.finished(ctx, tx, fileID, req.Partner); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	reseller, catalog, err := declare.LoadReseller(ctx, resellers{tx}, req.Partner)
	if err != nil {
		return err
	}
	rep := problem.NewReport(s.maxProblems())
	echo := newEcho(s.tmpDir(), fileID, req.Name)
	defer echo.close()
	if blob.Size > s.maxFileBytes() {
		rep.Add(tooLarge(req.Name, blob.Size, s.maxFileBytes()))
		tx.Rollback(ctx)
		return s.recordRejected(ctx, fileID, reseller, declare.Summary{}, rep, echo)
	}
	if p := req.Expect.checkBytes(req.Name, blob); p != nil {
		rep.Add(p)
		tx.Rollback(ctx)
		return s.recordRejected(ctx, fileID, reseller, declare.Summary{}, rep, echo)
	}
	f, err := s.Archive.Open(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	p := &poster{s: s, tx: tx, fileID: fileID, reseller: reseller, echo: echo, last: time.Now()}
	var sum declare.Summary
	var whole bool
	if req.Kind == "customers" {
		sum, whole, err = p.customers(ctx, req, f, rep)
	} else {
		sum, whole, err = p.declarations(ctx, req, f, catalog, rep)
	}
	if err != nil {
		return err
	}
	if p := req.Expect.checkRows(req.Name, sum); p != nil && !whole {
		rep.Add(p)
		whole = true
	}
	if whole {
		tx.Rollback(ctx)
		return s.recordRejected(ctx, fileID, reseller, sum, rep, echo)
	}
	if err := s.finishFile(ctx, tx, fileID, reseller, sum, rep, "posted", echo); err != nil {
		return err
	}
	if err := s.fail("before-commit"); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	p.stage("commit")
	return nil
}

// spoolWorkbook decodes an archived workbook into an unlinked temporary
// file, read from the start; nil for a file that is not a workbook (or is
// too large to be read at all).
func (s *Service) spoolWorkbook(ctx context.Context, req Request, blob archive.Blob) (*os.File, error) {
	if blob.Size > s.maxFileBytes() {
		return nil, nil
	}
	f, err := s.Archive.Open(blob)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !tabular.IsWorkbook(f) {
		return nil, nil
	}
	t := time.Now()
	reseller, _, err := declare.LoadReseller(ctx, resellers{s.Pool}, req.Partner)
	if err != nil {
		return nil, err
	}
	r, err := tabular.Open(f, s.readerOptions(reseller, req))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.tmpDir(), 0o700); err != nil {
		return nil, err
	}
	out, err := os.CreateTemp(s.tmpDir(), "workbook-*")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(out.Name()) // nothing to clean up after a crash
	if err := tabular.SpoolTo(r, out); err != nil {
		out.Close()
		return nil, fmt.Errorf("reading workbook %s: %w", req.Name, err)
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		out.Close()
		return nil, err
	}
	s.stageDone("workbook", t)
	return out, nil
}

// recordRejected marks a file rejected whole, with its problems, in its own
// transaction: nothing of the file was posted.
func (s *Service) recordRejected(ctx context.Context, fileID int64, r *declare.Reseller, sum declare.Summary, rep *problem.Report, e *echo) error {
	return store.BeginFunc(ctx, s.Pool, func(tx store.Tx) error {
		return s.finishFile(ctx, tx, fileID, r, sum, rep, "rejected", e)
	})
}

func (s *Service) finishFile(ctx context.Context, tx store.Tx, fileID int64, r *declare.Reseller, sum declare.Summary, rep *problem.Report, state string, e *echo) error {
	o := &Outcome{}
	o.fill(sum, rep, state == "rejected")
	if err := store.AddProblems(ctx, tx, fileID, rep.Problems); err != nil {
		return err
	}
	if err := e.finish(ctx, tx, s.made(), rep.Problems, state == store.FileRejected, r.Format.Dialect()); err != nil {
		return err
	}
	err := store.FinishFile(ctx, tx, fileID, store.FileResult{State: state, Status: o.Status, Rows: o.Rows, Accepted: o.Accepted, Rejected: o.Rejected,
		Currency: string(r.Currency), Amount: o.Amount, Problems: len(rep.Problems)})
	if err != nil {
		return err
	}
	return s.finished(ctx, tx, fileID, r.ID)
}

// poster writes one file's accepted records inside the file's transaction.
type poster struct {
	s        *Service
	tx       store.Tx
	fileID   int64
	reseller *declare.Reseller
	echo     *echo
	last     time.Time
}

// stage logs how long the step that just ended took.
func (p *poster) stage(name string) {
	if !p.last.IsZero() {
		p.s.log().Debug("stage done", "file_id", p.fileID, "stage", name, "seconds", time.Since(p.last).Seconds())
		p.s.stageDone(name, p.last)
	}
	p.last = time.Now()
}

// sinks receive a file's accepted records, one kind or the other.
type sinks struct {
	decl func(*declare.Decl) error
	cust func(*declare.Customer) error
}

// copyChecked checks a file while its accepted records stream into a COPY
// (sinks writes them to the COPY's input). A file rejected whole abandons
// the COPY, and the caller's transaction with it.
func (p *poster) copyChecked(ctx context.Context, sql string, req Request, f *os.File, catalog declare.Catalog, rep *problem.Report,
	makeSinks func(*bufio.Writer) sinks) (declare.Summary, bool, error) {
	var sum declare.Summary
	var whole bool
	err := p.copyStream(ctx, sql, func(w *bufio.Writer) error {
		s := makeSinks(w)
		var err error
		if sum, whole, err = p.s.check(ctx, req, f, p.reseller, catalog, rep, s.decl, s.cust, p.echo); err != nil {
			return err
		}
		if whole {
			return errAbort
		}
		return nil
	})
	if whole && errors.Is(err, errAbort) {
		return sum, true, nil
	}
	return sum, false, err
}

// copyStream runs a COPY on the transaction's connection, fed by write
// while it runs. It returns the COPY's error, or write's.
func (p *poster) copyStream(ctx context.Context, sql string, write func(*bufio.Writer) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := p.tx.Conn().PgConn().CopyFrom(ctx, pr, sql)
		pr.CloseWithError(err)
		done <- err
	}()
	bw := bufio.NewWriterSize(pw, 256<<10)
	werr := write(bw)
	if werr == nil {
		werr = bw.Flush()
	}
	if werr != nil {
		pw.CloseWithError(werr)
		<-done
		return werr
	}
	pw.Close()
	err := <-done
	return store.TranslateCopy(err)
}

const copyStageCustomersSQL = `COPY stage_customers FROM STDIN`

// customers posts a customers file: its rows are checked while the
// accepted ones are copied into a staging table, then upserted.
func (p *poster) customers(ctx context.Context, req Request, f *os.File, rep *problem.Report) (declare.Summary, bool, error) {
	if err := store.CreateStageCustomers(ctx, p.tx); err != nil {
		return declare.Summary{}, false, fmt.Errorf("staging the customers of file %d: %w", p.fileID, err)
	}
	sum, whole, err := p.copyChecked(ctx, copyStageCustomersSQL, req, f, nil, rep, func(w *bufio.Writer) sinks {
		c := copyRow{w: w}
		return sinks{cust: func(cu *declare.Customer) error {
			writeStageCustomer(&c, cu)
			return p.s.fail("copy")
		}}
	})
	if whole || err != nil {
		return sum, whole, err
	}
	if err := p.upsertCustomers(ctx); err != nil {
		return sum, false, err
	}
	return sum, false, p.s.fail("after-customers")
}

// writeStageCustomer encodes an accepted customer as a row of COPY
// stage_customers.
func writeStageCustomer(c *copyRow, cu *declare.Customer) {
	c.begin()
	c.int(int64(cu.Line))
	c.text(cu.CustomerID)
	c.text(cu.Email)
	c.contact(cu.Name, cu.Country, cu.Language)
	c.textOrNull(cu.Company)
	c.textOrNull(cu.VATID)
	c.end()
}

// upsertCustomers creates the staged customers or updates them, keeping a
// known customer's values where the file leaves a column empty.
func (p *poster) upsertCustomers(ctx context.Context) error {
	if err := store.UpsertStagedCustomers(ctx, p.tx, p.reseller.ID, p.fileID); err != nil {
		return fmt.Errorf("upserting customers: %w", err)
	}
	return nil
}
