// Package intake takes complete files from partners' inboxes to ingest: at
// once when the SFTP server or a pull hands one over, and by a periodic scan
// of every inbox for anything missed (a restart, a full queue). A file leaves
// the inbox only after ingest has archived and registered it; a failure of
// the system leaves it there for the next scan.
package intake

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/sftpd"
)

// Intake runs the inbox workers.
type Intake struct {
	Service *ingest.Service
	Pool    *pgxpool.Pool
	DataDir string
	Log     *slog.Logger
	// Done, when set, is told of each file taken (tests, metrics).
	Done func(partner, name string, o *ingest.Outcome, err error)

	once  sync.Once
	queue chan item
	mu    sync.Mutex
	busy  map[string]bool // paths queued or in work
}

type item struct{ partner, path, uploader string }

func (in *Intake) init() {
	in.once.Do(func() {
		in.queue = make(chan item, 1024)
		in.busy = map[string]bool{}
		if in.Log == nil {
			in.Log = slog.Default()
		}
	})
}

// Publish queues a complete file. It never blocks: when the queue is full
// the next scan takes the file.
func (in *Intake) Publish(partner, path, uploader string) {
	in.init()
	in.mu.Lock()
	if in.busy[path] {
		in.mu.Unlock()
		return
	}
	in.busy[path] = true
	in.mu.Unlock()
	select {
	case in.queue <- item{partner, path, uploader}:
	default:
		in.mu.Lock()
		delete(in.busy, path)
		in.mu.Unlock()
	}
}

// Run works the queue with n workers and scans every inbox every scan,
// until ctx ends.
func (in *Intake) Run(ctx context.Context, n int, scan time.Duration) {
	in.init()
	var wg sync.WaitGroup
	for range max(n, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case it := <-in.queue:
					in.take(ctx, it)
				}
			}
		}()
	}
	in.Scan()
	t := time.NewTicker(scan)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			in.Scan()
		}
	}
}

// staleAfter is when a partial upload left behind is removed.
const staleAfter = 24 * time.Hour

// Scan queues every complete file waiting in an inbox, and removes partial
// uploads left for more than a day.
func (in *Intake) Scan() {
	in.init()
	partners, _ := os.ReadDir(filepath.Join(in.DataDir, "partners"))
	for _, p := range partners {
		if !p.IsDir() {
			continue
		}
		dir := filepath.Join(in.DataDir, "partners", p.Name())
		in.sweep(filepath.Join(dir, ".uploads"), func(string) bool { return true })
		in.sweep(filepath.Join(dir, sftpd.Inbox), sftpd.IsTempName)
		entries, _ := os.ReadDir(filepath.Join(dir, sftpd.Inbox))
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || sftpd.IsTempName(name) {
				continue
			}
			path := filepath.Join(dir, sftpd.Inbox, name)
			uploader := "sftp"
			if b, err := os.ReadFile(sftpd.UploaderFile(path)); err == nil {
				uploader = string(b)
			}
			in.Publish(p.Name(), path, uploader)
		}
	}
}

func (in *Intake) sweep(dir string, partial func(string) bool) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && partial(e.Name()) && time.Since(fi.ModTime()) > staleAfter {
			_ = os.Remove(filepath.Join(dir, e.Name()))
			in.Log.Info("removed a partial upload left behind", "file", filepath.Join(dir, e.Name()))
		}
	}
}

// take ingests one file and removes it from the inbox once registered.
func (in *Intake) take(ctx context.Context, it item) {
	defer func() {
		in.mu.Lock()
		delete(in.busy, it.path)
		in.mu.Unlock()
	}()
	name := filepath.Base(it.path)
	log := in.Log.With("partner", it.partner, "file", name, "uploader", it.uploader)
	var kind string
	err := in.Pool.QueryRow(ctx, `SELECT kind FROM partners WHERE id = $1`, it.partner).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		kind = ""
	} else if err != nil {
		log.Error("intake: partner lookup failed; the file stays in the inbox", "err", err)
		in.done(it, nil, err)
		return
	}
	if kind != "reseller" {
		// Publishers' files (acks of fulfilment) are not processed yet:
		// archived and kept, never lost.
		in.keep(it, log)
		return
	}
	o, err := in.Service.Ingest(ctx, ingest.Request{Partner: it.partner, Path: it.path, Name: name, Uploader: it.uploader})
	if err != nil {
		log.Error("intake: ingest failed; the file stays in the inbox for the next scan", "err", err)
		in.done(it, nil, err)
		return
	}
	_ = os.Remove(it.path)
	_ = os.Remove(sftpd.UploaderFile(it.path))
	log.Info("intake: file taken", "file_id", o.FileID, "status", o.Status, "rows", o.Rows, "accepted", o.Accepted)
	in.done(it, o, nil)
}

func (in *Intake) keep(it item, log *slog.Logger) {
	f, err := os.Open(it.path)
	if err != nil {
		in.done(it, nil, err)
		return
	}
	blob, err := in.Service.Archive.Put(f)
	f.Close()
	if err != nil {
		log.Error("intake: archiving failed; the file stays in the inbox", "err", err)
		in.done(it, nil, err)
		return
	}
	kept := filepath.Join(in.DataDir, "partners", it.partner, ".received")
	if err := os.MkdirAll(kept, 0o750); err == nil {
		_ = os.Rename(it.path, filepath.Join(kept, blob.Hex()[:12]+"-"+filepath.Base(it.path)))
	}
	_ = os.Remove(sftpd.UploaderFile(it.path))
	log.Info("intake: file from a publisher archived and kept (not processed)", "sha256", blob.Hex())
	in.done(it, nil, nil)
}

func (in *Intake) done(it item, o *ingest.Outcome, err error) {
	if in.Done != nil {
		in.Done(it.partner, filepath.Base(it.path), o, err)
	}
}
