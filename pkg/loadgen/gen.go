package loadgen

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// GenConfig describes the simulated population. Every field has a default
// (see withDefaults) so that the zero value is a realistic mid-size
// organization.
type GenConfig struct {
	// Seed makes the statement sequence reproducible: the same seed and the
	// same sequence of Next/NextBatch calls give byte-identical statements.
	Seed uint64
	// Instances is the number of LMS instances (vendors, regions); each has
	// its own learners, courses, platform and language.
	Instances int
	// Learners and Courses are per instance; half the learners are
	// identified by mbox, half by account.
	Learners int
	Courses  int
	// Sessions is the number of learners active at once per instance; their
	// statements interleave like a real LMS's traffic.
	Sessions int
	// IDs puts a statement id (UUID derived from the seed) in every statement,
	// as LMSs that PUT, or POST with their own ids, do.
	IDs bool
	// AttachmentEvery gives one completion certificate (a text attachment
	// sent as multipart/mixed) to roughly one statement in this many; 0
	// sends none.
	AttachmentEvery int
	// Epoch is the simulated time of the first statement; timestamps then
	// advance with the simulated learners, independent of the wall clock.
	Epoch time.Time
}

func (c GenConfig) withDefaults() GenConfig {
	if c.Instances == 0 {
		c.Instances = 8
	}
	if c.Learners == 0 {
		c.Learners = 5000
	}
	if c.Courses == 0 {
		c.Courses = 40
	}
	if c.Sessions == 0 {
		c.Sessions = 32
	}
	if c.Epoch.IsZero() {
		c.Epoch = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	}
	return c
}

func (c GenConfig) validate() error {
	var errs []error
	if c.Instances < 1 || c.Learners < 1 || c.Courses < 1 || c.Sessions < 1 {
		errs = append(errs, fmt.Errorf("instances, learners, courses and sessions must be at least 1 (got %d, %d, %d, %d)", c.Instances, c.Learners, c.Courses, c.Sessions))
	}
	if c.Instances > 10000 || c.Learners > 10_000_000 || c.Courses > 100_000 {
		errs = append(errs, errors.New("population too large: at most 10000 instances, 10M learners and 100k courses per instance"))
	}
	if c.AttachmentEvery < 0 {
		errs = append(errs, fmt.Errorf("attachment-every %d: want 0 (none) or more", c.AttachmentEvery))
	}
	return errors.Join(errs...)
}

// Statement is one generated xAPI statement.
type Statement struct {
	// ID is the statement id when GenConfig.IDs is set, else "".
	ID string
	// JSON is the statement object.
	JSON []byte
	// Instance is the index of the LMS instance that sent it.
	Instance int
	// Attachment is the raw attachment the statement declares, nil for most.
	Attachment *Attachment
}

// Attachment is the content of a statement attachment, sent as a part of a
// multipart/mixed request and matched by its SHA-256.
type Attachment struct {
	ContentType string
	SHA2        string
	Content     []byte
}

// The ADL verbs an LMS course emits over a learner's attempt.
var verbNames = []string{"launched", "initialized", "attempted", "answered", "passed", "failed", "completed", "terminated"}

const (
	vLaunched = iota
	vInitialized
	vAttempted
	vAnswered
	vPassed
	vFailed
	vCompleted
	vTerminated
)

// VerbIRI returns the id of a verb by its short name ("completed").
func VerbIRI(name string) string { return "http://adlnet.gov/expapi/verbs/" + name }

const (
	sessionExt  = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
	certUsage   = "http://id.tincanapi.com/attachment/certificate-of-completion"
	typeCourse  = "http://adlnet.gov/expapi/activities/course"
	typeModule  = "http://adlnet.gov/expapi/activities/module"
	typeInterac = "http://adlnet.gov/expapi/activities/cmi.interaction"
)

