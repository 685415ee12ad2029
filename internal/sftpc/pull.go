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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/mailbox"
)

// Puller takes a partner's complete files from their server into the
// partner's inbox, where intake finds them.
type Puller struct {
	Pool    *pgxpool.Pool
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
	var ok bool
	err := pl.Pool.QueryRow(ctx, `
		INSERT INTO remote_observations AS o (partner_id, remote_path, size, mtime) VALUES ($1, $2, $3, $4)
		ON CONFLICT (partner_id, remote_path) DO UPDATE SET size = EXCLUDED.size, mtime = EXCLUDED.mtime, seen_at = now(),
		       since = CASE WHEN o.size = EXCLUDED.size AND o.mtime = EXCLUDED.mtime THEN o.since ELSE now() END
		RETURNING now() - since >= make_interval(secs => $5)`, partner, remote, size, mtime.UTC(), wait.Seconds()).Scan(&ok)
	return ok, err
}

// take claims, downloads, verifies and hands over one remote file, then
// moves or deletes it remotely. A file whose claim is already done or
// taken is only cleaned up remotely: it is never processed twice.
func (pl *Puller) take(ctx context.Context, c *Conn, partner string, p *exchange.Pull, remote string, fi os.FileInfo, wantSum string) (bool, error) {
	mtime := fi.ModTime().UTC().Truncate(time.Second)
	var state string
	err := pl.Pool.QueryRow(ctx, `INSERT INTO remote_files (partner_id, remote_path, size, mtime) VALUES ($1, $2, $3, $4)
		ON CONFLICT (partner_id, remote_path, size, mtime) DO UPDATE SET claimed_at = now(), last_error = NULL
		  WHERE remote_files.state = 'claimed' AND remote_files.claimed_at < now() - make_interval(secs => $5)
		RETURNING state`, partner, remote, fi.Size(), mtime, staleClaim.Seconds()).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		// Claimed by someone else just now, or already taken: clean up.
		if err := pl.Pool.QueryRow(ctx, `SELECT state FROM remote_files WHERE partner_id = $1 AND remote_path = $2 AND size = $3 AND mtime = $4`,
			partner, remote, fi.Size(), mtime).Scan(&state); err != nil {
			return false, err
		}
		if state == "claimed" {
			return false, nil
		}
		return false, pl.after(ctx, c, partner, p, remote, fi.Size(), mtime)
	}
	if err != nil {
		return false, err
	}
	local, sum, err := pl.download(c, partner, remote, fi.Size(), wantSum)
	if err != nil {
		_, _ = pl.Pool.Exec(ctx, `UPDATE remote_files SET last_error = $5, claimed_at = now() - make_interval(secs => $6)
			WHERE partner_id = $1 AND remote_path = $2 AND size = $3 AND mtime = $4`, partner, remote, fi.Size(), mtime, err.Error(), staleClaim.Seconds())
		return false, err
	}
	if _, err := pl.Pool.Exec(ctx, `UPDATE remote_files SET state = 'taken', sha256 = $5 WHERE partner_id = $1 AND remote_path = $2 AND size = $3 AND mtime = $4`,
		partner, remote, fi.Size(), mtime, sum); err != nil {
		return false, err
	}
	if pl.Publish != nil {
		pl.Publish(partner, local, mailbox.PulledBy+remote)
	}
	pl.Log.Info("pulled", "partner", partner, "file", remote, "bytes", fi.Size(), "sha256", hex.EncodeToString(sum))
	return true, pl.after(ctx, c, partner, p, remote, fi.Size(), mtime)
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
func (pl *Puller) after(ctx context.Context, c *Conn, partner string, p *exchange.Pull, remote string, size int64, mtime time.Time) error {
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
	_, err = pl.Pool.Exec(ctx, `UPDATE remote_files SET state = 'done', done_at = now() WHERE partner_id = $1 AND remote_path = $2 AND size = $3 AND mtime = $4`,
		partner, remote, size, mtime)
	_, _ = pl.Pool.Exec(ctx, `DELETE FROM remote_observations WHERE partner_id = $1 AND (remote_path = $2 OR seen_at < now() - interval '7 days')`, partner, remote)
	return err
}
