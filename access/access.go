// Package access answers one question for every command and click: does this person hold this
// role? Roles map to Slack user IDs and user groups in opsbot.yaml; admins hold every role.
// Group membership is read from Slack (through a GroupReader) when it is needed, never from
// anything the click itself carries.
package access

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsbot-dev/opsbot/config"
)

// GroupReader reports user-group membership (integrations/slackapi.Client, cached).
type GroupReader interface {
	InGroup(ctx context.Context, groupID, userID string) (bool, error)
}

// Roles checks role membership.
type Roles struct {
	roles  config.Roles
	groups GroupReader
}

// New returns Roles for the configured role members.
func New(roles config.Roles, groups GroupReader) *Roles {
	return &Roles{roles: roles, groups: groups}
}

// Has reports whether user holds role, directly, through a user group, or as an admin.
func (r *Roles) Has(ctx context.Context, userID string, role config.Role) (bool, error) {
	for _, candidate := range []config.Role{role, config.RoleAdmin} {
		ok, err := r.member(ctx, userID, r.roles[candidate])
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// HasAny reports whether user holds at least one of roles.
func (r *Roles) HasAny(ctx context.Context, userID string, roles ...config.Role) (bool, error) {
	for _, role := range roles {
		ok, err := r.Has(ctx, userID, role)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func (r *Roles) member(ctx context.Context, userID string, m config.Members) (bool, error) {
	for _, u := range m.Users {
		if u == userID {
			return true, nil
		}
	}
	for _, g := range m.Groups {
		ok, err := r.groups.InGroup(ctx, g, userID)
		if err != nil {
			return false, fmt.Errorf("checking whether %s is in user group %s: %w", userID, g, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// Holders names who holds role, as Slack mentions (user groups first), for refusals such as
// "Only @product-owners can approve." It says "nobody" when the role is empty.
func (r *Roles) Holders(role config.Role) string {
	m := r.roles[role]
	var names []string
	for _, g := range m.Groups {
		names = append(names, "<!subteam^"+g+">")
	}
	for _, u := range m.Users {
		names = append(names, "<@"+u+">")
	}
	if len(names) == 0 {
		return "nobody (no one holds the " + string(role) + " role in opsbot.yaml)"
	}
	return strings.Join(names, ", ")
}
