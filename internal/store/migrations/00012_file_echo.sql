-- +goose Up
-- What a rejects file repeats back to the sender, kept when the file is
-- checked (the header as sent and each row that had a problem), so the file
-- is read once: writing or rewriting its ack never reads the upload again.
ALTER TABLE files ADD COLUMN echoed boolean NOT NULL DEFAULT false;
ALTER TABLE files ADD COLUMN echo_header text;
CREATE TABLE file_echo (
    file_id bigint NOT NULL REFERENCES files (id),
    line    integer NOT NULL,
    fields  text, -- a JSON array of the row's values as sent; NULL for a row the reader could not split
    PRIMARY KEY (file_id, line)
);
-- +goose Down
DROP TABLE file_echo;
ALTER TABLE files DROP COLUMN echo_header;
ALTER TABLE files DROP COLUMN echoed;
