package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AckRecord is what the database recorded of a finished file, for its ack.
type AckRecord struct {
	Partner, Name, Kind, Status                  string
	SHA256, RejectsSHA256                        []byte
	Rows, Accepted, Rejected, Problems, Warnings int
	Currency                                     *string
	Amount                                       int64
	DuplicateOf                                  *int64
	Received, Processed                          time.Time
	Rendered                                     bool
	Format                                       string // the reseller's file format, JSON
	Sheet                                        string
}

// ackLockClass is the first key of the advisory locks that serialise the
// answers under one name.
const ackLockClass = 1_127_001

const (
	ackRecordSQL = `
		SELECT f.partner_id, f.name, f.kind, coalesce(f.status, ''), f.sha256, f.rows_total, f.rows_accepted, f.rows_rejected, f.problem_count,
		       f.warnings, f.currency, f.amount_total, f.duplicate_of, f.received_at, coalesce(f.processed_at, f.received_at), f.rendered,
		       f.rejects_sha256, r.file_format, f.sheet
		  FROM files f JOIN resellers r ON r.partner_id = f.partner_id WHERE f.id = $1`
	countWarningsSQL  = `SELECT count(*) FROM file_problems WHERE file_id = $1 AND severity = 'warning'`
	lockAnswerSQL     = `SELECT pg_advisory_xact_lock($1, hashtext($2))`
	newerAnsweredSQL  = `SELECT coalesce(max(id), 0) FROM files WHERE partner_id = $1 AND name = $2 AND id > $3 AND acked_at IS NOT NULL`
	markAckedSQL      = `UPDATE files SET acked_at = now(), last_error = NULL WHERE id = $1`
	recordAckErrorSQL = `UPDATE files SET last_error = $2 WHERE id = $1 AND acked_at IS NULL`
	ackedSQL          = `SELECT acked_at IS NOT NULL FROM files WHERE id = $1`
	unackedSQL        = `SELECT id FROM files WHERE partner_id = $1 AND acked_at IS NULL AND state IN ('posted', 'rejected', 'duplicate') ORDER BY id`
)

// FileAck reads what a file's ack says.
func FileAck(ctx context.Context, q Querier, id int64) (AckRecord, error) {
	var a AckRecord
	err := q.QueryRow(ctx, ackRecordSQL, id).Scan(&a.Partner, &a.Name, &a.Kind, &a.Status, &a.SHA256, &a.Rows, &a.Accepted, &a.Rejected,
		&a.Problems, &a.Warnings, &a.Currency, &a.Amount, &a.DuplicateOf, &a.Received, &a.Processed, &a.Rendered, &a.RejectsSHA256, &a.Format, &a.Sheet)
	if err != nil {
		return a, fmt.Errorf("reading file %d: %w", id, err)
	}
	return a, nil
}

// CountWarnings counts a file's recorded warnings.
func CountWarnings(ctx context.Context, q Querier, id int64) (int, error) {
	var n int
	if err := q.QueryRow(ctx, countWarningsSQL, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the problems of file %d: %w", id, err)
	}
	return n, nil
}

// LockAnswers serialises, until tx ends, the answers to a partner's files
// sent under one name.
func LockAnswers(ctx context.Context, tx pgx.Tx, partner, name string) error {
	_, err := tx.Exec(ctx, lockAnswerSQL, ackLockClass, partner+"/"+name)
	return err
}

// NewerAnswered returns the latest file under the same name, after file
// id, that was answered already; 0 if none.
func NewerAnswered(ctx context.Context, q Querier, partner, name string, id int64) (int64, error) {
	var newer int64
	err := q.QueryRow(ctx, newerAnsweredSQL, partner, name, id).Scan(&newer)
	return newer, err
}

// MarkAcked records that a file's ack was written.
func MarkAcked(ctx context.Context, q Querier, id int64) error {
	_, err := q.Exec(ctx, markAckedSQL, id)
	return err
}

// RecordAckError notes why a finished file's ack is not written yet.
func RecordAckError(ctx context.Context, q Querier, id int64, cause string) error {
	_, err := q.Exec(ctx, recordAckErrorSQL, id, cause)
	return err
}

// Acked tells whether a file's ack was written.
func Acked(ctx context.Context, q Querier, id int64) (bool, error) {
	var acked bool
	if err := q.QueryRow(ctx, ackedSQL, id).Scan(&acked); err != nil {
		return false, fmt.Errorf("reading file %d: %w", id, err)
	}
	return acked, nil
}

// UnackedFiles lists a partner's finished files whose ack is not written, in order.
func UnackedFiles(ctx context.Context, q Querier, partner string) ([]int64, error) {
	ids, err := queryRows(ctx, q, pgx.RowTo[int64], unackedSQL, partner)
	if err != nil {
		return nil, fmt.Errorf("listing the unacknowledged files of %s: %w", partner, err)
	}
	return ids, nil
}
