-- +goose Up
-- How many days before its collection a wallet reseller's invoice (the
-- SEPA pre-notification) is issued at the least: the rulebook's 14, or
-- fewer when the reseller's contract says so.
ALTER TABLE resellers ADD COLUMN prenotification_days integer NOT NULL DEFAULT 14 CHECK (prenotification_days BETWEEN 1 AND 14);
-- +goose Down
ALTER TABLE resellers DROP COLUMN prenotification_days;
