package ingest

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/textproto"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

const headerConsistentThrough = "X-Experience-API-Consistent-Through"

// timeFormat is how the API writes instants: RFC 3339, UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func (s *Server) postStatements(c *fiber.Ctx) error {
	if err := s.statements.MayWrite(principal(c)); err != nil {
		return err
	}
	ids, err := s.accept(c, "")
	if err != nil {
		return err
	}
	return c.JSON(ids)
}

func (s *Server) putStatement(c *fiber.Ctx) error {
	if err := s.statements.MayWrite(principal(c)); err != nil {
		return err
	}
	id := c.Query("statementId")
	if id == "" {
		return xapiservice.BadRequest("PUT /statements needs the statementId parameter")
	}
	if err := params(c).Only("statementId"); err != nil {
		return err
	}
	if _, err := s.accept(c, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// accept hands the request's statements and attachments to the statement
// service; the scope was checked first, before the body is read.
func (s *Server) accept(c *fiber.Ctx, statementID string) ([]string, error) {
	body, parts, err := xapiservice.ReadStatementBody(c.Get(fiber.HeaderContentType), c.Body())
	if err != nil {
		return nil, err
	}
	return s.statements.Accept(c.UserContext(), xapiservice.StatementWrite{
		Principal:   principal(c),
		Version:     version(c),
		StatementID: statementID,
		Statements:  body,
		Parts:       parts,
		Source:      c.Get(xapiservice.HeaderSource),
		Log:         func(lvl zapcore.Level, msg string, fields ...zap.Field) { s.logAt(c, lvl, msg, fields...) },
	})
}

func (s *Server) getStatements(c *fiber.Ctx) error {
	p := principal(c)
	if err := s.statements.MayRead(p); err != nil {
		return err
	}
	// Consistent-Through goes on every statement GET, errors included: the
	// wait happens before anything else.
	through, caughtUp, err := s.deps.Watermark.Sync(c.UserContext())
	if err != nil {
		s.logAt(c, zapcore.WarnLevel, "read without a fresh watermark", zap.Error(err))
	}
	if !caughtUp && err == nil {
		s.logAt(c, zapcore.DebugLevel, "store behind the topic after the read wait")
	}
	c.Set(headerConsistentThrough, through.UTC().Format(timeFormat))
	a, err := s.statements.Read(c.UserContext(), xapiservice.StatementRead{
		Principal: p, Params: params(c), AcceptLanguage: c.Get(fiber.HeaderAcceptLanguage),
	})
	if err != nil {
		return err
	}
	if !a.LastModified.IsZero() {
		c.Set(fiber.HeaderLastModified, a.LastModified.UTC().Format(http.TimeFormat))
	}
	if a.Multipart {
		return multipartResponse(c, a.JSON, a.Attachments)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(a.JSON)
}

// multipartResponse writes body and its statements' attachments as xAPI's
// multipart/mixed statement response.
func multipartResponse(c *fiber.Ctx, body []byte, atts []store.Attachment) error {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	pw, err := w.CreatePart(textproto.MIMEHeader{fiber.HeaderContentType: {fiber.MIMEApplicationJSON}})
	if err != nil {
		return err
	}
	pw.Write(body)
	for _, a := range atts {
		pw, err := w.CreatePart(textproto.MIMEHeader{
			fiber.HeaderContentType:            {a.ContentType},
			xapiservice.HeaderTransferEncoding: {"binary"},
			xapiservice.HeaderHash:             {a.SHA2},
		})
		if err != nil {
			return err
		}
		pw.Write(a.Content)
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, xapiservice.MIMEMultipartMixed+"; boundary="+w.Boundary())
	return c.Send(buf.Bytes())
}

// params are the request's query parameters in the order sent.
func params(c *fiber.Ctx) xapiservice.Params {
	var ps xapiservice.Params
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		ps = append(ps, xapiservice.Param{Name: string(k), Value: string(v)})
	})
	return ps
}
