package store

import (
	"errors"
	"fmt"
	"time"
)

// prepare checks a credential before it is stored and fills its times.
func (c *Credential) prepare() error {
	if c.Key == "" || c.SecretHash == "" || c.Tenant == "" {
		return errors.New("put credential: key, secret hash and tenant are required")
	}
	now := time.Now().UTC()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = now
	}
	if c.RateLimit < 0 {
		return fmt.Errorf("put credential %s: rate limit %d: want >= 0", c.Key, c.RateLimit)
	}
	if c.PreviousSecretHash == "" {
		c.PreviousUntil = time.Time{}
	}
	if c.Scopes == nil {
		c.Scopes = []string{}
	}
	return nil
}
