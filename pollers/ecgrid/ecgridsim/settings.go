package ecgridsim

import (
	"strconv"

	"github.com/auditstream/auditstream/internal/config"
)

// Settings is the YAML block of the ECGridOS simulator (`simulators[].settings`).
type Settings struct {
	Users              []UserSettings  `yaml:"users"`
	APIKey             config.Secret   `yaml:"api_key"`
	APIKeyUser         int             `yaml:"api_key_user"`
	Namespace          string          `yaml:"namespace"`
	Seed               uint64          `yaml:"seed"`
	Rate               float64         `yaml:"rate"`
	MaxEvents          int             `yaml:"max_events"`
	Backfill           int             `yaml:"backfill"`
	IdleTimeout        config.Duration `yaml:"idle_timeout"`
	MaxSessionsPerUser int             `yaml:"max_sessions_per_user"`
	Faults             FaultSettings   `yaml:"faults"`
}

// UserSettings is one simulated account.
type UserSettings struct {
	ID        int           `yaml:"id"`
	Login     string        `yaml:"login"`
	Password  config.Secret `yaml:"password"`
	NetworkID int           `yaml:"network_id"`
	MailboxID int           `yaml:"mailbox_id"`
}

// FaultSettings are the per-request fault probabilities.
type FaultSettings struct {
	ServerFault    float64         `yaml:"server_fault"`
	Malformed      float64         `yaml:"malformed"`
	WrongNamespace float64         `yaml:"wrong_namespace"`
	Slow           float64         `yaml:"slow"`
	EmptyError     float64         `yaml:"empty_500"`
	ExpireSession  float64         `yaml:"expire_session"`
	SlowDelay      config.Duration `yaml:"slow_delay"`
}

// Validate lists problems at path.
func (s *Settings) Validate(path string, p *config.Problems) {
	if len(s.Users) == 0 {
		p.Add(path+".users", "list at least one user")
	}
	ids := map[int]bool{}
	canLogin := s.APIKey != ""
	for i, u := range s.Users {
		up := path + ".users[" + strconv.Itoa(i) + "]"
		if u.ID <= 0 {
			p.Add(up+".id", "must be a positive user id")
		}
		if ids[u.ID] {
			p.Add(up+".id", "user %d is listed twice", u.ID)
		}
		ids[u.ID] = true
		if u.Login != "" && u.Password == "" {
			p.Add(up+".password", "is required with a login")
		}
		canLogin = canLogin || u.Login != ""
	}
	if !canLogin {
		p.Add(path, "give a user a login and password, or set api_key")
	}
	if s.APIKey != "" && !ids[s.APIKeyUser] {
		p.Add(path+".api_key_user", "must be one of the users")
	}
	if s.Rate < 0 || s.Rate > 100000 {
		p.Add(path+".rate", "must be between 0 and 100000 sessions/s")
	}
	if s.IdleTimeout < 0 {
		p.Add(path+".idle_timeout", "must not be negative")
	}
	f := s.Faults
	for _, v := range []float64{f.ServerFault, f.Malformed, f.WrongNamespace, f.Slow, f.EmptyError, f.ExpireSession} {
		if v < 0 {
			p.Add(path+".faults", "probabilities must be >= 0")
			break
		}
	}
	if f.ServerFault+f.Malformed+f.WrongNamespace+f.Slow+f.EmptyError+f.ExpireSession > 1 {
		p.Add(path+".faults", "probabilities must sum to at most 1")
	}
}

// Config converts the settings.
func (s *Settings) Config() Config {
	c := Config{APIKey: s.APIKey.Reveal(), APIKeyUser: s.APIKeyUser, Namespace: s.Namespace, Seed: s.Seed, Rate: s.Rate,
		MaxEvents: s.MaxEvents, Backfill: s.Backfill, IdleTimeout: s.IdleTimeout.D(), MaxSessionsPerUser: s.MaxSessionsPerUser,
		Faults: Faults{ServerFault: s.Faults.ServerFault, Malformed: s.Faults.Malformed, WrongNamespace: s.Faults.WrongNamespace,
			Slow: s.Faults.Slow, EmptyError: s.Faults.EmptyError, ExpireSession: s.Faults.ExpireSession, SlowDelay: s.Faults.SlowDelay.D()}}
	for _, u := range s.Users {
		c.Users = append(c.Users, User{ID: u.ID, Login: u.Login, Password: u.Password.Reveal(), NetworkID: u.NetworkID, MailboxID: u.MailboxID})
	}
	return c
}