var (
	vendors    = []string{"Moodle 4.3", "Canvas LMS", "Docebo", "Cornerstone OnDemand", "TalentLMS", "Blackboard Learn", "SAP SuccessFactors Learning", "Totara 18"}
	regions    = []string{"eu", "us", "apac", "latam", "uk", "ca", "mea", "in"}
	languages  = []string{"en-US", "de-DE", "fr-FR", "es-ES", "en-GB", "pt-BR", "ja-JP", "it-IT"}
	firstNames = []string{"Ana", "Ben", "Chloé", "Daniel", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kavya", "Liam", "Maria", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor", "Wen", "Yara", "Zoë"}
	lastNames  = []string{"Silva", "Müller", "Dubois", "García", "Smith", "Rossi", "Tanaka", "Kowalski", "Nguyen", "Okafor", "Larsen", "Haddad", "O'Brien", "Novak", "Costa", "Ivanova", "Kim", "Sharma", "Jensen", "Moreau"}
	topics     = []string{"Workplace Safety", "Data Protection", "Anti-Bribery", "Customer Service", "Leadership Essentials", "Project Management", "Cloud Fundamentals", "First Aid", "Diversity & Inclusion", "Financial Literacy", "Sales Negotiation", "Secure Coding", "Forklift Operation", "Food Hygiene", "Time Management", "Conflict Resolution"}
	levels     = []string{"Foundations", "Intermediate", "Advanced", "Refresher", "Certification"}
	moduleWord = []string{"Introduction", "Key Concepts", "Case Study", "Practice", "Regulations", "Tools", "Scenarios", "Review", "Assessment Prep", "Wrap-up"}
)

// instance is one LMS with its pre-rendered JSON fragments: statements are
// assembled from these, so generating one costs a few appends.
type instance struct {
	name, home, platform, language string
	learners                       []learner
	courses                        []course
	category                       []byte // contextActivities.category entry
	attemptExt                     string // result extension key
}

type learner struct {
	actor []byte // the Agent object
	ifi   []byte // the Agent as a GET agent parameter: IFI only
}

type course struct {
	id      string
	object  []byte // full Activity with definition
	ref     []byte // {"id":…,"objectType":"Activity"}
	modules []module
}

type module struct {
	id        string
	object    []byte
	ref       []byte
	questions []question
}

type question struct {
	object  []byte
	correct string
}

type session struct {
	inst, learner, course, module int
	registration, id              string
	t, start                      time.Time
	step                          int // next verb: vLaunched…vTerminated; vAnswered repeats
	answered, correct             int
	abandon                       bool
}

// SessionRef names what a running session is about, for building GET
// queries that find data.
type SessionRef struct {
	Instance     int
	Agent        []byte // IFI JSON for the agent parameter
	CourseID     string
	ModuleID     string
	Registration string
}

// Generator produces realistic xAPI statements deterministically from a
// seed. It is safe for concurrent use; the sequence it produces depends
// only on the seed and the order of calls.
type Generator struct {
	cfg   GenConfig
	insts []instance
	verbs [][]byte

	mu       sync.Mutex
	rng      *rand.Rand
	sessions [][]session // per instance
	clock    time.Time
	sinceAtt int
	recent   []SessionRef // ring of recently started sessions
	recentAt int
}

// recentSessions bounds the ring that queries draw their filter values from.
const recentSessions = 1024

// NewGenerator builds the population described by cfg (zero fields take
// defaults).
func NewGenerator(cfg GenConfig) (*Generator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	// The population has its own stream so that changing Sessions or IDs
	// never changes who the learners and courses are.
	pop := rand.New(rand.NewPCG(cfg.Seed, 0x706f70756c617465))
	g := &Generator{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x73746174656d656e)),
		clock: cfg.Epoch,
	}
	for _, v := range verbNames {
		var b []byte
		b = append(b, `{"id":`...)
		b = appendString(b, VerbIRI(v))
		b = append(b, `,"display":{"en-US":`...)
		b = appendString(b, v)
		b = append(b, "}}"...)
		g.verbs = append(g.verbs, b)
	}
	g.insts = make([]instance, cfg.Instances)
	for i := range g.insts {
		g.insts[i] = newInstance(pop, i, cfg)
	}
	g.sessions = make([][]session, cfg.Instances)
	for i := range g.sessions {
		g.sessions[i] = make([]session, cfg.Sessions)
		for j := range g.sessions[i] {
			g.sessions[i][j] = g.newSession(i)
		}
	}
	return g, nil
}

