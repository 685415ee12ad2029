-- +goose Up
-- The key that bills an item once, in the order a run reads it: a reseller's
-- items of one service month, by declaration. The same columns, so the same
-- uniqueness. A run asks "which subscriptions were charged in the last
-- period billed": with the month second, that is one range of the key,
-- joined to the reseller's declarations, where it was a probe of the key per
-- subscription (by declaration first, a range would have read every month
-- ever billed). A run's items are then also written into one range of the
-- key per reseller, after its last month's.
ALTER TABLE invoice_items DROP CONSTRAINT invoice_items_billed_once,
    ADD CONSTRAINT invoice_items_billed_once PRIMARY KEY (reseller_id, service_month, declaration_id, credit);
-- +goose Down
ALTER TABLE invoice_items DROP CONSTRAINT invoice_items_billed_once,
    ADD CONSTRAINT invoice_items_billed_once PRIMARY KEY (reseller_id, declaration_id, service_month, credit);
