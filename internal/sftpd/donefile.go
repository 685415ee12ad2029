package sftpd

import (
	"context"
	"strings"
	"time"

	"github.com/clearhouse/clearhouse/internal/mailbox"
)

// waitsForDone reads whether the partner's uploads wait for done files.
func (s *Server) waitsForDone(partner string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pa, err := s.accounts.Partner(ctx, partner)
	return err == nil && pa.Settings.Upload.DoneFile()
}

// replaceable tells whether an upload under name may replace the file of
// that name waiting in the inbox: under the done_file protocol, as long as
// the pair (X and X.done) is not complete, nothing of it is taken, and the
// waiting file is an earlier, interrupted attempt, sent again.
func (p *partnerFS) replaceable(name string) bool {
	if !p.doneFiles {
		return false
	}
	other := name + mailbox.DoneSuffix
	if x, ok := strings.CutSuffix(name, mailbox.DoneSuffix); ok && x != "" {
		other = x
	}
	_, err := p.root.Lstat(Inbox + "/" + other)
	return err != nil
}
