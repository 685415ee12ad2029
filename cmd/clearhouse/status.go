package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/ingest"
)

// StatusCmd prints recent files, the job queue, schedules and instances.
type StatusCmd struct {
	Limit   int    `default:"20" help:"Files listed."`
	Partner string `help:"Only this partner's files."`
}

func (c *StatusCmd) Run(ctx context.Context, g *Globals) error {
	e, err := g.connect(ctx, false)
	if err != nil {
		return err
	}
	defer e.close()
	if err := knownPartner(ctx, e, c.Partner); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	defer tw.Flush()
	rows, err := e.pool.Query(ctx, `SELECT id, partner_id, name, state, coalesce(status, ''), rows_total, rows_accepted, rows_rejected,
		received_at, coalesce(last_error, '') FROM files WHERE $1 = '' OR partner_id = $1 ORDER BY id DESC LIMIT $2`, c.Partner, c.Limit)
	if err != nil {
		return err
	}
	fmt.Fprintln(tw, "FILE\tPARTNER\tNAME\tSTATE\tSTATUS\tROWS\tACCEPTED\tREJECTED\tRECEIVED\tLAST ERROR\t")
	var id int64
	var partner, name, state, status, lastErr string
	var total, acc, rej int
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &partner, &name, &state, &status, &total, &acc, &rej, &at, &lastErr}, func() error {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t\n", id, partner, printable(name, 60), state, status, total, acc, rej, at.UTC().Format(time.DateTime), printable(lastErr, 80))
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(tw, "\nJOB QUEUE\tSTATE\tJOBS\tOLDEST\t")
	rows, err = e.pool.Query(ctx, `SELECT queue, state::text, count(*), min(scheduled_at) FROM river_job
		WHERE state NOT IN ('completed', 'cancelled') OR finalized_at > now() - interval '1 day' GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	var queue string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&queue, &state, &n, &at}, func() error {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\n", queue, state, n, at.UTC().Format(time.DateTime))
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(tw, "\nSCHEDULE\tSPEC\tLAST TICK\tRUNS\tMISSED\t")
	rows, err = e.pool.Query(ctx, `SELECT name, spec, last_tick, runs, missed FROM schedules ORDER BY name`)
	if err != nil {
		return err
	}
	var spec string
	var runs, missed int64
	_, err = pgx.ForEachRow(rows, []any{&name, &spec, &at, &runs, &missed}, func() error {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t\n", name, spec, at.UTC().Format(time.DateTime), runs, missed)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(tw, "\nINSTANCE\tSTARTED\tLAST HEARTBEAT\t")
	rows, err = e.pool.Query(ctx, `SELECT id, started_at, heartbeat_at FROM instances ORDER BY started_at`)
	if err != nil {
		return err
	}
	var started time.Time
	_, err = pgx.ForEachRow(rows, []any{&name, &started, &at}, func() error {
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t\n", name, started.UTC().Format(time.DateTime), time.Since(at).Round(time.Second))
		return nil
	})
	return err
}

// ReplayCmd processes an archived file again.
type ReplayCmd struct {
	FileID int64 `arg:"" name:"file-id" help:"The file's id (clearhouse status lists them)."`
}

func (c *ReplayCmd) Run(ctx context.Context, g *Globals) error {
	e, err := g.connect(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	var partner, name, kind, state, uploader string
	var sum []byte
	err = e.pool.QueryRow(ctx, `SELECT partner_id, name, kind, state, sha256, uploader FROM files WHERE id = $1`, c.FileID).Scan(&partner, &name, &kind, &state, &sum, &uploader)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w %d: no upload has that id (clearhouse status lists the files and their ids)", ingest.ErrUnknownFile, c.FileID)
	}
	if err != nil {
		return fmt.Errorf("reading file %d: %w", c.FileID, err)
	}
	switch state {
	case "posted", "rejected", "duplicate":
		// Finished: replaying changes nothing (the ack is written again, the same).
		fmt.Printf("file %d (%s, %s) is already %s: nothing to replay\n", c.FileID, partner, name, state)
		return nil
	}
	svc := g.service(e)
	defer svc.Close()
	var b archive.Blob
	copy(b.SHA256[:], sum)
	o, err := svc.Ingest(ctx, ingest.Request{Partner: partner, Path: svc.Archive.Path(b), Name: name, Kind: kind, Uploader: uploader, FileID: c.FileID})
	if err != nil {
		return err
	}
	fmt.Printf("file %d (%s, %s): %s, %d rows, %d accepted, %d rejected\n", o.FileID, partner, name, o.Status, o.Rows, o.Accepted, o.Rejected)
	return nil
}
