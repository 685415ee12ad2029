// Package intake takes complete files from partners' inboxes to ingest: it
// queues a durable job at once when the SFTP server or a pull hands one
// over, and by a periodic scan of every inbox for anything missed. A file leaves
// the inbox only after ingest has archived and registered it; a failure of
// the system leaves it there for the next scan.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/store"
)

// Intake finds complete files in partners' inboxes and hands them to a
// durable queue (Enqueue); the queue's workers call Take.
type Intake struct {
	Service *ingest.Service
	Pool    *store.Pool
	DataDir string
	Log     *slog.Logger
	// Enqueue records that a file waits (a unique job per file version):
	// calling it twice for the same file is harmless.
	Enqueue func(ctx context.Context, f File) error
	// Done, when set, is told of each file taken (tests, metrics).
	Done func(partner, name string, o *ingest.Outcome, err error)
}

// File is a complete file waiting in an inbox. Size and modification time
// tell one version of a name from the next.
type File struct {
	Partner, Name, Uploader string
	Size, MtimeNS           int64
	// Key names this upload across attempts (the job's id); "" for none.
	Key string
}

func (in *Intake) log() *slog.Logger {
	if in.Log == nil {
		return slog.Default()
	}
	return in.Log
}

func (in *Intake) layout() mailbox.Layout { return mailbox.Layout{DataDir: in.DataDir} }

// Path is where f waits.
func (in *Intake) Path(f File) string {
	return filepath.Join(in.layout().Inbox(f.Partner), f.Name)
}

// Publish queues a complete file. It never fails the caller: a file it
// could not queue is found by the next scan.
func (in *Intake) Publish(partner, path, uploader string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	arrived := path
	if path = in.complete(ctx, partner, path, uploader); path == "" {
		return
	}
	if path != arrived { // a done file arrived: its file's uploader
		uploader = "sftp"
		if b, err := os.ReadFile(mailbox.UploaderFile(path)); err == nil {
			uploader = string(b)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	f := File{Partner: partner, Name: filepath.Base(path), Uploader: uploader, Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano()}
	if err := in.Enqueue(ctx, f); err != nil {
		in.log().Warn("intake: queueing failed; the next scan queues the file", "partner", partner, "file", f.Name, "err", err)
	}
}

// Run scans every inbox at once and then every scan, until ctx ends.
func (in *Intake) Run(ctx context.Context, scan time.Duration) {
	in.Scan()
	t := time.NewTicker(scan)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			in.Scan()
		}
	}
}

// staleAfter is when a partial upload left behind is removed.
const staleAfter = 24 * time.Hour

// Scan queues every complete file waiting in an inbox, removes partial
// uploads left for more than a day, and what a writer killed mid-way left in
// an outbox or the archive (a hidden temporary file no live writer holds).
func (in *Intake) Scan() {
	if in.Service != nil && in.Service.Archive != nil {
		in.sweepTemps(filepath.Join(in.Service.Archive.Dir, "tmp"))
		in.sweepTemps(filepath.Join(in.Service.Archive.Dir, "made", "tmp"))
	}
	l := in.layout()
	partners, _ := os.ReadDir(l.Partners())
	for _, p := range partners {
		if !p.IsDir() {
			continue
		}
		inbox := l.Inbox(p.Name())
		in.sweepTemps(l.Outbox(p.Name()))
		in.sweep(l.Uploads(p.Name()), func(string) bool { return true })
		in.sweep(inbox, mailbox.IsTempName)
		entries, _ := os.ReadDir(inbox)
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || mailbox.IsTempName(name) {
				continue
			}
			path := filepath.Join(inbox, name)
			uploader := "sftp"
			if b, err := os.ReadFile(mailbox.UploaderFile(path)); err == nil {
				uploader = string(b)
			}
			in.Publish(p.Name(), path, uploader)
		}
	}
}

func (in *Intake) sweepTemps(dir string) {
	removed, err := mailbox.SweepTemps(dir)
	if err != nil {
		in.log().Warn("intake: sweeping temporary files failed", "dir", dir, "err", err)
	}
	for _, name := range removed {
		in.log().Info("removed a temporary file an interrupted writer left", "file", filepath.Join(dir, name))
	}
}

func (in *Intake) sweep(dir string, partial func(string) bool) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && partial(e.Name()) && time.Since(fi.ModTime()) > staleAfter {
			_ = os.Remove(filepath.Join(dir, e.Name()))
			in.log().Info("removed a partial upload left behind", "file", filepath.Join(dir, e.Name()))
		}
	}
}

