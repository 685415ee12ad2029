package exchange

import "time"

// RemoteFile is one version of a file on a partner's server, as a pull
// claims it: the same path with another size or mtime is another file.
type RemoteFile struct {
	Partner string
	Path    string // on the partner's server
	Size    int64
	MTime   time.Time
}

// Remote-file states: claimed by a pull, downloaded and handed to intake
// (taken), then moved or deleted on the partner's server (done).
const (
	RemoteClaimed = "claimed"
	RemoteTaken   = "taken"
	RemoteDone    = "done"
)

// Delivery is a local file due to be pushed to a partner's server under
// the one remote name fixed when it was queued.
type Delivery struct {
	ID         int64
	LocalPath  string
	RemoteName string
	Size       int64
}
