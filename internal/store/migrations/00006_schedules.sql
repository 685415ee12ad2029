-- +goose Up
-- Schedules run by the leader instance: the last tick each one ran for. A
-- tick is queued (as a unique job) in the same transaction that moves
-- last_tick, under a row lock, so each tick runs once across instances; the
-- ticks missed while every instance was down fold into one run.
CREATE TABLE schedules (
    name        text PRIMARY KEY,
    spec        text NOT NULL,
    last_tick   timestamptz NOT NULL,
    last_run_at timestamptz,
    runs        bigint NOT NULL DEFAULT 0,
    missed      bigint NOT NULL DEFAULT 0
);

-- Instances of clearhouse serve, by their job-queue client id, with a
-- heartbeat: a job still running under an instance whose heartbeat stopped
-- (killed, machine lost) is handed to the others at once.
CREATE TABLE instances (
    id           text PRIMARY KEY,
    host         text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
-- +goose Down
DROP TABLE instances;
DROP TABLE schedules;
