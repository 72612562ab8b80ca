package ingest

import (
	"context"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

// The document resources: State (/activities/state), Activity Profile
// (/activities/profile) and Agent Profile (/agents/profile), served by
// xapiservice.Documents. They are synchronous: the service reads and
// writes them in the store directly, so a read right after a write sees
// it.

// docHandler serves one document resource.
type docHandler struct {
	docs *xapiservice.Documents
	res  xapiservice.Resource
}

// documentRoutes registers the document resources, /activities and
// /agents.
func (s *Server) documentRoutes(r fiber.Router) {
	st, ok := s.deps.Store.(xapiservice.DocumentStore)
	if !ok {
		s.log.Warn("the store keeps no documents: the State, Profile, Activities and Agents resources answer 404")
		return
	}
	docs := xapiservice.NewDocuments(st, s.cfg.BodyLimit)
	for path, res := range map[string]xapiservice.Resource{
		"/activities/state":   xapiservice.State,
		"/activities/profile": xapiservice.ActivityProfile,
		"/agents/profile":     xapiservice.AgentProfile,
	} {
		h := docHandler{docs: docs, res: res}
		r.Get(path, h.get) // Fiber also routes HEAD here
		r.Put(path, h.put)
		r.Post(path, h.post)
		r.Delete(path, h.delete)
	}
	r.Get("/activities", func(c *fiber.Ctx) error { return s.activity(c, docs) })
	r.Get("/agents", agents)
}

// docRequest is the service's view of a document request.
func docRequest(c *fiber.Ctx) xapiservice.DocumentRequest {
	return xapiservice.DocumentRequest{
		Principal:   principal(c),
		Version:     version(c),
		Params:      params(c),
		IfMatch:     c.Get(fiber.HeaderIfMatch),
		IfNoneMatch: c.Get(fiber.HeaderIfNoneMatch),
		ContentType: c.Get(fiber.HeaderContentType),
		Body:        c.Body(),
	}
}

func (h docHandler) get(c *fiber.Ctx) error {
	a, err := h.docs.Get(c.UserContext(), h.res, docRequest(c))
	if err != nil {
		return err
	}
	if a.Document == nil {
		return c.JSON(a.IDs)
	}
	d := a.Document
	c.Set(fiber.HeaderContentType, d.ContentType)
	c.Set(fiber.HeaderETag, `"`+d.ETag+`"`)
	c.Set(fiber.HeaderLastModified, d.Updated.UTC().Format(http.TimeFormat))
	return c.Send(d.Content)
}

func (h docHandler) put(c *fiber.Ctx) error {
	etag, err := h.docs.Put(c.UserContext(), h.res, docRequest(c))
	return wrote(c, etag, err)
}

func (h docHandler) post(c *fiber.Ctx) error {
	etag, err := h.docs.Post(c.UserContext(), h.res, docRequest(c))
	return wrote(c, etag, err)
}

func (h docHandler) delete(c *fiber.Ctx) error {
	if err := h.docs.Delete(c.UserContext(), h.res, docRequest(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// wrote answers a document write: 204 with the new ETag.
func wrote(c *fiber.Ctx, etag string, err error) error {
	if err != nil {
		return err
	}
	if etag != "" {
		c.Set(fiber.HeaderETag, `"`+etag+`"`)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// activity answers GET /activities.
func (s *Server) activity(c *fiber.Ctx, docs *xapiservice.Documents) error {
	act, err := docs.Activity(c.UserContext(), principal(c), params(c), func(ctx context.Context) {
		if _, _, err := s.deps.Watermark.Sync(ctx); err != nil {
			s.logAt(c, zapcore.WarnLevel, "activity read without a fresh watermark", zap.Error(err))
		}
	})
	if err != nil {
		return err
	}
	if !act.Updated.IsZero() {
		c.Set(fiber.HeaderLastModified, act.Updated.UTC().Format(http.TimeFormat))
	}
	return c.JSON(act)
}

// agents answers GET /agents.
func agents(c *fiber.Ctx) error {
	p, err := xapiservice.Person(principal(c), params(c))
	if err != nil {
		return err
	}
	return c.JSON(p)
}
