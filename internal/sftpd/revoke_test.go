package sftpd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/sftpd"
	"github.com/clearhouse/clearhouse/internal/world"
)

// Issue 12, 7: a key removed from the config at apply could no longer log
// in, but its open sessions went on working. They are closed now; the
// sessions of keys still authorised are not.
func TestRevokedKeyLosesItsOpenSessions(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *sftpd.Config, _ *world.World) { c.KeyRecheck = 100 * time.Millisecond })
	session := func(uploader string) *sftp.Client {
		c, err := e.dial("telco-fr", ssh.PublicKeys(e.signers[uploader]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := sftp.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	robot, anna := session("robot"), session("anna")
	for _, s := range []*sftp.Client{robot, anna} {
		if _, err := s.ReadDir("/outbox"); err != nil {
			t.Fatal(err)
		}
	}
	// apply, with robot's key removed from telco-fr's sftp.keys.
	w, err := world.Load(pgtest.SampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range w.Resellers {
		for _, u := range map[string][]string{"telco-fr": {"anna"}, "isp-de": {"ops"}}[r.ID] {
			r.SFTP.Keys = append(r.SFTP.Keys, &world.SFTPKey{Name: u, Key: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(e.signers[u].PublicKey())))})
		}
	}
	pgtest.Apply(t, e.pool, w)
	waitUntil(t, func() bool { _, err := robot.ReadDir("/outbox"); return err != nil })
	time.Sleep(300 * time.Millisecond) // several rechecks
	if _, err := anna.ReadDir("/outbox"); err != nil {
		t.Fatalf("a session of a key still authorised was closed: %v", err)
	}
	if _, err := e.dial("telco-fr", ssh.PublicKeys(e.signers["robot"])); err == nil {
		t.Fatal("the revoked key logs in")
	}
}
