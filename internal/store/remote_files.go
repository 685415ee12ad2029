package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/exchange"
)

// The remote files a pull claims, so that none is processed twice across
// restarts and instances (migrations/00005_sftp.sql), keyed by partner,
// path, size and mtime (exchange.RemoteFile).
const (
	// A claim left longer than stale ago by a crashed puller is taken over.
	claimRemoteFileSQL = `INSERT INTO remote_files (partner_id, remote_path, size, mtime) VALUES ($1, $2, $3, $4)
		ON CONFLICT (partner_id, remote_path, size, mtime) DO UPDATE SET claimed_at = now(), last_error = NULL
		  WHERE remote_files.state = 'claimed' AND remote_files.claimed_at < now() - make_interval(secs => $5)
		RETURNING state`
	remoteFileStateSQL   = `SELECT state FROM remote_files WHERE partner_id = $1 AND remote_path = $2 AND size = $3 AND mtime = $4`
	releaseRemoteFileSQL = `UPDATE remote_files SET last_error = $5, claimed_at = now() - make_interval(secs => $6)
			WHERE partner_id = $1 AND remote_path = $2 AND size = $3 AND mtime = $4`
	remoteFileTakenSQL = `UPDATE remote_files SET state = 'taken', sha256 = $5 WHERE partner_id = $1 AND remote_path = $2 AND size = $3 AND mtime = $4`
	remoteFileDoneSQL  = `UPDATE remote_files SET state = 'done', done_at = now() WHERE partner_id = $1 AND remote_path = $2 AND size = $3 AND mtime = $4`
)

// remoteFileConstraints: a remote file of a partner the database does not
// have (a pull of a partner removed meanwhile).
var remoteFileConstraints = map[string]error{"remote_files_partner_id_fkey": exchange.ErrUnknownPartner}

// ClaimRemoteFile claims f for this pull, or takes over a claim older than
// stale; false when f is claimed by another pull just now, or already taken.
func (q *Queries) ClaimRemoteFile(ctx context.Context, f exchange.RemoteFile, stale time.Duration) (bool, error) {
	var state string
	err := q.db.QueryRow(ctx, claimRemoteFileSQL, f.Partner, f.Path, f.Size, f.MTime, stale.Seconds()).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, translate(err, remoteFileConstraints)
}

// RemoteFileState is f's state (exchange.RemoteClaimed, RemoteTaken, RemoteDone).
func (q *Queries) RemoteFileState(ctx context.Context, f exchange.RemoteFile) (string, error) {
	var state string
	err := q.db.QueryRow(ctx, remoteFileStateSQL, f.Partner, f.Path, f.Size, f.MTime).Scan(&state)
	return state, err
}

// ReleaseRemoteFile records why taking f failed and leaves its claim as
// one stale for stale, so that the next pull takes it over.
func (q *Queries) ReleaseRemoteFile(ctx context.Context, f exchange.RemoteFile, lastError string, stale time.Duration) error {
	_, err := q.db.Exec(ctx, releaseRemoteFileSQL, f.Partner, f.Path, f.Size, f.MTime, lastError, stale.Seconds())
	return err
}

// RemoteFileTaken records that f is downloaded, with its sha256, and handed
// to intake.
func (q *Queries) RemoteFileTaken(ctx context.Context, f exchange.RemoteFile, sha256 []byte) error {
	_, err := q.db.Exec(ctx, remoteFileTakenSQL, f.Partner, f.Path, f.Size, f.MTime, sha256)
	return err
}

// RemoteFileDone records that f is moved or deleted on the partner's server.
func (q *Queries) RemoteFileDone(ctx context.Context, f exchange.RemoteFile) error {
	_, err := q.db.Exec(ctx, remoteFileDoneSQL, f.Partner, f.Path, f.Size, f.MTime)
	return err
}
