-- +goose Up
-- The hub (the seller on every invoice and the creditor of every direct
-- debit) and each reseller's billing profile (the buyer), from the world
-- configuration (`hub`, a reseller's `billing`), written by `clearhouse
-- apply` with its defaults resolved: what billing reads is what it prints.
-- NULL is a value the configuration does not give.
CREATE TABLE hub (
    id                 boolean PRIMARY KEY DEFAULT true CHECK (id),
    legal_name         text NOT NULL,
    trading_name       text,
    street             text NOT NULL,
    additional         text,
    city               text NOT NULL,
    postal_code        text NOT NULL,
    subdivision        text,
    country            text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    vat_id             text NOT NULL,
    company_id         text,
    company_id_scheme  text,
    endpoint_scheme    text NOT NULL,
    endpoint_id        text NOT NULL,
    email              text,
    creditor_id        text,
    iban               text NOT NULL CHECK (iban !~ ' '),
    bic                text,
    account_name       text NOT NULL,
    invoice_prefix     text NOT NULL,
    credit_note_prefix text NOT NULL,
    time_zone          text NOT NULL,
    schedule           text NOT NULL,
    payment_terms_days integer NOT NULL CHECK (payment_terms_days BETWEEN 1 AND 120),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (invoice_prefix <> credit_note_prefix)
);

CREATE TABLE billing_profiles (
    reseller_id        text PRIMARY KEY REFERENCES resellers (partner_id),
    legal_name         text NOT NULL,
    street             text NOT NULL,
    additional         text,
    city               text NOT NULL,
    postal_code        text NOT NULL,
    subdivision        text,
    country            text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    vat_id             text,
    company_id         text,
    company_id_scheme  text,
    endpoint_scheme    text NOT NULL,
    endpoint_id        text NOT NULL,
    buyer_reference    text NOT NULL,
    emails             text[] NOT NULL CHECK (cardinality(emails) > 0),
    payment_terms_days integer NOT NULL CHECK (payment_terms_days BETWEEN 1 AND 120),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- +goose Down
DROP TABLE billing_profiles;
DROP TABLE hub;
