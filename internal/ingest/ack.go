package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/render"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

var ackHeader = []string{"file_id", "file_name", "sha256", "kind", "status", "rows_total", "rows_accepted", "rows_rejected",
	"currency", "amount_total", "problems", "duplicate_of", "received_at", "processed_at"}

// WriteAck writes <file>.ack.csv, and <file>.rejects.csv when the file had
// problems, to the sender's outbox from what the database recorded. It is
// idempotent: writing again gives the same files.
func (s *Service) WriteAck(ctx context.Context, id int64) error {
	var (
		partner, name, kind, status string
		sha                         []byte
		rows, acc, rej, nprob       int
		cur                         *string
		amount                      int64
		dup                         *int64
		received, processed         time.Time
	)
	err := s.Pool.QueryRow(ctx, `
		SELECT partner_id, name, kind, coalesce(status, ''), sha256, rows_total, rows_accepted, rows_rejected, problem_count,
		       currency, amount_total, duplicate_of, received_at, coalesce(processed_at, received_at)
		  FROM files WHERE id = $1`, id).Scan(&partner, &name, &kind, &status, &sha, &rows, &acc, &rej, &nprob, &cur, &amount, &dup, &received, &processed)
	if err != nil {
		return err
	}
	if status == "" {
		return fmt.Errorf("file %d is not processed yet", id)
	}
	outbox := s.Outbox(partner)
	currency, total := "", ""
	if cur != nil {
		currency = *cur
		total = money.Format(amount, money.Currency(currency))
	}
	dupOf := ""
	if dup != nil {
		dupOf = strconv.FormatInt(*dup, 10)
	}
	ackName := safeName(name)
	if nprob == 0 && status != Duplicate {
		// An earlier upload under this name left a rejects file: it does not
		// belong beside this ack (removed first, so the two never disagree).
		if err := os.Remove(filepath.Join(outbox, ackName+".rejects.csv")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing the rejects file of an earlier %s: %w", name, err)
		}
	}
	err = mailbox.WriteAtomic(filepath.Join(outbox, ackName+".ack.csv"), 0o644, func(w io.Writer) error {
		c := render.NewCSV(w)
		_ = c.Write(ackHeader...)
		_ = c.Write(strconv.FormatInt(id, 10), name, fmt.Sprintf("%x", sha), kind, status, strconv.Itoa(rows), strconv.Itoa(acc), strconv.Itoa(rej),
			currency, total, strconv.Itoa(nprob), dupOf, received.UTC().Format(time.RFC3339), processed.UTC().Format(time.RFC3339))
		return c.Flush()
	})
	if err != nil {
		return err
	}
	if nprob > 0 && status != Duplicate {
		probs, err := s.problems(ctx, id)
		if err != nil {
			return err
		}
		header, rows, closeRows, err := s.rejectedRows(ctx, id, name, sha)
		if err != nil {
			return err
		}
		err = mailbox.WriteAtomic(filepath.Join(outbox, ackName+".rejects.csv"), 0o644, func(w io.Writer) error {
			return writeRejects(w, header, probs, rows)
		})
		closeRows()
		if err != nil {
			return err
		}
	}
	_, err = s.Pool.Exec(ctx, `UPDATE files SET acked_at = now() WHERE id = $1`, id)
	return err
}

// AckOnce writes a finished file's acknowledgement unless it was written
// already (by its ack job, or an earlier attempt): the reseller gets the
// same answer once, and a retry does not need the disk space twice.
func (s *Service) AckOnce(ctx context.Context, id int64) error {
	var acked bool
	if err := s.Pool.QueryRow(ctx, `SELECT acked_at IS NOT NULL FROM files WHERE id = $1`, id).Scan(&acked); err != nil {
		return fmt.Errorf("reading file %d: %w", id, err)
	}
	if acked {
		return nil
	}
	return s.WriteAck(ctx, id)
}

// safeName keeps an outbox file name inside the outbox.
func safeName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == ".." || name == "/" || name == "" {
		return "file"
	}
	return name
}

