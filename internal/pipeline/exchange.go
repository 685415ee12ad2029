package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/fulfil"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/jobs"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/sftpc"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

// exchanger pulls from and pushes to partners' servers, as scheduled jobs.
type exchanger struct {
	pool    *store.Pool
	svc     *ingest.Service
	dataDir string
	log     *slog.Logger
	key     ssh.Signer
	puller  *sftpc.Puller
	queue   *jobs.Queue
}

// ack writes a finished file's ack unless written already, then has it
// pushed at once when the reseller has a server.
func (x *exchanger) ack(ctx context.Context, fileID int64, partner string, log *slog.Logger) error {
	if err := x.svc.AckOnce(ctx, fileID); err != nil {
		return err
	}
	x.pushSoon(ctx, partner, log)
	return nil
}

// pushSoon queues a push to the partner's server now, when it has one;
// the push schedule is the backstop if this fails.
func (x *exchanger) pushSoon(ctx context.Context, partner string, log *slog.Logger) {
	r, err := x.remote(ctx, partner)
	if err != nil || r.Push == nil {
		return
	}
	if err := x.queue.PushSoon(ctx, partner); err != nil {
		log.Warn("queueing a push failed; the push schedule will deliver", "err", err)
	}
}

// remote reads a partner's server settings as applied.
func (x *exchanger) remote(ctx context.Context, partner string) (*exchange.Remote, error) {
	pa, err := store.Partners{Pool: x.pool}.Partner(ctx, partner)
	if err != nil {
		return nil, fmt.Errorf("partner %s: %w", partner, err)
	}
	if !pa.Active() || pa.Settings.Remote == nil {
		return nil, fmt.Errorf("partner %s has no server configured (or is not active)", partner)
	}
	return pa.Settings.Remote, nil
}

// fulfil makes a publisher's fulfillment file from what is pending.
func (x *exchanger) fulfil(ctx context.Context, publisher string, tick time.Time, log *slog.Logger) error {
	res, err := fulfil.Run(ctx, store.New(x.pool), x.dataDir, publisher, tick)
	if len(res.Files) > 0 || err != nil {
		log.Info("fulfillment", "batched", res.Batched, "files", res.Files, "err", err)
	}
	if len(res.Files) > 0 {
		x.pushSoon(ctx, publisher, log)
	}
	return err
}

// schedules lists a pull and a push schedule per partner with a server, and
// a fulfillment schedule per publisher.
func (x *exchanger) schedules(ctx context.Context) ([]jobs.Schedule, error) {
	ps, bad, err := store.Partners{Pool: x.pool}.Active(ctx)
	if err != nil {
		return nil, err
	}
	for id, err := range bad {
		x.log.Error("scheduler: a partner's stored settings cannot be read (apply checks them)", "partner", id, "err", err)
	}
	var out []jobs.Schedule
	add := func(id, op string, t exchange.Timing, def time.Duration) {
		sched, spec, err := t.Spec(def)
		if err != nil {
			x.log.Error("scheduler: a partner's schedule is invalid (apply checks it)", "partner", id, "op", op, "err", err)
			return
		}
		name := op + " " + id
		out = append(out, jobs.Schedule{Name: name, Spec: spec, Sched: sched, Job: func(tick time.Time) river.JobArgs {
			if op == "fulfil" {
				return jobs.FulfilArgs{Publisher: id, Schedule: name, Tick: tick}
			}
			return jobs.ExchangeArgs{Partner: id, Op: op, Schedule: name, Tick: tick}
		}})
	}
	for _, p := range ps {
		st := p.Settings
		if p.Kind == "publisher" {
			var t exchange.Timing
			if st.Fulfillment != nil {
				t = *st.Fulfillment
			}
			add(p.ID, "fulfil", t, world.DefaultFulfillment)
		}
		if st.Remote == nil {
			continue
		}
		if st.Remote.Pull != nil {
			add(p.ID, "pull", st.Remote.Pull.Timing, 5*time.Minute)
		}
		if st.Remote.Push != nil {
			add(p.ID, "push", st.Remote.Push.Timing, time.Minute)
		}
	}
	return out, nil
}

// run does one pull or push for a partner.
func (x *exchanger) run(ctx context.Context, partner, op string, log *slog.Logger) error {
	r, err := x.remote(ctx, partner)
	if err != nil {
		return err
	}
	log = log.With("remote", r.Address)
	if op == "push" {
		n, err := sftpc.Enqueue(ctx, store.New(x.pool), partner, mailbox.Layout{DataDir: x.dataDir}.Outbox(partner))
		if err != nil {
			return fmt.Errorf("queueing the outbox: %w", err)
		}
		if n == 0 {
			if due, err := store.New(x.pool).CountDueDeliveries(ctx, partner); err != nil || due == 0 {
				return err // nothing to deliver: no connection
			}
		}
	}
	auth, err := sftpc.AuthFor(r, x.key)
	if err != nil {
		return err
	}
	c, err := sftpc.Dial(ctx, r, auth)
	if err != nil {
		return err
	}
	defer c.Close()
	switch op {
	case "pull":
		if r.Pull == nil {
			return nil
		}
		res, err := x.puller.Pull(ctx, c, partner, r.Pull)
		log.Info("pull", "taken", res.Taken, "waiting", res.Waiting, "cleaned", res.Cleaned)
		return err
	case "push":
		if r.Push == nil {
			return nil
		}
		res, err := sftpc.Push(ctx, store.New(x.pool), c, partner, r.Push.Dir, log)
		log.Info("push", "delivered", res.Delivered, "failed", res.Failed)
		if err == nil && res.Failed > 0 {
			err = fmt.Errorf("%d deliveries failed; retried with backoff", res.Failed)
		}
		return err
	}
	return fmt.Errorf("unknown exchange %q", op)
}
