-- +goose Up
-- A billed period is a fact, like the documents it issued: written once by
-- the run that billed it, never changed or removed (a period taken away
-- would be billed again, its documents unlinked).
CREATE TRIGGER billed_periods_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON billed_periods
    FOR EACH STATEMENT EXECUTE FUNCTION documents_immutable();
-- +goose Down
DROP TRIGGER billed_periods_immutable ON billed_periods;
