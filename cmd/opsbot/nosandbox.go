//go:build nosandbox

package main

import (
	"context"
	"errors"
)

// A build with -tags nosandbox leaves the sandbox, the console and the benchmarks out: the
// binary that serves Slack in production carries neither the vendor fakes nor the OpenAPI
// validator they load, and starts lighter for it (see BENCHMARKS.md). The Dockerfile builds it.

var errNoSandbox = errors.New("this opsbot was built without the sandbox (-tags nosandbox): console, sandbox and bench need a full build (go run ./cmd/opsbot …)")

func runConsole(context.Context, environment, []string) error { return errNoSandbox }

func runSandbox(context.Context, environment, []string) error { return errNoSandbox }

func runBench(context.Context, environment, []string) error { return errNoSandbox }
