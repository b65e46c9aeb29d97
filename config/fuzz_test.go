package config_test

import (
	"errors"
	"testing"

	"github.com/opsbot-dev/opsbot/config"
)

// FuzzParse: any file is either a configuration or a list of located problems — never a
// panic, never an error of another kind.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "store:\n  lease: soon\n"))
	f.Add([]byte("slack: [\n"))
	f.Add([]byte("roles:\n  deployer: {users: [U0ALICE], groups: [S0X]}\ndeploy:\n  environments:\n    prod: {soak: {duration: 1h}}\n"))
	f.Add([]byte("sandbox:\n  env:\n    OPSBOT_SLACK_API_URL: http://127.0.0.1:1/\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("fuzz.yaml", data, nil)
		if err == nil {
			if cfg == nil {
				t.Fatal("no configuration and no error")
			}
			return
		}
		var ps config.Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error %T is not a list of problems: %v", err, err)
		}
		for _, p := range ps {
			if p.File != "fuzz.yaml" || p.Message == "" {
				t.Fatalf("problem without its file or message: %+v", p)
			}
		}
	})
}
