package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/clearhouse/clearhouse/internal/pgserver"
)

// DBCmd manages the local development cluster under --data-dir/pg.
type DBCmd struct {
	Start DBStartCmd `cmd:"" help:"Start the local cluster, making it if there is none, and leave it running (other commands use it)."`
	Stop  DBStopCmd  `cmd:"" help:"Stop the local cluster."`
	URL   DBURLCmd   `cmd:"" name:"url" help:"Print the local cluster's URL (starting it if needed; it must exist: db start makes it)."`
	Exec  DBExecCmd  `cmd:"" help:"Run a command with a throwaway cluster in CLEARHOUSE_TEST_DATABASE_URL (make test)."`
}

// DBStartCmd starts the local cluster detached, making it if needed: with
// run, the only command that makes one.
type DBStartCmd struct{}

func (c *DBStartCmd) Run(ctx context.Context, g *Globals) error { return startDetached(ctx, g, true) }

func startDetached(ctx context.Context, g *Globals, create bool) error {
	s, err := g.startLocal(ctx, create)
	if err != nil {
		return err
	}
	s.Detach()
	fmt.Println(s.URL("clearhouse"))
	return nil
}

// DBStopCmd stops the local cluster.
type DBStopCmd struct{}

func (c *DBStopCmd) Run(g *Globals) error {
	stopped, err := pgserver.StopDir(filepath.Join(g.DataDir, "pg"))
	if err == nil && !stopped {
		fmt.Println("the local cluster was not running")
	}
	return err
}

// DBURLCmd prints the URL of the local cluster, starting it if it is not
// running; it does not make one.
type DBURLCmd struct{}

func (c *DBURLCmd) Run(ctx context.Context, g *Globals) error { return startDetached(ctx, g, false) }

// DBExecCmd runs a command against a throwaway cluster.
type DBExecCmd struct {
	Command []string `arg:"" passthrough:"" help:"Command and arguments."`
}

func (c *DBExecCmd) Run(ctx context.Context) error {
	if len(c.Command) > 0 && c.Command[0] == "--" {
		c.Command = c.Command[1:]
	}
	if len(c.Command) == 0 {
		return errors.New("db exec needs a command")
	}
	cmd := exec.CommandContext(ctx, c.Command[0], c.Command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	switch {
	case os.Getenv(pgserver.TestURLEnv) != "":
	case os.Getenv("DATABASE_URL") != "":
		cmd.Env = append(cmd.Env, pgserver.TestURLEnv+"="+os.Getenv("DATABASE_URL"))
	default:
		s, dir, err := pgserver.StartThrowaway(ctx)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		defer s.Stop()
		cmd.Env = append(cmd.Env, pgserver.TestURLEnv+"="+s.URL("postgres"))
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitCode(ee.ExitCode())
	}
	return err
}
