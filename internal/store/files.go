package store

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// Querier runs queries: a pool, a connection or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// File states.
const (
	FileReceived  = "received"
	FilePosted    = "posted"
	FileRejected  = "rejected"
	FileDuplicate = "duplicate"
)

// FileRecord is a received file's registration.
type FileRecord struct {
	ID                       int64
	State, Name, Kind, Sheet string
	SHA256                   [32]byte
	Size                     int64
}

// Finished reports whether nothing more happens to the file but its ack:
// it was posted, rejected, or found a duplicate.
func (f FileRecord) Finished() bool {
	return f.State == FilePosted || f.State == FileRejected || f.State == FileDuplicate
}

const fileColumns = `id, state, name, kind, sheet, sha256, size`

func scanFile(row pgx.Row) (FileRecord, error) {
	var f FileRecord
	var sum []byte
	err := row.Scan(&f.ID, &f.State, &f.Name, &f.Kind, &f.Sheet, &sum, &f.Size)
	copy(f.SHA256[:], sum)
	return f, err
}

// findFile is scanFile for a file that may not exist.
func findFile(row pgx.Row) (FileRecord, bool, error) {
	f, err := scanFile(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return FileRecord{}, false, nil
	}
	return f, err == nil, err
}

const (
	fileOfPartnerSQL    = `SELECT ` + fileColumns + ` FROM files WHERE id = $1 AND partner_id = $2`
	fileByUploadKeySQL  = `SELECT ` + fileColumns + ` FROM files WHERE partner_id = $1 AND upload_key = $2`
	uploadRegisteredSQL = `SELECT EXISTS (SELECT 1 FROM files WHERE partner_id = $1 AND upload_key = $2)`
	partnerKindSQL      = `SELECT kind FROM partners WHERE id = $1`
	postedFileSQL       = `SELECT id FROM files WHERE partner_id = $1 AND sha256 = $2 AND state = 'posted'`
	insertDuplicateSQL  = `
		INSERT INTO files (partner_id, kind, name, size, sha256, uploader, sheet, upload_key, state, status, duplicate_of, processed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), 'duplicate', 'DUPLICATE', $9, now()) RETURNING ` + fileColumns
	resumableFileSQL = `
		SELECT ` + fileColumns + ` FROM files
		 WHERE partner_id = $1 AND sha256 = $2 AND state IN ('received', 'processing') AND upload_key IS NULL
		 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`
	insertFileSQL = `
		INSERT INTO files (partner_id, kind, name, size, sha256, uploader, sheet, upload_key) VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''))
		RETURNING ` + fileColumns
	recordFileErrorSQL = `UPDATE files SET last_error = $2 WHERE id = $1 AND state IN ('received', 'processing')`
	lockResellerSQL    = `SELECT 1 FROM resellers WHERE partner_id = $1 FOR UPDATE`
	lockFileSQL        = `SELECT state FROM files WHERE id = $1 FOR UPDATE`
	markDuplicateSQL   = `UPDATE files SET state = 'duplicate', status = 'DUPLICATE', duplicate_of = $2, processed_at = now(), last_error = NULL
			WHERE id = $1`
	finishFileSQL = `
		UPDATE files SET state = $2, status = $3, rows_total = $4, rows_accepted = $5, rows_rejected = $6,
		       currency = $7, amount_total = $8, problem_count = $9, processed_at = now(), last_error = NULL
		 WHERE id = $1`
	markRenderedSQL = `UPDATE files SET rendered = true, rejects_sha256 = $2, warnings = $3 WHERE id = $1`
	fileOutcomeSQL  = `
		SELECT partner_id, name, kind, status, rows_total, rows_accepted, rows_rejected, currency, amount_total, duplicate_of
		  FROM files WHERE id = $1`
	fileProblemsSQL = `
		SELECT p.line, p.sheet, p.col, p.code, p.severity, p.scope, p.value, p.message, f.name
		  FROM file_problems p JOIN files f ON f.id = p.file_id WHERE p.file_id = $1 ORDER BY p.seq`
)

