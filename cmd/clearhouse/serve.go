package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/fulfil"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/intake"
	"github.com/clearhouse/clearhouse/internal/jobs"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/sftpc"
	"github.com/clearhouse/clearhouse/internal/sftpd"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

// ServeFlags configure the long-running service.
type ServeFlags struct {
	SFTPAddr       string        `name:"sftp-addr" env:"CLEARHOUSE_SFTP_ADDR" default:"127.0.0.1:2222" help:"SFTP listen address for partners."`
	HTTPAddr       string        `name:"http-addr" env:"CLEARHOUSE_HTTP_ADDR" default:"127.0.0.1:8080" help:"HTTP listen address (/metrics, /healthz, /readyz)."`
	AllowPasswords bool          `name:"sftp-allow-passwords" env:"CLEARHOUSE_SFTP_ALLOW_PASSWORDS" help:"Accept password logins of partners that have a password_hash (off: keys only)."`
	MaxUploadMB    int64         `name:"sftp-max-upload-mb" env:"CLEARHOUSE_SFTP_MAX_UPLOAD_MB" default:"2048" help:"Largest upload accepted, in MB."`
	IdleTimeout    time.Duration `name:"sftp-idle-timeout" env:"CLEARHOUSE_SFTP_IDLE_TIMEOUT" default:"10m" help:"Close SFTP connections idle this long."`
	MaxSessions    int           `name:"sftp-max-sessions" env:"CLEARHOUSE_SFTP_MAX_SESSIONS" default:"4" help:"Concurrent SFTP sessions per partner (a partner's max_sessions overrides)."`
	MaxTotal       int           `name:"sftp-max-total-sessions" env:"CLEARHOUSE_SFTP_MAX_TOTAL_SESSIONS" default:"64" help:"Concurrent SFTP sessions in all (each active upload holds about 16 MiB)."`
	Workers        int           `name:"intake-workers" env:"CLEARHOUSE_INTAKE_WORKERS" default:"2" help:"Files processed at once by this instance."`
	ScanEvery      time.Duration `name:"intake-scan" env:"CLEARHOUSE_INTAKE_SCAN" default:"30s" help:"How often inboxes are scanned for files missed."`
	JobTimeout     time.Duration `name:"job-timeout" env:"CLEARHOUSE_JOB_TIMEOUT" default:"30m" help:"Longest a job (one file) may run."`
	RescueAfter    time.Duration `name:"job-rescue-after" env:"CLEARHOUSE_JOB_RESCUE_AFTER" default:"31m" help:"When a job still running (its instance died) is given to another instance; more than --job-timeout."`
	DeadAfter      time.Duration `name:"instance-dead-after" env:"CLEARHOUSE_INSTANCE_DEAD_AFTER" default:"15s" help:"An instance silent this long (killed, machine lost) has its running jobs given to the others."`
	DrainTimeout   time.Duration `name:"drain-timeout" env:"CLEARHOUSE_DRAIN_TIMEOUT" default:"30s" help:"On SIGTERM, how long running jobs may take to finish before they are cancelled (and retried elsewhere)."`
}

// ServeCmd runs the service.
type ServeCmd struct {
	ServeFlags `embed:""`
}

func (c *ServeCmd) Run(ctx context.Context, g *Globals) error {
	e, err := g.connect(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, g, e, c.ServeFlags, os.Stdout)
}

