package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/store"
)

// StatusCmd prints recent files, the job queue, schedules and instances.
type StatusCmd struct {
	Limit   int    `default:"20" help:"Files listed."`
	Partner string `help:"Only this partner's files."`
}

func (c *StatusCmd) Run(ctx context.Context, g *Globals) error {
	return g.forPartner(ctx, c.Partner, func(e *env) error {
		st, err := store.ReadStatus(ctx, e.pool, c.Partner, c.Limit)
		if err != nil {
			return err
		}
		printStatus(st)
		return nil
	})
}

// printStatus prints the files, queues, schedules and instances as tables.
func printStatus(st *store.Status) {
	tw := table(os.Stdout)
	defer tw.Flush()
	fmt.Fprintln(tw, "FILE\tPARTNER\tNAME\tSTATE\tSTATUS\tROWS\tACCEPTED\tREJECTED\tRECEIVED\tLAST ERROR\t")
	for _, f := range st.Files {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t\n", f.ID, f.Partner, printable(f.Name, 60), f.State, f.Status, f.Rows, f.Accepted, f.Rejct,
			f.ReceivedAt.UTC().Format(time.DateTime), printable(f.LastError, 80))
	}
	fmt.Fprintln(tw, "\nJOB QUEUE\tSTATE\tJOBS\tOLDEST\t")
	for _, q := range st.Queues {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\n", q.Queue, q.State, q.Jobs, q.Oldest.UTC().Format(time.DateTime))
	}
	fmt.Fprintln(tw, "\nSCHEDULE\tSPEC\tLAST TICK\tRUNS\tMISSED\t")
	for _, s := range st.Schedules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t\n", s.Name, s.Spec, s.LastTick.UTC().Format(time.DateTime), s.Runs, s.Missed)
	}
	fmt.Fprintln(tw, "\nINSTANCE\tSTARTED\tLAST HEARTBEAT\t")
	for _, i := range st.Instances {
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t\n", i.ID, i.Started.UTC().Format(time.DateTime), time.Since(i.Heartbeat).Round(time.Second))
	}
}

// ReplayCmd processes an archived file again.
type ReplayCmd struct {
	FileID int64 `arg:"" name:"file-id" help:"The file's id (clearhouse status lists them)."`
}

func (c *ReplayCmd) Run(ctx context.Context, g *Globals) error {
	return g.withDB(ctx, true, func(e *env) error { return c.replay(ctx, g, e) })
}

// replay ingests the archived file again under its own record.
func (c *ReplayCmd) replay(ctx context.Context, g *Globals, e *env) error {
	f, err := store.FileByID(ctx, e.pool, c.FileID)
	if errors.Is(err, store.ErrNoFile) {
		return fmt.Errorf("%w %d: no upload has that id (clearhouse status lists the files and their ids)", ingest.ErrUnknownFile, c.FileID)
	}
	if err != nil {
		return err
	}
	partner, name, kind, state, uploader, sum := f.Partner, f.Name, f.Kind, f.State, f.Uploader, f.SHA256
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
