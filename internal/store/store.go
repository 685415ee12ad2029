// Package store owns the connection to PostgreSQL: the pgx pool, the
// embedded migrations, the typed queries of the domain packages (Queries,
// grouped by table or aggregate: files, acks, ledger, fulfillment, world,
// billing_profiles, partners, remote_files, remote_observations, deliveries, status), and the translation of database errors into domain
// errors by constraint name. It imports leaves only, never a domain package.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the embedded migration files.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Open connects a pool to url.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing database url: %w", err)
	}
	if _, named := cfg.ConnConfig.RuntimeParams["application_name"]; !named { // the URL's (or PGAPPNAME's) stands
		cfg.ConnConfig.RuntimeParams["application_name"] = "clearhouse"
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	return pool, nil
}

// MigrationResult names one applied migration.
type MigrationResult struct {
	Version int64
	Name    string
}

// Migrate applies every pending migration on db and returns those applied.
func Migrate(ctx context.Context, db *sql.DB) ([]MigrationResult, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations())
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrating: %w", err)
	}
	out := make([]MigrationResult, 0, len(res))
	for _, r := range res {
		out = append(out, MigrationResult{Version: r.Source.Version, Name: r.Source.Path})
	}
	river, err := migrateRiver(ctx, db)
	return append(out, river...), err
}

// migrateRiver applies the job queue's own migrations (River's tables), in
// one transaction, after ours.
func migrateRiver(ctx context.Context, db *sql.DB) ([]MigrationResult, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []MigrationResult
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
		if err != nil {
			return err
		}
		// One transaction per version: a migration that adds an enum value
		// cannot share one with the migration that uses it.
		for {
			n := 0
			err := pgx.BeginFunc(ctx, pc, func(tx pgx.Tx) error {
				res, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{MaxSteps: 1})
				if err != nil {
					return fmt.Errorf("migrating the job queue: %w", err)
				}
				for _, v := range res.Versions {
					out = append(out, MigrationResult{Version: int64(v.Version), Name: "river/" + v.Name})
				}
				n = len(res.Versions)
				return nil
			})
			if err != nil || n == 0 {
				return err
			}
		}
	})
	return out, err
}

// RiverVersion is the latest migration of the job queue's schema (part of
// the test templates' key).
func RiverVersion() int {
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return 0
	}
	all := m.AllVersions()
	return all[len(all)-1].Version
}

// MigratePool runs Migrate over a pool's configuration.
// ErrSchemaBehind: the database lacks migrations this binary has.
var ErrSchemaBehind = errors.New("the database schema is behind this binary: run `clearhouse migrate` first")

// CheckSchema refuses a database whose schema is behind this binary.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations())
	if err != nil {
		return fmt.Errorf("reading the migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("comparing the database schema with this binary's: %w", err)
	}
	if pending {
		return ErrSchemaBehind
	}
	return nil
}

func MigratePool(ctx context.Context, pool *pgxpool.Pool) ([]MigrationResult, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return Migrate(ctx, db)
}

// Constraint returns the name of the constraint a database error violated,
// or "" if err is not a constraint violation.
func Constraint(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code[:2] == "23" || pe.Code == "55000") {
		return pe.ConstraintName
	}
	return ""
}

// ErrAlreadyDeclared is a declaration id that the database refuses because
// the reseller posted it before.
var ErrAlreadyDeclared = errors.New("declaration_id already posted")

// constraintErrors are the domain errors of constraint violations, by
// constraint name.
var constraintErrors = map[string]error{
	"declarations_reseller_declaration_key": ErrAlreadyDeclared,
}

// TranslateCopy returns err, a COPY's error, as the domain error of the
// constraint it violated (still wrapping what the database said), or as
// it is.
func TranslateCopy(err error) error {
	if sentinel, ok := constraintErrors[Constraint(err)]; ok {
		return fmt.Errorf("%w: %v", sentinel, err)
	}
	return err
}