// serve runs the SFTP server, the job workers, the inbox scan, the
// scheduler and the HTTP endpoints until ctx ends, then drains.
func serve(ctx context.Context, g *Globals, e *env, f ServeFlags, out *os.File) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc := g.service(e)
	jm := jobs.NewMetrics(reg)
	svc.Stage = jm.Stage
	reg.MustRegister(jobs.NewQueueCollector(e.pool))
	in := &intake.Intake{Service: svc, Pool: e.pool, DataDir: g.DataDir, Log: g.log, Done: func(partner, _ string, o *ingest.Outcome, _ error) { jm.File(partner, o) }}
	clientKey, err := sftpd.LoadOrCreateKey(filepath.Join(g.DataDir, "sftp", "client_ed25519_key"))
	if err != nil {
		return err
	}
	ex := &exchanger{g: g, e: e, key: clientKey, puller: &sftpc.Puller{Pool: e.pool, DataDir: g.DataDir, Log: g.log, Publish: in.Publish}}
	runner, err := jobs.New(jobs.Config{Pool: e.pool, Intake: in, Exchange: ex.run, Fulfil: ex.fulfil, Ack: ex.ack, Workers: f.Workers,
		JobTimeout: f.JobTimeout, RescueAfter: f.RescueAfter, DeadAfter: f.DeadAfter, Log: g.log, Metrics: jm, DataDir: g.DataDir})
	if err != nil {
		return err
	}
	ex.runner, svc.Finished = runner, runner.Finished
	reg.MustRegister(jobs.NewScheduleCollector(e.pool, ex.schedules))
	m := sftpd.NewMetrics(reg)
	srv, err := sftpd.New(sftpd.Config{Addr: f.SFTPAddr, DataDir: g.DataDir, HostKeyPath: filepath.Join(g.DataDir, "sftp", "host_ed25519_key"),
		AllowPasswords: f.AllowPasswords, MaxUploadBytes: f.MaxUploadMB << 20, IdleTimeout: f.IdleTimeout, MaxSessions: f.MaxSessions, MaxTotalSessions: f.MaxTotal}, store.Partners{Pool: e.pool}, in.Publish, m, g.log)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("sftp: %w", err)
	}
	ln, err := net.Listen("tcp", f.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := e.pool.Ping(ctx); err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if c, err := net.DialTimeout("tcp", srv.Addr(), 2*time.Second); err != nil {
			http.Error(w, "sftp: "+err.Error(), http.StatusServiceUnavailable)
			return
		} else {
			c.Close()
		}
		fmt.Fprintln(w, "ready")
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	db := "local cluster in " + filepath.Join(g.DataDir, "pg")
	if g.DatabaseURL != "" {
		db = redact(g.DatabaseURL)
	}
	g.log.Info("serve starting", "database", db, "data_dir", g.DataDir, "sftp_addr", srv.Addr(), "http_addr", ln.Addr().String(),
		"instance", runner.ID, "workers", f.Workers, "scan", f.ScanEvery, "job_timeout", f.JobTimeout, "dead_after", f.DeadAfter,
		"sftp_passwords", f.AllowPasswords, "config", string(g.Config))
	// Jobs run on a context of their own, so that SIGTERM stops claiming
	// new work and lets running jobs finish (up to --drain-timeout).
	if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	sched := &jobs.Scheduler{Pool: e.pool, Client: runner.Client, List: ex.schedules, Log: g.log, Metrics: jm}
	var wg sync.WaitGroup
	run := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	run(func() { _ = srv.Serve(ctx) })
	run(func() { in.Run(ctx, f.ScanEvery) })
	run(func() { sched.Run(ctx) })
	run(func() { _ = hs.Serve(ln) })
	fmt.Fprintf(out, `serving
  sftp:    %s   host key %s
  http:    http://%s/metrics   /healthz   /readyz
  client key for partners' servers: %s
`, srv.Addr(), srv.Fingerprint(), ln.Addr(), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(clientKey.PublicKey()))))
	<-ctx.Done()
	g.log.Info("draining: no new work is claimed; running jobs get until the drain timeout", "timeout", f.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), f.DrainTimeout)
	defer cancel()
	if err := runner.Stop(dctx); err != nil {
		g.log.Warn("draining: jobs still running were cancelled; they are retried", "err", err)
	}
	_ = hs.Shutdown(dctx)
	wg.Wait()
	return nil
}

// exchanger pulls from and pushes to partners' servers, as scheduled jobs.
type exchanger struct {
	g      *Globals
	e      *env
	key    ssh.Signer
	puller *sftpc.Puller
	runner *jobs.Runner
}

