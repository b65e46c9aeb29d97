package main

import (
	"context"
	"flag"
	"fmt"

	opsbot "github.com/opsbot-dev/opsbot"
	"github.com/opsbot-dev/opsbot/clock"
)

var manifest = opsbot.Manifest

// runConfigCheck validates the file and the environment and says, for each integration,
// whether it is configured, sandboxed or absent.
func runConfigCheck(_ context.Context, env environment, args []string) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	path := fs.String("config", "opsbot.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(*path, env)
	if err != nil {
		return err
	}
	problems := cfg.CheckEnv()
	for _, p := range problems {
		fmt.Fprintln(env.stdout, p.String())
	}
	fmt.Fprintf(env.stdout, "%s: ", *path)
	if len(problems) == 0 {
		fmt.Fprintln(env.stdout, "ok")
	} else {
		fmt.Fprintf(env.stdout, "%d problem(s) in the environment\n", len(problems))
	}
	fmt.Fprintln(env.stdout, "integrations:")
	for _, in := range append(cfg.Integrations(), cfg.IncidentIntegrations()...) {
		fmt.Fprintf(env.stdout, "  %-11s %-10s %s\n", in.Name, in.State, in.Reason)
	}
	if len(problems) > 0 {
		return errReported
	}
	return nil
}

// runMigrate applies the database migrations and reports the schema version.
func runMigrate(ctx context.Context, env environment, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	path := fs.String("config", "opsbot.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(*path, env)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, clock.Real{}, newLogger(env.stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	current, latest, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s store at schema version %d (latest %d)\n", cfg.Store.Driver, current, latest)
	return nil
}
