package ingest

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

const headerVersion = "X-Experience-API-Version"

// supportedVersions is what /about reports.
var supportedVersions = []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"}

// requireVersion serves each request with the xAPI version the client asked
// for and says so in the response; a missing or unknown version is a 400.
func (s *Server) requireVersion(c *fiber.Ctx) error {
	v, err := xapi.ParseVersion(c.Get(headerVersion))
	if err != nil {
		c.Set(headerVersion, string(xapi.V2_0_0))
		return badRequest("X-Experience-API-Version header: " + err.Error())
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
		return newError(fiber.StatusUnauthorized, "missing or malformed HTTP Basic credentials")
	}
	p, err := s.deps.Auth.Authenticate(c.UserContext(), key, secret)
	if errors.Is(err, auth.ErrUnauthorized) {
		return newError(fiber.StatusUnauthorized, "unknown key or wrong secret")
	}
	if err != nil {
		return err
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}

func principal(c *fiber.Ctx) auth.Principal {
	p, _ := c.Locals(localPrincipal).(auth.Principal)
	return p
}

func requireScope(c *fiber.Ctx, scopes ...string) error {
	p := principal(c)
	for _, sc := range scopes {
		if p.Allows(sc) {
			return nil
		}
	}
	return newError(fiber.StatusForbidden, "credential "+p.Key+" lacks scope "+strings.Join(scopes, " or "))
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
		c.Set(headerVersion, string(xapi.V2_0_0))
	}
	return c.JSON(fiber.Map{"version": supportedVersions, "extensions": fiber.Map{}})
}
