package forwarding

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// SignatureHeader carries a webhook body's signature:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>".
const SignatureHeader = "X-LRS-Signature"

// RuleHeader names the rule, "<tenant>/<name>", on every delivery.
const RuleHeader = "X-LRS-Rule"

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookBody is the JSON a webhook receives.
type WebhookBody struct {
	Tenant     string            `json:"tenant"`
	Rule       string            `json:"rule"`
	Statements []json.RawMessage `json:"statements"`
}

// Answer is a target's answer that was not a success.
type Answer struct {
	Status int
	// Body is the start of the answer's body.
	Body string
	// RetryAfter is what the answer's Retry-After asked for (0: nothing).
	RetryAfter time.Duration
}

func (a *Answer) Error() string {
	if a.Body == "" {
		return fmt.Sprintf("target answered %d", a.Status)
	}
	return fmt.Sprintf("target answered %d: %s", a.Status, a.Body)
}

// permanent reports an answer that sending again will not change: a 4xx
// other than 408 and 429.
func (a *Answer) permanent() bool {
	return a.Status >= 400 && a.Status < 500 && a.Status != http.StatusTooManyRequests && a.Status != http.StatusRequestTimeout
}

// splittable reports an answer that may be about one statement of the
// batch only, so that halves of it may be taken: a bad statement (400), a
// batch too large (413), or one statement whose id the target holds with
// other content (409: an xAPI LRS refuses the whole batch for it).
func (a *Answer) splittable() bool {
	return a.Status == http.StatusBadRequest || a.Status == http.StatusRequestEntityTooLarge || a.Status == http.StatusConflict
}

// sender posts one batch of statements to a rule's target: nil when the
// target took them, an *Answer when it answered otherwise, another error
// when it could not be reached.
type sender struct {
	rule   Rule
	client *http.Client
	now    func() time.Time
}

func (s sender) send(ctx context.Context, stmts []json.RawMessage) error {
	var (
		u    string
		body []byte
		err  error
	)
	t := s.rule.Target
	switch t.Type {
	case TargetXAPI:
		u = t.URL + "/statements"
		body, err = json.Marshal(stmts)
	default:
		u = t.URL
		body, err = json.Marshal(WebhookBody{Tenant: s.rule.Tenant, Rule: s.rule.Name, Statements: stmts})
	}
	if err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(RuleHeader, s.rule.id())
	if t.Type == TargetXAPI {
		req.SetBasicAuth(t.Key, t.Secret)
		req.Header.Set("X-Experience-API-Version", t.Version)
	} else {
		req.Header.Set(SignatureHeader, Sign(t.Secret, s.now(), body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", u, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so that the connection is reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &Answer{Status: resp.StatusCode, Body: string(bytes.TrimSpace(answer)), RetryAfter: retryAfter(resp.Header.Get("Retry-After"), s.now())}
}

// retryAfter reads a Retry-After value: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