func newInstance(r *rand.Rand, i int, cfg GenConfig) instance {
	name := fmt.Sprintf("lms-%s-%d", regions[i%len(regions)], i/len(regions)+1)
	in := instance{
		name:     name,
		home:     "https://" + name + ".example.org",
		platform: vendors[r.IntN(len(vendors))],
		language: languages[i%len(languages)],
	}
	in.attemptExt = in.home + "/xapi/extensions/attempt"
	var b []byte
	b = append(b, `{"id":`...)
	b = appendString(b, in.home+"/xapi/profiles/compliance")
	b = append(b, `,"objectType":"Activity"}`...)
	in.category = b

	in.learners = make([]learner, cfg.Learners)
	for j := range in.learners {
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		var ifi []byte
		if r.IntN(2) == 0 {
			ifi = append(ifi, `{"mbox":`...)
			ifi = appendString(ifi, fmt.Sprintf("mailto:learner%d@%s.example.org", j, name))
			ifi = append(ifi, '}')
		} else {
			ifi = append(ifi, `{"account":{"homePage":`...)
			ifi = appendString(ifi, in.home)
			ifi = append(ifi, `,"name":`...)
			ifi = appendString(ifi, fmt.Sprintf("u%06d", j))
			ifi = append(ifi, "}}"...)
		}
		actor := append([]byte(`{"objectType":"Agent","name":`), appendString(nil, first+" "+last)...)
		actor = append(actor, ',')
		actor = append(actor, ifi[1:]...) // the IFI's members, sharing its closing brace
		in.learners[j] = learner{actor: actor, ifi: ifi}
	}

	in.courses = make([]course, cfg.Courses)
	for k := range in.courses {
		c := course{id: fmt.Sprintf("%s/courses/%d", in.home, k)}
		title := topics[r.IntN(len(topics))] + " " + levels[r.IntN(len(levels))]
		code := fmt.Sprintf("C-%04d", k)
		c.object = activity(c.id, title, "", typeCourse, in.home+"/xapi/extensions/course-code", code)
		c.ref = activityRef(c.id)
		c.modules = make([]module, 4+r.IntN(7))
		for m := range c.modules {
			md := module{id: fmt.Sprintf("%s/modules/%d", c.id, m)}
			mt := fmt.Sprintf("Module %d: %s", m+1, moduleWord[r.IntN(len(moduleWord))])
			md.object = activity(md.id, mt, title+", "+mt, typeModule, "", "")
			md.ref = activityRef(md.id)
			md.questions = make([]question, 2+r.IntN(5))
			for q := range md.questions {
				md.questions[q] = newQuestion(r, fmt.Sprintf("%s/questions/%d", md.id, q), q)
			}
			c.modules[m] = md
		}
		in.courses[k] = c
	}
	return in
}

func activity(id, name, desc, typ, extKey, extVal string) []byte {
	b := []byte(`{"objectType":"Activity","id":`)
	b = appendString(b, id)
	b = append(b, `,"definition":{"name":{"en-US":`...)
	b = appendString(b, name)
	b = append(b, '}')
	if desc != "" {
		b = append(b, `,"description":{"en-US":`...)
		b = appendString(b, desc)
		b = append(b, '}')
	}
	b = append(b, `,"type":`...)
	b = appendString(b, typ)
	if extKey != "" {
		b = append(b, `,"extensions":{`...)
		b = appendString(b, extKey)
		b = append(b, ':')
		b = appendString(b, extVal)
		b = append(b, '}')
	}
	return append(b, "}}"...)
}

func activityRef(id string) []byte {
	return append(appendString([]byte(`{"id":`), id), `,"objectType":"Activity"}`...)
}

func newQuestion(r *rand.Rand, id string, n int) question {
	choices := []string{"a", "b", "c", "d"}
	correct := choices[r.IntN(len(choices))]
	b := []byte(`{"objectType":"Activity","id":`)
	b = appendString(b, id)
	b = append(b, `,"definition":{"name":{"en-US":`...)
	b = appendString(b, fmt.Sprintf("Question %d", n+1))
	b = append(b, `},"type":`...)
	b = appendString(b, typeInterac)
	b = append(b, `,"interactionType":"choice","correctResponsesPattern":[`...)
	b = appendString(b, correct)
	b = append(b, `],"choices":[`...)
	for i, c := range choices {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, c)
		b = append(b, `,"description":{"en-US":`...)
		b = appendString(b, "Option "+c)
		b = append(b, "}}"...)
	}
	b = append(b, "]}}"...)
	return question{object: b, correct: correct}
}

