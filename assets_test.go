package opsbot_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	opsbot "github.com/opsbot-dev/opsbot"
	"github.com/opsbot-dev/opsbot/config"
)

func TestExampleConfigIsValid(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("opsbot.example.yaml", []byte(opsbot.ExampleConfig), nil)
	require.NoError(t, err, "the documented example must be a working configuration")
	require.Equal(t, "acme/analytics", cfg.GitHub.Repository)
	require.NotNil(t, cfg.Deploy.Environments["production"].Soak)
}
