-- +goose Up
-- Fulfillment files: a batch takes a publisher's pending outbox rows in
-- one transaction (so a row is in one batch only); its file is written
-- after the commit from what the batch recorded, under its one name, and
-- written again (the same bytes) if a crash came between the two.
CREATE TABLE fulfillment_batches (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    publisher_id text NOT NULL REFERENCES publishers (partner_id),
    name         text NOT NULL UNIQUE,
    records      integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    written_at   timestamptz
);
CREATE INDEX fulfillment_batches_unwritten_idx ON fulfillment_batches (publisher_id) WHERE written_at IS NULL;
ALTER TABLE fulfillment_outbox ADD COLUMN batch_id bigint REFERENCES fulfillment_batches (id);
CREATE INDEX fulfillment_outbox_batch_idx ON fulfillment_outbox (batch_id);
ALTER TABLE fulfillment_outbox ADD CHECK ((batch_id IS NULL) = (batched_at IS NULL));
-- +goose Down
ALTER TABLE fulfillment_outbox DROP COLUMN batch_id;
DROP TABLE fulfillment_batches;
