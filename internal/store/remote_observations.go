package store

import (
	"context"
	"time"

	"github.com/clearhouse/clearhouse/internal/exchange"
)

// What pulls with complete: stable saw of a remote file, and since when, so
// that any instance's next pull can decide (migrations/00009_remote_observations.sql).
const (
	observeRemoteSQL = `
		INSERT INTO remote_observations AS o (partner_id, remote_path, size, mtime) VALUES ($1, $2, $3, $4)
		ON CONFLICT (partner_id, remote_path) DO UPDATE SET size = EXCLUDED.size, mtime = EXCLUDED.mtime, seen_at = now(),
		       since = CASE WHEN o.size = EXCLUDED.size AND o.mtime = EXCLUDED.mtime THEN o.since ELSE now() END
		RETURNING now() - since >= make_interval(secs => $5)`
	// Also forgets the partner's files not seen for a week.
	forgetObservationSQL = `DELETE FROM remote_observations WHERE partner_id = $1 AND (remote_path = $2 OR seen_at < now() - interval '7 days')`
)

var observationConstraints = map[string]error{"remote_observations_partner_id_fkey": exchange.ErrUnknownPartner}

// ObserveRemoteFile records the size and mtime seen of f and tells whether
// they have not changed for wait, as seen by any instance.
func (q *Queries) ObserveRemoteFile(ctx context.Context, f exchange.RemoteFile, wait time.Duration) (bool, error) {
	var ok bool
	err := q.db.QueryRow(ctx, observeRemoteSQL, f.Partner, f.Path, f.Size, f.MTime, wait.Seconds()).Scan(&ok)
	return ok, translate(err, observationConstraints)
}

// ForgetObservations forgets what was seen of the partner's remote file at
// path (taken now), and of its files not seen for a week.
func (q *Queries) ForgetObservations(ctx context.Context, partner, path string) error {
	_, err := q.db.Exec(ctx, forgetObservationSQL, partner, path)
	return err
}
