package appservice

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	mxappservice "maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/id"
)

// Registry is the live set of registrations: those read from files, which Reload re-reads, and
// those added in code with Register, which survive reloads.
//
// Readers never block and never see a half-loaded set: every change builds a new, validated
// set and swaps it in whole. A failed Load, Reload or Register leaves the current set as it was.
// The *Registration values it returns are shared and must not be modified.
//
// The set is small (one registration per bridge), so the namespace lookups try every
// registration in turn; only ByASToken, which runs on every appservice request, is a map.
type Registry struct {
	serverName string

	mu      sync.Mutex // serialises Load, Reload and Register; readers do not take it
	paths   []string
	files   []*Registration
	builtin []*Registration

	current atomic.Pointer[registrySet]
}

// registrySet is one validated, immutable set of registrations.
type registrySet struct {
	all  []*Registration // sorted by ID
	byID map[string]*Registration
	// byASToken is keyed by the SHA-256 of the token rather than the token, so that a
	// lookup's timing says nothing about how much of a guessed token was right. The token
	// itself is then confirmed with a constant-time compare.
	byASToken map[[sha256.Size]byte]*Registration
}

// NewRegistry returns an empty registry for the homeserver serverName, whose users are the
// only ones a user namespace can cover.
func NewRegistry(serverName string) *Registry {
	r := &Registry{serverName: serverName}
	r.current.Store(&registrySet{
		byID:      map[string]*Registration{},
		byASToken: map[[sha256.Size]byte]*Registration{},
	})
	return r
}

// ServerName is the server name the registry was made for.
func (r *Registry) ServerName() string { return r.serverName }

// Load reads the registrations in paths, each a file name or a filepath.Match glob (a glob
// that matches nothing is fine, unless its directory does not exist), validates them together
// with the registrations added by Register, and makes them the current set. It reports every
// problem it finds, in every file, as one error (errors.Join of *FieldError and file errors),
// and keeps the current set and paths if there is any.
func (r *Registry) Load(paths []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load(slices.Clone(paths))
}

// Reload re-reads the paths of the last successful Load, for SIGHUP. On any error the current
// set stays as it was.
func (r *Registry) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load(r.paths)
}

func (r *Registry) load(paths []string) error {
	files, errs := readRegistrations(paths)
	set, setErrs := r.build(files, r.builtin)
	if errs = append(errs, setErrs...); len(errs) > 0 {
		return errors.Join(errs...)
	}
	r.paths, r.files = paths, files
	r.current.Store(set)
	return nil
}

// Register adds a registration made in code, such as a built-in bridge's. It is validated like
// a file (Validate) and against the current set, and stays through later reloads; a reload
// that would conflict with it fails instead. The registration must not be modified afterwards.
func (r *Registry) Register(reg *Registration) error {
	if err := reg.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	builtin := append(slices.Clip(r.builtin), reg)
	set, errs := r.build(r.files, builtin)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	r.builtin = builtin
	r.current.Store(set)
	return nil
}

// ByASToken finds the registration whose as_token is token.
func (r *Registry) ByASToken(token string) (*Registration, bool) {
	if token == "" {
		return nil, false
	}
	reg, ok := r.current.Load().byASToken[sha256.Sum256([]byte(token))]
	if !ok || subtle.ConstantTimeCompare([]byte(reg.ASToken), []byte(token)) != 1 {
		return nil, false
	}
	return reg, true
}

// ByID finds the registration with the given ID.
func (r *Registry) ByID(appserviceID string) (*Registration, bool) {
	reg, ok := r.current.Load().byID[appserviceID]
	return reg, ok
}

// All returns every registration, sorted by ID. The slice is the caller's.
func (r *Registry) All() []*Registration {
	return slices.Clone(r.current.Load().all)
}

