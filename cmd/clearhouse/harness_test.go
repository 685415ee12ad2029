package main_test

// The harness the tests of the binary share: the bench reseller's world on
// a fresh database, serve processes started, stopped and killed, waiting
// for a condition, and reading what the database and the outboxes hold
// (inotify_test.go watches folders for created files).

import (
	"bytes"
	"context"
	"encoding/csv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/text/encoding/charmap"

	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
)

// telcoWorld is the bench reseller's world on a fresh database and data
// folder, its inbox and outbox made.
type telcoWorld struct {
	pool                     *pgxpool.Pool
	url, data, inbox, outbox string
}

// newTelcoWorld applies samples/bench/config to a fresh database.
func newTelcoWorld(t testing.TB) telcoWorld {
	t.Helper()
	return telcoWorldOn(t, pgtest.WithWorld(t, filepath.Join(pgtest.Samples, "bench", "config")))
}

// telcoWorldOn is the bench reseller's world on pool (its configuration
// applied) and a fresh data folder.
func telcoWorldOn(t testing.TB, pool *pgxpool.Pool) telcoWorld {
	t.Helper()
	l := mailbox.Layout{DataDir: t.TempDir()}
	w := telcoWorld{pool: pool, url: pool.Config().ConnString(), data: l.DataDir, inbox: l.Inbox("bench-telco"), outbox: l.Outbox("bench-telco")}
	for _, d := range []string{w.inbox, w.outbox} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// serveProc is a clearhouse process started by a test, its standard error
// (the JSON log) in a file.
type serveProc struct {
	cmd *exec.Cmd
	log string
}

// serveFor starts clearhouse serve on the database url and the data folder,
// logging at info. extra are serve's flags; those it leaves out default to
// free ports for SFTP and HTTP and an inbox scan every 300 ms. The process
// is stopped when the test ends.
func serveFor(t testing.TB, url, data string, extra ...string) *serveProc {
	t.Helper()
	args := []string{"--database-url", url, "--data-dir", data, "--log-level", "info", "serve"}
	for _, d := range [][2]string{{"--sftp-addr", "127.0.0.1:0"}, {"--http-addr", "127.0.0.1:0"}, {"--intake-scan", "300ms"}} {
		if !slices.Contains(extra, d[0]) {
			args = append(args, d[:]...)
		}
	}
	return startProc(t, exec.Command(bin, append(args, extra...)...))
}

// startProc starts cmd, its standard error to a log file, and stops it
// when the test ends.
func startProc(t testing.TB, cmd *exec.Cmd) *serveProc {
	t.Helper()
	log := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the process has its own descriptor
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, log: log}
	t.Cleanup(p.stop)
	return p
}

// stop sends SIGTERM and waits for the process to exit; a second stop, or
// one after kill, does nothing.
func (p *serveProc) stop() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	}
}

// kill sends SIGKILL: the process has no chance to finish anything.
func (p *serveProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

func (p *serveProc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// freeAddr is a loopback address no one listens on.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
	}
}

func fileRecords(t *testing.T, pool *pgxpool.Pool, partner string) []string {
	t.Helper()
	return texts(t, pool, `SELECT format('%s %s %s %s', id, name, state, coalesce(status, '')) FROM files WHERE partner_id = $1 ORDER BY id`, partner)
}

// texts runs a query of one text column and returns its values.
func texts(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLedger fails the test unless every ledger invariant holds.
func checkLedger(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if v, err := ledger.Check(context.Background(), store.New(pool)); err != nil || len(v) > 0 {
		t.Fatalf("ledger: %v %v", v, err)
	}
}

// readRows reads a CSV file's records, its header first.
func readRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// csvDialect is the dialect a document CSV was found in.
type csvDialect struct {
	comma                rune
	bom, cp1252, decimal bool // a UTF-8 byte order mark; windows-1252; decimal commas
}

var decimalComma = regexp.MustCompile(`^-?[0-9]+,[0-9]+$`)

// readDocCSV reads a document CSV as its reseller receives it, in its
// dialect: UTF-8 after a byte order mark, else windows-1252 when it is not
// UTF-8; the delimiter its header is written with. Decimals written with a
// comma are given back with a point, and the dialect found is returned.
func readDocCSV(t *testing.T, name string, b []byte) ([][]string, csvDialect) {
	t.Helper()
	var d csvDialect
	if rest, ok := bytes.CutPrefix(b, []byte("\ufeff")); ok {
		b, d.bom = rest, true
	} else if !utf8.Valid(b) {
		u, err := charmap.Windows1252.NewDecoder().Bytes(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, d.cp1252 = u, true
	}
	d.comma = ','
	if i := bytes.IndexAny(b, ",;\t|"); i >= 0 {
		d.comma = rune(b[i])
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma = d.comma
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, row := range rows {
		for i, c := range row {
			if d.comma != ',' && decimalComma.MatchString(c) {
				row[i], d.decimal = strings.Replace(c, ",", ".", 1), true
			}
		}
	}
	return rows, d
}
