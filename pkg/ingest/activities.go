package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
)

// actGet answers GET /activities?activityId= with the canonical Activity:
// its definition as merged from the tenant's statements (the store-writer
// merges them; see store's activities.go), or just its id when no
// statement defined it, as xAPI 2.0 asks.
func (s *Server) actGet(c *fiber.Ctx, st DocumentStore) error {
	if err := requireScope(c, auth.ScopeAllRead, auth.ScopeStatementsRead, auth.ScopeProfile); err != nil {
		return err
	}
	if err := onlyParams(c, "activityId"); err != nil {
		return err
	}
	if err := docOnce(c); err != nil {
		return err
	}
	id := c.Query("activityId")
	if id == "" {
		return badRequest("the activityId parameter is required")
	}
	if !docValidIRI(id) {
		return badRequest(fmt.Sprintf("activityId %q is not an IRI", id))
	}
	// Definitions arrive with statements through the topic: wait, like a
	// statement GET, until the store has applied what was acknowledged.
	if _, _, err := s.deps.Watermark.Sync(c.UserContext()); err != nil {
		s.logAt(c, zapcore.WarnLevel, "activity read without a fresh watermark", zap.Error(err))
	}
	act := struct {
		ObjectType string          `json:"objectType"`
		ID         string          `json:"id"`
		Definition json.RawMessage `json:"definition,omitempty"`
	}{ObjectType: "Activity", ID: id}
	a, err := st.GetActivity(c.UserContext(), principal(c).Tenant, id)
	switch {
	case err == nil:
		act.Definition = a.Definition
		c.Set(fiber.HeaderLastModified, a.Updated.UTC().Format(http.TimeFormat))
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return c.JSON(act)
}
