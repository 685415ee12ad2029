package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// HealthCmd asks a running serve whether it is ready (GET /readyz): the
// container's health check, which needs no shell or other tool.
type HealthCmd struct {
	URL      string        `name:"url" help:"URL to GET (default: /readyz at --http-addr)."`
	HTTPAddr string        `name:"http-addr" env:"CLEARHOUSE_HTTP_ADDR" default:"127.0.0.1:8080" help:"serve's HTTP listen address; 0.0.0.0 or :: is asked on loopback."`
	Timeout  time.Duration `default:"3s" help:"Give up after this long."`
}

func (c *HealthCmd) Run(ctx context.Context) error {
	url := c.URL
	if url == "" {
		url = "http://" + loopback(c.HTTPAddr) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "not ready: %s does not answer (is clearhouse serve running?): %v\n", url, err)
		return exitCode(1)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	msg := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "not ready: %s answered %s: %s\n", url, resp.Status, msg)
		return exitCode(1)
	}
	fmt.Printf("ready: %s answered %s\n", url, msg)
	return nil
}

// loopback is addr with an unspecified host (a listener on every
// interface) replaced by the loopback address of its family.
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch ip := net.ParseIP(host); {
	case host == "" || (ip != nil && ip.Equal(net.IPv4zero)):
		host = "127.0.0.1"
	case ip != nil && ip.Equal(net.IPv6unspecified):
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
