package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/declare"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// errAbort cancels a COPY whose file turned out to be rejected whole.
var errAbort = errors.New("file rejected: posting abandoned")

// ErrAlreadyDeclared is returned when the database refuses a declaration id
// that the checks let through (two writers without the reseller lock).
var ErrAlreadyDeclared = errors.New("declaration_id already posted")

var declColumns = `file_id, line, reseller_id, declaration_id, action, customer_id, customer_email, customer_name, country, language,
	sku, publisher_id, billing_model, quantity, start_date, end_date, price_valid_from, unit_price, currency, resale_price,
	subscription_ref, amount, publisher_amount, hub_amount, entry_id, unbilled_account, payable_account, revenue_account, sub_state`

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
	if _, err := tx.Exec(ctx, `SELECT 1 FROM resellers WHERE partner_id = $1 FOR UPDATE`, req.Partner); err != nil {
		return err
	}
	var state string
	if err := tx.QueryRow(ctx, `SELECT state FROM files WHERE id = $1 FOR UPDATE`, fileID).Scan(&state); err != nil {
		return err
	}
	if state == "posted" || state == "rejected" || state == "duplicate" {
		return nil // another process finished it while we waited for the lock
	}
	// Another upload of the same bytes may have been posted since this one
	// was registered (both processed at once): this one is its duplicate.
	var posted int64
	err = tx.QueryRow(ctx, `SELECT id FROM files WHERE partner_id = $1 AND sha256 = $2 AND state = 'posted'`, req.Partner, blob.SHA256[:]).Scan(&posted)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if posted != 0 {
		if _, err := tx.Exec(ctx, `UPDATE files SET state = 'duplicate', status = 'DUPLICATE', duplicate_of = $2, processed_at = now(), last_error = NULL
			WHERE id = $1`, fileID, posted); err != nil {
			return err
		}
		if err := s.finished(ctx, tx, fileID, req.Partner); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	reseller, catalog, err := declare.LoadReseller(ctx, tx, req.Partner)
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
	reseller, _, err := declare.LoadReseller(ctx, s.Pool, req.Partner)
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
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		return s.finishFile(ctx, tx, fileID, r, sum, rep, "rejected", e)
	})
}

