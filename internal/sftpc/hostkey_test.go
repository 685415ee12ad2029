package sftpc_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/sftpc"
)

const otherKey = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // a key the server does not have

// keygenLine is what ssh-keyscan | ssh-keygen -lf - prints for the
// server's key of the given type (ED25519, ECDSA, RSA).
func keygenLine(t *testing.T, s *sshd, typ string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.Addr)
	scan, err := exec.Command("ssh-keyscan", "-p", port, host).Output()
	if err != nil {
		t.Fatalf("ssh-keyscan: %v", err)
	}
	keygen := exec.Command("ssh-keygen", "-lf", "-")
	keygen.Stdin = strings.NewReader(string(scan))
	out, err := keygen.Output()
	if err != nil {
		t.Fatalf("ssh-keygen -lf -: %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(l, "("+typ+")") {
			return l
		}
	}
	t.Fatalf("no %s key in:\n%s", typ, out)
	return ""
}

// TestPinnedED25519OfStockSSHD (issue 12, item 4): a stock OpenSSH server
// has three host keys; the client asked for ECDSA first, so a pin of the
// server's ED25519 key, the one most partners give, was refused. Each form
// of pin connects, one pin or several (a key being rotated).
func TestPinnedED25519OfStockSSHD(t *testing.T) {
	t.Parallel()
	s := startSSHDWithHostKeys(t, "ed25519", "ecdsa", "rsa")
	ed := s.HostKeys["ed25519"]
	for _, pins := range []exchange.HostKeys{
		{ed},                                  // the fingerprint alone: asked for each type in turn
		{"ssh-ed25519 " + ed},                 // with its type: asked for it first
		{keygenLine(t, s, "ED25519")},         // as ssh-keyscan | ssh-keygen -lf - prints it
		{otherKey, ed},                        // rotation: the old key, the new one
		{"ssh-ed25519 " + otherKey, ed},       // rotation, the old pin typed
		{"ssh-rsa " + s.HostKeys["rsa"]},      // the RSA key only
		{keygenLine(t, s, "ECDSA"), otherKey}, // the ECDSA key, and one not there
	} {
		r := &exchange.Remote{Address: s.Addr, HostKey: pins, User: s.User}
		c, err := sftpc.Dial(context.Background(), r, sftpc.Auth{Key: s.Client})
		if err != nil {
			t.Fatalf("pins %q: %v", pins, err)
		}
		if _, err := c.SFTP.Getwd(); err != nil {
			t.Fatalf("pins %q: %v", pins, err)
		}
		c.Close()
	}
}

// TestNoPinnedKeyAmongSeveral: a server none of whose keys is pinned is
// refused, and the error lists every key it showed, to pin after checking.
func TestNoPinnedKeyAmongSeveral(t *testing.T) {
	t.Parallel()
	s := startSSHDWithHostKeys(t, "ed25519", "ecdsa", "rsa")
	for _, pins := range []exchange.HostKeys{
		{otherKey},
		{"ssh-ed25519 " + otherKey, "256 " + otherKey + " old (ECDSA)"},
	} {
		r := &exchange.Remote{Address: s.Addr, HostKey: pins, User: s.User}
		c, err := sftpc.Dial(context.Background(), r, sftpc.Auth{Key: s.Client})
		if err == nil {
			c.Close()
			t.Fatalf("pins %q: connected", pins)
		}
		if !errors.Is(err, sftpc.ErrHostKey) {
			t.Fatalf("pins %q: %v", pins, err)
		}
		t.Log(err)
		want := []string{"ssh-ed25519 " + s.HostKeys["ed25519"], "ecdsa-sha2-nistp256 " + s.HostKeys["ecdsa"]}
		if len(pins) == 1 {
			want = append(want, "ssh-rsa "+s.HostKeys["rsa"])
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("pins %q: the error does not show %s: %v", pins, w, err)
			}
		}
	}
}
