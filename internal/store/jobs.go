package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The job side's own tables: instances (heartbeats, slots), schedules, and
// what the operator sees of River's queue. River's tables are River's; the
// statements here only read them, or hand a dead instance's running jobs
// back to the queue.

// Pool and Tx are the database handles the other packages pass around;
// they are pgx's, named here so that only store speaks pgx.
type (
	Pool = pgxpool.Pool
	Tx   = pgx.Tx
)

// BeginFunc runs fn in a transaction of pool, committed when fn returns nil.
func BeginFunc(ctx context.Context, pool *Pool, fn func(Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}

// SavepointFunc runs fn in a savepoint of tx, released when fn returns nil
// and rolled back (tx going on) when it does not.
func SavepointFunc(ctx context.Context, tx Tx, fn func(Tx) error) error {
	return pgx.BeginFunc(ctx, tx, fn)
}

const (
	beatSQL = `INSERT INTO instances (id, host, pid, slot) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`
	requeueSilentSQL = `
		UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE state = 'running' AND attempted_by IS NOT NULL
		  AND attempted_by[array_length(attempted_by, 1)] NOT IN (
		      SELECT id FROM instances WHERE heartbeat_at > now() - make_interval(secs => $1))`
	pruneInstancesSQL = `DELETE FROM instances WHERE heartbeat_at < now() - interval '5 minutes'`
	forgetSlotSQL     = `DELETE FROM instances WHERE slot = $1 AND id <> $2 RETURNING id`
	requeueOfSQL      = `
		UPDATE river_job SET state = 'available', scheduled_at = now()
		 WHERE state = 'running' AND attempted_by IS NOT NULL AND attempted_by[array_length(attempted_by, 1)] = ANY($1)`
)

// Beat records that an instance lives (and which slot it holds).
func Beat(ctx context.Context, pool *Pool, id, host string, pid int, slot string) error {
	if _, err := pool.Exec(ctx, beatSQL, id, host, pid, slot); err != nil {
		return fmt.Errorf("recording instance %s: %w", id, err)
	}
	return nil
}

// RequeueSilent puts back in the queue the jobs running under instances
// silent for deadAfter, forgets instances silent for minutes, and returns
// how many jobs it handed back.
func RequeueSilent(ctx context.Context, pool *Pool, deadAfter time.Duration) (int64, error) {
	tag, err := pool.Exec(ctx, requeueSilentSQL, deadAfter.Seconds())
	if err != nil {
		return 0, fmt.Errorf("handing back the jobs of silent instances: %w", err)
	}
	_, _ = pool.Exec(ctx, pruneInstancesSQL)
	return tag.RowsAffected(), nil
}

// ForgetSlot forgets the earlier instances of a slot (their lock was free:
// they are dead) and puts the jobs they were running back in the queue. It
// returns the dead instances and how many jobs went back.
func ForgetSlot(ctx context.Context, pool *Pool, slot, self string) ([]string, int64, error) {
	dead, err := queryRows(ctx, pool, pgx.RowTo[string], forgetSlotSQL, slot, self)
	if err != nil {
		return nil, 0, fmt.Errorf("forgetting slot %s: %w", slot, err)
	}
	if len(dead) == 0 {
		return nil, 0, nil
	}
	tag, err := pool.Exec(ctx, requeueOfSQL, dead)
	if err != nil {
		return dead, 0, fmt.Errorf("handing back the jobs of %v: %w", dead, err)
	}
	return dead, tag.RowsAffected(), nil
}

// DeleteInstance forgets an instance that stopped cleanly.
func DeleteInstance(ctx context.Context, pool *Pool, id string) {
	_, _ = pool.Exec(ctx, `DELETE FROM instances WHERE id = $1`, id)
}

// Leader holds the scheduler's advisory lock on a connection of its own:
// if the connection dies, PostgreSQL releases the lock and another leads.
type Leader struct{ conn *pgxpool.Conn }

// TryLead takes the lock key if no one holds it; nil when another does.
func TryLead(ctx context.Context, pool *Pool, key int64) (*Leader, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil || !got {
		conn.Release()
		return nil, err
	}
	return &Leader{conn: conn}, nil
}

// Ping tells whether the lead's connection, hence its lock, still holds.
func (l *Leader) Ping(ctx context.Context) error { return l.conn.Ping(ctx) }

// Release gives the lead up.
func (l *Leader) Release(ctx context.Context, key int64) {
	_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key)
	l.conn.Release()
}

