package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// Cardinalities of the generated data set: with 1M statements an actor has
// about 50 statements, a verb 33k, an object activity 100, a registration
// 10, an authority 50k, a course (context parent) 1k.
const (
	numActors        = 20_000
	numVerbs         = 30
	numActivities    = 10_000
	numRegistrations = 100_000
	numAuthorities   = 20
	numCourses       = 1_000
	numPrograms      = 100
)

// gen makes realistic prepared statements of about 1 KB, each stored 1 ms
// after the previous one.
type gen struct {
	rnd    *rand.Rand
	tenant string
	start  time.Time
	n      int
	pad    string
}

func newGen(tenant string, seed uint64, start time.Time) *gen {
	return &gen{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), tenant: tenant, start: start,
		pad: strings.Repeat("lorem ipsum dolor sit amet ", 12)}
}

func actorMbox(i int) string { return fmt.Sprintf("mailto:learner%05d@example.com", i) }
func verbID(i int) string    { return fmt.Sprintf("http://adlnet.gov/expapi/verbs/verb%02d", i) }
func activityID(i int) string {
	return fmt.Sprintf("https://lms.example.com/activities/module-%05d", i)
}
func courseID(i int) string { return fmt.Sprintf("https://lms.example.com/courses/course-%04d", i) }
func registrationID(i int) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprint("reg", i))).String()
}
func authorityMbox(i int) string        { return fmt.Sprintf("mailto:lms%02d@example.com", i) }
func agentJSON(mbox string) string      { return `{"objectType":"Agent","mbox":"` + mbox + `"}` }
func (g *gen) storedAt(i int) time.Time { return g.start.Add(time.Duration(i) * time.Millisecond) }

func (g *gen) next() store.Statement {
	i := g.n
	g.n++
	id := uuid.New().String()
	stored := g.storedAt(i)
	r := g.rnd
	body := map[string]any{
		"id":     id,
		"actor":  map[string]any{"objectType": "Agent", "name": "Learner", "mbox": actorMbox(r.IntN(numActors))},
		"verb":   map[string]any{"id": verbID(r.IntN(numVerbs)), "display": map[string]any{"en-US": "did"}},
		"object": map[string]any{"objectType": "Activity", "id": activityID(r.IntN(numActivities)), "definition": map[string]any{"name": map[string]any{"en-US": "Module"}, "description": map[string]any{"en-US": g.pad[:100]}}},
		"result": map[string]any{"score": map[string]any{"scaled": r.Float64()}, "success": r.IntN(2) == 0, "completion": true, "duration": "PT4M30S"},
		"context": map[string]any{
			"registration": registrationID(r.IntN(numRegistrations)),
			"contextActivities": map[string]any{
				"parent":   []any{map[string]any{"id": courseID(r.IntN(numCourses))}},
				"grouping": []any{map[string]any{"id": fmt.Sprintf("https://lms.example.com/programs/p-%03d", r.IntN(numPrograms))}},
			},
			"platform":   "Example LMS",
			"language":   "en-US",
			"extensions": map[string]any{"https://example.com/ext/notes": g.pad[:40]},
		},
		"timestamp": stored.Add(-time.Second).Format(time.RFC3339Nano),
		"stored":    stored.Format(time.RFC3339Nano),
		"authority": map[string]any{"objectType": "Agent", "mbox": authorityMbox(r.IntN(numAuthorities))},
		"version":   "1.0.3",
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return store.Statement{Tenant: g.tenant, ID: id, Stored: stored, JSON: b, Fingerprint: hex.EncodeToString(sum[:])}
}