func (s *Service) finishFile(ctx context.Context, tx pgx.Tx, fileID int64, r *declare.Reseller, sum declare.Summary, rep *problem.Report, state string, e *echo) error {
	o := &Outcome{}
	o.fill(sum, rep, state == "rejected")
	if err := storeProblems(ctx, tx, fileID, rep.Problems); err != nil {
		return err
	}
	if err := e.finish(ctx, tx, s.made(), rep.Problems, state == "rejected", r.Format.Dialect()); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		UPDATE files SET state = $2, status = $3, rows_total = $4, rows_accepted = $5, rows_rejected = $6,
		       currency = $7, amount_total = $8, problem_count = $9, processed_at = now(), last_error = NULL
		 WHERE id = $1`, fileID, state, o.Status, o.Rows, o.Accepted, o.Rejected, string(r.Currency), o.Amount, len(rep.Problems))
	if err != nil {
		return err
	}
	return s.finished(ctx, tx, fileID, r.ID)
}

// storeProblems records a file's problems in line order (file-level first).
func storeProblems(ctx context.Context, tx pgx.Tx, fileID int64, probs []*problem.Problem) error {
	if len(probs) == 0 {
		return nil
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Pos.Line < probs[j].Pos.Line })
	rows := make([][]any, len(probs))
	for i, p := range probs {
		rows[i] = []any{fileID, i + 1, p.Pos.Line, p.Pos.Sheet, p.Pos.Column, string(p.Code), string(p.Severity), string(p.Scope), p.Value, p.Message}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"file_problems"},
		[]string{"file_id", "seq", "line", "sheet", "col", "code", "severity", "scope", "value", "message"}, pgx.CopyFromRows(rows))
	return err
}

// poster writes one file's accepted records inside the file's transaction.
type poster struct {
	s        *Service
	tx       pgx.Tx
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
	if store.Constraint(err) == "declarations_reseller_declaration_key" {
		return fmt.Errorf("%w: %v", ErrAlreadyDeclared, err)
	}
	return err
}

func (p *poster) declarations(ctx context.Context, req Request, f *os.File, catalog declare.Catalog, rep *problem.Report) (declare.Summary, bool, error) {
	tx, r := p.tx, p.reseller
	j := store.New(tx) // the ledger's statements, in the file's transaction
	unbilled, err := ledger.Account(ctx, j, ledger.Unbilled(r.ID), r.Currency, r.ID)
	if err != nil {
		return declare.Summary{}, false, err
	}
	revenue, err := ledger.Account(ctx, j, ledger.HubRevenue, r.Currency, "")
	if err != nil {
		return declare.Summary{}, false, err
	}
	payable := map[string]int64{}
	for _, it := range catalog {
		if _, ok := payable[it.PublisherID]; !ok {
			if payable[it.PublisherID], err = ledger.Account(ctx, j, ledger.Payable(it.PublisherID), r.Currency, it.PublisherID); err != nil {
				return declare.Summary{}, false, err
			}
		}
	}
	entryID, err := ledger.NextID(ctx, j)
	if err != nil {
		return declare.Summary{}, false, err
	}
	var (
		total    int64
		perPub   = map[string]*pubTotals{}
		terms    int
		reseller = r.ID
		fileID   = strconv.FormatInt(p.fileID, 10)
	)
	inserts, err := newSpool(p.s.tmpDir())
	if err != nil {
		return declare.Summary{}, false, err
	}
	defer inserts.close()
	updates, err := newSpool(p.s.tmpDir())
	if err != nil {
		return declare.Summary{}, false, err
	}
	defer updates.close()
	sum, whole, err := p.copyChecked(ctx, "COPY declarations ("+declColumns+") FROM STDIN", req, f, catalog, rep, func(w *bufio.Writer) sinks {
		c := copyRow{w: w}
		n := 0
		accept := func(d *declare.Decl) error {
			if n++; n == 2 {
				if err := p.s.fail("copy"); err != nil {
					return err
				}
			}
			c.begin()
			c.raw(fileID)
			c.int(int64(d.Line))
			c.text(reseller)
			c.text(d.DeclarationID)
			c.text(d.Action)
			c.text(d.CustomerID)
			c.textOrNull(d.Email)
			c.textOrNull(d.Name)
			c.textOrNull(d.Country)
			c.textOrNull(d.Language)
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
			c.text(string(r.Currency))
			if d.HasResale {
				c.dec(d.ResalePrice)
			} else {
				c.null()
			}
			c.textOrNull(d.SubscriptionRef)
			c.int(d.Amount)
			c.int(d.PublisherAmount)
			c.int(d.HubAmount)
			c.int(entryID)
			c.int(unbilled)
			c.int(payable[d.Item.PublisherID])
			c.int(revenue)
			if d.Action == "NEW" && d.Item.BillingModel == "monthly" {
				c.text("active")
			} else {
				c.null()
			}
			c.end()
			if d.Action == "NEW" {
				// New customers are copied in after the declarations; known
				// ones (and a customer's later rows) are applied as updates.
				sp := updates
				if d.NewCustomer {
					sp = inserts
				}
				sp.n++
				sp.row.begin()
				sp.row.text(reseller)
				sp.row.text(d.CustomerID)
				sp.row.text(d.Email)
				sp.row.textOrNull(d.Name)
				sp.row.textOrNull(d.Country)
				sp.row.textOrNull(d.Language)
				sp.row.raw(fileID)
				if d.NewCustomer {
					sp.row.raw(fileID)
				} else {
					sp.row.int(int64(d.Line))
				}
				sp.row.end()
			}
			total += d.Amount
			pt := perPub[d.Item.PublisherID]
			if pt == nil {
				pt = &pubTotals{}
				perPub[d.Item.PublisherID] = pt
			}
			pt.amount += d.PublisherAmount
			switch d.Action {
			case "NEW":
				pt.activations++
			case "TERMINATE":
				pt.cancellations++
				terms++
			}
			return nil
		}
		return sinks{decl: accept}
	})
	if whole || err != nil {
		return sum, whole, err
	}
	p.stage("check+copy")
	if err := p.s.fail("after-copy"); err != nil {
		return sum, false, err
	}
	// One entry for the file: a posting per account touched, summed over its rows.
	postings := []ledger.Posting{{AccountID: unbilled, Amount: total, Currency: r.Currency}}
	var hub int64 = total
	for pub, pt := range perPub {
		postings = append(postings, ledger.Posting{AccountID: payable[pub], Amount: -pt.amount, Currency: r.Currency})
		hub -= pt.amount
	}
	postings = append(postings, ledger.Posting{AccountID: revenue, Amount: -hub, Currency: r.Currency})
	if _, _, err := ledger.Post(ctx, j, &ledger.Entry{ID: entryID, Key: "declarations:file:" + fileID, Kind: "declarations", FileID: p.fileID,
		Description: fmt.Sprintf("%s: %s", r.ID, req.Name), Postings: postings}); err != nil {
		return sum, false, err
	}
	p.stage("entry")
	if err := p.s.fail("after-entry"); err != nil {
		return sum, false, err
	}
	if terms > 0 {
		tag, err := tx.Exec(ctx, `
			UPDATE declarations s SET sub_state = 'terminated', sub_end_date = t.start_date, terminated_by = t.declaration_id
			  FROM declarations t
			 WHERE t.file_id = $1 AND t.action = 'TERMINATE'
			   AND s.reseller_id = t.reseller_id AND s.declaration_id = t.subscription_ref AND s.sub_state = 'active'`, p.fileID)
		if err != nil {
			return sum, false, err
		}
		if int(tag.RowsAffected()) != terms {
			return sum, false, fmt.Errorf("terminating subscriptions: %d of %d found active", tag.RowsAffected(), terms)
		}
	}
	p.stage("subscriptions")
	if err := p.s.fail("after-subscriptions"); err != nil {
		return sum, false, err
	}
	if err := p.customersFromSpools(ctx, inserts, updates); err != nil {
		return sum, false, fmt.Errorf("writing customers: %w", err)
	}
	p.stage("customers")
	if err := p.s.fail("after-customers"); err != nil {
		return sum, false, err
	}
	for pub, pt := range perPub {
		if pt.activations+pt.cancellations == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fulfillment_outbox (file_id, publisher_id, activations, cancellations) VALUES ($1, $2, $3, $4)`,
			p.fileID, pub, pt.activations, pt.cancellations); err != nil {
			return sum, false, err
		}
	}
	p.stage("outbox")
	if err := p.s.fail("after-outbox"); err != nil {
		return sum, false, err
	}
	return sum, false, nil
}

