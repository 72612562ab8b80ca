// Command storebench measures the statement store: ApplyStatements
// throughput with 1 KB statements, and GET query latency per filter kind on
// a large data set. It prints tables for docs/performance.md.
//
//	storebench -dsn postgres://... -write 200000              # throughput
//	storebench -dsn postgres://... -fill 1000000 -queries 200 # latency at 1M
//	storebench -dsn sqlite:/tmp/x.db -ndjson statements.ndjson # an import's statements
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

func main() {
	dsn := flag.String("dsn", "", "store DSN (postgres://... or sqlite:PATH)")
	write := flag.Int("write", 0, "statements to write into a fresh tenant for the throughput test")
	writers := flag.Int("writers", 1, "concurrent writers (consumer partitions) in the throughput test")
	batch := flag.Int("batch", 1000, "statements per ApplyStatements call")
	fill := flag.Int("fill", 0, "make the query tenant hold this many statements (resumes a partial fill)")
	queries := flag.Int("queries", 0, "queries per filter kind in the latency test")
	limit := flag.Int("limit", 100, "page size of the latency test")
	explain := flag.Bool("explain", false, "print the plan of one query per filter kind")
	ndjson := flag.String("ndjson", "", "apply the statements of this NDJSON file (with ids: lrs-loadgen ndjson) into a fresh tenant")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *dsn == "" || *batch <= 0 || *writers <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	s, err := store.Open(ctx, *dsn)
	if err != nil {
		fail(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		fail(err)
	}
	if *write > 0 {
		if err := benchWrite(ctx, s, *write, *writers, *batch); err != nil {
			fail(err)
		}
	}
	if *ndjson != "" {
		if err := benchNDJSON(ctx, s, *ndjson, *batch); err != nil {
			fail(err)
		}
	}
	if *fill > 0 {
		if err := fillTenant(ctx, s, *fill, *batch); err != nil {
			fail(err)
		}
	}
	if *queries > 0 || *explain {
		if err := benchQueries(ctx, s, *fill, *queries, *limit, *explain); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "storebench:", err)
	os.Exit(1)
}

// benchWrite applies n fresh statements in batches, the way the
// store-writer does (one batch per transaction, offsets included), from
// `writers` goroutines each owning one partition.
func benchWrite(ctx context.Context, s store.Store, n, writers, batchSize int) error {
	tenant := fmt.Sprintf("write-%d", time.Now().UnixNano())
	per := n / writers
	batches := make([][][]store.Statement, writers)
	for w := range writers {
		g := newGen(tenant, uint64(w+1), time.Now().Add(time.Duration(w)*time.Microsecond))
		for i := 0; i < per; i += batchSize {
			b := make([]store.Statement, 0, batchSize)
			for j := i; j < min(i+batchSize, per); j++ {
				b = append(b, g.next())
			}
			batches[w] = append(batches[w], b)
		}
	}
	var bytes int
	for _, bs := range batches {
		for _, b := range bs {
			for _, st := range b {
				bytes += len(st.JSON)
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	lat := make([][]time.Duration, writers)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := int64(0)
			for _, b := range batches[w] {
				next += int64(len(b))
				t0 := time.Now()
				res, err := s.ApplyStatements(ctx, "storebench", b, []store.Offset{{Topic: tenant, Partition: int32(w), Next: next}})
				if err != nil {
					errs <- err
					return
				}
				if res.Inserted != len(b) {
					errs <- fmt.Errorf("inserted %d of %d", res.Inserted, len(b))
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	total := per * writers
	fmt.Printf("| writers | batch | statements | avg size | seconds | statements/s | MB/s | batch p50 | batch p95 |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %d | %d B | %.1f | %.0f | %.1f | %s | %s |\n", writers, batchSize, total, bytes/total,
		elapsed.Seconds(), float64(total)/elapsed.Seconds(), float64(bytes)/elapsed.Seconds()/1e6,
		pct(all, 50), pct(all, 95))
	return nil
}

const (
	queryTenant = "bench"
	fillGroup   = "storebench"
	fillTopic   = "fill"
)

// fillStart is the stored time of the query tenant's first statement.
var fillStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fillTenant loads the query tenant up to n statements. Its progress is
// kept as an offset, in the same transaction as the statements, so a fill
// that was interrupted resumes where it stopped.
func fillTenant(ctx context.Context, s store.Store, n, batchSize int) error {
	offs, err := s.AppliedOffsets(ctx, fillGroup, fillTopic)
	if err != nil {
		return err
	}
	have := int(offs[0])
	if have >= n {
		fmt.Printf("query tenant holds %d statements\n", have)
		return nil
	}
	g := newGen(queryTenant, uint64(have+1), fillStart)
	g.n = have
	start := time.Now()
	for have < n {
		b := make([]store.Statement, 0, batchSize)
		for range min(batchSize, n-have) {
			b = append(b, g.next())
		}
		have += len(b)
		if _, err := s.ApplyStatements(ctx, fillGroup, b, []store.Offset{{Topic: fillTopic, Partition: 0, Next: int64(have)}}); err != nil {
			return err
		}
		if have%100_000 == 0 {
			fmt.Fprintf(os.Stderr, "filled %d (%.0f/s)\n", have, float64(have-int(offs[0]))/time.Since(start).Seconds())
		}
	}
	fmt.Printf("filled the query tenant to %d statements in %.0f s\n", have, time.Since(start).Seconds())
	return nil
}

// explainer is implemented by both backends.
type explainer interface {
	ExplainQuery(ctx context.Context, q store.Query) (string, error)
}

type queryKind struct {
	name string
	make func(r *rand.Rand) store.Query
}

func benchQueries(ctx context.Context, s store.Store, n, count, limit int, explain bool) error {
	if n == 0 {
		offs, err := s.AppliedOffsets(ctx, fillGroup, fillTopic)
		if err != nil {
			return err
		}
		n = int(offs[0])
	}
	if n == 0 {
		return errors.New("the query tenant is empty: run with -fill first")
	}
	span := time.Duration(n) * time.Millisecond
	deep, err := deepCursors(ctx, s, limit, 20)
	if err != nil {
		return err
	}
	kinds := []queryKind{
		{"none (newest first)", func(r *rand.Rand) store.Query { return store.Query{} }},
		{"agent", func(r *rand.Rand) store.Query { return store.Query{Agent: agentJSON(actorMbox(r.IntN(numActors)))} }},
		{"verb", func(r *rand.Rand) store.Query { return store.Query{Verb: verbID(r.IntN(numVerbs))} }},
		{"activity", func(r *rand.Rand) store.Query { return store.Query{Activity: activityID(r.IntN(numActivities))} }},
		{"registration", func(r *rand.Rand) store.Query {
			return store.Query{Registration: registrationID(r.IntN(numRegistrations))}
		}},
		{"related_agents (learner)", func(r *rand.Rand) store.Query {
			return store.Query{Agent: agentJSON(actorMbox(r.IntN(numActors))), RelatedAgents: true}
		}},
		{"related_agents (authority)", func(r *rand.Rand) store.Query {
			return store.Query{Agent: agentJSON(authorityMbox(r.IntN(numAuthorities))), RelatedAgents: true}
		}},
		{"related_activities (course)", func(r *rand.Rand) store.Query {
			return store.Query{Activity: courseID(r.IntN(numCourses)), RelatedActivities: true}
		}},
		{"since/until (1 min window)", func(r *rand.Rand) store.Query {
			since := fillStart.Add(time.Duration(r.Int64N(int64(span))))
			return store.Query{Since: since, Until: since.Add(time.Minute)}
		}},
		{"since/until, ascending", func(r *rand.Rand) store.Query {
			since := fillStart.Add(time.Duration(r.Int64N(int64(span))))
			return store.Query{Since: since, Until: since.Add(time.Minute), Ascending: true}
		}},
		{"agent + verb", func(r *rand.Rand) store.Query {
			return store.Query{Agent: agentJSON(actorMbox(r.IntN(numActors))), Verb: verbID(r.IntN(numVerbs))}
		}},
		{"more (page 100+ of a verb)", func(r *rand.Rand) store.Query { return store.Query{Cursor: deep[r.IntN(len(deep))]} }},
	}
	r := rand.New(rand.NewPCG(42, 43))
	if explain {
		for _, k := range kinds {
			q := k.make(r)
			q.Tenant, q.Limit = queryTenant, limit
			ex, ok := s.(explainer)
			if !ok {
				return errors.New("this backend cannot explain queries")
			}
			plan, err := ex.ExplainQuery(ctx, q)
			if err != nil {
				return fmt.Errorf("explain %s: %w", k.name, err)
			}
			fmt.Printf("### %s\n\n```\n%s\n```\n\n", k.name, plan)
		}
	}
	if count == 0 {
		return nil
	}
	fmt.Printf("| filter (%d statements, limit %d) | queries | rows/page | p50 | p95 | p99 | max |\n", n, limit)
	fmt.Printf("|---|---|---|---|---|---|---|\n")
	for _, k := range kinds {
		var lat []time.Duration
		rows := 0
		for range count {
			q := k.make(r)
			q.Tenant = queryTenant
			if q.Cursor == "" {
				q.Limit = limit
			}
			t0 := time.Now()
			p, err := s.QueryStatements(ctx, q)
			if err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
			lat = append(lat, time.Since(t0))
			rows += len(p.Statements)
		}
		fmt.Printf("| %s | %d | %.0f | %s | %s | %s | %s |\n", k.name, count, float64(rows)/float64(count),
			pct(lat, 50), pct(lat, 95), pct(lat, 99), pct(lat, 100))
	}
	return nil
}

// deepCursors pages through verb listings and keeps cursors that point
// past the 100th page.
func deepCursors(ctx context.Context, s store.Store, limit, want int) ([]string, error) {
	var out []string
	for v := 0; len(out) < want && v < numVerbs; v++ {
		q := store.Query{Tenant: queryTenant, Verb: verbID(v), Limit: limit}
		for page := 0; page < 100+want; page++ {
			p, err := s.QueryStatements(ctx, q)
			if err != nil {
				return nil, err
			}
			if p.More == "" {
				break
			}
			if page >= 100 {
				out = append(out, p.More)
				if len(out) >= want {
					break
				}
			}
			q = store.Query{Tenant: queryTenant, Cursor: p.More}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no verb listing is 100 pages deep: fill more statements")
	}
	return out, nil
}

func pct(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "-"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = max(1, min(i, len(s))) - 1
	return fmt.Sprintf("%.1f ms", float64(s[i].Microseconds())/1000)
}
