package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/render"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

var ackHeader = []string{"file_id", "file_name", "sha256", "kind", "status", "rows_total", "rows_accepted", "rows_rejected",
	"currency", "amount_total", "problems", "duplicate_of", "received_at", "processed_at", "errors", "warnings"}

// ackFile is what the database recorded of a finished file, with the
// reseller's format read.
type ackFile struct {
	store.AckRecord
	format schema.Format
}

func (s *Service) ackFile(ctx context.Context, id int64) (*ackFile, error) {
	rec, err := store.FileAck(ctx, s.Pool, id)
	if err != nil {
		return nil, err
	}
	a := &ackFile{AckRecord: rec}
	if a.Status == "" {
		return nil, fmt.Errorf("file %d is not processed yet", id)
	}
	if err := json.Unmarshal([]byte(a.Format), &a.format); err != nil {
		return nil, fmt.Errorf("the file format of %s: %w", a.Partner, err)
	}
	if !a.Rendered && a.Status != Duplicate {
		// Checked before warnings were counted apart.
		if a.Warnings, err = store.CountWarnings(ctx, s.Pool, id); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// WriteAck writes <file>.ack.csv to the sender's outbox from what the
// database recorded; before it <file>.rejects.csv when the file had errors
// (made when it was checked, kept in the archive) and <file>.warnings.csv
// when it had warnings, each in the reseller's own format, so that an ack
// is never seen without its companions. It is idempotent: writing again
// gives the same files. The answers under one name are written one at a
// time, and an older upload's never replaces a newer one's: a later upload
// with the same name replaces the earlier answer, whatever order their
// acks are written in.
func (s *Service) WriteAck(ctx context.Context, id int64) error {
	a, err := s.ackFile(ctx, id)
	if err != nil {
		return err
	}
	err = store.BeginFunc(ctx, s.Pool, func(tx store.Tx) error {
		if err := store.LockAnswers(ctx, tx, a.Partner, a.Name); err != nil {
			return err
		}
		newer, err := store.NewerAnswered(ctx, tx, a.Partner, a.Name, id)
		if err != nil {
			return err
		}
		if newer != 0 {
			s.log().Info("ack not written: a later upload under the same name was answered since", "file_id", id, "partner", a.Partner,
				"file", a.Name, "answered_by", newer)
		} else if err := s.writeAnswer(ctx, id, a); err != nil {
			return err
		}
		return store.MarkAcked(ctx, tx, id)
	})
	if err != nil {
		// status shows why a finished file still waits in the inbox.
		_ = store.RecordAckError(context.WithoutCancel(ctx), s.Pool, id, "acknowledging: "+err.Error())
		return fmt.Errorf("acknowledging file %d: %w", id, err)
	}
	return nil
}

// writeAnswer writes a file's rejects, warnings and ack files, in that order.
func (s *Service) writeAnswer(ctx context.Context, id int64, a *ackFile) error {
	outbox := s.Outbox(a.Partner)
	ackName := safeName(a.Name)
	d := a.format.Dialect()
	d.BOM = false // the ack is read by programs first
	errs := a.Problems - a.Warnings
	if a.Status == Duplicate {
		errs = 0
	}
	// Files an earlier upload under this name left, that do not belong beside
	// this ack, go first, so the set never disagrees. A DUPLICATE leaves the
	// earlier answer's: it is for the same content.
	for _, stale := range []struct {
		suffix string
		keep   bool
	}{{".rejects.csv", errs > 0}, {".warnings.csv", a.Warnings > 0}} {
		if stale.keep || a.Status == Duplicate {
			continue
		}
		if err := os.Remove(filepath.Join(outbox, ackName+stale.suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing the %s of an earlier %s: %w", stale.suffix, a.Name, err)
		}
	}
	if a.Status != Duplicate && (errs > 0 || a.Warnings > 0) {
		probs, err := s.problems(ctx, id)
		if err != nil {
			return err
		}
		if a.Warnings > 0 {
			if err := mailbox.WriteAtomic(filepath.Join(outbox, ackName+".warnings.csv"), 0o644, func(w io.Writer) error {
				return writeWarnings(w, probs, a.format.Dialect())
			}); err != nil {
				return err
			}
		}
		if errs > 0 {
			if err := mailbox.WriteAtomic(filepath.Join(outbox, ackName+".rejects.csv"), 0o644, func(w io.Writer) error {
				return s.rejectsFile(w, a, probs)
			}); err != nil {
				return err
			}
		}
	}
	currency, total := "", ""
	if a.Currency != nil {
		currency = *a.Currency
		total = money.Format(a.Amount, money.Currency(currency))
		if a.format.Decimal == "," {
			total = strings.Replace(total, ".", ",", 1)
		}
	}
	dupOf := ""
	if a.DuplicateOf != nil {
		dupOf = strconv.FormatInt(*a.DuplicateOf, 10)
	}
	return mailbox.WriteAtomic(filepath.Join(outbox, ackName+".ack.csv"), 0o644, func(w io.Writer) error {
		c := render.NewCSVIn(w, d)
		_ = c.Write(ackHeader...)
		_ = c.Write(strconv.FormatInt(id, 10), a.Name, fmt.Sprintf("%x", a.SHA256), a.Kind, a.Status, strconv.Itoa(a.Rows), strconv.Itoa(a.Accepted),
			strconv.Itoa(a.Rejected), currency, total, strconv.Itoa(a.Problems), dupOf, a.Received.UTC().Format(time.RFC3339),
			a.Processed.UTC().Format(time.RFC3339), strconv.Itoa(errs), strconv.Itoa(a.Warnings))
		return c.Close()
	})
}

// made is where the files Clearhouse makes for a sender once (rejects
// files) are kept, content-addressed, beside the archive of what it
// received.
func (s *Service) made() *archive.Store {
	return &archive.Store{Dir: filepath.Join(s.Archive.Dir, "made")}
}

// rejectsFile copies the rejects file made when the file was checked; for
// a file checked before they were kept, it makes one from the upload.
func (s *Service) rejectsFile(w io.Writer, a *ackFile, probs []*problem.Problem) error {
	if a.Rendered {
		var blob archive.Blob
		copy(blob.SHA256[:], a.RejectsSHA256)
		f, err := s.made().Open(blob)
		if err != nil {
			return fmt.Errorf("opening the rejects file of %s: %w", a.Name, err)
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
	var blob archive.Blob
	copy(blob.SHA256[:], a.SHA256)
	f := a.format
	if a.Sheet != "" {
		f.Sheet = a.Sheet // the sheet the file was read from
	}
	header, rows, closeRows, err := s.rereadRows(blob, f.ReaderOptions(a.Name, s.Limits))
	if err != nil {
		return err
	}
	defer closeRows()
	return writeRejects(w, header, probs, a.Status == Rejected, f.Dialect(), rows)
}

// writeWarnings lists a file's warnings: line, code, column, value, message.
func writeWarnings(w io.Writer, probs []*problem.Problem, d render.Dialect) error {
	c := render.NewCSVIn(w, d)
	if err := c.Write(schema.RejectsColumns...); err != nil {
		return err
	}
	for _, p := range probs {
		if p.Severity == problem.Warning {
			if err := c.Write(strconv.Itoa(p.Pos.Line), string(p.Code), p.Pos.Column, p.Value, p.Message); err != nil {
				return err
			}
		}
	}
	return c.Close()
}

// AckOnce writes a finished file's acknowledgement unless it was written
// already (by its ack job, or an earlier attempt): the reseller gets the
// same answer once, and a retry does not need the disk space twice.
func (s *Service) AckOnce(ctx context.Context, id int64) error {
	acked, err := store.Acked(ctx, s.Pool, id)
	if err != nil {
		return err
	}
	if acked {
		return nil
	}
	return s.WriteAck(ctx, id)
}

// safeName keeps an outbox file name inside the outbox.
func safeName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	// Control characters (a name given on the command line) never reach the
	// outbox's listing as they are.
	name = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '_'
		}
		return r
	}, name)
	if name == "." || name == ".." || name == "/" || name == "" {
		return "file"
	}
	return name
}

// ackPending writes the acknowledgements that a crash between commit and
// writing left unwritten.
func (s *Service) ackPending(ctx context.Context, partner string) error {
	ids, err := store.UnackedFiles(ctx, s.Pool, partner)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.WriteAck(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// rereadRows reads the archived file again, for files checked before their
// rows were kept: the header, and a source of its rows.
func (s *Service) rereadRows(blob archive.Blob, opts tabular.Options) (*echoHeader, rowSource, func(), error) {
	f, err := s.Archive.Open(blob)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := tabular.Open(f, opts)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	h, herr := r.Next()
	if herr != nil {
		return nil, nil, func() { f.Close() }, nil
	}
	header := &echoHeader{Line: h.Line, Fields: append([]string(nil), h.Fields...)}
	src := func(yield func(int, []string) error) error {
		for {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			var p *problem.Problem
			if errors.As(err, &p) && p.Scope == problem.ScopeRow {
				continue
			}
			if err != nil {
				return nil // the file-level problem is already listed
			}
			if err := yield(row.Line, row.Fields); err != nil {
				return err
			}
		}
	}
	return header, src, func() { f.Close() }, nil
}