// ScheduleState is a schedule's row: its spec and last tick.
type ScheduleState struct {
	Spec string
	Last time.Time
}

// ScheduleStates reads every schedule's state, by name.
func ScheduleStates(ctx context.Context, pool *Pool) (map[string]ScheduleState, error) {
	known := map[string]ScheduleState{}
	var name string
	var st ScheduleState
	err := forEachRow(ctx, pool, `SELECT name, spec, last_tick FROM schedules`, nil, []any{&name, &st.Spec, &st.Last}, func() error {
		known[name] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the schedules: %w", err)
	}
	return known, nil
}

// ForgetSchedules deletes the rows of schedules no longer configured.
func ForgetSchedules(ctx context.Context, pool *Pool, names []string) error {
	if _, err := pool.Exec(ctx, `DELETE FROM schedules WHERE name = ANY($1)`, names); err != nil {
		return fmt.Errorf("forgetting schedules %v: %w", names, err)
	}
	return nil
}

// LockSchedule reads a schedule's row for update in tx; found is false for
// a schedule never ticked.
func LockSchedule(ctx context.Context, tx Tx, name string) (st ScheduleState, found bool, err error) {
	err = tx.QueryRow(ctx, `SELECT last_tick, spec FROM schedules WHERE name = $1 FOR UPDATE`, name).Scan(&st.Last, &st.Spec)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, false, nil
	}
	return st, err == nil, err
}

// StartSchedule records a new schedule, counting from now.
func StartSchedule(ctx context.Context, tx Tx, name, spec string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO schedules (name, spec, last_tick) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, name, spec, now)
	return err
}

// RespecSchedule records a changed schedule, counting from now.
func RespecSchedule(ctx context.Context, tx Tx, name, spec string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE schedules SET spec = $2, last_tick = $3 WHERE name = $1`, name, spec, now)
	return err
}

// RecordTick moves a schedule to its tick due, counting the ticks missed.
func RecordTick(ctx context.Context, tx Tx, name string, due time.Time, missed int64) error {
	_, err := tx.Exec(ctx, `UPDATE schedules SET last_tick = $2, last_run_at = now(), runs = runs + 1, missed = missed + $3 WHERE name = $1`,
		name, due, missed)
	return err
}

// QueueDepth is a queue's jobs in one state, and the age of its oldest due.
type QueueDepth struct {
	Queue, State string
	Jobs         int64
	OldestDue    float64 // seconds
}

const queueDepthsSQL = `SELECT queue, state::text, count(*),
	coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE state IN ('available', 'retryable') AND scheduled_at <= now())), 0)
	FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'running') GROUP BY queue, state`

// QueueDepths reads River's queue as the metrics show it.
func QueueDepths(ctx context.Context, pool *Pool) ([]QueueDepth, error) {
	return collect(ctx, pool, queueDepthsSQL, func(r pgx.Row, q *QueueDepth) error {
		return r.Scan(&q.Queue, &q.State, &q.Jobs, &q.OldestDue)
	})
}

// LookupPool opens a second pool on pool's database for history look-ups,
// half its size (at least 4), whose sessions probe primary keys only: the
// planner may not walk a reseller's rows (its statistics predate a big
// file's own COPY, and any plan that walks them visits every row the COPY
// added so far, once per batch: quadratic). These sessions run nothing else.
func LookupPool(ctx context.Context, pool *Pool) (*Pool, error) {
	cfg := pool.Config().Copy()
	cfg.MaxConns = max(4, cfg.MaxConns/2)
	cfg.MinConns = 0
	for k, v := range map[string]string{"enable_seqscan": "off", "enable_hashjoin": "off", "enable_mergejoin": "off", "enable_bitmapscan": "off", "enable_material": "off"} {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// EnsureDatabase creates database name on the server of adminURL unless it exists.
func EnsureDatabase(ctx context.Context, adminURL, name string) error {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil || exists {
		return err
	}
	_, err = c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}
