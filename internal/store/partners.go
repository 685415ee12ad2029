package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearhouse/clearhouse/internal/exchange"
)

// Partners reads the partners and partner_keys tables, as logins and
// uploads need them (sftpd.Accounts).
type Partners struct{ Pool *pgxpool.Pool }

// Key is the key of a fingerprint; exchange.ErrUnknownKey when none.
func (p Partners) Key(ctx context.Context, fingerprint string) (exchange.Key, error) {
	var k exchange.Key
	err := p.Pool.QueryRow(ctx, `SELECT k.partner_id, k.name, k.public_key, p.status FROM partner_keys k JOIN partners p ON p.id = k.partner_id
		WHERE k.fingerprint = $1`, fingerprint).Scan(&k.Partner, &k.Name, &k.AuthorizedKey, &k.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, exchange.ErrUnknownKey
	}
	return k, err
}

// Partner is a partner's status and stored settings;
// exchange.ErrUnknownPartner when there is no such partner.
func (p Partners) Partner(ctx context.Context, id string) (exchange.Partner, error) {
	pa, err := scanPartner(p.Pool.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return pa, exchange.ErrUnknownPartner
	}
	return pa, err
}

// partnerColumns are what a Partner is read from: the one query of a
// partner's settings, for logins, intake, pulls, pushes and schedules.
const partnerColumns = `id, kind, status, sftp`

func scanPartner(row pgx.Row) (exchange.Partner, error) {
	var pa exchange.Partner
	var settings string
	if err := row.Scan(&pa.ID, &pa.Kind, &pa.Status, &settings); err != nil {
		return pa, err
	}
	var err error
	if pa.Settings, err = exchange.ParseSettings(settings); err != nil {
		return pa, fmt.Errorf("reading partner %q's sftp settings: %w", pa.ID, err)
	}
	return pa, nil
}

// Active lists the active partners, by id, with their settings. A partner
// whose stored settings cannot be read is reported in bad and left out.
func (p Partners) Active(ctx context.Context) (ps []exchange.Partner, bad map[string]error, err error) {
	rows, err := p.Pool.Query(ctx, `SELECT `+partnerColumns+` FROM partners WHERE status = 'active' ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("listing the partners: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		pa, err := scanPartner(rows)
		if err != nil {
			if bad == nil {
				bad = map[string]error{}
			}
			bad[pa.ID] = err
			continue
		}
		ps = append(ps, pa)
	}
	return ps, bad, rows.Err()
}

// KeyAuthorised tells whether the key of fingerprint still logs in as
// partner: it is the partner's, and the partner is active.
func (p Partners) KeyAuthorised(ctx context.Context, partner, fingerprint string) (bool, error) {
	var ok bool
	err := p.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partner_keys k JOIN partners p ON p.id = k.partner_id
		WHERE k.fingerprint = $1 AND k.partner_id = $2 AND p.status = 'active')`, fingerprint, partner).Scan(&ok)
	return ok, err
}

// PasswordAuthorised tells whether partner still logs in with a password:
// it is active and has a password hash.
func (p Partners) PasswordAuthorised(ctx context.Context, partner string) (bool, error) {
	var ok bool
	err := p.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1 AND status = 'active' AND sftp::jsonb ? 'password_hash')`, partner).Scan(&ok)
	return ok, err
}
