package fakeslack

// handleAuthTest serves auth.test: who the token is. bot_id is set for the bot token only.
func (w *workspace) handleAuthTest(c *call) (obj, error) {
	u := w.users[c.actor()]
	answer := obj{
		"url":                   w.team.url(),
		"team":                  w.team.name,
		"user":                  u.spec.Name,
		"team_id":               w.team.id,
		"user_id":               u.id,
		"is_enterprise_install": false,
	}
	if c.token.kind == botToken {
		answer["bot_id"] = w.app.botID
	}
	return answer, nil
}

// handleTeamInfo serves team.info.
func (w *workspace) handleTeamInfo(*call) (obj, error) {
	return obj{"team": obj{
		"id":              w.team.id,
		"name":            w.team.name,
		"url":             w.team.url(),
		"domain":          w.team.domain,
		"email_domain":    "",
		"icon":            obj{"image_default": true},
		"avatar_base_url": "https://ca.slack-edge.com/",
		"is_verified":     false,
	}}, nil
}
