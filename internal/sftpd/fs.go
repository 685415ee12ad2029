package sftpd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/clearhouse/clearhouse/internal/mailbox"
)

// A partner sees exactly this tree:
//
//	/inbox/    write: uploads; listed while they wait to be processed
//	/outbox/   read and delete: acks, rejects, invoices, fulfilment files
//
// Both live in the partner's root (mailbox.Layout), opened as an os.Root so
// that no path, symlink or hard link can lead outside it; uploads are
// written to .uploads/ (never visible) and published into inbox/ only once
// complete.
const (
	Inbox   = mailbox.Inbox
	Outbox  = mailbox.Outbox
	uploads = mailbox.Uploads
)

// Errors sent to clients: their text reaches the SFTP client.
var (
	errDenied   = sftp.ErrSSHFxPermissionDenied
	errNotFound = sftp.ErrSSHFxNoSuchFile
)

// target is a resolved client path.
type target struct {
	area string // "", inbox or outbox
	name string // "" for a folder
}

func (t target) rel() string {
	if t.area == "" {
		return "."
	}
	if t.name == "" {
		return t.area
	}
	return t.area + "/" + t.name
}

// resolve maps a client path (already cleaned to an absolute path by
// pkg/sftp) to the tree above; anything else does not exist.
func resolve(p string) (target, error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return target{}, nil
	}
	parts := strings.Split(p[1:], "/")
	if parts[0] != Inbox && parts[0] != Outbox || len(parts) > 2 {
		return target{}, errNotFound
	}
	t := target{area: parts[0]}
	if len(parts) == 2 {
		if err := mailbox.ValidName(parts[1]); err != nil {
			return target{}, fmt.Errorf("%w: %v", errDenied, err)
		}
		t.name = parts[1]
	}
	return t, nil
}

// Published is called when an upload is complete in the inbox.
type Published func(partner, path, uploader string)

// partnerFS is one session's view of one partner's root.
type partnerFS struct {
	partner  string
	uploader string // key name and fingerprint
	dir      string // the root on disk
	root     *os.Root
	maxSize  int64
	publish  Published
	log      *slog.Logger
	m        *Metrics
	mu       sync.Mutex // publishing: check-then-link of one name
	// doneFiles: the partner's uploads wait for their done file, and an
	// upload not yet complete with it may be sent again (replaceable).
	doneFiles bool
	recent    *recentUploads // the server's: names stat-able after their upload
}

func (p *partnerFS) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: p, FilePut: p, FileCmd: p, FileList: p}
}

// Fileread opens an outbox file; inbox files are not readable back.
func (p *partnerFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	t, err := resolve(r.Filepath)
	if err != nil {
		return nil, err
	}
	if t.area != Outbox || t.name == "" {
		return nil, errDenied
	}
	fi, err := p.root.Lstat(t.rel())
	if err != nil || !fi.Mode().IsRegular() {
		return nil, errNotFound
	}
	f, err := p.root.Open(t.rel())
	if err != nil {
		return nil, errNotFound
	}
	p.log.Info("sftp download", "file", t.name, "size", fi.Size())
	return &download{File: f, m: p.m}, nil
}

type download struct {
	*os.File
	m *Metrics
}

func (d *download) ReadAt(b []byte, off int64) (int, error) {
	n, err := d.File.ReadAt(b, off)
	d.m.bytes.WithLabelValues("download").Add(float64(n))
	return n, err
}