// newSession starts a learner on a module; the caller holds mu (or is the
// constructor).
func (g *Generator) newSession(inst int) session {
	in := &g.insts[inst]
	s := session{
		inst:    inst,
		learner: g.rng.IntN(len(in.learners)),
		course:  g.rng.IntN(len(in.courses)),
		abandon: g.rng.IntN(10) == 0,
	}
	s.module = g.rng.IntN(len(in.courses[s.course].modules))
	s.registration = registration(g.cfg.Seed, inst, s.learner, s.course)
	s.id = g.uuid()
	// Sessions start spread over the next minute of simulated time.
	g.clock = g.clock.Add(time.Duration(g.rng.IntN(200)) * time.Millisecond)
	s.t, s.start = g.clock, g.clock
	ref := SessionRef{
		Instance: inst, Agent: in.learners[s.learner].ifi, CourseID: in.courses[s.course].id,
		ModuleID: in.courses[s.course].modules[s.module].id, Registration: s.registration,
	}
	if len(g.recent) < recentSessions {
		g.recent = append(g.recent, ref)
	} else {
		g.recent[g.recentAt] = ref
		g.recentAt = (g.recentAt + 1) % recentSessions
	}
	return s
}

// registration is the same for every session of one learner in one course,
// as an LMS keeps one registration per enrollment.
func registration(seed uint64, inst, learner, course int) string {
	h1 := splitmix(seed ^ splitmix(uint64(inst)<<40^uint64(learner)<<16^uint64(course)))
	h2 := splitmix(h1)
	return formatUUID(h1, h2)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (g *Generator) uuid() string { return formatUUID(g.rng.Uint64(), g.rng.Uint64()) }

// formatUUID renders 128 random bits as a lower-case version 4 UUID.
func formatUUID(hi, lo uint64) string {
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(hi >> (56 - 8*i))
		raw[8+i] = byte(lo >> (56 - 8*i))
	}
	var b [36]byte
	hex.Encode(b[0:8], raw[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], raw[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], raw[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], raw[8:10])
	b[23] = '-'
	hex.Encode(b[24:], raw[10:])
	return string(b[:])
}

// Next returns the next statement of a random LMS instance.
func (g *Generator) Next() Statement {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.step(g.rng.IntN(len(g.insts)))
}

// NextBatch returns n statements of one LMS instance, as an LMS batches
// its own learners' statements.
func (g *Generator) NextBatch(n int) []Statement {
	g.mu.Lock()
	defer g.mu.Unlock()
	inst := g.rng.IntN(len(g.insts))
	out := make([]Statement, n)
	for i := range out {
		out[i] = g.step(inst)
	}
	return out
}

// Recent returns a session started lately, picked with r (the caller's own
// source, so that queries never disturb the statement sequence).
func (g *Generator) Recent(r *rand.Rand) SessionRef {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.recent[r.IntN(len(g.recent))]
}

