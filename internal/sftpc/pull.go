package sftpc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/mailbox"
)

// RemoteFiles is what a pull records of partners' remote files, so that
// none is processed twice across restarts and instances (store.Queries
// keeps them in the database).
type RemoteFiles interface {
	// ObserveRemoteFile records the size and mtime seen of f and tells
	// whether they have not changed for wait, as seen by any instance.
	ObserveRemoteFile(ctx context.Context, f exchange.RemoteFile, wait time.Duration) (bool, error)
	// ForgetObservations forgets what was seen of the partner's file at
	// path, and of its files not seen for a week.
	ForgetObservations(ctx context.Context, partner, path string) error
	// ClaimRemoteFile claims f, or takes over a claim older than stale;
	// false when another pull holds it or it is taken already.
	ClaimRemoteFile(ctx context.Context, f exchange.RemoteFile, stale time.Duration) (bool, error)
	// RemoteFileState is f's state (exchange.RemoteClaimed, RemoteTaken, RemoteDone).
	RemoteFileState(ctx context.Context, f exchange.RemoteFile) (string, error)
	// ReleaseRemoteFile records why taking f failed and leaves its claim
	// stale, for the next pull.
	ReleaseRemoteFile(ctx context.Context, f exchange.RemoteFile, lastError string, stale time.Duration) error
	// RemoteFileTaken records that f is downloaded, with its sha256.
	RemoteFileTaken(ctx context.Context, f exchange.RemoteFile, sha256 []byte) error
	// RemoteFileDone records that f is moved or deleted remotely.
	RemoteFileDone(ctx context.Context, f exchange.RemoteFile) error
}

// Puller takes a partner's complete files from their server into the
// partner's inbox, where intake finds them.
type Puller struct {
	Files   RemoteFiles
	DataDir string
	Log     *slog.Logger
	// Publish hands a downloaded file to intake (nil: the inbox scan does).
	Publish func(partner, path, uploader string)
}

// PullResult counts what a pull round did.
type PullResult struct{ Taken, Waiting, Cleaned int }

// staleClaim is when a claim left by a crashed puller is taken over.
const staleClaim = 10 * time.Minute

// Pull takes every complete file of p.Dir once.
func (pl *Puller) Pull(ctx context.Context, c *Conn, partner string, p *exchange.Pull) (PullResult, error) {
	var res PullResult
	if pl.Log == nil {
		pl.Log = slog.Default()
	}
	infos, err := c.SFTP.ReadDir(p.Dir)
	if err != nil {
		return res, fmt.Errorf("listing %s: %w", p.Dir, err)
	}
	names := map[string]bool{}
	for _, fi := range infos {
		names[fi.Name()] = true
	}
	for _, fi := range infos {
		name := fi.Name()
		if !fi.Mode().IsRegular() || strings.HasPrefix(name, ".") || mailbox.IsTempName(name) || strings.HasSuffix(name, mailbox.DoneSuffix) {
			continue
		}
		if mailbox.ValidName(name) != nil {
			pl.Log.Warn("pull: a remote file name is refused", "partner", partner, "file", name)
			continue
		}
		remote := path.Join(p.Dir, name)
		var wantSum string
		switch p.Complete {
		case "done_file":
			if !names[name+mailbox.DoneSuffix] {
				res.Waiting++
				continue
			}
			wantSum = readDone(c, remote+mailbox.DoneSuffix)
		case "stable":
			ok, err := pl.stable(ctx, partner, remote, fi.Size(), fi.ModTime(), exchange.Duration(p.StableFor, time.Minute))
			if err != nil {
				return res, err
			}
			if !ok {
				res.Waiting++
				continue
			}
		}
		took, err := pl.take(ctx, c, partner, p, remote, fi, wantSum)
		if err != nil {
			return res, fmt.Errorf("%s: %w", remote, err)
		}
		if took {
			res.Taken++
		} else {
			res.Cleaned++
		}
	}
	return res, nil
}

// readDone returns the sha256 a done file holds, if it holds one.
func readDone(c *Conn, p string) string {
	f, err := c.SFTP.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 4096))
	if fields := strings.Fields(string(b)); len(fields) > 0 && len(fields[0]) == 64 {
		if _, err := hex.DecodeString(fields[0]); err == nil {
			return strings.ToLower(fields[0])
		}
	}
	return ""
}

// stable records the size and mtime seen for a remote file and reports
// whether they have not changed for wait, as seen by any instance.
func (pl *Puller) stable(ctx context.Context, partner, remote string, size int64, mtime time.Time, wait time.Duration) (bool, error) {
	return pl.Files.ObserveRemoteFile(ctx, exchange.RemoteFile{Partner: partner, Path: remote, Size: size, MTime: mtime.UTC()}, wait)
}