// ErrPermanent marks a failure that retrying cannot mend (an unknown
// partner): the job is given up with its reason, the file stays.
var ErrPermanent = errors.New("permanent")

// Take ingests one file and removes it from the inbox once finished. It
// returns an error when the system failed (the file stays; the job is
// retried); a bad file is not an error (it is rejected, with its ack).
//
// f.Key names the upload across the job's attempts: an attempt that finds
// the upload registered by an earlier one goes on with that record (from the
// archive, whatever became of the inbox file), so a retry after the commit
// only acknowledges and clears the inbox.
func (in *Intake) Take(ctx context.Context, f File, log *slog.Logger) error {
	path := in.Path(f)
	registered := false
	if f.Key != "" {
		var err error
		if registered, err = in.Service.Registered(ctx, f.Partner, f.Key); err != nil {
			return err
		}
	}
	uploader := f.Uploader
	if uploader == "" {
		if b, err := os.ReadFile(mailbox.UploaderFile(path)); err == nil {
			uploader = string(b)
		}
	}
	expect, ok := in.expect(ctx, f.Partner, path, uploader)
	if !ok && !registered {
		return nil // not complete until its done file comes, which queues it again
	}
	if !registered {
		fi, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil // taken already: an earlier attempt finished
		}
		if err != nil {
			return fmt.Errorf("looking at %s: %w", path, err)
		}
		if !f.sameVersion(fi) {
			return nil // replaced by a newer version, which has its own job
		}
	}
	if f.Uploader == "" {
		f.Uploader = "sftp"
		if b, err := os.ReadFile(mailbox.UploaderFile(path)); err == nil {
			f.Uploader = string(b)
		}
	}
	log = log.With("partner", f.Partner, "file", f.Name, "uploader", f.Uploader)
	pa, err := store.Partners{Pool: in.Pool}.Partner(ctx, f.Partner)
	if errors.Is(err, exchange.ErrUnknownPartner) {
		return fmt.Errorf("%w: partner %q is not in the applied configuration; the file stays in the inbox", ErrPermanent, f.Partner)
	}
	if err != nil {
		return fmt.Errorf("reading partner %s: %w", f.Partner, err)
	}
	if pa.Kind != "reseller" {
		// Publishers' files (acks of fulfilment) are not processed yet:
		// archived and kept, never lost.
		return in.keep(f, path, log)
	}
	o, err := in.Service.Ingest(ctx, ingest.Request{Partner: f.Partner, Path: path, Name: f.Name, Uploader: f.Uploader, UploadKey: f.Key, Transferred: true, Expect: expect})
	if err != nil {
		log.Error("intake: ingest failed; the file stays in the inbox and is retried", "err", err)
		in.done(f, nil, err)
		return err
	}
	if fi, err := os.Stat(path); err == nil && f.sameVersion(fi) {
		_ = os.Remove(path)
		_ = os.Remove(mailbox.UploaderFile(path))
		removeDone(path)
	}
	log.Info("intake: file taken", "file_id", o.FileID, "status", o.Status, "rows", o.Rows, "accepted", o.Accepted)
	in.done(f, o, nil)
	return nil
}

// sameVersion tells whether fi is the version of the file f was queued for.
func (f File) sameVersion(fi os.FileInfo) bool {
	return fi.Size() == f.Size && fi.ModTime().UnixNano() == f.MtimeNS
}

func (in *Intake) keep(f File, path string, log *slog.Logger) error {
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	blob, err := in.Service.Archive.Put(r)
	r.Close()
	if err != nil {
		log.Error("intake: archiving failed; the file stays in the inbox", "err", err)
		return err
	}
	kept := in.layout().Received(f.Partner)
	if err := os.MkdirAll(kept, 0o750); err != nil {
		return err
	}
	if err := os.Rename(path, filepath.Join(kept, blob.Hex()[:12]+"-"+f.Name)); err != nil {
		return err
	}
	_ = os.Remove(mailbox.UploaderFile(path))
	log.Info("intake: file from a publisher archived and kept (not processed)", "sha256", blob.Hex())
	in.done(f, nil, nil)
	return nil
}

func (in *Intake) done(f File, o *ingest.Outcome, err error) {
	if in.Done != nil {
		in.Done(f.Partner, f.Name, o, err)
	}
}
