package mailbox

import (
	"os"
	"path/filepath"
)

// The folders of a partner, under <data-dir>/partners/<id>/:
//
//	inbox/      files the partner sent (uploaded or pulled), waiting to be taken
//	outbox/     files for the partner: acks, rejects, invoices, fulfilment files
//	.uploads/   uploads and downloads being written (never visible to partners)
//	.received/  files archived and kept but not processed (publishers')
//
// A partner's SFTP session sees inbox and outbox only.
const (
	Inbox    = "inbox"
	Outbox   = "outbox"
	Uploads  = ".uploads"
	Received = ".received"
)

// Dirs are the folders of a partner's root made before files arrive.
var Dirs = []string{Inbox, Outbox, Uploads}

// Layout places partners' folders under a data folder.
type Layout struct{ DataDir string }

// Partners is the folder holding one folder per partner.
func (l Layout) Partners() string { return filepath.Join(l.DataDir, "partners") }

// Root is a partner's folder.
func (l Layout) Root(partner string) string { return filepath.Join(l.DataDir, "partners", partner) }

// Inbox is where a partner's files wait to be taken.
func (l Layout) Inbox(partner string) string { return filepath.Join(l.Root(partner), Inbox) }

// Outbox is where a partner's outgoing files are left.
func (l Layout) Outbox(partner string) string { return filepath.Join(l.Root(partner), Outbox) }

// Uploads is where files for a partner's inbox are written before they are
// complete.
func (l Layout) Uploads(partner string) string { return filepath.Join(l.Root(partner), Uploads) }

// Received is where files archived but not processed are kept.
func (l Layout) Received(partner string) string { return filepath.Join(l.Root(partner), Received) }

// Create makes a partner's Dirs (mode 0750) and returns the partner's root.
func (l Layout) Create(partner string) (string, error) {
	root := l.Root(partner)
	for _, d := range Dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o750); err != nil {
			return root, err
		}
	}
	return root, nil
}

// SweepOutboxes removes from every partner's outbox the temporary files
// whose writer is gone (SweepTemps): what a writer killed mid-file left,
// when nothing is written there again soon. It returns what it removed.
func (l Layout) SweepOutboxes() ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(l.Partners(), "*", Outbox))
	if err != nil {
		return nil, err
	}
	var removed []string
	var first error
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		r, err := SweepTemps(d)
		removed = append(removed, r...)
		if err != nil && first == nil {
			first = err // the other outboxes are swept all the same
		}
	}
	return removed, first
}