// Filewrite starts an upload into the inbox, written under a hidden name.
func (p *partnerFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	t, err := resolve(r.Filepath)
	if err != nil {
		return nil, err
	}
	if t.area != Inbox || t.name == "" {
		return nil, fmt.Errorf("%w: files are uploaded into /inbox", errDenied)
	}
	if r.Pflags().Append {
		return nil, fmt.Errorf("%w: appending is not supported; upload the whole file", errDenied)
	}
	if !mailbox.IsTempName(t.name) && !p.replaceable(t.name) {
		if _, err := p.root.Lstat(t.rel()); err == nil {
			return nil, fmt.Errorf("%w: %s is waiting to be processed; send it again in a minute or under another name", errDenied, t.name)
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := uploads + "/" + hex.EncodeToString(rnd[:])
	f, err := p.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		p.log.Error("sftp upload: cannot create the temporary file", "err", err)
		return nil, sftp.ErrSSHFxFailure
	}
	p.m.uploads.WithLabelValues("started").Inc()
	p.log.Info("sftp upload started", "file", t.name)
	u := &upload{fs: p, f: f, tmp: tmp, name: t.name, started: time.Now()}
	p.recent.opened(p.partner, t.name, u)
	return u, nil
}

// writebackEvery is how often an upload's pages are pushed to disk.
const writebackEvery = 8 << 20

// upload is a file being received. It is published on a clean close, and
// removed if the connection drops or a limit is passed.
type upload struct {
	fs      *partnerFS
	f       *os.File
	tmp     string
	name    string
	size    int64
	dirty   int64 // bytes written since the last startWriteback
	failed  error
	started time.Time
	mu      sync.Mutex
}

func (u *upload) WriteAt(b []byte, off int64) (int, error) {
	if end := off + int64(len(b)); end > u.fs.maxSize {
		// Counted once per upload: a client goes on sending the packets
		// it has in flight, each refused.
		if u.fail(errTooLarge) {
			u.fs.m.limits.WithLabelValues("upload_size").Inc()
		}
		return 0, fmt.Errorf("%w: the file is larger than the %d MB accepted; split it", errDenied, u.fs.maxSize>>20)
	}
	n, err := u.f.WriteAt(b, off)
	u.fs.m.bytes.WithLabelValues("upload").Add(float64(n))
	u.mu.Lock()
	u.size = max(u.size, off+int64(n))
	u.dirty += int64(n)
	flush := u.dirty >= writebackEvery
	if flush {
		u.dirty = 0
	}
	u.mu.Unlock()
	if flush {
		startWriteback(u.f)
	}
	if err != nil {
		u.fail(err)
	}
	return n, err
}

// errTooLarge fails an upload over the size limit.
var errTooLarge = errors.New("the file is larger than the limit")

// fail records why the upload fails, the first reason only; it reports
// whether err is the upload's first reason of that kind.
func (u *upload) fail(err error) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.failed == nil {
		u.failed = err
		return true
	}
	return false
}

// TransferError is called by pkg/sftp when the session ends with the file
// still open: a killed client, a dropped connection.
func (u *upload) TransferError(err error) { u.fail(fmt.Errorf("connection lost: %w", err)) }

// Close publishes a complete upload, or removes an interrupted one.
func (u *upload) Close() error {
	p := u.fs
	syncErr := u.f.Sync()
	var mtime time.Time
	if fi, err := u.f.Stat(); err == nil {
		mtime = fi.ModTime()
	}
	closeErr := u.f.Close()
	u.mu.Lock()
	failed := u.failed
	u.mu.Unlock()
	if failed == nil {
		failed = errors.Join(syncErr, closeErr)
	}
	if failed != nil {
		_ = p.root.Remove(u.tmp)
		p.recent.closed(p.partner, u.name, u, false, 0, mtime)
		p.m.uploads.WithLabelValues("interrupted").Inc()
		p.log.Warn("sftp upload interrupted; nothing kept", "file", u.name, "bytes", u.size, "reason", failed)
		return sftp.ErrSSHFxFailure
	}
	// Recorded before it is placed: intake may take it before Close returns.
	p.recent.closed(p.partner, u.name, u, true, u.size, mtime)
	if err := p.place(u.tmp, u.name); err != nil {
		_ = p.root.Remove(u.tmp)
		p.recent.forget(p.partner, u.name)
		p.m.uploads.WithLabelValues("refused").Inc()
		return err
	}
	p.m.uploads.WithLabelValues("completed").Inc()
	p.log.Info("sftp upload complete", "file", u.name, "bytes", u.size, "seconds", time.Since(u.started).Seconds())
	return nil
}

// place moves a complete file from from (in the root) to inbox/name. A temp
// name replaces an earlier partial upload; a final name is never replaced
// (a file waiting to be processed is never lost) and is handed to intake.
func (p *partnerFS) place(from, name string) error {
	to := Inbox + "/" + name
	if mailbox.IsTempName(name) {
		if err := p.root.Rename(from, to); err != nil {
			p.log.Error("sftp: cannot move an upload into the inbox", "err", err)
			return sftp.ErrSSHFxFailure
		}
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.replaceable(name) {
		// An earlier attempt waiting for its done file: replaced whole.
		_ = p.root.WriteFile(mailbox.UploaderFile(Inbox+"/"+name), []byte(p.uploader), 0o640)
		if err := p.root.Rename(from, to); err != nil {
			p.log.Error("sftp: cannot publish an upload into the inbox", "err", err)
			return sftp.ErrSSHFxFailure
		}
		if p.publish != nil {
			p.publish(p.partner, path.Join(p.dir, Inbox, name), p.uploader)
		}
		return nil
	}
	if _, err := p.root.Lstat(to); err == nil {
		return fmt.Errorf("%w: %s is waiting to be processed; send it again in a minute or under another name", errDenied, name)
	}
	// Who sent it, beside it, for intake after a restart (hidden from lists).
	_ = p.root.WriteFile(mailbox.UploaderFile(Inbox+"/"+name), []byte(p.uploader), 0o640)
	if err := p.root.Link(from, to); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s is waiting to be processed; send it again in a minute or under another name", errDenied, name)
		}
		p.log.Error("sftp: cannot publish an upload into the inbox", "err", err)
		return sftp.ErrSSHFxFailure
	}
	_ = p.root.Remove(from)
	if p.publish != nil {
		p.publish(p.partner, path.Join(p.dir, Inbox, name), p.uploader)
	}
	return nil
}