// step advances one random session of inst by one statement.
func (g *Generator) step(inst int) Statement {
	ss := g.sessions[inst]
	k := g.rng.IntN(len(ss))
	s := &ss[k]
	in := &g.insts[inst]
	c := &in.courses[s.course]
	m := &c.modules[s.module]

	verb := s.step
	var b []byte
	b = append(b, '{')
	st := Statement{Instance: inst}
	if g.cfg.IDs {
		st.ID = g.uuid()
		b = append(b, `"id":"`...)
		b = append(b, st.ID...)
		b = append(b, `",`...)
	}
	b = append(b, `"actor":`...)
	b = append(b, in.learners[s.learner].actor...)
	b = append(b, `,"verb":`...)
	b = append(b, g.verbs[verb]...)
	b = append(b, `,"object":`...)

	think := time.Duration(2+g.rng.IntN(8)) * time.Second
	parent, grouping := c.ref, []byte(nil)
	switch verb {
	case vAnswered:
		q := &m.questions[s.answered]
		b = append(b, q.object...)
		parent, grouping = m.ref, c.ref
		think = time.Duration(5000+g.rng.IntN(85000)) * time.Millisecond
		right := g.rng.IntN(100) < 75
		resp := q.correct
		if !right {
			resp = wrongChoice(q.correct, g.rng.IntN(3))
		} else {
			s.correct++
		}
		b = append(b, `,"result":{"success":`...)
		b = strconv.AppendBool(b, right)
		b = append(b, `,"response":`...)
		b = appendString(b, resp)
		b = append(b, `,"duration":"`...)
		b = appendDuration(b, think)
		b = append(b, `","extensions":{`...)
		b = appendString(b, in.attemptExt)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(1+g.rng.IntN(2)), 10)
		b = append(b, "}}"...)
		s.answered++
	case vPassed, vFailed:
		b = append(b, m.object...)
		raw := 100 * s.correct / len(m.questions)
		b = append(b, `,"result":{"score":{"scaled":`...)
		b = strconv.AppendFloat(b, float64(raw)/100, 'f', -1, 64)
		b = append(b, `,"raw":`...)
		b = strconv.AppendInt(b, int64(raw), 10)
		b = append(b, `,"min":0,"max":100},"success":`...)
		b = strconv.AppendBool(b, verb == vPassed)
		b = append(b, `,"completion":true,"duration":"`...)
		b = appendDuration(b, s.t.Sub(s.start))
		b = append(b, `"}`...)
	case vCompleted, vTerminated:
		b = append(b, m.object...)
		b = append(b, `,"result":{`...)
		if verb == vCompleted {
			b = append(b, `"completion":true,`...)
		}
		b = append(b, `"duration":"`...)
		b = appendDuration(b, s.t.Sub(s.start))
		b = append(b, `"}`...)
	default:
		b = append(b, m.object...)
	}

	b = append(b, `,"context":{"registration":"`...)
	b = append(b, s.registration...)
	b = append(b, `","platform":`...)
	b = appendString(b, in.platform)
	b = append(b, `,"language":`...)
	b = appendString(b, in.language)
	b = append(b, `,"contextActivities":{"parent":[`...)
	b = append(b, parent...)
	if grouping != nil {
		b = append(b, `],"grouping":[`...)
		b = append(b, grouping...)
	}
	b = append(b, `],"category":[`...)
	b = append(b, in.category...)
	b = append(b, `]},"extensions":{`...)
	b = appendString(b, sessionExt)
	b = append(b, `:"`...)
	b = append(b, s.id...)
	b = append(b, `"}},"timestamp":"`...)
	b = s.t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, '"')

	g.sinceAtt++
	if verb == vCompleted && g.cfg.AttachmentEvery > 0 && g.sinceAtt >= g.cfg.AttachmentEvery {
		g.sinceAtt = 0
		st.Attachment = certificate(in.learners[s.learner].actor, c.id, s.t)
		b = append(b, `,"attachments":[{"usageType":`...)
		b = appendString(b, certUsage)
		b = append(b, `,"display":{"en-US":"Certificate of completion"},"contentType":"text/plain","length":`...)
		b = strconv.AppendInt(b, int64(len(st.Attachment.Content)), 10)
		b = append(b, `,"sha2":"`...)
		b = append(b, st.Attachment.SHA2...)
		b = append(b, `"}]`...)
	}
	st.JSON = append(b, '}')

	s.t = s.t.Add(think)
	s.step = g.nextVerb(s, len(m.questions))
	if s.step < 0 {
		*s = g.newSession(inst)
	}
	return st
}

// nextVerb is the attempt's state machine: launched, initialized,
// attempted, one answered per question, passed or failed, completed (only
// after passing), terminated. One session in ten is abandoned after its
// answers and goes straight to terminated. -1 ends the session.
func (g *Generator) nextVerb(s *session, questions int) int {
	switch s.step {
	case vLaunched, vInitialized:
		return s.step + 1
	case vAttempted, vAnswered:
		if s.answered < questions {
			return vAnswered
		}
		if s.abandon {
			return vTerminated
		}
		if 100*s.correct/questions >= 60 {
			return vPassed
		}
		return vFailed
	case vPassed:
		return vCompleted
	case vFailed, vCompleted:
		return vTerminated
	}
	return -1
}

func wrongChoice(correct string, n int) string {
	others := make([]string, 0, 3)
	for _, c := range []string{"a", "b", "c", "d"} {
		if c != correct {
			others = append(others, c)
		}
	}
	return others[n]
}

func certificate(actor []byte, courseID string, at time.Time) *Attachment {
	content := fmt.Appendf(nil, "Certificate of completion\nlearner: %s\ncourse: %s\ndate: %s\n", actor, courseID, at.Format(time.DateOnly))
	sum := sha256.Sum256(content)
	return &Attachment{ContentType: "text/plain", SHA2: hex.EncodeToString(sum[:]), Content: content}
}

// appendDuration writes d as an ISO 8601 duration (PT1H2M3.45S).
func appendDuration(b []byte, d time.Duration) []byte {
	b = append(b, "PT"...)
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	if h > 0 {
		b = strconv.AppendInt(b, int64(h), 10)
		b = append(b, 'H')
	}
	if m > 0 {
		b = strconv.AppendInt(b, int64(m), 10)
		b = append(b, 'M')
	}
	if d > 0 || (h == 0 && m == 0) {
		b = strconv.AppendFloat(b, float64(d.Milliseconds())/1000, 'f', -1, 64)
		b = append(b, 'S')
	}
	return b
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
