-- +goose Up
-- A reseller's currency is fixed once it has declared anything: its
-- declarations, ledger accounts and documents are in that currency, and a
-- run bills only the declarations in the reseller's currency (changing it
-- would leave the others unbilled, silently). The check is the
-- database's, as apply writes the row.
-- +goose StatementBegin
CREATE FUNCTION resellers_currency_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.currency IS DISTINCT FROM OLD.currency
       AND EXISTS (SELECT 1 FROM declarations WHERE reseller_id = OLD.partner_id) THEN
        RAISE EXCEPTION 'reseller % has declarations in %: its currency cannot become %; onboard a new reseller id for the new currency',
            OLD.partner_id, OLD.currency, NEW.currency
            USING ERRCODE = '23514', CONSTRAINT = 'resellers_currency_fixed';
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER resellers_currency_fixed BEFORE UPDATE OF currency ON resellers
    FOR EACH ROW EXECUTE FUNCTION resellers_currency_fixed();
-- +goose Down
DROP TRIGGER resellers_currency_fixed ON resellers;
DROP FUNCTION resellers_currency_fixed();
