package ingest

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/streamlrs/streamlrs/pkg/xapi"
	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

// alternateHeaders are the form fields that xAPI 1.0.3's alternate request
// syntax treats as headers (Communication 1.3).
var alternateHeaders = map[string]string{
	"authorization":            fiber.HeaderAuthorization,
	"x-experience-api-version": headerVersion,
	"content-type":             fiber.HeaderContentType,
	"content-length":           fiber.HeaderContentLength,
	"if-match":                 fiber.HeaderIfMatch,
	"if-none-match":            fiber.HeaderIfNoneMatch,
}

// fromBrowser reports whether a browser sent the request from a page of
// another origin, or may have (it names an origin).
func fromBrowser(c *fiber.Ctx) bool {
	switch c.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	}
	return c.Get(fiber.HeaderOrigin) != ""
}

// alternateSyntax serves xAPI 1.0.3's alternate request syntax, meant for
// clients that can only send POST (old browsers with cross-origin limits):
// POST ?method=PUT with the headers, parameters and body as form fields. The
// request is rewritten into the one it stands for and routed again. xAPI 2.0
// removed the syntax, so a 2.0 request using it is rejected.
func (s *Server) alternateSyntax(c *fiber.Ctx) error {
	method := c.Query("method")
	if method == "" {
		return c.Next()
	}
	if c.Method() != fiber.MethodPost {
		return xapiservice.BadRequest("the alternate request syntax (method parameter) must be sent as POST")
	}
	if v, err := xapi.ParseVersion(c.Get(headerVersion)); err == nil && v == xapi.V2_0_0 {
		return xapiservice.BadRequest("xAPI 2.0 does not support the alternate request syntax (method parameter)")
	}
	if err := params(c).Only("method"); err != nil {
		return xapiservice.BadRequest("alternate request syntax: every parameter but method goes in the form body")
	}
	method = strings.ToUpper(method)
	switch method {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodPut, fiber.MethodPost, fiber.MethodDelete:
	default:
		return xapiservice.BadRequest("alternate request syntax: unsupported method " + method)
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	if ct != fiber.MIMEApplicationForm {
		return xapiservice.BadRequest("alternate request syntax: the body must be application/x-www-form-urlencoded")
	}
	form, err := url.ParseQuery(string(c.Body()))
	if err != nil {
		return xapiservice.BadRequest("alternate request syntax: malformed form body: " + err.Error())
	}
	req := c.Request()
	// A browser sends a cross-site form POST without a preflight and adds
	// the Basic credentials it remembers for this origin: trusting the
	// Authorization header of a browser's request would let any web page
	// write as the browser's user (CSRF). Browsers mark such requests with
	// Origin (every cross-origin POST) or Sec-Fetch-Site; a page on another
	// origin cannot know the secret to put in the form's Authorization
	// field, which is where the syntax carries its headers. Clients that
	// are not browsers (the ADL suite among them) may keep the header.
	if fromBrowser(c) {
		req.Header.Del(fiber.HeaderAuthorization)
		if !hasField(form, "authorization") {
			c.Set("WWW-Authenticate", `Basic realm="xAPI"`)
			return xapiservice.NewError(fiber.StatusUnauthorized, "alternate request syntax from a browser: the credentials go in the Authorization form field (the browser's Authorization header is ignored)")
		}
	}
	params := url.Values{}
	content := ""
	hasContent := false
	for k, vs := range form {
		if len(vs) == 0 {
			continue
		}
		if h, ok := alternateHeaders[strings.ToLower(k)]; ok {
			req.Header.Set(h, vs[0])
			continue
		}
		if k == "content" {
			content, hasContent = vs[0], true
			continue
		}
		params[k] = vs
	}
	if v, err := xapi.ParseVersion(string(req.Header.Peek(headerVersion))); err == nil && v == xapi.V2_0_0 {
		return xapiservice.BadRequest("xAPI 2.0 does not support the alternate request syntax (method parameter)")
	}
	if (method == fiber.MethodPut || method == fiber.MethodPost) && !hasContent {
		return xapiservice.BadRequest("alternate request syntax: a " + method + " needs its body in the form field content")
	}
	if _, ok := form["Content-Type"]; !ok && hasContent {
		req.Header.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	}
	req.Header.SetMethod(method)
	req.URI().SetQueryString(params.Encode())
	req.SetBodyString(content)
	req.Header.SetContentLength(len(content))
	// Route the rewritten request from the start, like any other.
	s.app.Handler()(c.Context())
	c.Locals(localRerouted, true)
	return nil
}

// hasField reports whether form holds a non-empty field named name, in any case.
func hasField(form url.Values, name string) bool {
	for k, vs := range form {
		if strings.EqualFold(k, name) && len(vs) > 0 && vs[0] != "" {
			return true
		}
	}
	return false
}
