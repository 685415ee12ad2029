package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/pgtest"
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
	url := strings.TrimSpace(run(t, env, "--config", cfg, "db", "url").stdout)
	if !strings.HasPrefix(url, "postgres://") {
		t.Fatalf("db url on the stopped local cluster: %q", url)
	}

	// Two commands at once on the stopped cluster: one starts it, the other
	// waits and uses it.
	if r := run(t, env, "--config", cfg, "db", "stop"); r.code != 0 {
		t.Fatalf("db stop: exit %d\n%s", r.code, r.stderr)
	}
	var both [2]result
	done := make(chan int)
	for i := range both {
		go func() { both[i] = run(t, env, "--config", cfg, "ledger", "balances"); done <- i }()
	}
	<-done
	<-done
	for i, r := range both {
		if r.code != 0 {
			t.Errorf("ledger balances %d of 2 at once on the stopped cluster: exit %d\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
	}

	// The command that started the cluster leaves it running for another
	// process still using it when it ends.
	if r := run(t, env, "--config", cfg, "db", "stop"); r.code != 0 {
		t.Fatalf("db stop: exit %d\n%s", r.code, r.stderr)
	}
	serve := exec.Command(bin, "--config", cfg, "serve", "--sftp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	serve.Dir, serve.Env = "../..", withEnv(env)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	var holder *pgx.Conn
	for deadline := time.Now().Add(30 * time.Second); holder == nil; time.Sleep(100 * time.Millisecond) {
		// The port serve's cluster listens on (a new one at each start).
		pid, _ := os.ReadFile(filepath.Join(pg, "postmaster.pid"))
		var err error = fmt.Errorf("no postmaster.pid")
		if lines := strings.Split(string(pid), "\n"); len(lines) > 3 {
			port := strings.TrimSpace(lines[3])
			var c *pgx.Conn
			if c, err = pgx.Connect(context.Background(), regexp.MustCompile(`:\d+/`).ReplaceAllString(url, ":"+port+"/")); err == nil {
				holder = c
			}
		}
		if holder == nil && time.Now().After(deadline) {
			_ = serve.Process.Kill()
			t.Fatalf("the cluster serve started does not answer: %v", err)
		}
	}
	defer holder.Close(context.Background())
	time.Sleep(time.Second) // serve past its start
	_ = serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	var one int
	if err := holder.QueryRow(context.Background(), `SELECT 1`).Scan(&one); err != nil {
		t.Fatalf("the cluster was stopped under a session still using it: %v", err)
	}

	// …and for a process that has attached but holds no session yet (it
	// holds the users' lock from its start to its end, as clearhouse does).
	holder.Close(context.Background())
	if r := run(t, env, "--config", cfg, "db", "stop"); r.code != 0 {
		t.Fatalf("db stop: exit %d\n%s", r.code, r.stderr)
	}
	serve = exec.Command(bin, "--config", cfg, "serve", "--sftp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	serve.Dir, serve.Env = "../..", withEnv(env)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "serve's cluster up", func() bool {
		b, _ := os.ReadFile(filepath.Join(pg, "postmaster.pid"))
		return len(strings.Split(string(b), "\n")) > 4
	})
	time.Sleep(time.Second)
	users, err := os.OpenFile(pg+".users", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
	if err := syscall.Flock(int(users.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	_ = serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if r := run(t, env, "--config", cfg, "db", "stop"); r.code != 0 || strings.Contains(r.stdout, "was not running") {
		t.Fatalf("the cluster was stopped under a process that had attached to it: db stop says %q", r.stdout)
	}
}

// TestHealth: clearhouse health GETs /readyz and exits 0 when serve is
// ready, 1 with the reason when it is not or does not answer.
func TestHealth(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if down.Load() {
			http.Error(w, "database: connection refused", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	}))
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, c := range []struct {
		name string
		down bool
		args []string
		code int
		want string
	}{
		{"ready, by URL", false, []string{"--url", srv.URL + "/readyz"}, 0, "ready: " + srv.URL + "/readyz answered ready"},
		{"ready, by the listen address of every interface", false, []string{"--http-addr", "0.0.0.0:" + port}, 0, "ready: http://127.0.0.1:" + port + "/readyz"},
		{"not ready", true, []string{"--url", srv.URL + "/readyz"}, 1, "not ready: " + srv.URL + "/readyz answered 503 Service Unavailable: database: connection refused"},
	} {
		down.Store(c.down)
		r := run(t, nil, append([]string{"health"}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.want) {
			t.Errorf("%s: exit %d (want %d), output lacks %q:\n%s%s", c.name, r.code, c.code, c.want, r.stdout, r.stderr)
		}
	}
	srv.Close()
	if r := run(t, nil, "health", "--url", srv.URL+"/readyz"); r.code != 1 || !strings.Contains(r.stderr, "does not answer (is clearhouse serve running?)") {
		t.Errorf("nothing listening: exit %d\n%s", r.code, r.stderr)
	}
}

// dockerHealthcheck returns the exec-form command of deploy/Dockerfile's
// HEALTHCHECK, with the image's binary replaced by the one under test
// (issue 11, item 6: it used /dev/tcp, which the image's sh, dash, lacks).
func dockerHealthcheck(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^HEALTHCHECK .*\bCMD (\[.*\])$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deploy/Dockerfile has no HEALTHCHECK in exec form (CMD [...]): the image has no shell tool to check with")
	}
	var argv []string
	if err := json.Unmarshal(m[1], &argv); err != nil {
		t.Fatal(err)
	}
	installed := regexp.MustCompile(`(?m)^COPY --from=build \S+ (\S+)$`).FindSubmatch(b)
	if installed == nil || len(argv) < 2 || argv[0] != string(installed[1]) || argv[1] != "health" {
		t.Fatalf("HEALTHCHECK %q does not run the image's binary (%s) with health", argv, installed)
	}
	return append([]string{bin}, argv[1:]...)
}

// needPromtool skips a test when promtool is missing, except in CI (.ci/run
// installs it), where the test must run.
func needPromtool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is missing (Debian's prometheus package; .ci/run installs it)")
		}
		t.Skip("promtool is missing (Debian's prometheus package)")
	}
}

// promtool runs Prometheus's promtool in the repository's root, stdin its
// input, and returns what it printed.
func promtool(stdin string, args ...string) ([]byte, error) {
	cmd := exec.Command("promtool", args...)
	cmd.Dir, cmd.Stdin = "../..", strings.NewReader(stdin)
	return cmd.CombinedOutput()
}

// TestAlertRules: deploy/prometheus-alerts.yaml is valid and passes
// deploy/prometheus-alerts.test.yaml; among its cases (issue 11, item 6),
// the stale schedule alert is quiet at night and at weekends for a
// business-hours schedule and fires on a missed tick, of that schedule and
// of an every-duration one.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	needPromtool(t)
	for _, args := range [][]string{
		{"check", "rules", "deploy/prometheus-alerts.yaml"},
		{"test", "rules", "deploy/prometheus-alerts.test.yaml"},
	} {
		if out, err := promtool("", args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dockerignored reports whether path (slash-separated, relative to the
// build context) is left out of the context by patterns, as Docker reads a
// .dockerignore: the last pattern matching the path or one of its parent
// folders decides, "!" re-includes, "**/" matches any number of folders.
func dockerignored(patterns []string, path string) bool {
	parts := strings.Split(path, "/")
	ignored := false
	for _, p := range patterns {
		include := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		anyDepth := strings.HasPrefix(p, "**/")
		p = strings.TrimPrefix(p, "**/")
		np := len(strings.Split(p, "/"))
		matched := false
		for end := 1; end <= len(parts) && !matched; end++ { // the path and each parent
			for start := 0; start <= end-np && !matched; start++ {
				if start > 0 && !anyDepth {
					break
				}
				ok, _ := filepath.Match(p, strings.Join(parts[start:end], "/"))
				matched = ok && end-start == np
			}
		}
		if matched {
			ignored = !include
		}
	}
	return ignored
}

// TestDockerignore (issue 11, item 6): with no .dockerignore a build sent
// .data (a live cluster, the SFTP host key) into the context. The context
// keeps every file the build reads and nothing of a data folder, binaries
// or the repository's history.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatalf("no .dockerignore: a build sends .data into its context: %v", err)
	}
	var patterns []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.Contains(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "**/"), "**") || strings.ContainsAny(line, `[\`) {
			t.Fatalf(".dockerignore: %q is beyond what this test reads like Docker (keep to *, ?, a leading **/ and !)", line)
		}
		patterns = append(patterns, line)
	}
	for _, p := range []string{".data/pg/PG_VERSION", ".data/pg/base/1/1259", ".data/sftp/host_ed25519_key", ".data/sftp/client_ed25519_key",
		".data/partners/telco-fr/inbox/x.csv", ".git/config", "bin/clearhouse", "out/bench.csv", "cpu-1.prof", "internal/ingest/ingest.test",
		"cmd/clearhouse/.data/pg/PG_VERSION", "samples/sftp/telco-fr_ed25519", "deploy/compose.yaml"} {
		if !dockerignored(patterns, p) {
			t.Errorf("%s goes into the build context", p)
		}
	}
	// What go build ./cmd/clearhouse reads: the module's files and, of each
	// of its packages, the Go and embedded files.
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/clearhouse")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("../..")
	needed := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Main bool }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, _ := filepath.Rel(root, p.Dir)
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(needed) < 20 {
		t.Fatalf("go list found only %v", needed)
	}
	for _, p := range needed {
		if dockerignored(patterns, p) {
			t.Errorf("%s is needed by the build and left out of its context", p)
		}
	}
}

// TestSystemdUnit (issue 11, item 6): the unit did not pass --config, and
// nothing said to create the user it runs as. Its commands, as written,
// read the shipped configuration, migrate and serve; the user is declared
// for systemd-sysusers; systemd accepts both files where its tools are.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../deploy/clearhouse.service")
	if err != nil {
		t.Fatal(err)
	}
	const installed, config = "/usr/local/bin/clearhouse", "/etc/clearhouse/clearhouse.yaml"
	var user string
	exec_ := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		switch {
		case !ok || strings.HasPrefix(k, "#"):
		case k == "User":
			user = v
		case k == "ExecStart" || k == "ExecStartPre":
			exec_[k] = strings.Fields(v)
		case k == "Environment" && strings.Contains(v, "CLEARHOUSE_"):
			t.Errorf("%s: a setting in the unit overrides %s, its one home", line, config)
		}
	}
	for _, k := range []string{"ExecStartPre", "ExecStart"} {
		argv := exec_[k]
		if len(argv) < 4 || argv[0] != installed || argv[1] != "--config" || argv[2] != config {
			t.Fatalf("%s=%s: not %s --config %s …", k, strings.Join(argv, " "), installed, config)
		}
	}

	// The user: declared for systemd-sysusers, and created by it.
	sysusers, err := os.ReadFile("../../deploy/clearhouse.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	if user == "" || !regexp.MustCompile(`(?m)^u `+regexp.QuoteMeta(user)+` `).Match(sysusers) {
		t.Fatalf("deploy/clearhouse.sysusers does not declare the unit's user %q", user)
	}
	if _, err := exec.LookPath("systemd-sysusers"); err == nil {
		root := t.TempDir()
		_ = os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		_ = os.MkdirAll(filepath.Join(root, "usr/lib/sysusers.d"), 0o755)
		_ = os.WriteFile(filepath.Join(root, "usr/lib/sysusers.d/clearhouse.conf"), sysusers, 0o644)
		out, err := exec.Command("systemd-sysusers", "--root", root, "--dry-run").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Creating user '"+user+"'") {
			t.Errorf("systemd-sysusers --dry-run: %v\n%s", err, out)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		unit := filepath.Join(t.TempDir(), "clearhouse.service")
		_ = os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), installed, bin)), 0o644)
		if out, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}

	// The commands as written, on the shipped configuration; the
	// environment stands in for what differs on this machine.
	addr := freeAddr(t)
	env := []string{"DATABASE_URL=" + pgtest.URL(t), "CLEARHOUSE_DATA=" + t.TempDir(), "CLEARHOUSE_SFTP_ADDR=127.0.0.1:0", "CLEARHOUSE_HTTP_ADDR=" + addr}
	args := func(k string) []string {
		return append([]string{exec_[k][1], "deploy/clearhouse.yaml"}, exec_[k][3:]...)
	}
	if r := run(t, env, args("ExecStartPre")...); r.code != 0 || !strings.HasPrefix(r.stdout, "database ") { // migrated, or up to date (pgtest migrates)
		t.Fatalf("ExecStartPre: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	serve := exec.Command(bin, args("ExecStart")...)
	serve.Dir, serve.Env = "../..", append(os.Environ(), env...)
	startProc(t, serve)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := run(t, env, "health")
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ExecStart: serve not ready after 30 s: %s", r.stderr)
		}
	}
}

// TestDashboard: every query of deploy/grafana-dashboard.json is PromQL that
// promtool accepts, names only metrics the code exports (the alerts too),
// and shows amounts as exported: in units of each currency. It divided them
// by 100 (issue 11, item 6), wrong for JPY or BHD.
func TestDashboard(t *testing.T) {
	t.Parallel()
	needPromtool(t)
	b, err := os.ReadFile("../../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("deploy/grafana-dashboard.json: %v", err)
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	var exprs []string
	for i, p := range dash.Panels {
		for j, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
			fmt.Fprintf(&rules, "      - record: panel_%d_%d\n        expr: %q\n", i, j, tg.Expr)
			if regexp.MustCompile(`[/*]\s*(100|0?\.01)\b`).MatchString(tg.Expr) {
				t.Errorf("panel %q: %s scales by a currency's exponent; amounts are exported in units", p.Title, tg.Expr)
			}
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("only %d queries in the dashboard", len(exprs))
	}
	file := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	_ = os.WriteFile(file, []byte(rules.String()), 0o644)
	if out, err := promtool("", "check", "rules", file); err != nil {
		t.Errorf("the dashboard's queries: %v\n%s", err, out)
	}

	// The metric names the code exports.
	exported := map[string]bool{}
	name := regexp.MustCompile(`"(clearhouse_[a-z_]+)"`)
	for _, dir := range []string{"../../internal", "."} {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			for _, m := range name.FindAllSubmatch(src, -1) {
				exported[string(m[1])] = true
			}
			return err
		})
	}
	alerts, err := os.ReadFile("../../deploy/prometheus-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range append(exprs, string(alerts)) {
		for _, m := range regexp.MustCompile(`\bclearhouse_[a-z_]+`).FindAllString(src, -1) {
			base := regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(m, "")
			if !exported[m] && !exported[base] {
				t.Errorf("%s is not a metric the code exports (dashboard or alerts)", m)
			}
		}
	}
}