// Filecmd: renames inside the inbox (publishing a temp-named upload),
// removal of outbox files and of one's own partial uploads; nothing else.
func (p *partnerFS) Filecmd(r *sftp.Request) error {
	t, err := resolve(r.Filepath)
	if err != nil {
		return err
	}
	switch r.Method {
	case "Rename", "PosixRename":
		to, err := resolve(r.Target)
		if err != nil {
			return err
		}
		if t.area != Inbox || to.area != Inbox || t.name == "" || to.name == "" || !mailbox.IsTempName(t.name) {
			return fmt.Errorf("%w: only an upload under a temporary name (.part, .tmp, .filepart) can be renamed, within /inbox", errDenied)
		}
		fi, err := p.root.Lstat(t.rel())
		if err != nil || !fi.Mode().IsRegular() {
			return errNotFound
		}
		p.recent.published(p.partner, to.name, fi.Size(), fi.ModTime())
		if err := p.place(t.rel(), to.name); err != nil {
			p.recent.forget(p.partner, to.name)
			return err
		}
		p.log.Info("sftp rename", "from", t.name, "to", to.name)
		return nil
	case "Remove":
		switch {
		case t.name == "":
			return errDenied
		case t.area == Inbox && !mailbox.IsTempName(t.name):
			return fmt.Errorf("%w: %s is being processed; its ack will appear in /outbox", errDenied, t.name)
		}
		if fi, err := p.root.Lstat(t.rel()); err != nil || !fi.Mode().IsRegular() {
			return errNotFound
		}
		if err := p.root.Remove(t.rel()); err != nil {
			return errNotFound
		}
		p.log.Info("sftp remove", "file", t.rel())
		return nil
	case "Setstat":
		// Clients set times after an upload (put -p, WinSCP); there is
		// nothing to keep, and failing would fail the transfer. Folders
		// keep their modes.
		if t.name == "" {
			return errDenied
		}
		if t.area == Inbox && p.recent.setstat(p.partner, t.name, r) {
			return nil // an upload open or just closed: recorded, the file untouched
		}
		if _, err := p.root.Lstat(t.rel()); err != nil {
			return errNotFound
		}
		return nil
	}
	return fmt.Errorf("%w: only uploads to /inbox and downloads from /outbox are allowed", errDenied)
}

// PosixRename is Rename (OpenSSH's posix-rename@openssh.com).
func (p *partnerFS) PosixRename(r *sftp.Request) error { return p.Filecmd(r) }

// Filelist lists and stats the tree; links and hidden files do not appear.
func (p *partnerFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	t, err := resolve(r.Filepath)
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case "List":
		if t.name != "" {
			return nil, errNotFound
		}
		if t.area == "" {
			var infos []os.FileInfo
			for _, d := range []string{Inbox, Outbox} {
				fi, err := p.root.Stat(d)
				if err != nil {
					return nil, sftp.ErrSSHFxFailure
				}
				infos = append(infos, fi)
			}
			return listerAt(infos), nil
		}
		d, err := p.root.Open(t.area)
		if err != nil {
			return nil, sftp.ErrSSHFxFailure
		}
		defer d.Close()
		entries, err := d.ReadDir(-1)
		if err != nil {
			return nil, sftp.ErrSSHFxFailure
		}
		var infos []os.FileInfo
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if fi, err := e.Info(); err == nil {
				infos = append(infos, fi)
			}
		}
		return listerAt(infos), nil
	case "Stat", "Lstat":
		fi, err := p.root.Lstat(t.rel())
		if err != nil && t.area == Inbox && t.name != "" {
			if rfi, ok := p.recent.stat(p.partner, t.name); ok {
				return listerAt{rfi}, nil // taken by intake already, or still open
			}
		}
		if err != nil || (t.name != "" && !fi.Mode().IsRegular()) {
			return nil, errNotFound
		}
		if t.area == "" {
			fi = named{fi, "/"}
		}
		return listerAt{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat is Stat: the tree has no links.
func (p *partnerFS) Lstat(r *sftp.Request) (sftp.ListerAt, error) { return p.Filelist(r) }

type named struct {
	os.FileInfo
	name string
}

func (n named) Name() string { return n.name }

type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}