// ExclusiveUserOwner finds the application service that holds userID exclusively (its sender,
// or in an exclusive user namespace), for M_EXCLUSIVE: nobody else may register the user, and
// no other application service may act as it. If exclusive namespaces overlap without being
// identical (which Load cannot detect), the first owner by ID is returned.
func (r *Registry) ExclusiveUserOwner(userID id.UserID) (*Registration, bool) {
	for _, reg := range r.current.Load().all {
		if reg.IsExclusiveUser(userID, r.serverName) {
			return reg, true
		}
	}
	return nil, false
}

// ExclusiveAliasOwner finds the application service that holds alias exclusively, for
// M_EXCLUSIVE; see ExclusiveUserOwner.
func (r *Registry) ExclusiveAliasOwner(alias id.RoomAlias) (*Registration, bool) {
	for _, reg := range r.current.Load().all {
		if reg.IsExclusiveAlias(alias) {
			return reg, true
		}
	}
	return nil, false
}

// InterestedInUser returns the registrations interested in userID (Registration.InterestedInUser),
// sorted by ID; nil if none.
func (r *Registry) InterestedInUser(userID id.UserID) []*Registration {
	return r.filter(func(reg *Registration) bool { return reg.InterestedInUser(userID, r.serverName) })
}

// InterestedInAlias returns the registrations whose alias namespaces match alias, sorted by ID.
func (r *Registry) InterestedInAlias(alias id.RoomAlias) []*Registration {
	return r.filter(func(reg *Registration) bool { return reg.InterestedInAlias(alias) })
}

// InterestedInRoom returns the registrations whose room namespaces match roomID, sorted by ID.
func (r *Registry) InterestedInRoom(roomID id.RoomID) []*Registration {
	return r.filter(func(reg *Registration) bool { return reg.InterestedInRoom(roomID) })
}

func (r *Registry) filter(keep func(*Registration) bool) []*Registration {
	var out []*Registration
	for _, reg := range r.current.Load().all {
		if keep(reg) {
			out = append(out, reg)
		}
	}
	return out
}

// readRegistrations expands paths and parses every file they name, each file once.
func readRegistrations(paths []string) ([]*Registration, []error) {
	var (
		regs []*Registration
		errs []error
		seen = make(map[string]bool)
	)
	for _, pattern := range paths {
		files, err := expand(pattern)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, file := range files {
			key := filepath.Clean(file)
			if abs, err := filepath.Abs(file); err == nil {
				key = abs
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			data, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			reg, err := ParseRegistration(file, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			regs = append(regs, reg)
		}
	}
	return regs, errs
}

// expand returns the files pattern names: itself when it has no glob characters (so that a
// missing file is an error when read), else its matches in lexical order.
func expand(pattern string) ([]string, error) {
	if !strings.ContainsAny(pattern, `*?[`) {
		return []string{pattern}, nil
	}
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pattern, err)
	}
	if len(files) == 0 {
		// An empty directory is fine; a misspelt one should not pass for it.
		if dir := filepath.Dir(pattern); !strings.ContainsAny(dir, `*?[`) {
			if _, err := os.Stat(dir); err != nil {
				return nil, fmt.Errorf("%s: %w", pattern, err)
			}
		}
	}
	return files, nil
}

