package ingest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/xapi"
	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

const headerVersion = "X-Experience-API-Version"

// supportedVersions is what /about reports.
var supportedVersions = []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"}

// requireVersion serves each request with the xAPI version the client asked
// for and says so in the response; a missing or unknown version is a 400.
func (s *Server) requireVersion(c *fiber.Ctx) error {
	v, err := xapi.ParseVersion(c.Get(headerVersion))
	if err != nil {
		c.Set(headerVersion, string(s.cfg.DefaultVersion))
		return xapiservice.BadRequest("X-Experience-API-Version header: " + err.Error())
	}
	c.Locals(localVersion, v)
	c.Set(headerVersion, string(v))
	return c.Next()
}

func version(c *fiber.Ctx) xapi.Version {
	v, _ := c.Locals(localVersion).(xapi.Version)
	return v
}

// authenticate checks HTTP Basic credentials.
func (s *Server) authenticate(c *fiber.Ctx) error {
	key, secret, ok := basicAuth(c.Get(fiber.HeaderAuthorization))
	if !ok {
		return xapiservice.NewError(fiber.StatusUnauthorized, "missing or malformed HTTP Basic credentials")
	}
	p, err := s.deps.Auth.Authenticate(c.UserContext(), key, secret)
	var (
		limited   *auth.RateLimitedError
		throttled *auth.ThrottledError
	)
	switch {
	case errors.Is(err, auth.ErrUnauthorized):
		// The same answer for an unknown key, a wrong secret and a disabled
		// credential: the caller learns nothing about which keys exist.
		return xapiservice.NewError(fiber.StatusUnauthorized, "unknown key or wrong secret")
	case errors.As(err, &throttled):
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(throttled.RetryAfterSeconds()))
		return xapiservice.NewError(fiber.StatusTooManyRequests, "too many wrong secrets for this key lately; retry later")
	case errors.As(err, &limited):
		c.Locals(localPrincipal, p) // a valid credential: its 429 is its own
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(limited.RetryAfterSeconds()))
		return xapiservice.NewError(fiber.StatusTooManyRequests,
			fmt.Sprintf("credential %s is over its limit of %d requests per second", p.Key, p.RateLimit))
	case errors.Is(err, auth.ErrUnavailable):
		c.Set(fiber.HeaderRetryAfter, "5")
		return xapiservice.NewError(fiber.StatusServiceUnavailable, "credentials cannot be checked now (the store does not answer); retry later")
	case err != nil:
		return err
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}

func principal(c *fiber.Ctx) auth.Principal {
	p, _ := c.Locals(localPrincipal).(auth.Principal)
	return p
}

func basicAuth(h string) (key, secret string, ok bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	key, secret, ok = strings.Cut(string(raw), ":")
	return key, secret, ok && key != ""
}

// about answers without authentication (xAPI Communication 2.8).
func (s *Server) about(c *fiber.Ctx) error {
	if v, err := xapi.ParseVersion(c.Get(headerVersion)); err == nil {
		c.Set(headerVersion, string(v))
	} else {
		c.Set(headerVersion, string(s.cfg.DefaultVersion))
	}
	return c.JSON(fiber.Map{"version": supportedVersions, "extensions": fiber.Map{}})
}
