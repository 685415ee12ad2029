// Package pgtest gives each test its own migrated PostgreSQL database, cloned
// from a template per migration hash (pgtestdb). The server is the one named
// by CLEARHOUSE_TEST_DATABASE_URL (make test starts one cluster for the whole
// run), or else a throwaway cluster this test binary starts once. No mocks.
package pgtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for pgtestdb
	"github.com/peterldowns/pgtestdb"

	"github.com/clearhouse/clearhouse/internal/pgserver"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

// EnvURL names the variable holding a server URL shared by a test run.
const EnvURL = pgserver.TestURLEnv

// Samples is the repository's samples folder (config, drops, late, bench)
// as the tests of a package two folders down (internal/<package>,
// cmd/clearhouse) reach it; SampleConfig is the sample world's
// configuration in it.
const (
	Samples      = "../../samples"
	SampleConfig = Samples + "/config"
)

var (
	once    sync.Once
	baseURL string
	server  *pgserver.Server
	tmpDir  string
	initErr error
)

// Main wraps a package's TestMain so a cluster it started is stopped.
func Main(m interface{ Run() int }) {
	code := m.Run()
	if server != nil {
		_ = server.Stop()
		_ = os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func base() (string, error) {
	once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			baseURL = u
			return
		}
		server, tmpDir, initErr = pgserver.StartThrowaway(context.Background())
		if initErr == nil {
			baseURL = server.URL("postgres")
		}
	})
	return baseURL, initErr
}

type migrator struct{}

func (migrator) Hash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(store.Migrations(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(store.Migrations(), p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	fmt.Fprintf(h, "river %d", store.RiverVersion())
	return hex.EncodeToString(h.Sum(nil))[:16], err
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	_, err := store.Migrate(ctx, db)
	return err
}

// URL returns the connection URL of a fresh migrated database for t.
func URL(t testing.TB) string {
	t.Helper()
	u, err := base()
	if err != nil {
		t.Fatalf("test database server: %v", err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := pu.User.Password()
	conf := pgtestdb.Config{
		DriverName: "pgx", Host: pu.Hostname(), Port: pu.Port(), User: pu.User.Username(), Password: pass,
		Database: "postgres", Options: "sslmode=disable", ForceTerminateConnections: true,
	}
	return pgtestdb.Custom(t, conf, migrator{}).URL()
}

// New returns a pool on a fresh migrated database, closed when t ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := store.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// WithWorld is New with the configuration in each of dirs (SampleConfig,
// say) applied, in order.
func WithWorld(t testing.TB, dirs ...string) *pgxpool.Pool {
	t.Helper()
	pool := New(t)
	for _, dir := range dirs {
		w, err := world.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		Apply(t, pool, w)
	}
	return pool
}

// Apply applies the configuration w (loaded, and perhaps edited by the
// test) to pool's database in one transaction, as clearhouse apply does.
func Apply(t testing.TB, pool *pgxpool.Pool, w *world.World) {
	t.Helper()
	ctx := context.Background()
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { _, err := world.Apply(ctx, store.New(tx), w); return err }); err != nil {
		t.Fatal(err)
	}
}
