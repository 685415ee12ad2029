package sftpc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Enqueue records a delivery for each file of dir not yet recorded: the
// remote name is fixed here, once, so a file is never delivered under two
// names. It returns how many were added.
func Enqueue(ctx context.Context, pool *pgxpool.Pool, partner, dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	added := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		size, sum, err := hashFile(p)
		if err != nil {
			return added, err
		}
		tag, err := pool.Exec(ctx, `INSERT INTO deliveries (partner_id, local_path, remote_name, size, sha256) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`, partner, p, e.Name(), size, sum)
		if err != nil {
			return added, err
		}
		added += int(tag.RowsAffected())
	}
	return added, nil
}

// PushResult counts what a push round did.
type PushResult struct{ Delivered, Failed int }

// Push delivers the partner's due deliveries into remote folder dir.
func Push(ctx context.Context, pool *pgxpool.Pool, c *Conn, partner, dir string, log *slog.Logger) (PushResult, error) {
	var res PushResult
	rows, err := pool.Query(ctx, `SELECT id, local_path, remote_name, size FROM deliveries
		WHERE partner_id = $1 AND state = 'pending' AND next_at <= now() ORDER BY id`, partner)
	if err != nil {
		return res, err
	}
	type job struct {
		id         int64
		local, rem string
		size       int64
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job, error) {
		var j job
		return j, r.Scan(&j.id, &j.local, &j.rem, &j.size)
	})
	if err != nil {
		return res, err
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		start := time.Now()
		err := deliver(c, j.local, path.Join(dir, j.rem), j.size)
		if err != nil {
			res.Failed++
			log.Warn("push failed; retried later", "partner", partner, "file", j.rem, "err", err)
			// Backoff: 30 s after the first failure, doubling, at most an hour.
			_, dbErr := pool.Exec(ctx, `UPDATE deliveries SET attempts = attempts + 1, last_error = $2,
				next_at = now() + least(interval '1 hour', interval '30 seconds' * power(2, least(attempts, 12))) WHERE id = $1`, j.id, err.Error())
			if dbErr != nil {
				return res, dbErr
			}
			continue
		}
		if _, err := pool.Exec(ctx, `UPDATE deliveries SET state = 'delivered', delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1`, j.id); err != nil {
			return res, err
		}
		res.Delivered++
		log.Info("pushed", "partner", partner, "file", j.rem, "bytes", j.size, "seconds", time.Since(start).Seconds())
	}
	return res, nil
}

// deliver writes local to remote: under remote.part with concurrent
// writes, size checked, then renamed. A final file already there with the
// right size is an earlier attempt that was not recorded: done, not resent.
func deliver(c *Conn, local, remote string, size int64) error {
	if fi, err := c.SFTP.Stat(remote); err == nil {
		if fi.Size() == size {
			return nil
		}
		return fmt.Errorf("%s already exists on the server with another size (%d bytes, ours %d): not overwritten", remote, fi.Size(), size)
	}
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	tmp := remote + ".part"
	w, err := c.SFTP.Create(tmp) // truncates what a failed attempt left
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	n, err := w.ReadFrom(f)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	fi, err := c.SFTP.Stat(tmp)
	if err != nil {
		return err
	}
	if n != size || fi.Size() != size {
		return fmt.Errorf("%s has %d bytes on the server after writing %d; %d expected", tmp, fi.Size(), n, size)
	}
	if _, ok := c.SFTP.HasExtension("posix-rename@openssh.com"); ok {
		err = c.SFTP.PosixRename(tmp, remote)
	} else {
		err = c.SFTP.Rename(tmp, remote)
	}
	if err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}
