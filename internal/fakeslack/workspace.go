package fakeslack

// workspace is the whole state of the fake Slack team. Its methods run with Server.mu held;
// they never block and never take another lock except the socket hub's and the event
// poster's, which never call back into the workspace.
type workspace struct {
	baseURL string // the server's own base URL, for file, avatar and upload links
	team    team
	app     app
	clock   clock
	ids     idSource
	hub     *socketHub
	poster  *eventPoster

	tokens   map[string]*token
	users    map[string]*user
	userIDs  []string // in creation order, as users.list pages them
	channels map[string]*channel
	chanIDs  []string // in creation order
	files    map[string]*storedFile
	uploads  map[string]*upload // by upload ticket
	avatars  map[string][]byte  // by the file name in the avatar URL
	emoji    []*emoji
	groups   []*userGroup
}

// team is the workspace's identity.
type team struct {
	id, name, domain string
}

// url is the workspace URL that auth.test reports and permalinks start with. Nothing in
// the fake is served there; Slack's real host is kept so that links look as they will.
func (t team) url() string { return "https://" + t.domain + ".slack.com/" }

// app is the one installed Slack app: its bot user and its two tokens.
type app struct {
	appID, botID, botUserID string
	botToken, appToken      string
}

func newWorkspace(opts Options, baseURL string, hub *socketHub, poster *eventPoster) *workspace {
	w := &workspace{
		baseURL:  baseURL,
		team:     team{id: opts.TeamID, name: opts.TeamName, domain: opts.Domain},
		clock:    newClock(opts.Now),
		ids:      idSource{},
		hub:      hub,
		poster:   poster,
		tokens:   map[string]*token{},
		users:    map[string]*user{},
		channels: map[string]*channel{},
		files:    map[string]*storedFile{},
		uploads:  map[string]*upload{},
		avatars:  map[string][]byte{defaultAvatarName: defaultAvatar()},
	}
	w.addSlackbot()
	w.installApp(opts.BotName)
	return w
}

// installApp creates the app, its bot user and its tokens.
func (w *workspace) installApp(botName string) {
	w.app.appID = w.ids.next("A")
	w.app.botID = w.ids.next("B")
	bot := w.addUser(UserSpec{Name: botName, RealName: botName, IsBot: true})
	bot.botID = w.app.botID
	bot.appID = w.app.appID
	w.app.botUserID = bot.id
	w.app.botToken = w.issueToken(botToken, bot.id)
	w.app.appToken = w.issueToken(appToken, "")
}
