// Command opsbot is a Slack Socket Mode chat-ops bot that runs a team's release runbook and
// incident communication from Slack.
//
//	opsbot serve          connect to Slack and serve (config: opsbot.yaml, secrets: environment)
//	opsbot console        the sandbox workspace in a terminal: no accounts, no network
//	opsbot sandbox        only the sandbox fakes, for pointing `serve` or a script at them
//	opsbot manifest       print the Slack app manifest
//	opsbot config check   validate opsbot.yaml and the environment
//	opsbot migrate        apply database migrations
//	opsbot bench          measure ack latency, fan-out and start-up against the sandbox
//	opsbot version        print the version
//
// main only parses arguments and wires packages together; it is the one place that reads the
// process environment.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// usageError is a mistake in the command line: run prints it with the usage and exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: opsbot <command> [flags]

commands:
  serve          connect to Slack over Socket Mode and serve (--config opsbot.yaml)
  console        run the sandbox workspace, the bot and a terminal client in one process
  sandbox        run only the sandbox fakes and print their base URLs (--config-out FILE)
  manifest       print the Slack app manifest (the same as manifest.yml)
  config check   validate opsbot.yaml and the environment (--config opsbot.yaml)
  migrate        apply database migrations (--config opsbot.yaml)
  bench          measure opsbot against the sandbox: ack, fanout or startup (see BENCHMARKS.md)
  version        print the version

Run 'opsbot <command> -h' for a command's flags.
`

// run is main without the process: testable, with its inputs passed in.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	env := environment{getenv: getenv, stdout: stdout, stderr: stderr, stdin: stdin}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = runServe(ctx, env, rest)
	case "console":
		err = runConsole(ctx, env, rest)
	case "sandbox":
		err = runSandbox(ctx, env, rest)
	case "manifest":
		_, err = io.WriteString(stdout, manifest)
	case "config":
		if len(rest) == 0 || rest[0] != "check" {
			err = usageError{"unknown config subcommand: use 'opsbot config check'"}
			break
		}
		err = runConfigCheck(ctx, env, rest[1:])
	case "migrate":
		err = runMigrate(ctx, env, rest)
	case "bench":
		err = runBench(ctx, env, rest)
	case "version":
		fmt.Fprintf(stdout, "opsbot %s\n", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "opsbot: %s\n\n%s", ue.msg, usage)
		return 2
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(stderr, "opsbot: %v\n", err)
		return 1
	}
}

// errReported means the command already told the user what went wrong.
var errReported = errors.New("reported")

// environment is what a subcommand may use of the process.
type environment struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}
