-- +goose Up
-- The worksheet a workbook was read from, when it was not the reseller's
-- declared one: the rejects file must read the same sheet again.
ALTER TABLE files ADD COLUMN sheet text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE files DROP COLUMN sheet;
