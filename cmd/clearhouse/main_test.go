package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/pgtest"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clearhouse-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "clearhouse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	pgtest.Main(cleanup{m, dir})
}

// cleanup removes the built binary's folder once the tests have run
// (pgtest.Main exits the process).
type cleanup struct {
	m   *testing.M
	dir string
}

func (c cleanup) Run() int {
	defer os.RemoveAll(c.dir)
	return c.m.Run()
}

// envInt is the number in the environment variable name (a run's size or
// count, set by hand or by make), def when it is not set.
func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

type result struct {
	code   int
	stdout string
	stderr string
	maxRSS int64 // the process's peak resident memory, in bytes
	wall   time.Duration
}

// run runs the binary from the repository's root with env added to the
// test's environment; an entry "-NAME" removes NAME from it.
// withEnv is this process's environment with env's changes: NAME=value
// added, -NAME removed.
func withEnv(env []string) []string {
	out := os.Environ()
	for _, kv := range env {
		if name, ok := strings.CutPrefix(kv, "-"); ok {
			out = slices.DeleteFunc(out, func(e string) bool { return strings.HasPrefix(e, name+"=") })
			continue
		}
		out = append(out, kv)
	}
	return out
}

func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runAsync(t, env, args...)()
}

// runAsync starts the binary as run does; wait waits for it to end.
func runAsync(t *testing.T, env []string, args ...string) (wait func() result) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = "../.."
	cmd.Env = withEnv(env)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() result {
		t.Helper()
		err := cmd.Wait()
		r := result{stdout: out.String(), stderr: errb.String(), wall: time.Since(start)}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss << 10 // KiB on Linux
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// The exit codes and outputs that resellers' scripts rely on (README).
func TestCommandsAndExitCodes(t *testing.T) {
	t.Parallel()
	env := []string{"DATABASE_URL=" + pgtest.URL(t), "CLEARHOUSE_DATA=" + t.TempDir()}
	expect := func(r result, code int, want string) {
		t.Helper()
		if r.code != code || !strings.Contains(r.stdout+r.stderr, want) {
			t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", r.code, code, want, r.stdout, r.stderr)
		}
	}
	expect(run(t, env, "apply", "-f", "samples/config"), 0, "applied: 37 change(s), 0 unchanged")
	expect(run(t, env, "apply", "-f", "samples/config", "--dry-run"), 0, "would apply (dry run): 0 change(s), 37 unchanged")
	bad := t.TempDir()
	_ = os.WriteFile(filepath.Join(bad, "x.yaml"), []byte("resellers:\n  - id: X\n"), 0o644)
	expect(run(t, env, "apply", "-f", bad), 2, "nothing changed")

	expect(run(t, env, "ingest", "--reseller", "telco-fr", "samples/drops/telco-fr/02_declarations_2026-01.csv"), 0, "ACCEPTED  02_declarations_2026-01.csv")
	expect(run(t, env, "ingest", "--reseller", "telco-fr", "samples/drops/telco-fr/04_declarations_2026-01_resent.csv"), 2, "DUPLICATE")
	expect(run(t, env, "ingest", "--reseller", "isp-de", "samples/drops/isp-de/01_sales_2026-03.csv"), 1, "PRICE_MISMATCH")
	expect(run(t, env, "ingest", "--reseller", "telco-fr", "samples/drops/telco-fr/05_declarations_2026-08.csv"), 2, "REJECTED")
	expect(run(t, env, "validate", "--reseller", "isp-de", "samples/drops/isp-de/04_sales_missing_column.csv"), 2, "MISSING_COLUMN")

	r := run(t, env, "validate", "--reseller", "isp-de", "--format", "json", "samples/drops/isp-de/02_sales_2026-04.csv")
	var js struct {
		Status   string `json:"status"`
		Problems []struct {
			Line int    `json:"line"`
			Code string `json:"code"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || r.code != 1 || js.Status != "PARTIAL" || len(js.Problems) != 2 || js.Problems[0].Code != "DUPLICATE_DECLARATION" {
		t.Fatalf("validate json: exit %d %v %+v\n%s", r.code, err, js, r.stdout)
	}
	expect(run(t, env, "validate", "--reseller", "isp-de", "--format", "csv", "samples/drops/isp-de/02_sales_2026-04.csv"), 1,
		"file,line,sheet,column,code,severity,value,message\n02_sales_2026-04.csv,2,,declaration_id,DUPLICATE_DECLARATION")

	expect(run(t, env, "validate", "--reseller", "telco-fr", "--sheet", "Sales", "samples/drops/telco-fr/07_declarations_2026-10.xlsx"), 2, `has no sheet "Sales"; its sheets are: Ventes`)
	expect(run(t, env, "validate", "--reseller", "telco-fr", "--sheet", "Ventes", "samples/drops/telco-fr/07_declarations_2026-10.xlsx"), 0, "ACCEPTED")
	expect(run(t, env, "ledger", "check"), 0, "ledger OK")
	expect(run(t, env, "ledger", "balances", "--reseller", "telco-fr"), 0, "reseller:telco-fr:unbilled       EUR  121.10")
	// A user's mistake is a usage problem (64) with a sentence, never "the system failed" (3).
	expect(run(t, env, "ingest", "--reseller", "nobody", "samples/drops/telco-fr/02_declarations_2026-01.csv"), 64, `unknown reseller "nobody"`)
	expect(run(t, env, "validate", "--reseller", "nope", "samples/drops/telco-fr/02_declarations_2026-01.csv"), 64, `unknown reseller "nope"`)
	expect(run(t, env, "replay", "999"), 64, "no upload has that id")
	expect(run(t, env, "status", "--partner", "nope"), 64, `unknown partner "nope"`)
	expect(run(t, env, "ledger", "balances", "--reseller", "nope"), 64, `unknown partner "nope"`)
	expect(run(t, env, "apply", "-f", t.TempDir()), 64, "no *.yaml or *.yml files in")
	// The dry run predicts the real outcome: bytes posted before are a DUPLICATE.
	expect(run(t, env, "validate", "--reseller", "telco-fr", "samples/drops/telco-fr/04_declarations_2026-01_resent.csv"), 2, "DUPLICATE")
	// A usage error says what is wrong and where help is, in a few lines.
	r = run(t, env, "ingest", "--reseller")
	if r.code != 64 || strings.Count(r.stderr, "\n") > 3 || !strings.Contains(r.stderr, "--help") {
		t.Fatalf("usage error: exit %d\n%s", r.code, r.stderr)
	}
	expect(run(t, env, "validate", "--reseller", "isp-de", "--format", "xml", "samples/drops/isp-de/02_sales_2026-04.csv"), 64, "table")
	// Several files: JSON Lines, one object per file; CSV under one header.
	r = run(t, env, "validate", "--reseller", "isp-de", "--format", "json", "samples/drops/isp-de/02_sales_2026-04.csv", "samples/drops/isp-de/08_sales_2026-06_pipe.csv")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &js) != nil || !strings.Contains(lines[1], `"file_name":"08_sales_2026-06_pipe.csv"`) {
		t.Fatalf("validate json of two files: %d lines\n%s", len(lines), r.stdout)
	}
	r = run(t, env, "validate", "--reseller", "isp-de", "--format", "csv", "samples/drops/isp-de/02_sales_2026-04.csv", "samples/drops/isp-de/04_sales_missing_column.csv")
	if strings.Count(r.stdout, "file,line,sheet") != 1 || !strings.Contains(r.stdout, "04_sales_missing_column.csv,") {
		t.Fatalf("validate csv of two files:\n%s", r.stdout)
	}
	expect(run(t, env, "--max-field-kb", "0", "ledger", "check"), 64, "every --max-* limit must be at least 1")
	// Limits set in the environment reach the checks.
	// Control characters from a file never reach the terminal as they are
	// (issue 13, 7): every column shows them escaped.
	ctl := filepath.Join(t.TempDir(), "ctl\x1b[2J.csv")
	_ = os.WriteFile(ctl, []byte("declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"C-1,NEW,C1,c1@example.de,\x1b]0;pwned\x07IDE\u202eX,1,2026-03-06\n"), 0o644)
	r = run(t, env, "validate", "--reseller", "isp-de", ctl)
	if strings.ContainsAny(r.stdout, "\x1b\x07\u202e") || !strings.Contains(r.stdout, `\x1b]0;pwned\x07IDE\u202eX`) {
		t.Fatalf("control characters reached the terminal: %q", r.stdout)
	}
	// (01 was posted above: a copy with one more blank line is other bytes, the same problems.)
	b, _ := os.ReadFile(filepath.Join(pgtest.Samples, "drops", "isp-de", "01_sales_2026-03.csv"))
	other := filepath.Join(t.TempDir(), "01_again.csv")
	_ = os.WriteFile(other, append(b, '\n'), 0o644)
	expect(run(t, append(env, "CLEARHOUSE_MAX_PROBLEMS=3"), "validate", "--reseller", "isp-de", other), 2, "TOO_MANY_PROBLEMS")
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a := run(t, nil, "samples", "generate", "--rows", "100")
	b := run(t, nil, "samples", "generate", "--rows", "100")
	if a.code != 0 || a.stdout != b.stdout || strings.Count(a.stdout, "\n") != 101 {
		t.Fatalf("generate: %d lines, exit %d", strings.Count(a.stdout, "\n"), a.code)
	}
}

// make run: with no DATABASE_URL a local cluster is started from the
// installed server binaries (as the postgres user when root), and the whole
// sample world goes through; a second run only finds duplicates.
func TestRunOnALocalCluster(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := []string{"DATABASE_URL=", "CLEARHOUSE_DATA=" + data}
	t.Cleanup(func() { run(t, env, "db", "stop") })
	r := run(t, env, "run")
	if r.code != 0 || !strings.Contains(r.stdout, "ledger OK") || !strings.Contains(r.stdout, "PARTIAL   01_sales_2026-03.csv") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "partners", "isp-de", "outbox", "01_sales_2026-03.csv.rejects.csv")); err != nil {
		t.Fatal(err)
	}
	checkSampleInvoices(t, env, data)
	// Every drop that was posted the first time comes back DUPLICATE.
	posted := strings.Count(r.stdout, "ACCEPTED  ") + strings.Count(r.stdout, "PARTIAL   ") + strings.Count(r.stdout, "DUPLICATE ")
	r = run(t, env, "run")
	if r.code != 0 || strings.Count(r.stdout, "DUPLICATE ") != posted || posted < 14 || strings.Contains(r.stdout, "ACCEPTED") {
		t.Fatalf("second run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestConfigFile: settings come from --config, the environment overrides
// the file and flags override both; an unknown key is refused.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	_ = os.WriteFile(cfg, []byte("data-dir: "+filepath.Join(dir, "file")+"\nsftp:\n  max_sessions: 3\n"), 0o600)
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, nil, "file"},
		{[]string{"CLEARHOUSE_DATA=" + filepath.Join(dir, "env")}, nil, "env"},
		{[]string{"CLEARHOUSE_DATA=" + filepath.Join(dir, "env")}, []string{"--data-dir", filepath.Join(dir, "flag")}, "flag"},
	} {
		args := append(append([]string{"--config", cfg}, c.args...), "sftp", "keys", "--create")
		if r := run(t, c.env, args...); r.code != 0 {
			t.Fatalf("%v: %d %s", args, r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, c.want, "sftp", "host_ed25519_key")); err != nil {
			t.Fatalf("%v %v: the keys are not under %s", c.env, c.args, c.want)
		}
	}
	// The example shipped in deploy/ stays valid.
	if r := run(t, nil, "--config", "deploy/clearhouse.yaml", "--data-dir", filepath.Join(dir, "deploy"), "sftp", "keys", "--create"); r.code != 0 {
		t.Fatalf("deploy/clearhouse.yaml: %d %s", r.code, r.stderr)
	}
	_ = os.WriteFile(cfg, []byte("sftp:\n  adr: 127.0.0.1:22\n"), 0o600)
	if r := run(t, nil, "--config", cfg, "sftp", "keys"); r.code != 64 || !strings.Contains(r.stderr, "unknown settings sftp-adr") {
		t.Fatalf("a typo in the configuration: %d %s", r.code, r.stderr)
	}
}

// Issue 12, 7: `sftp keys` on a data folder without keys silently made new
// ones and printed their fingerprint, which no running server has. It
// refuses without --create, and says what it made with it; keys there are
// printed as they are.
func TestSFTPKeysDoesNotMakeKeysSilently(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := run(t, nil, "--data-dir", dir, "sftp", "keys")
	if r.code != 64 || !strings.Contains(r.stderr, "--create") || r.stdout != "" { // a usage problem (the wrong --data-dir), not a failure
		t.Fatalf("no keys, no --create: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "sftp", "host_ed25519_key")); err == nil {
		t.Fatal("a host key was made without --create")
	}
	r = run(t, nil, "--data-dir", dir, "sftp", "keys", "--create")
	if r.code != 0 || !strings.Contains(r.stderr, "made a new key: "+filepath.Join(dir, "sftp", "host_ed25519_key")) || !strings.Contains(r.stdout, "host key:   SHA256:") {
		t.Fatalf("--create: %d %q %q", r.code, r.stdout, r.stderr)
	}
	again := run(t, nil, "--data-dir", dir, "sftp", "keys")
	if again.code != 0 || again.stderr != "" || again.stdout != r.stdout {
		t.Fatalf("keys there: %d %q %q", again.code, again.stdout, again.stderr)
	}
}
