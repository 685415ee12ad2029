package intake

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/store"
)

// waitsForDone tells whether the partner's uploads are taken only once
// their done file is there (sftp.upload.complete: done_file).
func (in *Intake) waitsForDone(ctx context.Context, partner string) bool {
	if in.Pool == nil {
		return false
	}
	pa, err := store.Partners{Pool: in.Pool}.Partner(ctx, partner)
	return err == nil && pa.Settings.Upload.DoneFile()
}

// complete decides what an arrived file means under the partner's upload
// protocol: the path of a file to queue, or "" for nothing yet. Under
// done_file, X waits for X.done and X.done queues X; a file still waiting
// for its done file after a day is removed. Otherwise a done file is not
// a file to process: it is removed.
func (in *Intake) complete(ctx context.Context, partner, path, uploader string) string {
	if strings.HasPrefix(uploader, mailbox.PulledBy) {
		return path // complete by the pull's own rule
	}
	name := filepath.Base(path)
	log := in.log().With("partner", partner, "file", name)
	x, isDone := strings.CutSuffix(name, mailbox.DoneSuffix)
	if !in.waitsForDone(ctx, partner) {
		if isDone && x != "" {
			_ = os.Remove(path)
			_ = os.Remove(mailbox.UploaderFile(path))
			log.Info("intake: a done file was sent, but this partner's uploads do not use done files: removed")
			return ""
		}
		return path
	}
	if isDone {
		data := filepath.Join(filepath.Dir(path), x)
		if _, err := os.Stat(data); err != nil {
			return "" // the file comes later, and is queued then
		}
		return data
	}
	if _, err := os.Stat(path + mailbox.DoneSuffix); err == nil {
		return path
	}
	if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > staleAfter {
		_ = os.Remove(path)
		_ = os.Remove(mailbox.UploaderFile(path))
		log.Warn("intake: removed an upload whose done file never came")
		return ""
	}
	log.Debug("intake: waiting for the done file")
	return ""
}

// expect reads the done file of the file at path, if the partner's
// uploads have one. ok is false when the done file is due but missing.
func (in *Intake) expect(ctx context.Context, partner, path, uploader string) (e *ingest.Expect, ok bool) {
	if strings.HasPrefix(uploader, mailbox.PulledBy) || !in.waitsForDone(ctx, partner) {
		return nil, true
	}
	f, err := os.Open(path + mailbox.DoneSuffix)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		x := ingest.Expect{From: filepath.Base(path) + mailbox.DoneSuffix, Rows: -1, Invalid: "it cannot be opened"}
		return &x, true
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	x := ingest.ParseDone(filepath.Base(path)+mailbox.DoneSuffix, b)
	return &x, true
}

// removeDone removes the done file of a file taken.
func removeDone(path string) {
	_ = os.Remove(path + mailbox.DoneSuffix)
	_ = os.Remove(mailbox.UploaderFile(path + mailbox.DoneSuffix))
}
