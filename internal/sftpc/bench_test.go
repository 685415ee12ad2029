package sftpc_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/sftpc"
	"github.com/clearhouse/clearhouse/internal/sftpd"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

// BenchmarkSFTP moves one file (CLEARHOUSE_BENCH_SFTP_MB, default 1024 MB)
// over loopback, four ways, each measured in the same run:
//
//	upload/openssh-to-embedded   OpenSSH sftp put → Clearhouse's server
//	upload/openssh-to-sshd       OpenSSH sftp put → OpenSSH sshd (baseline)
//	push/clearhouse-to-sshd      Clearhouse's push → sshd
//	push/openssh-to-sshd         OpenSSH sftp put → sshd (baseline)
//
// make bench prints the ratios.
func BenchmarkSFTP(b *testing.B) {
	mb := 1024
	if v := os.Getenv("CLEARHOUSE_BENCH_SFTP_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		mb = n
	}
	work, outbox := b.TempDir(), b.TempDir()
	src := filepath.Join(outbox, "big_declarations.csv")
	f, _ := os.Create(src)
	chunk := []byte(strings.Repeat("GEN-1,NEW,C1,user@example.com,Clément,FR,fr,B-AV-1Y,1,2026-01-01,,,EUR,\n", 1<<14))
	for written := 0; written < mb<<20; written += len(chunk) {
		_, _ = f.Write(chunk)
	}
	f.Close()
	fi, _ := os.Stat(src)

	// The embedded server, its intake off (only the transfer is measured).
	pool := pgtest.New(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	w, _ := world.Load("../../samples/config")
	keyPath := filepath.Join(work, "clerk")
	signer := key(b, keyPath)
	for _, r := range w.Resellers {
		if r.ID == "telco-fr" {
			r.SFTP.Keys = []*world.SFTPKey{{Name: "bench", Key: string(ssh.MarshalAuthorizedKey(signer.PublicKey()))}}
		}
	}
	pgtest.Apply(b, pool, w)
	data := filepath.Join(work, "data")
	srv, err := sftpd.New(sftpd.Config{Addr: "127.0.0.1:0", DataDir: data, HostKeyPath: filepath.Join(work, "host_key"), MaxUploadBytes: 1 << 40},
		store.Partners{Pool: pool}, func(_, p, _ string) { _ = os.Remove(p) }, sftpd.NewMetrics(nil), slogDiscard())
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ctx) }()
	d := startSSHD(b)
	sshdKey := filepath.Join(d.dir, "client_key")

	put := func(b *testing.B, src, addr, user, key, target string) {
		host, port, _ := net.SplitHostPort(addr)
		cmd := exec.Command("sftp", "-b", "-", "-F", "/dev/null", "-i", key, "-P", port, "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", user+"@"+host)
		cmd.Stdin = strings.NewReader("put " + src + " " + target + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
	b.Run("upload/openssh-to-embedded", func(b *testing.B) {
		b.SetBytes(fi.Size())
		resetPeakRSS()
		for i := 0; i < b.N; i++ {
			put(b, src, srv.Addr(), "telco-fr", keyPath, "/inbox/")
		}
		b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
	})
	// 20 partners at once, each its own key and session, the same total bytes.
	const partners = 20
	part := filepath.Join(outbox, "part.csv")
	pf, _ := os.Create(part)
	for written := 0; written < mb<<20/partners; written += len(chunk) {
		_, _ = pf.Write(chunk)
	}
	pf.Close()
	pfi, _ := os.Stat(part)
	keys := make([]string, partners)
	for i := range keys {
		id := fmt.Sprintf("bench-%02d", i)
		keys[i] = filepath.Join(work, id)
		pub := key(b, keys[i]).PublicKey()
		if _, err := pool.Exec(ctx, `WITH p AS (INSERT INTO partners (id, kind, name) VALUES ($1, 'reseller', $1))
			INSERT INTO partner_keys (partner_id, name, fingerprint, public_key) VALUES ($1, 'bench', $2, $3)`,
			id, ssh.FingerprintSHA256(pub), string(ssh.MarshalAuthorizedKey(pub))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("upload/20-partners-at-once", func(b *testing.B) {
		b.SetBytes(pfi.Size() * partners)
		resetPeakRSS()
		for i := 0; i < b.N; i++ {
			var wg sync.WaitGroup
			for j := range keys {
				wg.Go(func() { put(b, part, srv.Addr(), fmt.Sprintf("bench-%02d", j), keys[j], "/inbox/") })
			}
			wg.Wait()
		}
		b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
	})
	b.Run("upload/openssh-to-sshd", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for i := 0; i < b.N; i++ {
			put(b, src, d.Addr, d.User, sshdKey, path.Join(d.Base, "up.csv"))
		}
	})
	r := &exchange.Remote{Address: d.Addr, HostKey: exchange.HostKeys{d.HostKey}, User: d.User}
	b.Run("push/clearhouse-to-sshd", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for i := 0; i < b.N; i++ {
			_ = os.Remove(filepath.Join(d.Local, "big_declarations.csv"))
			_, _ = pool.Exec(ctx, `DELETE FROM deliveries`)
			if _, err := sftpc.Enqueue(ctx, store.New(pool), "secureco", outbox); err != nil {
				b.Fatal(err)
			}
			c, err := sftpc.Dial(ctx, r, sftpc.Auth{Key: d.Client})
			if err != nil {
				b.Fatal(err)
			}
			res, err := sftpc.Push(ctx, store.New(pool), c, "secureco", d.Base, slogDiscard())
			c.Close()
			if err != nil || res.Failed > 0 {
				b.Fatalf("%+v %v", res, err)
			}
		}
	})
	b.Run("push/openssh-to-sshd", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for i := 0; i < b.N; i++ {
			put(b, src, d.Addr, d.User, sshdKey, path.Join(d.Base, "put.csv"))
		}
	})
}

// resetPeakRSS restarts the kernel's count of this process's peak resident
// set (VmHWM), so that each benchmark reports its own peak.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMiB is this process's peak resident set since resetPeakRSS. The
// embedded server runs in this process; sshd and the clients do not.
func peakRSSMiB() float64 {
	data, _ := os.ReadFile("/proc/self/status")
	for line := range bytes.Lines(data) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			var kb float64
			fmt.Sscanf(string(rest), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}
