package sftpd

import (
	"context"
	"time"

	"golang.org/x/crypto/ssh"
)

// keyRecheckEvery is how often an open connection's key is checked again
// (Config.KeyRecheck's default).
const keyRecheckEvery = 10 * time.Second

// watchKey closes conn once the key it logged in with is no longer
// authorised: removed from the config at `clearhouse apply`, or its partner
// no longer active. A password session ends when its partner is no longer
// active or has no password any more. A failed lookup keeps the session.
func (s *Server) watchKey(ctx context.Context, conn ssh.Conn, partner, fingerprint string) {
	t := time.NewTicker(s.cfg.KeyRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := s.stillAuthorised(ctx, partner, fingerprint)
		if err != nil || ok {
			continue
		}
		s.log.Warn("sftp: the login's key was revoked; its connection is closed", "partner", partner, "fingerprint", fingerprint)
		conn.Close()
		return
	}
}

func (s *Server) stillAuthorised(ctx context.Context, partner, fingerprint string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if fingerprint == "" { // a password login
		return s.accounts.PasswordAuthorised(ctx, partner)
	}
	return s.accounts.KeyAuthorised(ctx, partner, fingerprint)
}
