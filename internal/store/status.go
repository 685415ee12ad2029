package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The operator's view (clearhouse status): recent files, the job queue,
// schedules and instances, read as typed rows.

// FileRow is one received file as status shows it.
type FileRow struct {
	ID                    int64
	Partner, Name, State  string
	Status, LastError     string
	Rows, Accepted, Rejct int
	ReceivedAt            time.Time
}

// QueueRow counts a queue's jobs in one state.
type QueueRow struct {
	Queue, State string
	Jobs         int64
	Oldest       time.Time
}

// ScheduleRow is a schedule's last tick and its counts.
type ScheduleRow struct {
	Name, Spec   string
	LastTick     time.Time
	Runs, Missed int64
}

// InstanceRow is a running instance and its heartbeat.
type InstanceRow struct {
	ID                 string
	Started, Heartbeat time.Time
}

// Status is what clearhouse status prints.
type Status struct {
	Files     []FileRow
	Queues    []QueueRow
	Schedules []ScheduleRow
	Instances []InstanceRow
}

const (
	statusFiles = `SELECT id, partner_id, name, state, coalesce(status, ''), rows_total, rows_accepted, rows_rejected,
		received_at, coalesce(last_error, '') FROM files WHERE $1 = '' OR partner_id = $1 ORDER BY id DESC LIMIT $2`
	statusQueues = `SELECT queue, state::text, count(*), min(scheduled_at) FROM river_job
		WHERE state NOT IN ('completed', 'cancelled') OR finalized_at > now() - interval '1 day' GROUP BY 1, 2 ORDER BY 1, 2`
	statusSchedules = `SELECT name, spec, last_tick, runs, missed FROM schedules ORDER BY name`
	statusInstances = `SELECT id, started_at, heartbeat_at FROM instances ORDER BY started_at`
)

// ReadStatus reads the operator's view: the last limit files (of partner,
// or all when ""), the queue, the schedules and the instances.
func ReadStatus(ctx context.Context, pool *Pool, partner string, limit int) (*Status, error) {
	var st Status
	var err error
	if st.Files, err = collect(ctx, pool, statusFiles, func(r pgx.Row, f *FileRow) error {
		return r.Scan(&f.ID, &f.Partner, &f.Name, &f.State, &f.Status, &f.Rows, &f.Accepted, &f.Rejct, &f.ReceivedAt, &f.LastError)
	}, partner, limit); err != nil {
		return nil, fmt.Errorf("reading recent files: %w", err)
	}
	if st.Queues, err = collect(ctx, pool, statusQueues, func(r pgx.Row, q *QueueRow) error {
		return r.Scan(&q.Queue, &q.State, &q.Jobs, &q.Oldest)
	}); err != nil {
		return nil, fmt.Errorf("reading the job queue: %w", err)
	}
	if st.Schedules, err = collect(ctx, pool, statusSchedules, func(r pgx.Row, s *ScheduleRow) error {
		return r.Scan(&s.Name, &s.Spec, &s.LastTick, &s.Runs, &s.Missed)
	}); err != nil {
		return nil, fmt.Errorf("reading the schedules: %w", err)
	}
	if st.Instances, err = collect(ctx, pool, statusInstances, func(r pgx.Row, i *InstanceRow) error {
		return r.Scan(&i.ID, &i.Started, &i.Heartbeat)
	}); err != nil {
		return nil, fmt.Errorf("reading the instances: %w", err)
	}
	return &st, nil
}

// PartnerExists tells whether a partner id is in the applied configuration.
func PartnerExists(ctx context.Context, pool *Pool, id string) (bool, error) {
	var ok bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1)`, id).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("looking up partner %s: %w", id, err)
	}
	return ok, nil
}

// ErrNoFile: no file has that id.
var ErrNoFile = errors.New("no such file")

// StoredFile is a received file as a replay needs it.
type StoredFile struct {
	Partner, Name, Kind, State, Uploader string
	SHA256                               []byte
}

// FileByID reads a received file's record.
func FileByID(ctx context.Context, pool *Pool, id int64) (*StoredFile, error) {
	var f StoredFile
	err := pool.QueryRow(ctx, `SELECT partner_id, name, kind, state, sha256, uploader FROM files WHERE id = $1`, id).
		Scan(&f.Partner, &f.Name, &f.Kind, &f.State, &f.SHA256, &f.Uploader)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoFile
	}
	if err != nil {
		return nil, fmt.Errorf("reading file %d: %w", id, err)
	}
	return &f, nil
}
