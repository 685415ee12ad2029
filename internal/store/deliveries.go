package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/exchange"
)

// Files pushed to partners' servers, one row per local file with the one
// remote name it is delivered under (migrations/00005_sftp.sql).
const (
	// A file already queued, by path or by remote name, is left as it is.
	addDeliverySQL = `INSERT INTO deliveries (partner_id, local_path, remote_name, size, sha256) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`
	dueDeliveriesSQL = `SELECT id, local_path, remote_name, size FROM deliveries
		WHERE partner_id = $1 AND state = 'pending' AND next_at <= now() ORDER BY id`
	countDueDeliveriesSQL = `SELECT count(*) FROM deliveries WHERE partner_id = $1 AND state = 'pending' AND next_at <= now()`
	// Backoff: 30 s after the first failure, doubling, at most an hour.
	deliveryFailedSQL = `UPDATE deliveries SET attempts = attempts + 1, last_error = $2,
				next_at = now() + least(interval '1 hour', interval '30 seconds' * power(2, least(attempts, 12))) WHERE id = $1`
	deliveredSQL = `UPDATE deliveries SET state = 'delivered', delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1`
)

var deliveryConstraints = map[string]error{"deliveries_partner_id_fkey": exchange.ErrUnknownPartner}

// AddDelivery queues local for the partner under remoteName; false when the
// file or the name is queued already.
func (q *Queries) AddDelivery(ctx context.Context, partner, local, remoteName string, size int64, sha256 []byte) (bool, error) {
	tag, err := q.db.Exec(ctx, addDeliverySQL, partner, local, remoteName, size, sha256)
	if err != nil {
		return false, translate(err, deliveryConstraints)
	}
	return tag.RowsAffected() > 0, nil
}

// DueDeliveries lists the partner's pending deliveries due now, oldest first.
func (q *Queries) DueDeliveries(ctx context.Context, partner string) ([]exchange.Delivery, error) {
	return collect(ctx, q.db, dueDeliveriesSQL, func(r pgx.Row, d *exchange.Delivery) error {
		return r.Scan(&d.ID, &d.LocalPath, &d.RemoteName, &d.Size)
	}, partner)
}

// CountDueDeliveries counts the partner's pending deliveries due now.
func (q *Queries) CountDueDeliveries(ctx context.Context, partner string) (int, error) {
	var n int
	err := q.db.QueryRow(ctx, countDueDeliveriesSQL, partner).Scan(&n)
	return n, err
}

// DeliveryFailed records a failed attempt at delivery id and when it is
// tried next, backing off.
func (q *Queries) DeliveryFailed(ctx context.Context, id int64, lastError string) error {
	_, err := q.db.Exec(ctx, deliveryFailedSQL, id, lastError)
	return err
}

// Delivered records that delivery id is on the partner's server.
func (q *Queries) Delivered(ctx context.Context, id int64) error {
	_, err := q.db.Exec(ctx, deliveredSQL, id)
	return err
}