// build validates files and builtin as one set and indexes it. It checks what a single
// registration cannot show:
//   - ids and as_tokens are unique (content/application-service-api.md: "each as_token and id
//     MUST be unique per application service ... The homeserver MUST enforce this");
//   - hs_tokens are unique and no as_token equals any hs_token: the homeserver sends each
//     hs_token to an application service on every push, so a shared token would let one
//     application service pose as the homeserver to another, or as another application
//     service to us;
//   - each sender user is its own application service's alone: not another's sender, not in
//     another's exclusive user namespace, and a valid user ID on this server;
//   - no exclusive namespace is claimed, word for word, by two application services. Overlaps
//     that are not identical (regex intersection) are not detected.
func (r *Registry) build(files, builtin []*Registration) (*registrySet, []error) {
	all := slices.Concat(files, builtin)
	set := &registrySet{
		byID:      make(map[string]*Registration, len(all)),
		byASToken: make(map[[sha256.Size]byte]*Registration, len(all)),
	}
	var errs []error
	conflict := func(reg *Registration, field, format string, args ...any) {
		errs = append(errs, &FieldError{File: reg.name(), Field: field, Err: fmt.Errorf(format, args...)})
	}

	hsTokens := make(map[[sha256.Size]byte]*Registration, len(all))
	senders := make(map[id.UserID]*Registration, len(all))
	exclusive := make(map[string]*Registration)
	for _, reg := range all {
		if prev, ok := set.byID[reg.ID]; ok {
			conflict(reg, keyID, "%q is also the id of %s", reg.ID, prev.name())
		} else {
			set.byID[reg.ID] = reg
		}
		if prev, ok := set.byASToken[sha256.Sum256([]byte(reg.ASToken))]; ok {
			conflict(reg, keyASToken, "is also the as_token of %s", prev.name())
		} else {
			set.byASToken[sha256.Sum256([]byte(reg.ASToken))] = reg
		}
		if prev, ok := hsTokens[sha256.Sum256([]byte(reg.HSToken))]; ok {
			conflict(reg, keyHSToken, "is also the hs_token of %s", prev.name())
		} else {
			hsTokens[sha256.Sum256([]byte(reg.HSToken))] = reg
		}

		sender := reg.SenderUserID(r.serverName)
		if len(sender) > id.UserIDMaxLength {
			conflict(reg, keySenderLocalpart, "%s is longer than %d bytes", sender, id.UserIDMaxLength)
		}
		if prev, ok := senders[sender]; ok {
			conflict(reg, keySenderLocalpart, "%s is also the sender of %s", sender, prev.name())
		} else {
			senders[sender] = reg
		}

		for _, kind := range []struct {
			name string
			list []Namespace
		}{
			{namespaceKindUsers, reg.Namespaces.Users},
			{namespaceKindAliases, reg.Namespaces.Aliases},
			{namespaceKindRooms, reg.Namespaces.Rooms},
		} {
			for i, ns := range kind.list {
				if !ns.Exclusive {
					continue
				}
				key := kind.name + "\x00" + ns.Source
				if prev, ok := exclusive[key]; ok && prev != reg {
					conflict(reg, fmt.Sprintf("%s.%s[%d].%s", keyNamespaces, kind.name, i, keyNamespaceRegex),
						"exclusive namespace %q is also claimed exclusively by %s", ns.Source, prev.name())
				} else if !ok {
					exclusive[key] = reg
				}
			}
		}
	}
	// Second pass: these compare each registration with all the others.
	for _, reg := range all {
		if prev, ok := hsTokens[sha256.Sum256([]byte(reg.ASToken))]; ok {
			if prev == reg {
				conflict(reg, keyASToken, "is the same as its hs_token")
			} else {
				conflict(reg, keyASToken, "is the hs_token of %s", prev.name())
			}
		}
		sender := reg.SenderUserID(r.serverName)
		for _, other := range all {
			if other != reg && matchExclusive(other.Namespaces.Users, string(sender)) {
				conflict(reg, keySenderLocalpart, "%s is in an exclusive user namespace of %s", sender, other.name())
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	set.all = slices.SortedFunc(slices.Values(all), func(a, b *Registration) int { return cmp.Compare(a.ID, b.ID) })
	return set, nil
}

// RegisterMautrix registers a built-in bridge's registration, made with mautrix's appservice
// package, as if it had been read from a file named name, so that it is validated like any
// other.
func (r *Registry) RegisterMautrix(name string, reg *mxappservice.Registration) error {
	data, err := reg.YAML()
	if err != nil {
		return err
	}
	parsed, err := ParseRegistration(name, []byte(data))
	if err != nil {
		return err
	}
	return r.Register(parsed)
}