// customersFromSpools creates the file's new customers with one COPY and
// applies the rows of known customers as updates, the file's last row for a
// customer winning. The reseller lock keeps other writers of them out.
func (p *poster) customersFromSpools(ctx context.Context, inserts, updates *spool) error {
	tx := p.tx
	if inserts.n > 0 {
		r, err := inserts.reader()
		if err != nil {
			return err
		}
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, r,
			`COPY customers (reseller_id, customer_id, email, name, country, language, created_file_id, updated_file_id) FROM STDIN`); err != nil {
			return err
		}
	}
	if updates.n == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE stage_customer_updates (reseller_id text, customer_id text, email text, name text,
		country text, language text, file_id bigint, line int) ON COMMIT DROP`); err != nil {
		return err
	}
	r, err := updates.reader()
	if err != nil {
		return err
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, r, `COPY stage_customer_updates FROM STDIN`); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		UPDATE customers c SET email = u.email, name = coalesce(u.name, c.name), country = coalesce(u.country, c.country),
		       language = coalesce(u.language, c.language), updated_file_id = u.file_id, updated_at = now()
		  FROM (SELECT DISTINCT ON (customer_id) * FROM stage_customer_updates ORDER BY customer_id, line DESC) u
		 WHERE c.reseller_id = u.reseller_id AND c.customer_id = u.customer_id
		   AND (c.email, c.name, c.country, c.language) IS DISTINCT FROM
		       (u.email, coalesce(u.name, c.name), coalesce(u.country, c.country), coalesce(u.language, c.language))`)
	return err
}

