-- +goose Up
-- An instance holds a slot: a lock file in its data folder on its host. An
-- instance that takes a slot knows that whoever held it before is dead (the
-- lock was free), so the jobs of that earlier incarnation go back to the
-- queue at once instead of after --instance-dead-after.
ALTER TABLE instances ADD COLUMN slot text NOT NULL DEFAULT '';
CREATE INDEX instances_slot_idx ON instances (slot) WHERE slot <> '';
-- +goose Down
DROP INDEX instances_slot_idx;
ALTER TABLE instances DROP COLUMN slot;
