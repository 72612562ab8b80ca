package loadgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/xapi"
)

func newGen(t testing.TB, cfg GenConfig) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGeneratorIsDeterministic(t *testing.T) {
	for _, cfg := range []GenConfig{{Seed: 1}, {Seed: 1, IDs: true, AttachmentEvery: 20}, {Seed: 99, Instances: 2, Learners: 10, Courses: 1, Sessions: 1}} {
		a, b := newGen(t, cfg), newGen(t, cfg)
		for i := range 2000 {
			x, y := a.Next(), b.Next()
			if !bytes.Equal(x.JSON, y.JSON) || x.ID != y.ID || x.Instance != y.Instance {
				t.Fatalf("seed %d, statement %d differs:\n%s\n%s", cfg.Seed, i, x.JSON, y.JSON)
			}
		}
		if x, y := a.NextBatch(10), b.NextBatch(10); !bytes.Equal(x[9].JSON, y[9].JSON) {
			t.Fatalf("seed %d: batches differ", cfg.Seed)
		}
	}
	a, b := newGen(t, GenConfig{Seed: 1}), newGen(t, GenConfig{Seed: 2})
	same := 0
	for range 100 {
		if bytes.Equal(a.Next().JSON, b.Next().JSON) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 1 and 2 gave %d identical statements out of 100", same)
	}
}

// Every generated statement must be accepted by our own validator, for
// both xAPI versions, alone and in batches: a load generator that sends
// invalid statements measures the error path.
func TestGeneratedStatementsAreValid(t *testing.T) {
	for _, v := range []xapi.Version{xapi.V1_0_3, xapi.V2_0_0} {
		for _, ids := range []bool{false, true} {
			g := newGen(t, GenConfig{Seed: 7, IDs: ids, AttachmentEvery: 50, Instances: 3, Learners: 50, Courses: 5})
			assign := xapi.Assign{Stored: time.Now(), NewID: uuid.NewString}
			for i := range 3000 {
				s := g.Next()
				if _, err := xapi.PrepareStatements(s.JSON, v, assign); err != nil {
					t.Fatalf("%s ids=%v statement %d rejected: %v\n%s", v, ids, i, err, s.JSON)
				}
			}
			b, err := buildBody(ModeBatch, g.NextBatch(200))
			if err != nil {
				t.Fatal(err)
			}
			js := b.data
			if strings.HasPrefix(b.contentType, "multipart/") {
				js = firstPart(t, b)
			}
			if p, err := xapi.PrepareStatements(js, v, assign); err != nil || len(p) != 200 {
				t.Fatalf("%s ids=%v batch rejected (%d prepared): %v", v, ids, len(p), err)
			}
		}
	}
}

type genStatement struct {
	ID    string          `json:"id"`
	Actor json.RawMessage `json:"actor"`
	Verb  struct {
		ID string `json:"id"`
	} `json:"verb"`
	Object struct {
		ID string `json:"id"`
	} `json:"object"`
	Result *struct {
		Success  *bool  `json:"success"`
		Duration string `json:"duration"`
		Score    *struct {
			Scaled float64 `json:"scaled"`
		} `json:"score"`
	} `json:"result"`
	Context struct {
		Registration      string                       `json:"registration"`
		Platform          string                       `json:"platform"`
		ContextActivities map[string][]json.RawMessage `json:"contextActivities"`
		Extensions        map[string]string            `json:"extensions"`
	} `json:"context"`
	Timestamp   string `json:"timestamp"`
	Attachments []struct {
		SHA2   string `json:"sha2"`
		Length int    `json:"length"`
	} `json:"attachments"`
}