// spool holds COPY rows that a file's transaction writes after its main
// COPY: in memory up to spillAt, then in an unlinked temporary file, so a
// small file costs no file creation and a large one no memory.
type spool struct {
	dir string
	buf bytes.Buffer
	f   *os.File
	row copyRow
	n   int
}

const spillAt = 1 << 20

func newSpool(dir string) (*spool, error) {
	s := &spool{dir: dir}
	s.row = copyRow{w: bufio.NewWriterSize(s, 64<<10)}
	return s, nil
}

// Write takes what the row writer flushes.
func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && s.buf.Len()+len(p) <= spillAt {
		return s.buf.Write(p)
	}
	if s.f == nil {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return 0, err
		}
		f, err := os.CreateTemp(s.dir, "spool-*")
		if err != nil {
			return 0, err
		}
		_ = os.Remove(f.Name()) // nothing to clean up after a crash
		s.f = f
		if _, err := f.Write(s.buf.Bytes()); err != nil {
			return 0, err
		}
		s.buf = bytes.Buffer{}
	}
	return s.f.Write(p)
}

// reader flushes the spool and reads it from the start.
func (s *spool) reader() (io.Reader, error) {
	if err := s.row.w.Flush(); err != nil {
		return nil, err
	}
	if s.f == nil {
		return bytes.NewReader(s.buf.Bytes()), nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return bufio.NewReaderSize(s.f, 256<<10), nil
}

func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
	}
}

type pubTotals struct {
	amount                     int64
	activations, cancellations int
}

func (p *poster) customers(ctx context.Context, req Request, f *os.File, rep *problem.Report) (declare.Summary, bool, error) {
	tx := p.tx
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE stage_customers (line int, customer_id text, email text, name text, country text,
		language text, company text, vat_id text) ON COMMIT DROP`); err != nil {
		return declare.Summary{}, false, err
	}
	sum, whole, err := p.copyChecked(ctx, "COPY stage_customers FROM STDIN", req, f, nil, rep, func(w *bufio.Writer) sinks {
		c := copyRow{w: w}
		return sinks{cust: func(cu *declare.Customer) error {
			c.begin()
			c.int(int64(cu.Line))
			c.text(cu.CustomerID)
			c.text(cu.Email)
			for _, v := range []string{cu.Name, cu.Country, cu.Language, cu.Company, cu.VATID} {
				c.textOrNull(v)
			}
			c.end()
			return p.s.fail("copy")
		}}
	})
	if whole || err != nil {
		return sum, whole, err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO customers AS c (reseller_id, customer_id, email, name, country, language, company, vat_id, created_file_id, updated_file_id)
		SELECT $1, customer_id, email, name, country, language, company, vat_id, $2, $2 FROM stage_customers
		ON CONFLICT (reseller_id, customer_id) DO UPDATE SET
		       email = excluded.email, name = coalesce(excluded.name, c.name), country = coalesce(excluded.country, c.country),
		       language = coalesce(excluded.language, c.language), company = coalesce(excluded.company, c.company),
		       vat_id = coalesce(excluded.vat_id, c.vat_id), updated_file_id = excluded.updated_file_id, updated_at = now()`,
		p.reseller.ID, p.fileID)
	if err != nil {
		return sum, false, fmt.Errorf("upserting customers: %w", err)
	}
	return sum, false, p.s.fail("after-customers")
}
