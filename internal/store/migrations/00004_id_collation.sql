-- +goose Up
-- Identifiers are opaque: compared byte for byte, in the order Go compares
-- strings. The checker relies on it to skip history look-ups for ids outside
-- the range a reseller already used; byte comparison is also the cheapest.
DROP VIEW subscriptions;
ALTER TABLE declarations ALTER COLUMN declaration_id TYPE text COLLATE "C",
                         ALTER COLUMN subscription_ref TYPE text COLLATE "C";
ALTER TABLE customers ALTER COLUMN customer_id TYPE text COLLATE "C";
CREATE VIEW subscriptions AS
SELECT reseller_id, declaration_id AS subscription_id, customer_id, sku, publisher_id, quantity,
       start_date, sub_state AS state, sub_end_date AS end_date, unit_price, currency, file_id, line
  FROM declarations WHERE sub_state IS NOT NULL;

-- +goose Down
DROP VIEW subscriptions;
ALTER TABLE declarations ALTER COLUMN declaration_id TYPE text COLLATE "default",
                         ALTER COLUMN subscription_ref TYPE text COLLATE "default";
ALTER TABLE customers ALTER COLUMN customer_id TYPE text COLLATE "default";
CREATE VIEW subscriptions AS
SELECT reseller_id, declaration_id AS subscription_id, customer_id, sku, publisher_id, quantity,
       start_date, sub_state AS state, sub_end_date AS end_date, unit_price, currency, file_id, line
  FROM declarations WHERE sub_state IS NOT NULL;
