package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoDatabaseURLMakesNoCluster (issue 11, item 6): `status` run with a
// configuration whose data folder was production's, but without
// DATABASE_URL, made and started a new empty cluster in <data-dir>/pg and
// showed empty tables. Only run and db start make a cluster; every other
// command says there is no database and how to point at one, and creates
// nothing. A cluster that db start (or run) made is still used by the
// others, started by them when it is not running.
func TestNoDatabaseURLMakesNoCluster(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "var-lib-clearhouse")
	for _, d := range []string{"archive", "partners"} { // a data folder in use, as production's is
		if err := os.MkdirAll(filepath.Join(data, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(t.TempDir(), "clearhouse.yaml")
	if err := os.WriteFile(cfg, []byte("data-dir: "+data+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"DATABASE_URL=", "-CLEARHOUSE_DATA", "-CLEARHOUSE_CONFIG"}
	pg := filepath.Join(data, "pg")
	want := "no database: DATABASE_URL is not set and there is no local cluster in " + pg
	for _, args := range [][]string{
		{"status"},
		{"ledger", "balances"},
		{"ledger", "check"},
		{"migrate"},
		{"apply", "-f", "samples/config", "--dry-run"},
		{"ingest", "--reseller", "telco-fr", "samples/drops/telco-fr/02_declarations_2026-01.csv"},
		{"replay", "1"},
		{"db", "url"},
		{"serve", "--sftp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"},
	} {
		r := run(t, env, append([]string{"--config", cfg}, args...)...)
		if r.code != 64 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "set DATABASE_URL") {
			t.Errorf("%v: exit %d (want 64), stderr lacks %q:\n%s%s", args, r.code, want, r.stdout, r.stderr)
		}
		if _, err := os.Stat(pg); !os.IsNotExist(err) {
			t.Fatalf("%v made %s (%v)", args, pg, err)
		}
	}

	// db start makes the cluster; the others use it, running or not.
	t.Cleanup(func() { run(t, env, "--config", cfg, "db", "stop") })
	if r := run(t, env, "--config", cfg, "db", "start"); r.code != 0 || !strings.HasPrefix(r.stdout, "postgres://") {
		t.Fatalf("db start: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "--config", cfg, "status"); r.code != 0 || !strings.Contains(r.stdout, "FILE") {
		t.Fatalf("status on the running local cluster: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "--config", cfg, "db", "stop"); r.code != 0 {
		t.Fatalf("db stop: exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, env, "--config", cfg, "ledger", "balances"); r.code != 0 || !strings.Contains(r.stdout, "ACCOUNT") {
		t.Fatalf("ledger balances on the stopped local cluster: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "--config", cfg, "db", "url"); r.code != 0 || !strings.HasPrefix(r.stdout, "postgres://") {
		t.Fatalf("db url on the stopped local cluster: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
