package fakeslack

import (
	"strings"
	"time"
)

// userJSON renders u as users.* return it.
func userJSON(u *user) obj {
	profile := obj{
		"real_name": u.realName, "real_name_normalized": u.realName, "display_name": u.name,
		"display_name_normalized": u.name, "email": u.email, "team": TeamID,
	}
	if u.isBot {
		profile["bot_id"], profile["api_app_id"] = BotID, AppID
		delete(profile, "email")
	}
	return obj{
		"id": u.id, "team_id": TeamID, "name": u.name, "real_name": u.realName, "deleted": false,
		"tz": "UTC", "tz_label": "Coordinated Universal Time", "tz_offset": 0,
		"is_bot": u.isBot, "is_app_user": false, "is_admin": false, "is_owner": false,
		"is_restricted": false, "is_ultra_restricted": false, "updated": time.Date(2024, 11, 25, 0, 0, 0, 0, time.UTC).Unix(),
		"profile": profile,
	}
}

func (s *Server) usersInfo(c *call) (obj, error) {
	u := s.userByID(c.str("user"))
	if u == nil {
		return nil, fail("user_not_found")
	}
	return obj{"user": userJSON(u)}, nil
}

func (s *Server) usersList(c *call) (obj, error) {
	var members []obj
	for _, u := range s.users {
		members = append(members, userJSON(u))
	}
	return paged(c, "members", members, 100, 1000)
}

func (s *Server) usersLookupByEmail(c *call) (obj, error) {
	email := c.str("email")
	for _, u := range s.users {
		if u.email != "" && strings.EqualFold(u.email, email) {
			return obj{"user": userJSON(u)}, nil
		}
	}
	return nil, fail("users_not_found")
}

func (s *Server) usergroupsList(c *call) (obj, error) {
	groups := []obj{}
	for _, g := range s.groups {
		group := obj{
			"id": g.id, "team_id": TeamID, "is_usergroup": true, "is_subteam": true, "name": g.name,
			"description": "", "handle": g.handle, "is_external": false, "auto_type": nil,
			"date_create": 0, "date_update": 0, "date_delete": 0, "created_by": Alice, "updated_by": Alice,
			"deleted_by": nil, "prefs": obj{"channels": []string{}, "groups": []string{}},
			"user_count": len(g.users),
		}
		if c.flag("include_users") {
			group["users"] = g.users
		}
		groups = append(groups, group)
	}
	return obj{"usergroups": groups}, nil
}

func (s *Server) usergroupsUsersList(c *call) (obj, error) {
	for _, g := range s.groups {
		if g.id == c.str("usergroup") {
			return obj{"users": g.users}, nil
		}
	}
	return nil, fail("no_such_subteam")
}
