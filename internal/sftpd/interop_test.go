package sftpd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"golang.org/x/crypto/ssh"
)

// TestCurlOnLibssh2UploadsWithoutETM (issue 12, item 3): Debian 12's curl
// is built on libssh2 1.10, which has AES-CTR but neither AES-GCM nor the
// encrypt-then-MAC MACs; the server offered only ETM MACs, so curl (and PHP
// ssh2, and many appliances) could not connect at all. curl uploads with a
// key, the host key pinned by its SHA256, and intake takes the file.
func TestCurlOnLibssh2UploadsWithoutETM(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (Debian curl, built on libssh2)")
	}
	e := start(t, nil)
	pub := e.keys["anna"] + ".pub"
	if err := os.WriteFile(pub, ssh.MarshalAuthorizedKey(e.signers["anna"].PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	src, _ := filepath.Abs(filepath.Join(pgtest.Samples, "drops", "telco-fr", "02_declarations_2026-01.csv"))
	// curl's --hostpubsha256 is the fingerprint's base64, without "SHA256:".
	pin := strings.TrimPrefix(e.srv.Fingerprint(), "SHA256:")
	cmd := exec.Command("curl", "--silent", "--show-error", "--max-time", "30",
		"--key", e.keys["anna"], "--pubkey", pub, "--hostpubsha256", pin,
		"-T", src, "sftp://telco-fr@127.0.0.1:"+e.port+"/inbox/")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if got := e.wait(); got != "telco-fr/02_declarations_2026-01.csv ACCEPTED" {
		t.Fatalf("intake: %s", got)
	}
	e.quiet()
}

// TestNegotiationFailureIsAWarning (issue 12, item 3): a client that shares
// no MAC with the server was logged at debug only, so an operator never saw
// why a partner could not connect. It is a warning now, with what the
// client offered.
func TestNegotiationFailureIsAWarning(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	out, err := e.sftp("telco-fr", "anna", "ls\n", "-o", "MACs=hmac-sha1", "-o", "Ciphers=aes128-ctr")
	if err == nil {
		t.Fatalf("a client with only hmac-sha1 logged in:\n%s", out)
	}
	// The server logs after the client has gone: give it a moment.
	logs := e.logs.String()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs, `"level":"WARN"`) && time.Now().Before(deadline); logs = e.logs.String() {
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{`"level":"WARN"`, "no common algorithm", `"what":`, `"peer_offered":`, "hmac-sha1", `"addr":"127.0.0.1`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the server's log lacks %q:\n%s", want, logs)
		}
	}
}
