package service

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

const consoleToken = "console-admin-token-0123456789"

// TestConsoleInBrowser drives the console in headless Chromium against the
// whole LRS on the real Kafka: log in, create a credential, post a
// statement with it, find it, void it, and see a dead letter. Every page it
// visits is saved as a screenshot in the test's artifact folder (kept with
// go test -artifacts).
func TestConsoleInBrowser(t *testing.T) {
	chromium := testenv.Chromium(t)
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.UniqueName("console")
	addr, _ := startLRS(t, t.TempDir(), "-external-kafka", "-kafka-brokers", strings.Join(brokers, ","),
		"-kafka-topic", topic, "-store-group", topic+"-store", "-analytics-group", topic+"-analytics",
		"-admin-token", consoleToken)
	base := "http://" + addr + "/console"
	shots := t.ArtifactDir()
	t.Logf("screenshots in %s", shots)

	alloc, cancel := chromedp.NewExecAllocator(testenv.Context(t, 3*time.Minute), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		run("wait for "+sel, chromedp.WaitVisible(css(sel)))
		s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}

	// An operator who is not logged in lands on the login page; a wrong
	// token is refused, the admin token lets them in.
	run("open console", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css("#token")))
	shot("login")
	run("wrong token", chromedp.SendKeys(css("#token"), "not-the-admin-token"), chromedp.Submit(css("#token")), chromedp.WaitVisible(css(".error")))
	run("log in", chromedp.SendKeys(css("#token"), consoleToken), chromedp.Submit(css("#token")), chromedp.WaitVisible(css(`a[href="/console/t/default"]`)))
	shot("tenants")

	// The session cookie is HttpOnly, SameSite=Strict and Secure.
	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	cookies := got.Cookies
	if len(cookies) != 1 || !cookies[0].HTTPOnly || !cookies[0].Secure || cookies[0].SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookies %+v: want one, HttpOnly, Secure, SameSite=Strict", cookies)
	}
	// A change without the form's CSRF token is refused, session or not.
	form := url.Values{"id": {"forged"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/tenants", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookies[0].Name, Value: cookies[0].Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST /console/tenants without a CSRF token: %d, want 403", resp.StatusCode)
	}

	// Create a credential; its secret is shown once, with copy buttons.
	run("tenant page", chromedp.Click(css(`a[href="/console/t/default"]`)), chromedp.WaitVisible(css("#cred-label")))
	run("create credential", chromedp.SendKeys(css("#cred-label"), "Moodle EU-West"), chromedp.Submit(css("#cred-label")), chromedp.WaitVisible(css("#cred-secret")))
	key, secret := text("#cred-key"), text("#cred-secret")
	if len(key) < 8 || len(secret) < 16 {
		t.Fatalf("credential page shows key %q secret %q", key, secret)
	}
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: perm}, Setting: browser.PermissionSettingGranted, Origin: "http://" + addr}); err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}
	run("copy secret", chromedp.Click(css(`button[data-copy="cred-secret"]`)), chromedp.WaitVisible(`//button[text()="Copied"]`))
	copied, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("read the clipboard: %v", err)
	}
	if copied != secret {
		t.Fatalf("clipboard holds %q, want the secret %q", copied, secret)
	}
	shot("credential-secret")

	// The LMS posts a statement with it.
	lms := newClient(t, addr)
	lms.key, lms.secret = key, secret
	r := lms.post(`{"actor":{"name":"Ada Lovelace","mbox":"mailto:ada@example.com"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},` +
		`"object":{"id":"http://example.com/courses/analytical-engines","definition":{"name":{"en-US":"Analytical Engines 101"}}},` +
		`"result":{"score":{"scaled":0.92},"success":true,"completion":true,"duration":"PT42M"},` +
		`"context":{"registration":"6c3b1d5e-8f7a-4b2c-9d1e-0a2b3c4d5e6f","platform":"Moodle 4.5"}}`)
	if r.status != http.StatusOK {
		t.Fatalf("post statement: %d %s", r.status, r.body)
	}
	var ids []string
	r.json(t, &ids)
	id := ids[0]

	// Find it in the browser by its verb and the agent's e-mail address.
	run("statements", chromedp.Navigate(base+"/t/default/statements"), chromedp.WaitVisible(css("#f-agent")),
		chromedp.SendKeys(css("#f-agent"), "ada@example.com"), chromedp.SendKeys(css("#f-verb"), "http://adlnet.gov/expapi/verbs/completed"),
		chromedp.Submit(css("#f-agent")), chromedp.WaitVisible(css(`a[href="/console/t/default/statements/`+id+`"]`)))
	shot("statements")
	run("statement", chromedp.Click(css(`a[href="/console/t/default/statements/`+id+`"]`)), chromedp.WaitVisible(css("pre.raw")))
	if got := text("dl.statement"); !strings.Contains(got, "Ada Lovelace") || !strings.Contains(got, "Analytical Engines 101") || !strings.Contains(got, "score 92%, passed, completed, PT42M") || !strings.Contains(got, "Moodle 4.5") {
		t.Fatalf("statement view reads %q", got)
	}
	if raw := text("pre.raw"); !strings.Contains(raw, `"id": "`+id+`"`) {
		t.Fatalf("raw JSON %q lacks the id", raw)
	}
	shot("statement")
	phone(t, ctx, "statement-phone", shots)

	// The operator voids it; the console marks it voided.
	run("void", chromedp.Click(css("#void")), chromedp.WaitVisible(css(".notice")))
	if n := text(".notice"); !strings.Contains(n, "Voiding statement") {
		t.Fatalf("after voiding the page says %q", n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		run("voided statement", chromedp.Navigate(base+"/t/default/statements?id="+id), chromedp.WaitVisible(css("pre.raw")))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#voided").length`))
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the statement is not marked voided 30s after its voiding statement was acknowledged")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#void").length`)); err != nil || n != 0 {
		t.Fatalf("a voided statement still offers voiding (%d, %v)", n, err)
	}
	shot("statement-voided")
	run("list after voiding", chromedp.Navigate(base+"/t/default/statements"), chromedp.WaitVisible(css("table")))
	if list := text("table tbody"); !strings.Contains(list, "voiding") || strings.Contains(list, "Analytical Engines 101") {
		t.Fatalf("list after voiding reads %q: want the voiding statement and not the voided one", list)
	}

	// The per-LMS view shows the credential's last statement and the
	// error answers it got.
	if r := lms.post(`{"actor":{"mbox":"mailto:ada@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted"},"object":{"id":"http://example.com/ae102"}}`); r.status != http.StatusOK {
		t.Fatalf("second statement: %d %s", r.status, r.body)
	}
	if r := lms.post(`{"actor":{"mbox":"mailto:ada@example.com"}}`); r.status != http.StatusBadRequest {
		t.Fatalf("bad statement: %d %s", r.status, r.body)
	}
	// The view reads the store, which applies the statement a moment later.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		run("lms", chromedp.Navigate(base+"/t/default/lms"), chromedp.WaitVisible(css("table")))
		got := text("table tbody")
		if strings.Contains(got, "Moodle EU-West") && strings.Contains(got, "just now") && strings.Contains(got, "400 ×1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LMS view reads %q", got)
		}
	}
	shot("lms")

	// A record no writer can read lands in the dead-letter topic; the
	// health page shows it with its reason.
	kcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	if err := kcl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("not a batch")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		run("health", chromedp.Navigate(base+"/health"), chromedp.WaitVisible(css("#dead-letters")))
		if strings.Contains(text("#dead-letters"), "decode batch") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter on the health page 60s after the bad record: %q", text("#dead-letters"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := text("#health-panel"); !strings.Contains(got, topic+"-store") || !strings.Contains(got, "status 200") {
		t.Fatalf("health page lacks the store-writer's lag or the answers by status: %q", got)
	}
	shot("health")

	run("log out", chromedp.Click(css("button.link")), chromedp.WaitVisible(css("#token")))
	run("after logout", chromedp.Navigate(base+"/health"), chromedp.WaitVisible(css("#token")))
}

// phone saves the current page as a phone shows it.
func phone(t *testing.T, ctx context.Context, name, dir string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatalf("phone viewport: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900))
	}
	if err != nil {
		t.Fatalf("phone screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// css marks a selector as CSS (a plain string is a DOM search).
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }
