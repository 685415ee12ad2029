package sftpd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clearhouse/clearhouse/internal/sftpd"
	"github.com/clearhouse/clearhouse/internal/world"
)

// Issue 12, 7: clearhouse_sftp_limit_hits_total{limit="upload_size"}
// counted every write packet refused past the limit (a client has many in
// flight), not the uploads stopped: three uploads over the limit (OpenSSH's sftp twice, a
// client writing 64 packets at once) count 3.
func TestUploadSizeLimitIsCountedOncePerUpload(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *sftpd.Config, _ *world.World) { c.MaxUploadBytes = 4096 })
	f := filepath.Join(t.TempDir(), "too_big.csv")
	_ = os.WriteFile(f, bytes.Repeat([]byte("x"), 2<<20), 0o644) // 64 writes of 32 KiB
	for range 2 {
		if out, err := e.sftp("telco-fr", "anna", "put "+f+" /inbox/\n"); err == nil {
			t.Fatalf("an upload over the limit succeeded:\n%s", out)
		}
	}
	// A client that writes concurrently: many packets in flight.
	c, err := e.dial("telco-fr", ssh.PublicKeys(e.signers["anna"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := sftp.NewClient(c, sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(64))
	if err != nil {
		t.Fatal(err)
	}
	w, err := sc.Create("/inbox/too_big_2.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ReadFrom(bytes.NewReader(bytes.Repeat([]byte("y"), 2<<20))); err == nil {
		t.Fatal("a concurrent upload over the limit succeeded")
	}
	_ = w.Close()
	sc.Close()
	waitUntil(t, func() bool { return testutil.ToFloat64(sftpd.UploadsCounter(e.m, "interrupted")) == 3 })
	if n := testutil.ToFloat64(sftpd.LimitCounter(e.m, "upload_size")); n != 3 {
		t.Fatalf("upload_size limit hits = %v, want 3 (one per upload)", n)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not within 10 s")
		}
	}
}
