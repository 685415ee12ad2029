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

	"github.com/clearhouse/clearhouse/internal/exchange"
)

// Deliveries is what a push records of the files it delivers: each under
// one remote name, retried with backoff until delivered (store.Queries
// keeps them in the database).
type Deliveries interface {
	// AddDelivery queues local under remoteName; false when the file or
	// the name is queued already.
	AddDelivery(ctx context.Context, partner, local, remoteName string, size int64, sha256 []byte) (bool, error)
	// DueDeliveries lists the partner's pending deliveries due now, oldest first.
	DueDeliveries(ctx context.Context, partner string) ([]exchange.Delivery, error)
	// DeliveryFailed records a failed attempt and backs the next one off.
	DeliveryFailed(ctx context.Context, id int64, lastError string) error
	// Delivered records that the delivery is on the partner's server.
	Delivered(ctx context.Context, id int64) error
}

// Enqueue records a delivery for each file of dir not yet recorded: the
// remote name is fixed here, once, so a file is never delivered under two
// names. It returns how many were added.
func Enqueue(ctx context.Context, d Deliveries, partner, dir string) (int, error) {
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
		ok, err := d.AddDelivery(ctx, partner, p, e.Name(), size, sum)
		if err != nil {
			return added, err
		}
		if ok {
			added++
		}
	}
	return added, nil
}

// PushResult counts what a push round did.
type PushResult struct{ Delivered, Failed int }

// Push delivers the partner's due deliveries into remote folder dir.
func Push(ctx context.Context, d Deliveries, c *Conn, partner, dir string, log *slog.Logger) (PushResult, error) {
	var res PushResult
	jobs, err := d.DueDeliveries(ctx, partner)
	if err != nil {
		return res, err
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		start := time.Now()
		err := deliver(c, j.LocalPath, path.Join(dir, j.RemoteName), j.Size)
		if err != nil {
			res.Failed++
			log.Warn("push failed; retried later", "partner", partner, "file", j.RemoteName, "err", err)
			// Backoff: 30 s after the first failure, doubling, at most an hour.
			if dbErr := d.DeliveryFailed(ctx, j.ID, err.Error()); dbErr != nil {
				return res, dbErr
			}
			continue
		}
		if err := d.Delivered(ctx, j.ID); err != nil {
			return res, err
		}
		res.Delivered++
		log.Info("pushed", "partner", partner, "file", j.RemoteName, "bytes", j.Size, "seconds", time.Since(start).Seconds())
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