func TestGeneratedPopulation(t *testing.T) {
	const n = 20000
	g := newGen(t, GenConfig{Seed: 3, AttachmentEvery: 500})
	verbs := map[string]int{}
	ifis := map[string]int{}
	bySession := map[string][]string{}
	attachments := 0
	for range n {
		s := g.Next()
		var st genStatement
		if err := json.Unmarshal(s.JSON, &st); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, s.JSON)
		}
		verb := strings.TrimPrefix(st.Verb.ID, "http://adlnet.gov/expapi/verbs/")
		verbs[verb]++
		var actor map[string]any
		json.Unmarshal(st.Actor, &actor)
		switch {
		case actor["mbox"] != nil:
			ifis["mbox"]++
		case actor["account"] != nil:
			ifis["account"]++
		default:
			t.Fatalf("actor without mbox or account: %s", st.Actor)
		}
		if _, err := uuid.Parse(st.Context.Registration); err != nil {
			t.Fatalf("registration %q: %v", st.Context.Registration, err)
		}
		if len(st.Context.ContextActivities["parent"]) == 0 || len(st.Context.ContextActivities["category"]) == 0 {
			t.Fatalf("context activities missing: %s", s.JSON)
		}
		if verb == "answered" && len(st.Context.ContextActivities["grouping"]) == 0 {
			t.Fatalf("an answer without its course as grouping: %s", s.JSON)
		}
		session := st.Context.Extensions[sessionExt]
		if session == "" {
			t.Fatalf("no session extension: %s", s.JSON)
		}
		bySession[session] = append(bySession[session], verb)
		switch verb {
		case "answered", "passed", "failed", "completed", "terminated":
			if st.Result == nil || st.Result.Duration == "" {
				t.Fatalf("%s without result duration: %s", verb, s.JSON)
			}
		case "launched", "initialized", "attempted":
			if st.Result != nil {
				t.Fatalf("%s with a result: %s", verb, s.JSON)
			}
		}
		if (verb == "passed" || verb == "failed") && (st.Result.Score == nil || *st.Result.Success != (verb == "passed")) {
			t.Fatalf("%s with wrong score or success: %s", verb, s.JSON)
		}
		if s.Attachment != nil {
			attachments++
			sum := sha256.Sum256(s.Attachment.Content)
			if len(st.Attachments) != 1 || st.Attachments[0].SHA2 != hex.EncodeToString(sum[:]) || st.Attachments[0].Length != len(s.Attachment.Content) || verb != "completed" {
				t.Fatalf("attachment does not match its declaration: %s", s.JSON)
			}
		} else if len(st.Attachments) > 0 {
			t.Fatalf("declared attachment without content: %s", s.JSON)
		}
	}
	for _, v := range verbNames {
		if verbs[v] == 0 {
			t.Errorf("verb %s never generated (%v)", v, verbs)
		}
	}
	if verbs["answered"] < verbs["launched"] {
		t.Errorf("fewer answers than launches: %v", verbs)
	}
	if ifis["mbox"] < n/4 || ifis["account"] < n/4 {
		t.Errorf("IFI kinds unbalanced: %v", ifis)
	}
	if attachments < n/500/20 || attachments > n/500+1 {
		t.Errorf("%d attachments in %d statements with one per 500 asked (on completions only)", attachments, n)
	}
	// Each session's statements follow an attempt: launched first, then
	// initialized and attempted, terminated last.
	complete := 0
	for id, vs := range bySession {
		if vs[0] != "launched" {
			t.Fatalf("session %s began with %s", id, vs[0])
		}
		if len(vs) >= 3 && (vs[1] != "initialized" || vs[2] != "attempted") {
			t.Fatalf("session %s: %v", id, vs)
		}
		if vs[len(vs)-1] == "terminated" {
			complete++
			for _, v := range vs[1 : len(vs)-1] {
				if v == "launched" || v == "terminated" {
					t.Fatalf("session %s repeats %s: %v", id, v, vs)
				}
			}
		}
	}
	if complete == 0 {
		t.Error("no session ran to terminated")
	}
}

func TestNextBatchIsOneInstance(t *testing.T) {
	g := newGen(t, GenConfig{Seed: 11, Instances: 5})
	seen := map[int]bool{}
	for range 50 {
		b := g.NextBatch(20)
		for _, s := range b {
			if s.Instance != b[0].Instance {
				t.Fatalf("batch mixes instances %d and %d", b[0].Instance, s.Instance)
			}
		}
		seen[b[0].Instance] = true
	}
	if len(seen) < 3 {
		t.Errorf("batches came from only %d of 5 instances", len(seen))
	}
}

func TestRecentSessionsHaveData(t *testing.T) {
	g := newGen(t, GenConfig{Seed: 2, Instances: 2})
	for range 500 {
		g.Next()
	}
	r := newRand(1)
	for range 20 {
		s := g.Recent(r)
		var ifi map[string]any
		if err := json.Unmarshal(s.Agent, &ifi); err != nil || len(ifi) != 1 {
			t.Fatalf("agent %s: want one IFI (%v)", s.Agent, err)
		}
		if !strings.HasPrefix(s.ModuleID, s.CourseID+"/modules/") || s.Instance < 0 || s.Instance > 1 {
			t.Fatalf("session ref %+v", s)
		}
		if _, err := uuid.Parse(s.Registration); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGenConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  GenConfig
		ok   bool
	}{
		{"defaults", GenConfig{}, true},
		{"negative learners", GenConfig{Learners: -1}, false},
		{"negative attachments", GenConfig{AttachmentEvery: -1}, false},
		{"huge", GenConfig{Instances: 20000}, false},
	} {
		_, err := NewGenerator(tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestFormatUUID(t *testing.T) {
	for _, v := range [][2]uint64{{0, 0}, {^uint64(0), ^uint64(0)}, {0x0123456789abcdef, 0xfedcba9876543210}} {
		s := formatUUID(v[0], v[1])
		u, err := uuid.Parse(s)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || s != strings.ToLower(s) {
			t.Errorf("formatUUID(%x, %x) = %s: %v, version %d, variant %v", v[0], v[1], s, err, u.Version(), u.Variant())
		}
	}
}

func TestAppendDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "PT0S"},
		{1500 * time.Millisecond, "PT1.5S"},
		{90 * time.Second, "PT1M30S"},
		{time.Hour, "PT1H"},
		{time.Hour + 2*time.Minute + 3*time.Second + 450*time.Millisecond, "PT1H2M3.45S"},
		{26 * time.Hour, "PT26H"},
	} {
		if got := string(appendDuration(nil, tc.d)); got != tc.want {
			t.Errorf("%v: got %s, want %s", tc.d, got, tc.want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `quo"te`, `back\slash`, "tab\tnew\nline\x01", "Zoë O'Brien", "</script>"} {
		var back string
		if err := json.Unmarshal(appendString(nil, s), &back); err != nil || back != s {
			t.Errorf("%q: got %q (%v)", s, back, err)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	g := newGen(b, GenConfig{Seed: 1})
	var n int
	for b.Loop() {
		n += len(g.Next().JSON)
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/statement")
}
