package sftpd_test

import (
	"context"
	"log/slog"

	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/intake"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/sftpd"
	"github.com/clearhouse/clearhouse/internal/store"
)

// delayProxy forwards TCP connections to target, holding every chunk for
// delay in each direction (order kept): a link with that latency.
func delayProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	pipe := func(dst, src net.Conn) {
		type chunk struct {
			at time.Time
			b  []byte
		}
		q := make(chan chunk, 4096)
		go func() {
			defer close(q)
			for {
				b := make([]byte, 64<<10)
				n, err := src.Read(b)
				if n > 0 {
					q <- chunk{time.Now().Add(delay), b[:n]}
				}
				if err != nil {
					return
				}
			}
		}()
		for c := range q {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.b); err != nil {
				break
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var both sync.WaitGroup
				both.Add(2)
				go func() { defer both.Done(); pipe(s, c) }()
				go func() { defer both.Done(); pipe(c, s) }()
				both.Wait()
				c.Close()
				s.Close()
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// instant is a second server on e's partners and database whose intake
// takes each upload before the client hears that its close succeeded: the
// file has left /inbox, ingested and acknowledged, when the client stats
// or setstats it next (the worst case of "within milliseconds"). It
// returns the server's port; intake reports to e.got.
func instant(e *env) string {
	e.t.Helper()
	svc := ingest.New(e.pool, e.data)
	in := &intake.Intake{Service: svc, Pool: e.pool, DataDir: e.data, Done: e.took}
	ctx, cancel := context.WithCancel(context.Background())
	take := func(partner, path, uploader string) {
		fi, err := os.Stat(path)
		if err != nil {
			return
		}
		f := intake.File{Partner: partner, Name: filepath.Base(path), Uploader: uploader, Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano()}
		if err := in.Take(ctx, f, slog.New(slog.DiscardHandler)); err != nil {
			e.got <- "take: " + err.Error()
		}
	}
	cfg := sftpd.Config{Addr: "127.0.0.1:0", DataDir: e.data, HostKeyPath: filepath.Join(e.data, "sftp", "host_ed25519_key")}
	srv, err := sftpd.New(cfg, store.Partners{Pool: e.pool}, take, sftpd.NewMetrics(nil), slog.New(slog.DiscardHandler))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done; svc.Close() })
	_, port, _ := net.SplitHostPort(srv.Addr())
	return port
}

// paramikoPut is paramiko's SFTPClient.put() with its defaults
// (confirm=True: it stats the file once written and compares the size).
const paramikoPut = `
import sys, paramiko
port, key, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a throwaway server on loopback
c.connect("127.0.0.1", port=port, username="telco-fr", key_filename=key, look_for_keys=False, allow_agent=False)
s = c.open_sftp()
print(s.put(src, dst))
c.close()
`

// TestClientsThatTouchTheFileAfterUpload (issue 12, 2): the file leaves
// /inbox within milliseconds of its close, and clients that stat or setstat
// it just after failed: rclone (set_modtime) exited 1 and sent the file
// twice more (the ack turned DUPLICATE), paramiko's put() raised, OpenSSH's
// put -p printed "remote fsetstat: No such file" (a setstat on the open
// upload). Each client with its defaults, over a link with 25 ms of delay
// each way, must exit 0, and the file be taken once, ACCEPTED.
func TestClientsThatTouchTheFileAfterUpload(t *testing.T) {
	t.Parallel()
	src, _ := filepath.Abs(filepath.Join(pgtest.Samples, "drops", "telco-fr", "02_declarations_2026-01.csv"))
	clients := map[string]func(e *env, port string) *exec.Cmd{
		"rclone": func(e *env, port string) *exec.Cmd {
			cmd := exec.Command("rclone", "copy", src, "clearhouse:inbox")
			cmd.Env = append(os.Environ(), "HOME="+e.t.TempDir(), "RCLONE_CONFIG="+filepath.Join(e.t.TempDir(), "none.conf"),
				"RCLONE_CONFIG_CLEARHOUSE_TYPE=sftp", "RCLONE_CONFIG_CLEARHOUSE_HOST=127.0.0.1", "RCLONE_CONFIG_CLEARHOUSE_PORT="+port,
				"RCLONE_CONFIG_CLEARHOUSE_USER=telco-fr", "RCLONE_CONFIG_CLEARHOUSE_KEY_FILE="+e.keys["anna"])
			return cmd
		},
		"paramiko": func(e *env, port string) *exec.Cmd {
			return exec.Command("/usr/bin/python3", "-c", paramikoPut, port, e.keys["anna"], src, "/inbox/"+filepath.Base(src))
		},
		"openssh put -p": func(e *env, port string) *exec.Cmd {
			cmd := exec.Command("sftp", "-b", "-", "-F", "/dev/null", "-i", e.keys["anna"], "-P", port, "-o", "StrictHostKeyChecking=no",
				"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
				"-o", "LogLevel=ERROR", "telco-fr@127.0.0.1")
			cmd.Stdin = strings.NewReader("put -p " + src + " /inbox/\n")
			return cmd
		},
	}
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := start(t, nil)
			port := delayProxy(t, "127.0.0.1:"+instant(e), 25*time.Millisecond)
			out, err := client(e, port).CombinedOutput()
			if err != nil || strings.Contains(string(out), "No such file") {
				t.Fatalf("%s: %v\n%s", name, err, out)
			}
			if got := e.wait(); got != "telco-fr/02_declarations_2026-01.csv ACCEPTED" {
				t.Fatalf("intake: %s", got)
			}
			e.quiet()
			var records int
			_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM files WHERE partner_id = 'telco-fr'`).Scan(&records)
			if records != 1 {
				t.Fatalf("%d file records, want 1\n%s", records, out)
			}
			ack, err := os.ReadFile(filepath.Join(e.data, "partners", "telco-fr", "outbox", "02_declarations_2026-01.csv.ack.csv"))
			if err != nil || !strings.Contains(string(ack), "ACCEPTED") {
				t.Fatalf("ack: %v\n%s", err, ack)
			}
		})
	}
}
