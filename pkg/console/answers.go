package console

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// Answers counts this API instance's answers to each credential by hour
// and status, over the last lmsHours, for the per-LMS view: the metrics
// count answers by route and status, not by credential. Credentials are
// counted only once authenticated, so the map holds real keys alone.
type Answers struct {
	mu  sync.Mutex
	now func() time.Time
	by  map[string]*[lmsHours]hourAnswers
}

type hourAnswers struct {
	hour   int64 // unix hours; a slot of another hour is stale
	status map[int]int
}

// NewAnswers starts counting.
func NewAnswers() *Answers {
	return &Answers{now: time.Now, by: map[string]*[lmsHours]hourAnswers{}}
}

// Answered counts one answer (ingest.Deps.Answered).
func (a *Answers) Answered(_, key string, status int) {
	h := a.now().Unix() / 3600
	a.mu.Lock()
	defer a.mu.Unlock()
	slots := a.by[key]
	if slots == nil {
		slots = new([lmsHours]hourAnswers)
		a.by[strings.Clone(key)] = slots
	}
	s := &slots[h%lmsHours]
	if s.hour != h {
		*s = hourAnswers{hour: h, status: map[int]int{}}
	}
	s.status[status]++
}

// statusCount is one status and how often it was answered.
type statusCount struct{ Status, Count int }

// errors returns the credential's error answers (4xx and 5xx) of the last
// lmsHours by status, most frequent first, and the hour of the newest.
func (a *Answers) errors(key string) ([]statusCount, time.Time) {
	now := a.now().Unix() / 3600
	a.mu.Lock()
	defer a.mu.Unlock()
	slots := a.by[key]
	if slots == nil {
		return nil, time.Time{}
	}
	by := map[int]int{}
	var last int64
	for _, s := range slots {
		if s.hour <= now-lmsHours {
			continue
		}
		for st, n := range s.status {
			if st >= 400 {
				by[st] += n
				last = max(last, s.hour)
			}
		}
	}
	out := make([]statusCount, 0, len(by))
	for st, n := range by {
		out = append(out, statusCount{st, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Status < out[j].Status
	})
	if last == 0 {
		return out, time.Time{}
	}
	return out, time.Unix(last*3600, 0).UTC()
}