// FileOfPartner finds file id of partner; false when there is none.
func FileOfPartner(ctx context.Context, q Querier, partner string, id int64) (FileRecord, bool, error) {
	f, ok, err := findFile(q.QueryRow(ctx, fileOfPartnerSQL, id, partner))
	if err != nil {
		return f, false, fmt.Errorf("reading file %d: %w", id, err)
	}
	return f, ok, nil
}

// FileByUploadKey finds the file registered for an upload; false when
// there is none.
func FileByUploadKey(ctx context.Context, q Querier, partner, key string) (FileRecord, bool, error) {
	return findFile(q.QueryRow(ctx, fileByUploadKeySQL, partner, key))
}

// UploadRegistered tells whether an upload with this key has a file record.
func UploadRegistered(ctx context.Context, q Querier, partner, key string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, uploadRegisteredSQL, partner, key).Scan(&ok)
	return ok, err
}

// PartnerKind reads what kind of partner id is (reseller, publisher).
func PartnerKind(ctx context.Context, q Querier, id string) (string, error) {
	var kind string
	err := q.QueryRow(ctx, partnerKindSQL, id).Scan(&kind)
	return kind, err
}

// PostedFile returns the id of the partner's posted file with these bytes,
// 0 if none: a file with the same content is its duplicate.
func PostedFile(ctx context.Context, q Querier, partner string, sha256 []byte) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, postedFileSQL, partner, sha256).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("looking for a posted file of %s with the same content: %w", partner, err)
	}
	return id, nil
}

