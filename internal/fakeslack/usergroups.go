package fakeslack

import "slices"

// UserGroupSpec describes a user group (a "@handle" for several people) for AddUserGroup.
type UserGroupSpec struct {
	Name        string
	Handle      string
	Description string
	Users       []string
}

// userGroup is a stored user group.
type userGroup struct {
	id      string
	spec    UserGroupSpec
	created int64
}

// handleListUserGroups serves usergroups.list. Members are listed with include_users only,
// as in Slack.
func (w *workspace) handleListUserGroups(c *call) (obj, error) {
	groups := []obj{}
	for _, g := range w.groups {
		group := obj{
			"id":           g.id,
			"team_id":      w.team.id,
			"is_usergroup": true,
			"is_subteam":   true,
			"name":         g.spec.Name,
			"description":  g.spec.Description,
			"handle":       g.spec.Handle,
			"is_external":  false,
			"date_create":  g.created,
			"date_update":  g.created,
			"date_delete":  0,
			"auto_type":    nil,
			"created_by":   slackbotID,
			"updated_by":   slackbotID,
			"deleted_by":   nil,
			"prefs":        obj{"channels": []string{}, "groups": []string{}},
			"user_count":   len(g.spec.Users),
		}
		if c.flag("include_users") {
			group["users"] = slices.Clone(g.spec.Users)
		}
		groups = append(groups, group)
	}
	return obj{"usergroups": groups}, nil
}

// AddUserGroup adds a user group and returns its ID.
func (s *Server) AddUserGroup(spec UserGroupSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range spec.Users {
		if _, err := s.ws.user(id); err != nil {
			return "", err
		}
	}
	spec.Users = slices.Clone(spec.Users)
	g := &userGroup{id: s.ws.ids.next("S"), spec: spec, created: s.ws.clock.unix()}
	s.ws.groups = append(s.ws.groups, g)
	return g.id, nil
}
