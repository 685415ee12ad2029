package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DB is what queries run on: a pool, a connection or a transaction; a
// Querier that copies and begins transactions too.
type DB interface {
	Querier
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Queries are the typed statements on the tables, grouped by table or
// aggregate in this package's files (ledger.go, fulfillment.go, world.go),
// run on one DB. The domain packages declare the few methods they need as
// interfaces; Queries implements them.
type Queries struct{ db DB }

// New returns the queries on db. On a transaction they run inside it, so a
// caller's statements and the domain's commit or roll back together.
func New(db DB) *Queries { return &Queries{db: db} }

// queryRows runs sql and reads every row with to (pgx.RowTo[T],
// pgx.RowToStructByPos[T] or a function of the caller's).
func queryRows[T any](ctx context.Context, q Querier, to pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, to)
}

// collect runs sql and scans each row into a T.
func collect[T any](ctx context.Context, q Querier, sql string, scan func(pgx.Row, *T) error, args ...any) ([]T, error) {
	return queryRows(ctx, q, func(r pgx.CollectableRow) (T, error) {
		var v T
		return v, scan(r, &v)
	}, sql, args...)
}

// collectAs is collect, its error saying what was being read.
func collectAs[T any](ctx context.Context, q Querier, what, sql string, scan func(pgx.Row, *T) error, args ...any) ([]T, error) {
	out, err := collect(ctx, q, sql, scan, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// forEachRow runs sql and, for every row, scans it into scans and calls fn.
func forEachRow(ctx context.Context, q Querier, sql string, args []any, scans []any, fn func() error) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, scans, fn)
	return err
}

// translated is a database error that violated a known constraint: it reads
// as the database's error, and errors.Is finds both the domain's sentinel and
// the database's error (Constraint still names the constraint).
type translated struct{ sentinel, err error }

func (e translated) Error() string   { return e.err.Error() }
func (e translated) Unwrap() []error { return []error{e.sentinel, e.err} }

// translate maps err to the sentinel of the constraint it violated, by the
// constraint's name in names; other errors are returned as they are.
func translate(err error, names map[string]error) error {
	if err == nil {
		return nil
	}
	if s, ok := names[Constraint(err)]; ok {
		return translated{s, err}
	}
	return err
}
