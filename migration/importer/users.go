package importer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"
	"maunium.net/go/mautrix/id"

	"causeway/migration/slackexport"
)

// resolveUsers reads the user map: Slack user IDs or e-mail addresses (looked up in the
// export's profiles) to Matrix user IDs. Anything it cannot place is an error, all at once.
func (r *run) resolveUsers() (map[string]id.UserID, error) {
	byEmail, byID := map[string]string{}, map[string]bool{}
	for _, u := range r.members {
		byID[u.ID] = true
		if u.Profile.Email != "" {
			byEmail[strings.ToLower(u.Profile.Email)] = u.ID
		}
	}
	out := map[string]id.UserID{}
	var problems []string
	for key, mxid := range r.opts.UserMap {
		userID := id.UserID(mxid)
		if _, _, err := userID.Parse(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not a Matrix user ID", key, mxid))
			continue
		}
		slackID := key
		if strings.Contains(key, "@") {
			if slackID = byEmail[strings.ToLower(key)]; slackID == "" {
				problems = append(problems, fmt.Sprintf("%s: no member of the workspace has this e-mail address", key))
				continue
			}
		} else if !byID[key] {
			problems = append(problems, fmt.Sprintf("%s: no member of the workspace has this ID", key))
			continue
		}
		out[slackID] = userID
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, &InputError{"user map: " + strings.Join(problems, "; ")}
	}
	return out, nil
}

// matchEmails maps, when asked, the people the user map leaves out to the accounts named by
// the local part of their e-mail addresses.
func (r *run) matchEmails(ctx context.Context) error {
	if !r.opts.MatchEmails {
		return nil
	}
	for _, u := range r.members {
		local, _, ok := strings.Cut(u.Profile.Email, "@")
		if !ok || u.IsBot || u.Deleted || r.users[u.ID] != "" {
			continue
		}
		userID, found, err := r.deps.Bridge.LocalAccount(ctx, local)
		if err != nil {
			return err
		}
		if found {
			r.users[u.ID] = userID
		}
	}
	return nil
}

// reportUsers lists the people who go to ghosts and the users the feed lacks.
func (r *run) reportUsers(sv survey) {
	r.report.UnmappedUsers, r.report.UnknownUsers = []string{}, append([]string{}, sv.unknownUsers...)
	for _, u := range r.members {
		if !u.IsBot && !u.Deleted && u.ID != slackexport.SlackbotID && r.users[u.ID] == "" {
			r.report.UnmappedUsers = append(r.report.UnmappedUsers, u.Name)
		}
	}
}

// importGhosts registers the ghosts of the selected conversations' members, with their
// export profiles. Others get theirs when they first speak.
func (r *run) importGhosts(ctx context.Context, convs []*slackapi.Channel) error {
	r.progress.setPhase(PhaseUsers)
	var members []string
	for _, ch := range convs {
		for _, m := range ch.Members {
			if !slices.Contains(members, m) {
				members = append(members, m)
			}
		}
	}
	r.progress.setTotal(PhaseUsers, int64(len(members)))
	for _, userID := range members {
		u, err := r.feed.User(ctx, userID)
		if err != nil {
			return err
		}
		if err := r.history.Ghost(ctx, u); err != nil {
			return fmt.Errorf("ghost of %s: %w", userID, err)
		}
		r.progress.add(PhaseUsers, 1)
	}
	return nil
}
