package sftpd

import (
	"io/fs"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// graceAfterClose is how long an uploaded name stays stat-able after the
// upload closed, whether or not intake took the file from the inbox yet.
const graceAfterClose = 30 * time.Second

// recentUploads remembers the uploads of a server that are open or closed
// less than graceAfterClose ago, by partner and name. Clients look at a
// file right after sending it: paramiko's put() stats it to compare the
// size, rclone sets its modification time and OpenSSH's put -p sets times
// on the open handle; intake may have taken the file from the inbox within
// milliseconds. Stat and Lstat of such a name are answered from here (size
// and time as uploaded), and a Setstat is accepted and only recorded: the
// file in the inbox is never changed (its size and time tell intake one
// version from the next).
type recentUploads struct {
	mu sync.Mutex
	m  map[string]*recentUpload
}

type recentUpload struct {
	name  string
	open  map[*upload]bool // uploads under this name still open
	size  int64
	mtime time.Time
	set   bool      // mtime was set by the client
	until time.Time // closed: kept until then
}

func newRecentUploads() *recentUploads { return &recentUploads{m: map[string]*recentUpload{}} }

func recentKey(partner, name string) string { return partner + "/" + name }

// prune forgets what is neither open nor recent; under mu.
func (r *recentUploads) prune(now time.Time) {
	for k, e := range r.m {
		if len(e.open) == 0 && now.After(e.until) {
			delete(r.m, k)
		}
	}
}

// opened records an upload that started under name.
func (r *recentUploads) opened(partner, name string, u *upload) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.prune(now)
	k := recentKey(partner, name)
	e := r.m[k]
	if e == nil {
		e = &recentUpload{name: name, open: map[*upload]bool{}, mtime: now}
		r.m[k] = e
	}
	e.open[u] = true
}

// closed records the end of an upload: published, it stays stat-able for
// graceAfterClose with its size and time; else it is forgotten unless
// another upload of the name is open or recent.
func (r *recentUploads) closed(partner, name string, u *upload, published bool, size int64, mtime time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := recentKey(partner, name)
	e := r.m[k]
	if e == nil {
		return
	}
	delete(e.open, u)
	if published {
		e.size, e.until = size, time.Now().Add(graceAfterClose)
		if !e.set {
			e.mtime = mtime
		}
	}
	r.prune(time.Now())
}

// published records a file that reached the inbox by a rename.
func (r *recentUploads) published(partner, name string, size int64, mtime time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.prune(now)
	r.m[recentKey(partner, name)] = &recentUpload{name: name, open: map[*upload]bool{}, size: size, mtime: mtime, until: now.Add(graceAfterClose)}
}

// forget drops a name whose upload was refused.
func (r *recentUploads) forget(partner, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.m[recentKey(partner, name)]; e != nil && len(e.open) == 0 {
		delete(r.m, recentKey(partner, name))
	}
}

// lookup returns the entry of a name open or recent; under mu.
func (r *recentUploads) lookup(partner, name string) *recentUpload {
	e := r.m[recentKey(partner, name)]
	if e == nil || (len(e.open) == 0 && time.Now().After(e.until)) {
		return nil
	}
	return e
}

// stat answers for a name open or recent: the size written so far (open)
// or uploaded, and the time uploaded or set.
func (r *recentUploads) stat(partner, name string) (fs.FileInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.lookup(partner, name)
	if e == nil {
		return nil, false
	}
	size := e.size
	for u := range e.open {
		u.mu.Lock()
		size = max(size, u.size)
		u.mu.Unlock()
	}
	return recentInfo{name: e.name, size: size, mtime: e.mtime}, true
}

// recentInfo is what Stat tells of a recent upload.
type recentInfo struct {
	name  string
	size  int64
	mtime time.Time
}

func (i recentInfo) Name() string       { return i.name }
func (i recentInfo) Size() int64        { return i.size }
func (i recentInfo) Mode() fs.FileMode  { return 0o640 }
func (i recentInfo) ModTime() time.Time { return i.mtime }
func (i recentInfo) IsDir() bool        { return false }
func (i recentInfo) Sys() any           { return nil }

// setstat accepts a Setstat of a name open or recent, recording a new
// modification time; false when the name is neither.
func (r *recentUploads) setstat(partner, name string, req *sftp.Request) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.lookup(partner, name)
	if e == nil {
		return false
	}
	if req.AttrFlags().Acmodtime {
		if st := req.Attributes(); st != nil {
			e.mtime, e.set = time.Unix(int64(st.Mtime), 0), true
		}
	}
	return true
}
