package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/samplegen"
	"github.com/clearhouse/clearhouse/internal/sftpd"
)

// BenchmarkServe measures clearhouse serve on small files:
//
//	throughput/instances=N  CLEARHOUSE_BENCH_SERVE_FILES (10,000) files of
//	                        100 rows dropped at once, worked by N instances
//	latency                 one file a second uploaded by SFTP for a minute:
//	                        upload complete → ack written, p50 and p99
func BenchmarkServe(b *testing.B) {
	files := envInt(b, "CLEARHOUSE_BENCH_SERVE_FILES", 10_000)
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("throughput/instances=%d", n), func(b *testing.B) {
			for range b.N {
				w := newTelcoWorld(b)
				for i := range files {
					var buf bytes.Buffer
					_ = samplegen.Write(&buf, samplegen.Options{Rows: 100, Prefix: fmt.Sprintf("S%05d", i)})
					_ = os.WriteFile(filepath.Join(w.inbox, fmt.Sprintf("declarations_%05d.csv", i)), buf.Bytes(), 0o640)
				}
				start := time.Now()
				for range n {
					serveFor(b, w.url, w.data, "--intake-scan", "2s")
				}
				waitPosted(b, w.pool, files, 30*time.Minute)
				secs := time.Since(start).Seconds()
				b.ReportMetric(float64(files)/secs, "files/s")
				b.ReportMetric(float64(files*100)/secs, "rows/s")
			}
		})
	}
	b.Run("latency", func(b *testing.B) {
		for range b.N {
			w := newTelcoWorld(b)
			keyPath := filepath.Join(b.TempDir(), "clerk")
			signer := clientKey(b, keyPath)
			if _, err := w.pool.Exec(context.Background(), `INSERT INTO partner_keys (partner_id, name, fingerprint, public_key) VALUES ('bench-telco', 'bench', $1, $2)`,
				ssh.FingerprintSHA256(signer.PublicKey()), string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); err != nil {
				b.Fatal(err)
			}
			addr := freeAddr(b)
			serveFor(b, w.url, w.data, "--sftp-addr", addr, "--intake-scan", "30s") // serve's default: the uploads start the work
			conn := dialSFTP(b, addr, signer)
			defer conn.Close()
			outbox := w.outbox
			var lat []time.Duration
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for i := range 60 {
				<-tick.C
				var buf bytes.Buffer
				_ = samplegen.Write(&buf, samplegen.Options{Rows: 100, Prefix: fmt.Sprintf("L%03d", i)})
				name := fmt.Sprintf("declarations_l%03d.csv", i)
				f, err := conn.Create("/inbox/" + name)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = f.Write(buf.Bytes())
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
				done := time.Now()
				ack := regexp.MustCompile(regexp.QuoteMeta(name[:len(name)-4]) + `.*ack`)
				for deadline := done.Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
					if hasMatch(outbox, ack) {
						lat = append(lat, time.Since(done))
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("no ack for %s after 30 s", name)
					}
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
		}
	})
}

func hasMatch(dir string, re *regexp.Regexp) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			return true
		}
	}
	return false
}

func waitPosted(b *testing.B, pool *pgxpool.Pool, n int, limit time.Duration) {
	for deadline := time.Now().Add(limit); ; time.Sleep(50 * time.Millisecond) {
		var done int
		_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM files WHERE state IN ('posted', 'rejected')`).Scan(&done)
		if done >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d files done", done, n)
		}
	}
}

func clientKey(b *testing.B, path string) ssh.Signer {
	s, err := sftpd.LoadOrCreateKey(path)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func dialSFTP(b *testing.B, addr string, signer ssh.Signer) *sftp.Client {
	var c *ssh.Client
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c, err = ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "bench-telco", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}) // a throwaway server on loopback
		if err == nil {
			break
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	s, err := sftp.NewClient(c)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