// rejectedRows returns what a file's rejects file repeats: kept when it was
// checked, or, for a file checked before rows were kept, read again.
func (s *Service) rejectedRows(ctx context.Context, id int64, name string, sha []byte) (*echoHeader, rowSource, func(), error) {
	var echoed bool
	var headerText *string
	var format, sheet string
	if err := s.Pool.QueryRow(ctx, `SELECT f.echoed, f.echo_header, r.file_format, f.sheet FROM files f JOIN resellers r ON r.partner_id = f.partner_id WHERE f.id = $1`,
		id).Scan(&echoed, &headerText, &format, &sheet); err != nil {
		return nil, nil, nil, fmt.Errorf("reading file %d: %w", id, err)
	}
	if echoed {
		var header *echoHeader
		if headerText != nil {
			header = &echoHeader{}
			if err := json.Unmarshal([]byte(*headerText), header); err != nil {
				return nil, nil, nil, fmt.Errorf("file %d header: %w", id, err)
			}
		}
		return header, s.echoedRows(ctx, id), func() {}, nil
	}
	var blob archive.Blob
	copy(blob.SHA256[:], sha)
	var f schema.Format
	if err := json.Unmarshal([]byte(format), &f); err != nil {
		return nil, nil, nil, err
	}
	if sheet != "" {
		f.Sheet = sheet // the sheet the file was read from
	}
	return s.rereadRows(blob, f.ReaderOptions(name, s.Limits))
}

// ackPending writes the acknowledgements that a crash between commit and
// writing left unwritten.
func (s *Service) ackPending(ctx context.Context, partner string) error {
	rows, err := s.Pool.Query(ctx, `SELECT id FROM files WHERE partner_id = $1 AND acked_at IS NULL AND state IN ('posted', 'rejected', 'duplicate') ORDER BY id`, partner)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.WriteAck(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// lineProblems are the problems of one line, merged into one rejects row.
type lineProblems struct {
	codes, cols, values, msgs []string
}

func (l *lineProblems) add(p *problem.Problem) {
	l.codes = append(l.codes, string(p.Code))
	l.cols = append(l.cols, p.Pos.Column)
	l.values = append(l.values, p.Value)
	msg := p.Message
	if p.Severity == problem.Warning {
		msg = "warning: " + msg
	}
	l.msgs = append(l.msgs, msg)
}

func (l *lineProblems) cells(line int) []string {
	return []string{strconv.Itoa(line), strings.Join(l.codes, "|"), strings.Join(l.cols, "|"), strings.Join(l.values, "|"), strings.Join(l.msgs, "; ")}
}

// rowSource yields the rows a rejects file repeats, in line order.
type rowSource func(yield func(line int, fields []string) error) error

// writeRejects writes one row per line with problems: the line, the merged
// problems, then the row as sent under the header as sent (header nil: the
// header could not be read).
func writeRejects(w io.Writer, header *echoHeader, probs []*problem.Problem, rows rowSource) error {
	byLine := map[int]*lineProblems{}
	for _, p := range probs {
		lp := byLine[p.Pos.Line]
		if lp == nil {
			lp = &lineProblems{}
			byLine[p.Pos.Line] = lp
		}
		lp.add(p)
	}
	lines := make([]int, 0, len(byLine))
	for l := range byLine {
		lines = append(lines, l)
	}
	sort.Ints(lines)
	c := render.NewCSV(w)
	cols := []string{"line", "problem_code", "problem_column", "problem_value", "problem_message"}
	headerLine := 1
	if header != nil {
		cols = append(cols, header.Fields...)
		headerLine = header.Line
	}
	if err := c.Write(cols...); err != nil {
		return err
	}
	done := map[int]bool{}
	emit := func(line int, fields []string) error {
		done[line] = true
		return c.Write(append(byLine[line].cells(line), fields...)...)
	}
	// File-level problems and those of the header line come first.
	for _, l := range lines {
		if l <= headerLine {
			if err := emit(l, nil); err != nil {
				return err
			}
		}
	}
	if header != nil {
		err := rows(func(line int, fields []string) error {
			if byLine[line] != nil && !done[line] {
				return emit(line, fields)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, l := range lines { // rows the reader could not return as values
		if !done[l] {
			if err := emit(l, nil); err != nil {
				return err
			}
		}
	}
	return c.Flush()
}

// echoedRows reads the rows kept when the file was checked.
func (s *Service) echoedRows(ctx context.Context, id int64) rowSource {
	return func(yield func(int, []string) error) error {
		rows, err := s.Pool.Query(ctx, `SELECT line, fields FROM file_echo WHERE file_id = $1 ORDER BY line`, id)
		if err != nil {
			return fmt.Errorf("reading the rejected rows of file %d: %w", id, err)
		}
		defer rows.Close()
		for rows.Next() {
			var line int
			var text *string
			if err := rows.Scan(&line, &text); err != nil {
				return err
			}
			var fields []string
			if text != nil {
				if err := json.Unmarshal([]byte(*text), &fields); err != nil {
					return fmt.Errorf("file %d line %d: %w", id, line, err)
				}
			}
			if err := yield(line, fields); err != nil {
				return err
			}
		}
		return rows.Err()
	}
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
