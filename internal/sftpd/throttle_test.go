package sftpd_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/sftpd"
	"github.com/clearhouse/clearhouse/internal/world"
)

// paramikoLogins tries each "source-address user password" line of stdin
// as a fresh connection and prints ok, refused, or error and why. The host
// key is checked against the pinned fingerprint.
const paramikoLogins = `
import base64, hashlib, socket, sys
import paramiko
host, port, pin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for line in sys.stdin:
    src, user, pw = line.split()
    t = paramiko.Transport(socket.create_connection((host, port), timeout=10, source_address=(src, 0)))
    try:
        t.start_client(timeout=10)
        fp = "SHA256:" + base64.b64encode(hashlib.sha256(t.get_remote_server_key().asbytes()).digest()).decode().rstrip("=")
        if fp != pin:
            print("error host key", fp)
            continue
        t.auth_password(user, pw)
        print("ok" if t.is_authenticated() else "refused")
    except paramiko.AuthenticationException:
        print("refused")
    except Exception as e:
        print("error", type(e).__name__, e)
    finally:
        t.close()
        sys.stdout.flush()
`

// passwords logs in with paramiko, one connection per attempt, in order:
// each attempt is {source address, user, password}.
func (e *env) passwords(t *testing.T, attempts [][3]string) []string {
	t.Helper()
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import paramiko").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Fatal("python3 with paramiko is needed (Debian python3-paramiko)")
	}
	var in strings.Builder
	for _, a := range attempts {
		fmt.Fprintf(&in, "%s %s %s\n", a[0], a[1], a[2])
	}
	cmd := exec.Command(py, "-c", paramikoLogins, "127.0.0.1", e.port, e.srv.Fingerprint())
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("paramiko: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func withPasswords(max int) func(*sftpd.Config, *world.World) {
	return func(c *sftpd.Config, w *world.World) {
		c.AllowPasswords = true
		c.MaxAuthFailures = max
		for _, r := range w.Resellers {
			switch r.ID {
			case "telco-fr":
				r.SFTP.PasswordHash = sftpd.HashPassword("pw-telco")
			case "isp-de":
				r.SFTP.PasswordHash = sftpd.HashPassword("pw-isp")
			}
		}
	}
}

func check(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("logins:\n got %q\nwant %q", got, want)
	}
}

// refusals returns the server's "sftp login refused" log lines.
func (e *env) refusals() []string {
	var out []string
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"sftp login refused"`) {
			out = append(out, l)
		}
	}
	return out
}

// TestLoginOfOnePartnerDoesNotClearAnothersFailures pins issue 12 item 6:
// a partner's successful login from an address cleared the address's
// failures, so it could guess another partner's password without limit.
func TestLoginOfOnePartnerDoesNotClearAnothersFailures(t *testing.T) {
	t.Parallel()
	e := start(t, withPasswords(4))
	const here = "127.0.0.1"
	got := e.passwords(t, [][3]string{
		{here, "isp-de", "guess1"}, {here, "telco-fr", "pw-telco"},
		{here, "isp-de", "guess2"}, {here, "telco-fr", "pw-telco"},
		{here, "isp-de", "guess3"}, {here, "telco-fr", "pw-telco"},
		{here, "isp-de", "guess4"}, // the 4th failure from here: the address is refused
		{here, "isp-de", "pw-isp"},
		{here, "telco-fr", "pw-telco"},
	})
	check(t, got, "refused", "ok", "refused", "ok", "refused", "ok", "refused", "refused", "refused")
	if n := testutil.ToFloat64(sftpd.ThrottledCounter(e.m)); n != 2 {
		t.Fatalf("%v throttled connections counted, want 2", n)
	}
	var throttled int
	for _, l := range e.refusals() {
		if !strings.Contains(l, `"level":"WARN"`) || !strings.Contains(l, `"addr":"127.0.0.1"`) || !strings.Contains(l, `"reason":`) {
			t.Errorf("a refusal without level warn, address or reason: %s", l)
		}
		if strings.Contains(l, `"reason":"throttled_address"`) {
			throttled++
		}
	}
	if throttled != 2 || !strings.Contains(e.logs.String(), `"user":"isp-de"`) {
		t.Fatalf("%d throttled refusals logged, want 2:\n%s", throttled, e.logs.String())
	}
}

// TestAccountFailuresCountFromEveryAddress: failures against an account
// from one address refuse password logins to it from any address, not
// other accounts' logins, and not its key logins.
func TestAccountFailuresCountFromEveryAddress(t *testing.T) {
	t.Parallel()
	e := start(t, withPasswords(3))
	const there, here = "127.0.0.2", "127.0.0.1"
	got := e.passwords(t, [][3]string{
		{there, "isp-de", "guess1"}, {there, "isp-de", "guess2"}, {there, "isp-de", "guess3"},
		{here, "isp-de", "pw-isp"},      // the account is throttled
		{here, "telco-fr", "pw-telco"},  // this address and that account are not
		{there, "telco-fr", "pw-telco"}, // that address is
	})
	check(t, got, "refused", "refused", "refused", "refused", "ok", "refused")
	c, err := e.dial("isp-de", ssh.PublicKeys(e.signers["ops"]))
	if err != nil {
		t.Fatalf("a key login to a throttled account was refused: %v", err)
	}
	c.Close()
	if !strings.Contains(e.logs.String(), `"reason":"throttled_account"`) {
		t.Fatalf("no throttled_account refusal logged:\n%s", e.logs.String())
	}
}

// outage makes the test database refuse connections and drops the open
// ones (down), or lets it take connections again.
func (e *env) outage(t *testing.T, down bool) {
	t.Helper()
	ctx := context.Background()
	cfg := e.pool.Config().ConnConfig.Copy()
	db := cfg.Database
	cfg.Database = "postgres"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s WITH ALLOW_CONNECTIONS %t`, pgx.Identifier{db}.Sanitize(), !down)); err != nil {
		t.Fatal(err)
	}
	if down {
		if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDatabaseOutageDoesNotLockOutValidLogins pins issue 12 item 6: logins
// refused while the database was unreachable counted as failures and
// locked the address out once it was back.
func TestDatabaseOutageDoesNotLockOutValidLogins(t *testing.T) {
	t.Parallel()
	e := start(t, withPasswords(3))
	e.outage(t, true)
	t.Cleanup(func() { e.outage(t, false) })
	for range 4 {
		if out, err := e.sftp("telco-fr", "anna", "ls\n"); err == nil {
			t.Fatalf("a key login without a database:\n%s", out)
		}
	}
	check(t, e.passwords(t, [][3]string{{"127.0.0.1", "isp-de", "pw-isp"}, {"127.0.0.1", "isp-de", "pw-isp"},
		{"127.0.0.1", "isp-de", "pw-isp"}, {"127.0.0.1", "isp-de", "pw-isp"}}), "refused", "refused", "refused", "refused")
	e.outage(t, false)
	if out, err := e.sftp("telco-fr", "anna", "ls\n"); err != nil {
		t.Fatalf("a valid key login after the outage: %v\n%s", err, out)
	}
	check(t, e.passwords(t, [][3]string{{"127.0.0.1", "isp-de", "pw-isp"}}), "ok")
	if !strings.Contains(e.logs.String(), `"reason":"system_error"`) {
		t.Fatalf("no system_error refusal logged:\n%s", e.logs.String())
	}
}