// take claims, downloads, verifies and hands over one remote file, then
// moves or deletes it remotely. A file whose claim is already done or
// taken is only cleaned up remotely: it is never processed twice.
func (pl *Puller) take(ctx context.Context, c *Conn, partner string, p *exchange.Pull, remote string, fi os.FileInfo, wantSum string) (bool, error) {
	f := exchange.RemoteFile{Partner: partner, Path: remote, Size: fi.Size(), MTime: fi.ModTime().UTC().Truncate(time.Second)}
	claimed, err := pl.Files.ClaimRemoteFile(ctx, f, staleClaim)
	if err != nil {
		return false, err
	}
	if !claimed {
		// Claimed by someone else just now, or already taken: clean up.
		state, err := pl.Files.RemoteFileState(ctx, f)
		if err != nil {
			return false, err
		}
		if state == exchange.RemoteClaimed {
			return false, nil
		}
		return false, pl.after(ctx, c, p, f)
	}
	local, sum, err := pl.download(c, partner, remote, fi.Size(), wantSum)
	if err != nil {
		_ = pl.Files.ReleaseRemoteFile(ctx, f, err.Error(), staleClaim)
		return false, err
	}
	if err := pl.Files.RemoteFileTaken(ctx, f, sum); err != nil {
		return false, err
	}
	if pl.Publish != nil {
		pl.Publish(partner, local, mailbox.PulledBy+remote)
	}
	pl.Log.Info("pulled", "partner", partner, "file", remote, "bytes", fi.Size(), "sha256", hex.EncodeToString(sum))
	return true, pl.after(ctx, c, p, f)
}

// download copies remote into the partner's inbox, checking its size and,
// when known, its sha256, and publishing it there only when verified.
func (pl *Puller) download(c *Conn, partner, remote string, size int64, wantSum string) (string, []byte, error) {
	l := mailbox.Layout{DataDir: pl.DataDir}
	if _, err := l.Create(partner); err != nil {
		return "", nil, err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(l.Uploads(partner), "pull-"+hex.EncodeToString(rnd[:]))
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp)
	in, err := c.SFTP.Open(remote)
	if err != nil {
		out.Close()
		return "", nil, err
	}
	h := sha256.New()
	n, err := in.WriteTo(io.MultiWriter(out, h))
	in.Close()
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", nil, fmt.Errorf("downloading: %w", err)
	}
	sum := h.Sum(nil)
	if n != size {
		return "", nil, fmt.Errorf("downloaded %d bytes, the server listed %d: the file changed or the transfer was cut", n, size)
	}
	if wantSum != "" && hex.EncodeToString(sum) != wantSum {
		return "", nil, fmt.Errorf("sha256 %x differs from the done file's %s", sum, wantSum)
	}
	local := filepath.Join(l.Inbox(partner), path.Base(remote))
	if _, err := os.Lstat(local); err == nil { // a file of that name still waits: keep both
		local = filepath.Join(l.Inbox(partner), hex.EncodeToString(sum)[:8]+"-"+path.Base(remote))
	}
	// Who sent it, beside it (as the SFTP server does): intake tells a
	// pulled file, complete by the pull's rule, from an upload, also after
	// a restart.
	_ = os.WriteFile(mailbox.UploaderFile(local), []byte(mailbox.PulledBy+remote), 0o640)
	if err := os.Link(tmp, local); err != nil {
		_ = os.Remove(mailbox.UploaderFile(local))
		return "", nil, err
	}
	return local, sum, nil
}

// after deletes or moves the remote file (and its done file), then marks
// the claim done.
func (pl *Puller) after(ctx context.Context, c *Conn, p *exchange.Pull, f exchange.RemoteFile) error {
	remote := f.Path
	var err error
	switch p.After {
	case "delete":
		err = c.SFTP.Remove(remote)
	case "move":
		to := path.Join(p.MoveTo, path.Base(remote))
		if _, serr := c.SFTP.Stat(to); serr == nil {
			to += "." + time.Now().UTC().Format("20060102T150405Z")
		}
		err = c.SFTP.Rename(remote, to)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s after taking it: %w", p.After, err)
	}
	_ = c.SFTP.Remove(remote + mailbox.DoneSuffix)
	err = pl.Files.RemoteFileDone(ctx, f)
	_ = pl.Files.ForgetObservations(ctx, f.Partner, remote)
	return err
}
