# Clearhouse. `make help` lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/clearhouse
export PATH := $(PATH):/usr/local/go/bin

.DEFAULT_GOAL := help

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

build: ## Build bin/clearhouse.
	$(GO) build -o $(BIN) ./cmd/clearhouse

run: build ## Local Postgres (unless DATABASE_URL), migrate, load samples/, process the sample drops, print where to look.
	$(BIN) run --serve

test: build ## All tests, on one throwaway PostgreSQL cluster (or CLEARHOUSE_TEST_DATABASE_URL / DATABASE_URL).
	$(GO) vet -tags bench ./cmd/clearhouse
	$(BIN) db exec -- $(GO) test -count=1 -timeout 9m ./...

bench: build ## Benchmarks with baselines measured in the same run (1,000,000-row ingest, a billing run of 1,000,000 subscriptions); see README.
	$(GO) build -tags bench -o bin/clearhouse-bench ./cmd/clearhouse
	bin/clearhouse-bench bench --rows $${BENCH_ROWS:-1000000}
	bin/clearhouse-bench bench-billing --subscriptions $${BENCH_SUBSCRIPTIONS:-1000000} --resellers $${BENCH_RESELLERS:-1000}
	$(GO) test -run '^$$' -bench . -benchmem ./internal/tabular/ ./internal/money/ | \
	  awk '{print} /^BenchmarkBareCSV/ {b=$$3} /^BenchmarkReader/ {r=$$3} /^BenchmarkXLSX/ {for (i = 2; i <= NF; i++) if ($$i == "cpu-s/op") c=$$(i-1)} \
	    /^BenchmarkXLSXCheck/ {xc=c} /^BenchmarkXLSXReader/ {xr=c} \
	    END {if (b) printf "tabular reader / bare encoding/csv = %.2fx\n", r/b; \
	         if (xr) printf "XLSX: bounded scan and copy of the parts before excelize = %.1f%% of the whole read (CPU)\n", 100*xc/xr}'
	$(BIN) db exec -- $(GO) test -run '^$$' -bench SFTP -benchtime $${BENCH_SFTP_RUNS:-3}x ./internal/sftpc/ 2>/dev/null | \
	  awk '{print} /openssh-to-embedded/ {e=$$5; er=$$(NF-1)} /20-partners/ {t=$$5; tr=$$(NF-1)} /upload\/openssh-to-sshd/ {s=$$5} /clearhouse-to-sshd/ {c=$$5} /push\/openssh-to-sshd/ {o=$$5} \
	    END {printf "SFTP upload, embedded server / OpenSSH sshd = %.2fx (target >= 1.0x); server peak RSS %.0f MiB\n", e/s, er; \
	         printf "SFTP upload, 20 partners at once: %.0f MB/s in all; server peak RSS %.0f MiB\n", t, tr; \
	         printf "SFTP push, Clearhouse client / OpenSSH sftp put = %.2fx (target >= 1.0x)\n", c/o}'
	$(BIN) db exec -- $(GO) test -run '^$$' -bench Serve -benchtime 1x -timeout 90m ./cmd/clearhouse/ 2>/dev/null | \
	  awk '{print} /instances=1/ {f1=$$(NF-3); r1=$$(NF-1)} /instances=2/ {f2=$$(NF-3); r2=$$(NF-1)} /latency/ {p50=$$(NF-3); p99=$$(NF-1)} \
	    END {printf "serve, 10,000 files of 100 rows: 1 instance %.0f files/s (%.0f rows/s), 2 instances %.0f files/s (%.0f rows/s)\n", f1, r1, f2, r2; \
	         printf "serve, upload complete to ack written at 1 file/s: p50 %.0f ms, p99 %.0f ms\n", p50, p99}'

lint: ## gofmt and go vet.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

db-stop: build ## Stop the local PostgreSQL cluster that make run left running.
	$(BIN) db stop

clean: ## Remove the binary (keeps .data).
	rm -rf bin

clean-data: db-stop ## Stop the local cluster and delete .data (database, archive, outboxes).
	rm -rf .data

.PHONY: help build run test bench lint db-stop clean clean-data
