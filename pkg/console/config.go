package console

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Config is the console's settings. The console exists only where the admin
// API does (LRS_ADMIN_TOKEN set): the operator logs in with that token.
type Config struct {
	// Enabled serves the console under /console beside the admin API.
	Enabled bool
	// InsecureCookie drops the Secure attribute of the session cookie, for
	// a console reached over plain HTTP from another machine (browsers keep
	// Secure cookies from http://localhost and 127.0.0.1 anyway).
	InsecureCookie bool
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
}

// RegisterFlags adds the settings to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Enabled, "console", true, "serve the operator's web console under /console (needs admin-token, which is its login)")
	fs.BoolVar(&c.InsecureCookie, "console-insecure-cookie", false, "send the console's session cookie without Secure, for a console reached over plain HTTP from another machine")
	fs.DurationVar(&c.SessionTTL, "console-session-ttl", 12*time.Hour, "how long a console login lasts")
}

// Validate reports settings that cannot work, by their flag names.
func (c Config) Validate() error {
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		return fmt.Errorf("console-session-ttl %v: want 1m to 720h", c.SessionTTL)
	}
	return nil
}

var errNoToken = errors.New("the console needs an admin token: it is the console's login")