// ack writes a finished file's ack unless written already, then has it
// pushed at once when the reseller has a server.
func (x *exchanger) ack(ctx context.Context, fileID int64, partner string, log *slog.Logger) error {
	if err := x.e.svc.AckOnce(ctx, fileID); err != nil {
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
	if _, err := x.runner.Client.Insert(ctx, jobs.ExchangeArgs{Partner: partner, Op: "push", Schedule: "push " + partner,
		Tick: time.Now().Truncate(time.Second)}, nil); err != nil {
		log.Warn("queueing a push failed; the push schedule will deliver", "err", err)
	}
}

// remote reads a partner's server settings as applied.
func (x *exchanger) remote(ctx context.Context, partner string) (*exchange.Remote, error) {
	var settings string
	if err := x.e.pool.QueryRow(ctx, `SELECT sftp FROM partners WHERE id = $1 AND status = 'active'`, partner).Scan(&settings); err != nil {
		return nil, fmt.Errorf("partner %s: %w", partner, err)
	}
	st, err := exchange.ParseSettings(settings)
	if err != nil || st.Remote == nil {
		return nil, fmt.Errorf("partner %s has no server configured (%v)", partner, err)
	}
	return st.Remote, nil
}

// fulfil makes a publisher's fulfillment file from what is pending.
func (x *exchanger) fulfil(ctx context.Context, publisher string, tick time.Time, log *slog.Logger) error {
	res, err := fulfil.Run(ctx, x.e.pool, x.g.DataDir, publisher, tick)
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
	rows, err := x.e.pool.Query(ctx, `SELECT id, sftp, kind FROM partners WHERE status = 'active' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	type partner struct{ id, settings, kind string }
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (partner, error) {
		var p partner
		return p, r.Scan(&p.id, &p.settings, &p.kind)
	})
	if err != nil {
		return nil, err
	}
	var out []jobs.Schedule
	add := func(id, op string, t exchange.Timing, def time.Duration) {
		sched, spec, err := t.Spec(def)
		if err != nil {
			x.g.log.Error("scheduler: a partner's schedule is invalid (apply checks it)", "partner", id, "op", op, "err", err)
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
		st, err := exchange.ParseSettings(p.settings)
		if err != nil {
			continue
		}
		if p.kind == "publisher" {
			var t exchange.Timing
			if st.Fulfillment != nil {
				t = *st.Fulfillment
			}
			add(p.id, "fulfil", t, world.DefaultFulfillment)
		}
		if st.Remote == nil {
			continue
		}
		if st.Remote.Pull != nil {
			add(p.id, "pull", st.Remote.Pull.Timing, 5*time.Minute)
		}
		if st.Remote.Push != nil {
			add(p.id, "push", st.Remote.Push.Timing, time.Minute)
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
		n, err := sftpc.Enqueue(ctx, x.e.pool, partner, mailbox.Layout{DataDir: x.g.DataDir}.Outbox(partner))
		if err != nil {
			return fmt.Errorf("queueing the outbox: %w", err)
		}
		if n == 0 {
			var due int
			if err := x.e.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE partner_id = $1 AND state = 'pending' AND next_at <= now()`, partner).Scan(&due); err != nil || due == 0 {
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
		res, err := sftpc.Push(ctx, x.e.pool, c, partner, r.Push.Dir, log)
		log.Info("push", "delivered", res.Delivered, "failed", res.Failed)
		if err == nil && res.Failed > 0 {
			err = fmt.Errorf("%d deliveries failed; retried with backoff", res.Failed)
		}
		return err
	}
	return fmt.Errorf("unknown exchange %q", op)
}

// SFTPCmd holds the SFTP helper commands.
type SFTPCmd struct {
	Keys         SFTPKeysCmd         `cmd:"" help:"Print the server's host key fingerprint (partners pin it) and Clearhouse's client public key (partners authorise it)."`
	HashPassword SFTPHashPasswordCmd `cmd:"" name:"hash-password" help:"Read a password on stdin and print its argon2id hash, for a partner's password_hash."`
}

type SFTPKeysCmd struct {
	Create bool `help:"Make the keys when the data folder has none (serve makes them on its first start). A new host key is not the one partners pinned."`
}

// Run prints the keys. A data folder without them is most often the wrong
// --data-dir: printing a fingerprint just made would hand partners a key
// that no running server has, so they are made only when asked, and said.
func (c SFTPKeysCmd) Run(g *Globals) error {
	paths := []string{filepath.Join(g.DataDir, "sftp", "host_ed25519_key"), filepath.Join(g.DataDir, "sftp", "client_ed25519_key")}
	var missing []string
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 && !c.Create {
		return fmt.Errorf("no key at %s: is --data-dir %s the server's? `clearhouse serve` makes the keys on its first start; pass --create to make them here",
			strings.Join(missing, " and "), g.DataDir)
	}
	host, err := sftpd.LoadOrCreateKey(paths[0])
	if err != nil {
		return err
	}
	client, err := sftpd.LoadOrCreateKey(paths[1])
	if err != nil {
		return err
	}
	for _, p := range missing {
		fmt.Fprintf(os.Stderr, "made a new key: %s\n", p)
	}
	fmt.Printf("host key:   %s\n            %s", ssh.FingerprintSHA256(host.PublicKey()), ssh.MarshalAuthorizedKey(host.PublicKey()))
	fmt.Printf("client key: %s", ssh.MarshalAuthorizedKey(client.PublicKey()))
	return nil
}

type SFTPHashPasswordCmd struct{}

func (SFTPHashPasswordCmd) Run() error {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return fmt.Errorf("no password on stdin (%v)", err)
	}
	fmt.Println(sftpd.HashPassword(pw))
	return nil
}