// PostedOfSize tells whether the partner has a posted file of this size:
// only then can a file be a duplicate, and is worth hashing to know.
func PostedOfSize(ctx context.Context, q Querier, partner string, size int64) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE partner_id = $1 AND size = $2 AND state = 'posted')`, partner, size).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("looking for a posted file of %s of %d bytes: %w", partner, size, err)
	}
	return ok, nil
}

// NewFile is what registering an upload records.
type NewFile struct {
	Partner, Kind, Name string
	Size                int64
	SHA256              []byte
	Uploader, Sheet     string
	UploadKey           string // "": none
}

// InsertDuplicateFile registers an upload as a duplicate of file of, finished.
func InsertDuplicateFile(ctx context.Context, q Querier, f NewFile, of int64) (FileRecord, error) {
	return scanFile(q.QueryRow(ctx, insertDuplicateSQL, f.Partner, f.Kind, f.Name, f.Size, f.SHA256, f.Uploader, f.Sheet, f.UploadKey, of))
}

// ResumableFile finds, and locks, an unfinished file with these bytes that
// was registered without an upload key (by an attempt that did not finish).
func ResumableFile(ctx context.Context, q Querier, partner string, sha256 []byte) (FileRecord, bool, error) {
	return findFile(q.QueryRow(ctx, resumableFileSQL, partner, sha256))
}

// InsertFile registers an upload, received.
func InsertFile(ctx context.Context, q Querier, f NewFile) (FileRecord, error) {
	return scanFile(q.QueryRow(ctx, insertFileSQL, f.Partner, f.Kind, f.Name, f.Size, f.SHA256, f.Uploader, f.Sheet, f.UploadKey))
}

// RecordFileError notes why an unfinished file is not finished yet.
func RecordFileError(ctx context.Context, q Querier, id int64, cause string) error {
	if _, err := q.Exec(ctx, recordFileErrorSQL, id, cause); err != nil {
		return fmt.Errorf("recording the error of file %d: %w", id, err)
	}
	return nil
}

// LockReseller takes the lock under which a reseller's files are checked
// and posted, one at a time, until tx ends.
func LockReseller(ctx context.Context, tx pgx.Tx, partner string) error {
	if _, err := tx.Exec(ctx, lockResellerSQL, partner); err != nil {
		return fmt.Errorf("locking reseller %s: %w", partner, err)
	}
	return nil
}

// LockFile locks a file's record until tx ends and returns its state.
func LockFile(ctx context.Context, tx pgx.Tx, id int64) (string, error) {
	var state string
	if err := tx.QueryRow(ctx, lockFileSQL, id).Scan(&state); err != nil {
		return "", fmt.Errorf("locking file %d: %w", id, err)
	}
	return state, nil
}

// MarkDuplicate finishes a file as a duplicate of file of.
func MarkDuplicate(ctx context.Context, q Querier, id, of int64) error {
	if _, err := q.Exec(ctx, markDuplicateSQL, id, of); err != nil {
		return fmt.Errorf("marking file %d a duplicate of %d: %w", id, of, err)
	}
	return nil
}

// FileResult is what checking a file found, as recorded when it finishes.
type FileResult struct {
	State, Status            string
	Rows, Accepted, Rejected int
	Currency                 string
	Amount                   int64
	Problems                 int
}

// FinishFile records a file's result.
func FinishFile(ctx context.Context, q Querier, id int64, r FileResult) error {
	_, err := q.Exec(ctx, finishFileSQL, id, r.State, r.Status, r.Rows, r.Accepted, r.Rejected, r.Currency, r.Amount, r.Problems)
	if err != nil {
		return fmt.Errorf("recording the result of file %d: %w", id, err)
	}
	return nil
}

// MarkRendered records a file's rejects file (nil: none) and its count of
// warnings.
func MarkRendered(ctx context.Context, q Querier, id int64, rejectsSHA256 []byte, warnings int) error {
	_, err := q.Exec(ctx, markRenderedSQL, id, rejectsSHA256, warnings)
	return err
}

// AddProblems records a file's problems in line order (file-level first).
func AddProblems(ctx context.Context, tx pgx.Tx, id int64, probs []*problem.Problem) error {
	if len(probs) == 0 {
		return nil
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Pos.Line < probs[j].Pos.Line })
	rows := make([][]any, len(probs))
	for i, p := range probs {
		rows[i] = []any{id, i + 1, p.Pos.Line, p.Pos.Sheet, p.Pos.Column, string(p.Code), string(p.Severity), string(p.Scope), p.Value, p.Message}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"file_problems"},
		[]string{"file_id", "seq", "line", "sheet", "col", "code", "severity", "scope", "value", "message"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("recording the problems of file %d: %w", id, err)
	}
	return nil
}

// FileProblems reads a file's problems in the order they were recorded.
func FileProblems(ctx context.Context, q Querier, id int64) ([]*problem.Problem, error) {
	ps, err := queryRows(ctx, q, func(r pgx.CollectableRow) (*problem.Problem, error) {
		p := &problem.Problem{}
		var code, sev, scope string
		err := r.Scan(&p.Pos.Line, &p.Pos.Sheet, &p.Pos.Column, &code, &sev, &scope, &p.Value, &p.Message, &p.Pos.File)
		p.Code, p.Severity, p.Scope = problem.Code(code), problem.Severity(sev), problem.Scope(scope)
		return p, err
	}, fileProblemsSQL, id)
	if err != nil {
		return nil, fmt.Errorf("reading the problems of file %d: %w", id, err)
	}
	return ps, nil
}

// FileSummary is what a file's record says happened to it ("" and 0 for
// what is not known yet).
type FileSummary struct {
	Partner, Name, Kind, Status string
	Rows, Accepted, Rejected    int
	Currency                    string
	Amount, DuplicateOf         int64
}

// FileOutcome reads a file's summary.
func FileOutcome(ctx context.Context, q Querier, id int64) (FileSummary, error) {
	var o FileSummary
	var status, cur *string
	var dup *int64
	err := q.QueryRow(ctx, fileOutcomeSQL, id).Scan(&o.Partner, &o.Name, &o.Kind, &status, &o.Rows, &o.Accepted, &o.Rejected, &cur, &o.Amount, &dup)
	if err != nil {
		return o, fmt.Errorf("reading file %d: %w", id, err)
	}
	if status != nil {
		o.Status = *status
	}
	if cur != nil {
		o.Currency = *cur
	}
	if dup != nil {
		o.DuplicateOf = *dup
	}
	return o, nil
}
