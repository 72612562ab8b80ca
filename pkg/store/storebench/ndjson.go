package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// benchNDJSON applies the statements of an NDJSON file (each with its id,
// as `lrs-loadgen ndjson` writes them) in batches, the way the
// store-writer applies an import: given an authority and a version (as
// the stored form has), a fingerprint and a provenance source. It prints the rate per tenth of the
// file, since the store slows as its indexes grow.
func benchNDJSON(ctx context.Context, s store.Store, path string, batchSize int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	tenant := fmt.Sprintf("import-%d", time.Now().UnixNano())
	source := "file://" + path
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var (
		batch          []store.Statement
		n, read, lastN int
		next           int64
		start          = time.Now()
		lastT          = start
		step           = st.Size() / 10
		nextReport     = step
		stored         = time.Now().UTC()
		authority      = `,"authority":{"objectType":"Agent","account":{"homePage":"https://lrs.example.org","name":"importer1"}},"version":"1.0.3"}`
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		next += int64(len(batch))
		res, err := s.ApplyStatements(ctx, "storebench", batch, []store.Offset{{Topic: tenant, Partition: 0, Next: next}})
		if err != nil {
			return err
		}
		if res.Inserted != len(batch) {
			return fmt.Errorf("inserted %d of %d (%d duplicates, %d conflicts)", res.Inserted, len(batch), res.Duplicates, len(res.Conflicts))
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	fmt.Printf("| statements | seconds | statements/s (since last line) |\n|---|---|---|\n")
	for sc.Scan() {
		line := sc.Bytes()
		read += len(line) + 1
		if len(line) < 2 || line[len(line)-1] != '}' || string(line[:7]) != `{"id":"` {
			return fmt.Errorf("line %d: want an object with its id first", n+len(batch)+1)
		}
		stored = stored.Add(time.Microsecond)
		body := make([]byte, 0, len(line)+len(authority))
		body = append(append(body, line[:len(line)-1]...), authority...)
		sum := sha256.Sum256(body)
		batch = append(batch, store.Statement{Tenant: tenant, ID: string(line[7:43]), Stored: stored, JSON: body,
			Fingerprint: hex.EncodeToString(sum[:]), Provenance: store.Provenance{Source: source, OriginalStored: stored}})
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
		if int64(read) >= nextReport {
			if err := flush(); err != nil {
				return err
			}
			now := time.Now()
			fmt.Printf("| %d | %.1f | %.0f |\n", n, now.Sub(start).Seconds(), float64(n-lastN)/now.Sub(lastT).Seconds())
			lastN, lastT, nextReport = n, now, nextReport+step
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("total: %d statements in %.1f s: %.0f statements/s\n", n, el.Seconds(), float64(n)/el.Seconds())
	return nil
}
