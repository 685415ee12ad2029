package sftpd_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/intake"
	"github.com/clearhouse/clearhouse/internal/jobs"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/sftpd"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is an embedded server on a loopback port, with intake behind it, the
// sample world, and keys for three uploaders of two resellers.
type env struct {
	t          *testing.T
	pool       *pgxpool.Pool
	data       string
	port       string
	knownHosts string
	keys       map[string]string // uploader -> private key file
	signers    map[string]ssh.Signer
	srv        *sftpd.Server
	m          *sftpd.Metrics
	got        chan string  // "partner/name STATUS" of each file intake took
	logs       lockedBuffer // the server's JSON log
}

// lockedBuffer is a bytes.Buffer written by several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newKey(t *testing.T, dir, name string) (string, ssh.Signer, string) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := ssh.NewSignerFromKey(priv)
	return path, s, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func start(t *testing.T, tune func(*sftpd.Config, *world.World)) *env {
	t.Helper()
	if _, err := exec.LookPath("sftp"); err != nil {
		t.Fatal("the OpenSSH sftp client is needed (Debian openssh-client; .ci/run installs it)")
	}
	e := &env{t: t, pool: pgtest.New(t), data: t.TempDir(), keys: map[string]string{}, signers: map[string]ssh.Signer{}, got: make(chan string, 100)}
	keyDir := t.TempDir()
	w, err := world.Load(pgtest.SampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	uploaders := map[string][]string{"telco-fr": {"anna", "robot"}, "isp-de": {"ops"}}
	for _, r := range w.Resellers {
		for _, u := range uploaders[r.ID] {
			path, signer, pub := newKey(t, keyDir, u)
			e.keys[u], e.signers[u] = path, signer
			r.SFTP.Keys = append(r.SFTP.Keys, &world.SFTPKey{Name: u, Key: pub})
		}
	}
	cfg := sftpd.Config{Addr: "127.0.0.1:0", DataDir: e.data, HostKeyPath: filepath.Join(e.data, "sftp", "host_ed25519_key")}
	if tune != nil {
		tune(&cfg, w)
	}
	if errs := w.Check(); len(errs) > 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pgtest.Apply(t, e.pool, w)
	queue, err := jobs.NewQueue(e.pool, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	svc := ingest.New(e.pool, e.data)
	in := &intake.Intake{Service: svc, Pool: e.pool, DataDir: e.data, Enqueue: queue.EnqueueFile, Done: e.took}
	runner, err := jobs.New(jobs.Config{Pool: e.pool, Intake: in, PollInterval: 50 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.m = sftpd.NewMetrics(prometheus.NewRegistry())
	e.srv, err = sftpd.New(cfg, store.Partners{Pool: e.pool}, in.Publish, e.m, slog.New(slog.NewJSONHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	_, e.port, _ = net.SplitHostPort(e.srv.Addr())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = e.srv.Serve(ctx) }()
	go func() { defer wg.Done(); in.Run(ctx, time.Hour) }()
	t.Cleanup(func() {
		_ = runner.Stop(context.Background())
		cancel()
		wg.Wait()
		svc.Close()
		if t.Failed() {
			t.Logf("the server logged:\n%s", e.logs.String())
		}
	})
	signer, err := sftpd.LoadOrCreateKey(cfg.HostKeyPath)
	if err != nil {
		t.Fatal(err)
	}
	e.knownHosts = filepath.Join(keyDir, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%s %s", e.port, ssh.MarshalAuthorizedKey(signer.PublicKey()))
	if err := os.WriteFile(e.knownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// sftp runs OpenSSH's sftp in batch mode as user with the key of uploader;
// a batch stops at the first failed command.
func (e *env) sftp(user, uploader, batch string, extra ...string) (string, error) {
	args := append([]string{"-b", "-", "-F", "/dev/null", "-i", e.keys[uploader], "-P", e.port,
		"-o", "UserKnownHostsFile=" + e.knownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"}, extra...)
	cmd := exec.Command("sftp", append(args, user+"@127.0.0.1")...)
	cmd.Stdin = strings.NewReader(batch)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// took tells e.got that intake took a file, and how it went.
func (e *env) took(partner, name string, o *ingest.Outcome, err error) {
	s := partner + "/" + name
	if o != nil {
		s += " " + o.Status
	}
	if err != nil {
		s += " error: " + err.Error()
	}
	e.got <- s
}

// wait returns the next file intake took, or fails after a while.
func (e *env) wait() string {
	e.t.Helper()
	select {
	case s := <-e.got:
		return s
	case <-time.After(30 * time.Second):
		e.t.Fatal("intake took nothing")
		return ""
	}
}

func (e *env) quiet() {
	e.t.Helper()
	select {
	case s := <-e.got:
		e.t.Fatalf("intake took %s, and should not have", s)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestUploadReachesIntakeOnceAndAckComesBack(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	src, _ := filepath.Abs(filepath.Join(pgtest.Samples, "drops", "telco-fr", "02_declarations_2026-01.csv"))
	out, err := e.sftp("telco-fr", "anna", "cd inbox\nput "+src+"\nls -1\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := e.wait(); got != "telco-fr/02_declarations_2026-01.csv ACCEPTED" {
		t.Fatalf("intake: %s", got)
	}
	e.quiet()
	var uploader string
	if err := e.pool.QueryRow(context.Background(), `SELECT uploader FROM files WHERE partner_id = 'telco-fr'`).Scan(&uploader); err != nil || !strings.HasPrefix(uploader, "anna SHA256:") {
		t.Fatalf("file record's uploader %q %v", uploader, err)
	}
	// The ack is in the outbox, readable and removable by the partner only.
	dl := t.TempDir()
	out, err = e.sftp("telco-fr", "robot", "ls /outbox\nget /outbox/02_declarations_2026-01.csv.ack.csv "+dl+"/\nrm /outbox/02_declarations_2026-01.csv.ack.csv\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dl, "02_declarations_2026-01.csv.ack.csv")); err != nil || !bytes.Contains(b, []byte("ACCEPTED")) {
		t.Fatalf("ack: %q %v", b, err)
	}
	// The inbox is empty again, and the other reseller sees none of it.
	out, err = e.sftp("isp-de", "ops", "ls -la /\nls -la /inbox\nls -la /outbox\n")
	if err != nil || strings.Contains(out, "telco") || strings.Contains(out, "02_declarations") {
		t.Fatalf("isp-de sees: %v\n%s", err, out)
	}
	if testutil.ToFloat64(e.srvUploads("completed")) != 1 {
		t.Fatal("uploads_total{completed} is not 1")
	}
}

func (e *env) srvUploads(outcome string) prometheus.Collector {
	return sftpd.UploadsCounter(e.m, outcome)
}

// TestNoWayOut: every escape attempt fails, and nothing lands anywhere.
func TestNoWayOut(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	f := filepath.Join(t.TempDir(), "x.csv")
	_ = os.WriteFile(f, []byte("declaration_id\n"), 0o644)
	attempts := []string{
		"put " + f + " /x.csv",
		"put " + f + " ../x.csv",
		"put " + f + " /inbox/../../x.csv",
		"put " + f + " /outbox/x.csv",
		"put " + f + " /INBOX/x.csv",
		"put " + f + " /inbox/.hidden.csv",
		"put " + f + " \"/inbox/evil\u202ecsv.exe\"",
		"put " + f + " \"/inbox/a\uff0fb.csv\"",
		"put " + f + " \"/inbox/cafe\u0301.csv\"", // NFD
		"get /etc/passwd",
		"get /../../../../etc/passwd",
		"get /inbox/../../isp-de/outbox/x",
		"ls /../isp-de",
		"mkdir /inbox/sub",
		"rmdir /outbox",
		"ln -s /etc/passwd /outbox/p",
		"ln /etc/passwd /outbox/p",
		"symlink / /inbox/root",
		"rename /outbox /inbox/o",
		"rm /inbox",
		"chmod 777 /outbox",
	}
	for _, a := range attempts {
		if out, err := e.sftp("telco-fr", "anna", a+"\n"); err == nil {
			t.Errorf("%q succeeded:\n%s", a, out)
		}
	}
	// A key of telco-fr cannot log in as isp-de, nor an unknown user.
	if out, err := e.sftp("isp-de", "anna", "ls\n"); err == nil {
		t.Errorf("telco-fr's key logged in as isp-de:\n%s", out)
	}
	e.quiet()
	var strays []string
	_ = filepath.Walk(e.data, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.Contains(p, "x.csv") || err == nil && (strings.Contains(p, "evil") || strings.Contains(p, "cafe")) {
			strays = append(strays, p)
		}
		return nil
	})
	if len(strays) > 0 {
		t.Fatalf("files landed: %v", strays)
	}
}

// TestPartThenRename: a client that uploads name.part then renames it is
// taken once, under the final name, and only after the rename.
func TestPartThenRename(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	src, _ := filepath.Abs(filepath.Join(pgtest.Samples, "drops", "isp-de", "08_sales_2026-06_pipe.csv"))
	out, err := e.sftp("isp-de", "ops", "put "+src+" /inbox/sales.csv.part\nls -1 /inbox\n")
	if err != nil || !strings.Contains(out, "sales.csv.part") {
		t.Fatalf("%v\n%s", err, out)
	}
	e.quiet()
	out, err = e.sftp("isp-de", "ops", "rename /inbox/sales.csv.part /inbox/sales.csv\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := e.wait(); !strings.HasPrefix(got, "isp-de/sales.csv ") || strings.Contains(got, "error") {
		t.Fatalf("intake: %s", got)
	}
	e.quiet()
}

// TestKilledUploadNeverReachesIntake: sftp killed mid-transfer leaves no
// file in the inbox, no temporary file, and intake takes nothing.
func TestKilledUploadNeverReachesIntake(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	big := filepath.Join(t.TempDir(), "big_declarations.csv")
	_ = os.WriteFile(big, bytes.Repeat([]byte("D1,NEW,C1,a@b.fr,,FR,fr,B-AV-1Y,1,2026-01-05,,,,\n"), 200_000), 0o644)
	args := []string{"-b", "-", "-F", "/dev/null", "-i", e.keys["anna"], "-P", e.port, "-l", "4000",
		"-o", "UserKnownHostsFile=" + e.knownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "telco-fr@127.0.0.1"}
	cmd := exec.Command("sftp", args...)
	cmd.Stdin = strings.NewReader("put " + big + " /inbox/\n")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(e.srvUploads("started")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	for testutil.ToFloat64(e.srvUploads("interrupted")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if testutil.ToFloat64(e.srvUploads("interrupted")) != 1 || testutil.ToFloat64(e.srvUploads("completed")) != 0 {
		t.Fatal("the killed upload was not counted as interrupted")
	}
	e.quiet()
	for _, d := range []string{"inbox", ".uploads"} {
		entries, _ := os.ReadDir(filepath.Join(e.data, "partners", "telco-fr", d))
		if len(entries) > 0 {
			t.Fatalf("%s holds %v after a killed upload", d, entries[0].Name())
		}
	}
}

func (e *env) dial(user string, auth ssh.AuthMethod) (*ssh.Client, error) {
	return ssh.Dial("tcp", "127.0.0.1:"+e.port, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}) // the host key is pinned in the OpenSSH tests
}

// sftpSession logs in and opens an SFTP session that stays open until the
// returned connection is closed.
func (e *env) sftpSession(t *testing.T, user string, auth ssh.AuthMethod) *ssh.Client {
	t.Helper()
	c, err := e.dial(user, auth)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServerWideSessionCap: with room for one session in all, a second
// partner is refused while the first is connected, and served after.
func TestServerWideSessionCap(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *sftpd.Config, w *world.World) {
		c.MaxTotalSessions = 1
		c.AllowPasswords = true
		for _, r := range w.Resellers {
			if r.ID == "isp-de" {
				r.SFTP.PasswordHash = sftpd.HashPassword("correct horse")
			}
		}
	})
	first := e.sftpSession(t, "telco-fr", ssh.PublicKeys(e.signers["anna"]))
	if other, err := e.dial("isp-de", ssh.Password("correct horse")); err == nil {
		if _, err := other.NewSession(); err == nil {
			t.Fatal("a session past the server-wide cap was opened")
		}
		other.Close()
	}
	if testutil.ToFloat64(sftpd.LimitCounter(e.m, "total_sessions")) != 1 {
		t.Fatal("the server-wide cap was not counted")
	}
	first.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		other, err := e.dial("isp-de", ssh.Password("correct horse"))
		if err == nil {
			_, serr := other.NewSession()
			other.Close()
			if serr == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no session once the first partner left")
		}
	}
}

// TestLimits: upload size, sessions per partner, passwords, brute force.
func TestLimits(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *sftpd.Config, w *world.World) {
		c.MaxUploadBytes = 4096
		c.AllowPasswords = true
		c.MaxAuthFailures = 3
		for _, r := range w.Resellers {
			switch r.ID {
			case "telco-fr":
				r.SFTP.MaxSessions = 1
			case "isp-de":
				r.SFTP.PasswordHash = sftpd.HashPassword("correct horse")
			}
		}
	})
	f := filepath.Join(t.TempDir(), "too_big.csv")
	_ = os.WriteFile(f, bytes.Repeat([]byte("x"), 10_000), 0o644)
	if out, err := e.sftp("telco-fr", "anna", "put "+f+" /inbox/\n"); err == nil {
		t.Fatalf("an upload over the limit succeeded:\n%s", out)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.data, "partners", "telco-fr", "inbox")); len(entries) > 0 {
		t.Fatalf("the inbox holds %s", entries[0].Name())
	}

	// One session for telco-fr: a second is refused while the first is open.
	first := e.sftpSession(t, "telco-fr", ssh.PublicKeys(e.signers["anna"]))
	second, err := e.dial("telco-fr", ssh.PublicKeys(e.signers["robot"]))
	if err == nil {
		if _, err := second.NewSession(); err == nil {
			t.Fatal("a second session was opened past max_sessions: 1")
		}
		second.Close()
	}
	first.Close()
	if testutil.ToFloat64(sftpd.LimitCounter(e.m, "sessions")) != 1 || testutil.ToFloat64(sftpd.LimitCounter(e.m, "upload_size")) == 0 {
		t.Fatal("the session and size limits were not counted")
	}

	// Passwords: the right one logs in, a wrong one does not.
	if c, err := e.dial("isp-de", ssh.Password("correct horse")); err != nil {
		t.Fatalf("password login: %v", err)
	} else {
		c.Close()
	}
	// Brute force: after 3 failures this address is refused outright.
	for range 3 {
		if c, err := e.dial("isp-de", ssh.Password("guess")); err == nil {
			c.Close()
			t.Fatal("a wrong password logged in")
		}
	}
	if c, err := e.dial("isp-de", ssh.Password("correct horse")); err == nil {
		c.Close()
		t.Fatal("a throttled address logged in")
	}
	if testutil.ToFloat64(sftpd.ThrottledCounter(e.m)) == 0 {
		t.Fatal("no throttled connection counted")
	}
	e.quiet()
}
