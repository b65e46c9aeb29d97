package access_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/access"
	"github.com/opsbot-dev/opsbot/config"
)

type groups map[string][]string

func (g groups) InGroup(_ context.Context, groupID, userID string) (bool, error) {
	members, ok := g[groupID]
	if !ok {
		return false, errors.New("no_such_subteam")
	}
	for _, m := range members {
		if m == userID {
			return true, nil
		}
	}
	return false, nil
}

func TestHas(t *testing.T) {
	t.Parallel()
	roles := access.New(config.Roles{
		config.RoleDeployer:     {Groups: []string{"S0DEPLOYERS"}},
		config.RoleProductOwner: {Users: []string{"U0BOB"}},
		config.RoleAdmin:        {Users: []string{"U0ROOT"}},
		config.RoleOnCall:       {Groups: []string{"S0GONE"}},
	}, groups{"S0DEPLOYERS": {"U0ALICE"}})

	tests := []struct {
		user    string
		role    config.Role
		want    bool
		wantErr bool
	}{
		{"U0ALICE", config.RoleDeployer, true, false},          // through a group
		{"U0BOB", config.RoleProductOwner, true, false},        // directly
		{"U0BOB", config.RoleDeployer, false, false},           // not a member
		{"U0ROOT", config.RoleProductOwner, true, false},       // admins hold every role
		{"U0DAVE", config.RoleIncidentCommander, false, false}, // role with no members
		{"U0DAVE", config.RoleOnCall, false, true},             // the group cannot be read: an error, not a no
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+string(tt.role), func(t *testing.T) {
			t.Parallel()
			got, err := roles.Has(context.Background(), tt.user, tt.role)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	require.Equal(t, "<!subteam^S0DEPLOYERS>", roles.Holders(config.RoleDeployer))
	require.Contains(t, roles.Holders(config.RoleIncidentCommander), "nobody")
}
