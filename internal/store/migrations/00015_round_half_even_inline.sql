-- +goose Up
-- round_half_even without STRICT, so that the planner inlines it as 00013
-- meant: a STRICT SQL function is inlined only when its body is provably
-- strict, which a CASE is not, so each call ran the SQL function executor
-- (about 15 µs; three calls per subscription-month priced). The body is
-- unchanged and still gives NULL for NULL.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION round_half_even(v numeric) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN abs(v - trunc(v)) = 0.5
                 THEN trunc(v) + CASE WHEN trunc(v) % 2 = 0 THEN 0 ELSE sign(v) END
                 ELSE round(v) END)::bigint
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION round_half_even(v numeric) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (CASE WHEN abs(v - trunc(v)) = 0.5
                 THEN trunc(v) + CASE WHEN trunc(v) % 2 = 0 THEN 0 ELSE sign(v) END
                 ELSE round(v) END)::bigint
$$;
-- +goose StatementEnd
