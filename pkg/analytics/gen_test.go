package analytics

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
)

// genConfig shapes a synthetic but realistic stream of LMS statements for
// benchmarks and the replay test.
type genConfig struct {
	seed       uint64
	tenants    int
	learners   int // per tenant
	activities int // per tenant
	start      time.Time
	days       int
}

var genVerbs = []struct {
	id     string
	weight int
}{
	{"http://adlnet.gov/expapi/verbs/experienced", 40},
	{"http://adlnet.gov/expapi/verbs/answered", 20},
	{"http://adlnet.gov/expapi/verbs/attempted", 15},
	{"http://adlnet.gov/expapi/verbs/completed", 10},
	{"http://adlnet.gov/expapi/verbs/passed", 6},
	{"http://adlnet.gov/expapi/verbs/progressed", 5},
	{"http://adlnet.gov/expapi/verbs/failed", 4},
}

type generator struct {
	cfg genConfig
	rnd *rand.Rand
	sb  strings.Builder
}

func newGenerator(cfg genConfig) *generator {
	return &generator{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))}
}

func (g *generator) uuid() uuid.UUID {
	var u uuid.UUID
	hi, lo := g.rnd.Uint64(), g.rnd.Uint64()
	for i := range 8 {
		u[i] = byte(hi >> (8 * i))
		u[8+i] = byte(lo >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// next returns one statement as ingest would publish it.
func (g *generator) next() Statement {
	r := g.rnd
	tenant := r.IntN(g.cfg.tenants)
	learner := r.IntN(g.cfg.learners)
	activity := r.IntN(g.cfg.activities)
	w := r.IntN(100)
	verb := genVerbs[0].id
	for _, v := range genVerbs {
		if w < v.weight {
			verb = v.id
			break
		}
		w -= v.weight
	}
	ts := g.cfg.start.Add(time.Duration(r.Int64N(int64(g.cfg.days) * int64(24*time.Hour))))
	stored := ts.Add(time.Duration(r.IntN(5000)) * time.Millisecond)

	sb := &g.sb
	sb.Reset()
	fmt.Fprintf(sb, `{"id":"%s","actor":{"objectType":"Agent","name":"Learner %d","mbox":"mailto:learner%d@t%d.example"},`, g.uuid(), learner, learner, tenant)
	verbName := verb[strings.LastIndexByte(verb, '/')+1:]
	fmt.Fprintf(sb, `"verb":{"id":"%s","display":{"en-US":"%s"}},`, verb, verbName)
	fmt.Fprintf(sb, `"object":{"objectType":"Activity","id":"https://lms.example/t%d/activity/%d","definition":{"type":"http://adlnet.gov/expapi/activities/module","name":{"en-US":"Module %d"}}},`, tenant, activity, activity)
	switch verbName {
	case "answered":
		fmt.Fprintf(sb, `"result":{"success":%t,"response":"choice-%d"},`, r.IntN(3) > 0, r.IntN(4))
	case "completed":
		fmt.Fprintf(sb, `"result":{"completion":true,"duration":"PT%dM%dS"},`, r.IntN(90), r.IntN(60))
	case "passed", "failed":
		raw := r.IntN(101)
		fmt.Fprintf(sb, `"result":{"success":%t,"score":{"scaled":%.2f,"raw":%d,"min":0,"max":100},"duration":"PT%dM"},`, verbName == "passed", float64(raw)/100, raw, 1+r.IntN(60))
	case "progressed":
		fmt.Fprintf(sb, `"result":{"extensions":{"https://w3id.org/xapi/cmi5/result/extensions/progress":%d}},`, r.IntN(100))
	}
	fmt.Fprintf(sb, `"context":{"registration":"%s","platform":"LMS %d","language":"en-US","contextActivities":{"parent":[{"id":"https://lms.example/t%d/course/%d"}],"grouping":[{"id":"https://lms.example/t%d/program"}]}},`,
		g.uuid(), tenant, tenant, activity/10, tenant)
	fmt.Fprintf(sb, `"timestamp":"%s","stored":"%s",`, ts.UTC().Format(time.RFC3339Nano), stored.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(sb, `"authority":{"objectType":"Agent","account":{"homePage":"https://lrs.example","name":"lms-%d-%d"}},"version":"1.0.3"}`, tenant, r.IntN(3))
	return Statement{Tenant: fmt.Sprintf("tenant%d", tenant), JSON: []byte(sb.String())}
}

func (g *generator) batch(n int) []Statement {
	out := make([]Statement, n)
	for i := range out {
		out[i] = g.next()
	}
	return out
}
