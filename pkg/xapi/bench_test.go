package xapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"
)

func benchAssign() Assign {
	return Assign{
		Stored:    time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Authority: json.RawMessage(`{"objectType":"Agent","account":{"homePage":"https://lrs.example.com","name":"lms-eu-1"}}`),
		NewID:     func() string { return "6e1a2e6d-0b1b-4c8f-9d8e-1234567890ab" },
	}
}

// BenchmarkPrepare measures decode + full validation + stored form +
// canonical fingerprint of one statement, the ingest hot path.
func BenchmarkPrepare(b *testing.B) {
	for _, name := range []string{"small", "typical", "large"} {
		body, err := os.ReadFile("testdata/bench-" + name + ".json")
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range []Version{V1_0_3, V2_0_0} {
			b.Run(name+"/"+string(v), func(b *testing.B) {
				a := benchAssign()
				if _, err := PrepareStatements(body, v, a); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				start, ok := processCPU()
				for b.Loop() {
					if _, err := PrepareStatements(body, v, a); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, start, ok)
			})
		}
	}
}

// reportCPU adds cpu-ns/op: the process CPU time per op since start.
func reportCPU(b *testing.B, start time.Duration, ok bool) {
	if end, ok2 := processCPU(); ok && ok2 && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkSchemaPath measures what the hot path avoids: encoding/json
// decoding plus validation against the published JSON Schema with
// jsonschema/v5 (verdict only, no stored form or fingerprint).
func BenchmarkSchemaPath(b *testing.B) {
	for _, name := range []string{"small", "typical", "large"} {
		body, err := os.ReadFile("testdata/bench-" + name + ".json")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			sch := bodySchema(b, V2_0_0)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			start, ok := processCPU()
			for b.Loop() {
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.UseNumber()
				var doc any
				if err := dec.Decode(&doc); err != nil {
					b.Fatal(err)
				}
				if err := sch.Validate(doc); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start, ok)
		})
	}
}

// BenchmarkPrepareBatch measures a POST of 100 typical statements.
func BenchmarkPrepareBatch(b *testing.B) {
	one, err := os.ReadFile("testdata/bench-typical.json")
	if err != nil {
		b.Fatal(err)
	}
	one = bytes.TrimSpace(one)
	var batch []byte
	batch = append(batch, '[')
	for i := 0; i < 100; i++ {
		if i > 0 {
			batch = append(batch, ',')
		}
		s := bytes.Replace(one, []byte("fd41c918-b88b-4b20-a0a5-a4c32391aaa0"), fmt.Appendf(nil, "fd41c918-b88b-4b20-a0a5-%012d", i), 1)
		batch = append(batch, s...)
	}
	batch = append(batch, ']')
	a := benchAssign()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	start, ok := processCPU()
	for b.Loop() {
		ps, err := PrepareStatements(batch, V2_0_0, a)
		if err != nil || len(ps) != 100 {
			b.Fatal(len(ps), err)
		}
	}
	reportCPU(b, start, ok)
}
