// Package pipeline composes Clearhouse: the ingest service, intake, the
// durable job queue and its workers, the schedules, the exchanges with
// partners' servers, the SFTP server and the HTTP endpoints. It is the one
// package that wires the others together, with explicit constructors and
// nothing patched after construction; cmd/clearhouse parses flags and
// calls it. A new job, schedule or exchange is added here.
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/intake"
	"github.com/clearhouse/clearhouse/internal/jobs"
	"github.com/clearhouse/clearhouse/internal/sftpc"
	"github.com/clearhouse/clearhouse/internal/sftpd"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// Ingest are the settings of the ingest service (the input limits).
type Ingest struct {
	Limits       tabular.Limits
	MaxFileBytes int64
	MaxProblems  int
	PrescanBytes int64
}

// NewService builds the ingest service on pool and dataDir. finished, when
// set, is called in the transaction that finishes a file (serve queues its
// ack job there); the CLI passes nil and acks what an earlier run left.
func NewService(pool *store.Pool, dataDir string, log *slog.Logger, s Ingest,
	finished func(ctx context.Context, tx store.Tx, fileID int64, partner string) error, stage func(string, float64)) *ingest.Service {
	return &ingest.Service{
		Pool: pool, Archive: ingest.ArchiveIn(dataDir), DataDir: dataDir, Log: log, Limits: s.Limits,
		MaxFileBytes: s.MaxFileBytes, MaxProblems: s.MaxProblems, PrescanBytes: s.PrescanBytes, Finished: finished, Stage: stage,
	}
}

// Serve configures the long-running service.
type Serve struct {
	SFTP         sftpd.Config // DataDir and HostKeyPath are filled in
	HTTPAddr     string
	Workers      int
	ScanEvery    time.Duration
	JobTimeout   time.Duration
	RescueAfter  time.Duration
	DeadAfter    time.Duration
	DrainTimeout time.Duration
	BillingBatch int // resellers billed per transaction (0: billing's default)
}

// Server is clearhouse serve, built and listening.
type Server struct {
	Service   *ingest.Service
	Intake    *intake.Intake
	Runner    *jobs.Runner
	ClientKey ssh.Signer

	cfg   Serve
	log   *slog.Logger
	sftp  *sftpd.Server
	http  *http.Server
	ln    net.Listener
	sched *jobs.Scheduler
}

// NewServer builds the service in order — the queue, then what queues work
// (ingest, intake, the exchanges), then the workers and the schedules — and
// opens its listeners.
func NewServer(pool *store.Pool, dataDir string, log *slog.Logger, settings Ingest, cfg Serve) (*Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	jm := jobs.NewMetrics(reg)
	reg.MustRegister(jobs.NewQueueCollector(pool))
	queue, err := jobs.NewQueue(pool, log)
	if err != nil {
		return nil, err
	}
	svc := NewService(pool, dataDir, log, settings, queue.Finished, jm.Stage)
	in := &intake.Intake{Service: svc, Pool: pool, DataDir: dataDir, Log: log, Enqueue: queue.EnqueueFile,
		Done: func(partner, _ string, o *ingest.Outcome, _ error) { jm.File(partner, o) }}
	clientKey, err := sftpd.LoadOrCreateKey(filepath.Join(dataDir, "sftp", "client_ed25519_key"))
	if err != nil {
		return nil, fmt.Errorf("the client key: %w", err)
	}
	x := &exchanger{pool: pool, svc: svc, dataDir: dataDir, log: log, key: clientKey, queue: queue,
		puller: &sftpc.Puller{Files: store.New(pool), DataDir: dataDir, Log: log, Publish: in.Publish}}
	bj := &billingJobs{pool: pool, docs: &billing.Documents{Pool: pool, DataDir: dataDir}, x: x, log: log,
		biller: &billing.Biller{Pool: pool, Log: log, Issued: queue.Issued, BatchSize: cfg.BillingBatch}}
	schedules := func(ctx context.Context) ([]jobs.Schedule, error) {
		out, err := x.schedules(ctx)
		if err != nil {
			return nil, err
		}
		b, err := bj.schedules(ctx)
		return append(out, b...), err
	}
	runner, err := jobs.New(jobs.Config{Pool: pool, Intake: in, Exchange: x.run, Fulfil: x.fulfil, Ack: x.ack,
		Bill: bj.run, Documents: bj.documents, Workers: cfg.Workers,
		JobTimeout: cfg.JobTimeout, RescueAfter: cfg.RescueAfter, DeadAfter: cfg.DeadAfter, Log: log, Metrics: jm, DataDir: dataDir})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(jobs.NewScheduleCollector(pool, schedules))
	sc := cfg.SFTP
	sc.DataDir, sc.HostKeyPath = dataDir, filepath.Join(dataDir, "sftp", "host_ed25519_key")
	srv, err := sftpd.New(sc, store.Partners{Pool: pool}, in.Publish, sftpd.NewMetrics(reg), log)
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		return nil, fmt.Errorf("sftp: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	s := &Server{Service: svc, Intake: in, Runner: runner, ClientKey: clientKey, cfg: cfg, log: log, sftp: srv, ln: ln,
		sched: &jobs.Scheduler{Pool: pool, Queue: queue, List: schedules, Log: log, Metrics: jm}}
	s.http = &http.Server{Handler: s.mux(pool, reg), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// mux serves /metrics, /healthz and /readyz (ready when the database
// answers and the SFTP listener accepts).
func (s *Server) mux(pool *store.Pool, reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := pool.Ping(ctx); err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		c, err := net.DialTimeout("tcp", s.sftp.Addr(), 2*time.Second)
		if err != nil {
			http.Error(w, "sftp: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		c.Close()
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// SFTPAddr, HTTPAddr and HostKey say where the server listens and what
// partners pin.
func (s *Server) SFTPAddr() string { return s.sftp.Addr() }
func (s *Server) HTTPAddr() string { return s.ln.Addr().String() }
func (s *Server) HostKey() string  { return s.sftp.Fingerprint() }

// ClientPublicKey is what partners authorise for Clearhouse's pulls and pushes.
func (s *Server) ClientPublicKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.ClientKey.PublicKey())))
}

// Run serves until ctx ends (SIGTERM), then drains: no new work is
// claimed, running jobs get the drain timeout, then are cancelled (and
// retried elsewhere). started is called once everything runs.
func (s *Server) Run(ctx context.Context, started func()) error {
	// Jobs run on a context of their own, so that SIGTERM stops claiming
	// new work and lets running jobs finish (up to the drain timeout).
	if err := s.Runner.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	var wg sync.WaitGroup
	run := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	run(func() { _ = s.sftp.Serve(ctx) })
	run(func() { s.Intake.Run(ctx, s.cfg.ScanEvery) })
	run(func() { s.sched.Run(ctx) })
	run(func() { _ = s.http.Serve(s.ln) })
	if started != nil {
		started()
	}
	<-ctx.Done()
	s.log.Info("draining: no new work is claimed; running jobs get until the drain timeout", "timeout", s.cfg.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel()
	if err := s.Runner.Stop(dctx); err != nil {
		s.log.Warn("draining: jobs still running were cancelled; they are retried", "err", err)
	}
	_ = s.http.Shutdown(dctx)
	wg.Wait()
	return nil
}
